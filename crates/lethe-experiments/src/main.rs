//! `lethe`: run certified-removal experiments from JSON configs, validate configs, and turn
//! results into reports. See `lethe --help` and the crate README.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use lethe_experiments::error::exit;
use lethe_experiments::memory::{MemoryLimit, parse_size};
use lethe_experiments::report::{ReportOptions, write_report};
use lethe_experiments::sweep::{RunOptions, Shard, run_experiment, validate_with_limit};
use lethe_experiments::verify::verify_ledger;
use lethe_experiments::{ExperimentError, Result};

/// Certified data removal experiments (Guo et al., ICML 2020): run, validate, report, verify.
///
/// Exit codes: 0 success; 1 a run failed, or a ledger did not verify; 2 bad command line or
/// invalid config; 3 a data file was not found; 4 a file could not be read or written, or is not
/// a ledger.
#[derive(Parser, Debug)]
#[command(name = "lethe", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Formats of `lethe run --tables`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TableFormat {
    /// Comma-separated values (RFC 4180), one file per table.
    Csv,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment (a config with a `grid` or `variants` is a sweep) and write
    /// OUT/<name>.json.
    ///
    /// Every finished grid point is stored at once, atomically, as
    /// OUT/<name>.points/<index>-<key>.json (key: hash of what determines the result); a
    /// re-run skips finished points, so an interrupted sweep resumes where it stopped. The merged OUT/<name>.json is rewritten
    /// (atomically) from every point file present at the end of every run. Progress goes to
    /// stderr (bars on a terminal, one line per point otherwise).
    Run {
        /// The experiment config (lethe.experiment/1 JSON).
        config: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Directory of datasets that are not bundled: DIR/mnist/ holds the four official
        /// *-idx?-ubyte.gz files, DIR/fashion-mnist/ likewise; relative csv/libsvm paths are
        /// resolved here first, then next to the config. Default: $LETHE_DATA.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Threads of the run: up to N grid points at once, and every point's linear algebra
        /// shares the same N threads (--jobs 1 runs everything on one thread). Results are
        /// bit-identical for every N.
        #[arg(long, short = 'j', default_value_t = 1, value_name = "N")]
        jobs: usize,
        /// Run only the points with index % N == I (0 ≤ I < N), e.g. --shard
        /// $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; the N shards cover every point once.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// No progress output (errors are still printed).
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Re-run points even when they are finished (their files are replaced).
        #[arg(long)]
        force: bool,
        /// Run nothing: merge the point files present into OUT/<name>.json.
        #[arg(long)]
        merge_only: bool,
        /// Also write flat tables next to the result: OUT/<name>.summary.csv (one row per
        /// run), OUT/<name>.removals.csv (per request) and OUT/<name>.audit.csv (per attack
        /// result); params flattened, numbers as numbers, ±∞ as inf/-inf, null empty.
        #[arg(long, value_name = "FORMAT")]
        tables: Option<TableFormat>,
        /// Memory the points running at once may use together (e.g. 8GiB, 512MiB, 2G, or
        /// bytes); each of the --jobs points gets an equal share. A point whose estimate
        /// (d × d matrices per thread, X, reference models, bootstrap) exceeds it fails with
        /// the estimate and what to change, before allocating; the other points run. Default:
        /// $LETHE_MAX_MEMORY, else MemAvailable of /proc/meminfo.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_memory: Option<u64>,
    },
    /// Check configs without running them: every problem is reported at once with its JSON
    /// path (unknown fields, wrong types, out-of-range values such as λ ≤ 0 or δ ∉ (0, 1),
    /// grid values, missing data files with the paths tried, points whose memory estimate
    /// exceeds --max-memory). Exit code: the most severe of
    /// all the files (2 a config has problems, 3 a data file is missing, 4 a file cannot be
    /// read).
    Validate {
        /// The configs.
        #[arg(required = true)]
        configs: Vec<PathBuf>,
        /// As for `run`.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Print only problems.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// As for `run`: refuse points whose memory estimate exceeds SIZE (default:
        /// $LETHE_MAX_MEMORY, else MemAvailable of /proc/meminfo).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_memory: Option<u64>,
    },
    /// Generate a Markdown report with tables and SVG plots from result files (generated from
    /// the JSON, never typed by hand). Results of Guo et al.'s figures get the paper's values
    /// alongside; any other result gets generic tables.
    Report {
        /// Result files (OUT/<name>.json).
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// The Markdown file to write.
        #[arg(long, default_value = "results/REPORT.md")]
        out: PathBuf,
        /// Directory of the SVG plots (default: `plots/` next to --out); the report links them
        /// relatively.
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
    },
    /// Replay certificate ledgers (written by runs with `"removal": {"ledger": true}` as
    /// OUT/<name>.ledgers/<index>-<hash>.jsonl) and check every field of every line bit for
    /// bit, the hash chain and the closing record.
    ///
    /// The training data is rebuilt from the config in each ledger's header. Exit code 0 when
    /// every ledger verifies; 1 naming the file, line and field of the first difference (or a
    /// ledger cut short); 2 bad command line (a key-file ledger without --noise-key); 3 data
    /// not found; 4 not a ledger, or unreadable.
    Verify {
        /// The ledgers.
        #[arg(required = true)]
        ledgers: Vec<PathBuf>,
        /// As for `run`: where datasets that are not bundled are found.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The key file of a run with `model.noise_key` (its ledgers hold no b, only a
        /// commitment to it).
        #[arg(long, value_name = "FILE")]
        noise_key: Option<PathBuf>,
        /// Print only problems.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
}

/// Runs a command; `Ok(code)` when the command reported its own problems.
fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run {
            config,
            out,
            data_dir,
            jobs,
            shard,
            quiet,
            force,
            merge_only,
            tables,
            max_memory,
        } => {
            let opts = RunOptions {
                out_dir: out,
                data_dir,
                jobs,
                shard: shard.as_deref().map(Shard::parse).transpose()?,
                quiet,
                merge_only,
                force,
                max_memory,
            };
            // Long trainings say where they are (iteration, ‖∇L_b‖) unless asked to be quiet.
            lethe_models::set_progress(!quiet);
            let s = run_experiment(&config, &opts)?;
            if !quiet {
                eprintln!(
                    "[lethe] wrote {} ({} of {} points; {} run now, {} skipped) in {:.1} s",
                    s.result_path.display(),
                    s.points_done,
                    s.points_total,
                    s.ran.len(),
                    s.skipped.len(),
                    s.seconds
                );
            }
            if let Some(TableFormat::Csv) = tables {
                let paths = lethe_experiments::tables::write_tables(&s.result_path)?;
                if !quiet {
                    let names: Vec<String> =
                        paths.iter().map(|p| p.display().to_string()).collect();
                    eprintln!("[lethe] wrote {}", names.join(", "));
                }
            }
            Ok(exit::OK)
        }
        Command::Validate {
            configs,
            data_dir,
            quiet,
            max_memory,
        } => {
            let limit = MemoryLimit::detect(max_memory)?;
            let mut code = exit::OK;
            for c in &configs {
                match validate_with_limit(c, data_dir.clone(), &limit) {
                    Ok(loaded) => {
                        if !quiet {
                            println!(
                                "ok: {} ({}, {} point{})",
                                c.display(),
                                loaded.base.name,
                                loaded.points.len(),
                                if loaded.points.len() == 1 { "" } else { "s" }
                            );
                        }
                    }
                    Err(e) => {
                        eprint!("{e}");
                        if !matches!(e, ExperimentError::Config(_)) {
                            eprintln!();
                        }
                        // The most severe problem of all the files decides.
                        code = code.max(e.exit_code());
                    }
                }
            }
            Ok(code)
        }
        Command::Verify {
            ledgers,
            data_dir,
            noise_key,
            quiet,
        } => {
            let mut code = exit::OK;
            for l in &ledgers {
                match verify_ledger(l, data_dir.clone(), noise_key.as_deref()) {
                    Ok(v) => {
                        if !quiet {
                            println!(
                                "ok: {} ({} requests, {} retrains; final weights {}; ledger head \
                                 {})",
                                l.display(),
                                v.requests,
                                v.retrains,
                                v.final_weights_sha256,
                                v.head_sha256
                            );
                        }
                    }
                    Err(e) => {
                        eprintln!("lethe: FAILED {}: {e}", l.display());
                        if code == exit::OK {
                            code = e.exit_code();
                        }
                    }
                }
            }
            Ok(code)
        }
        Command::Report {
            results,
            out,
            plots,
        } => {
            let plots = plots.unwrap_or_else(|| {
                out.parent()
                    .map(|p| p.join("plots"))
                    .unwrap_or_else(|| PathBuf::from("plots"))
            });
            let written = write_report(&ReportOptions {
                results,
                out: out.clone(),
                plots,
            })?;
            eprintln!(
                "[lethe] wrote {} and {} plot{}",
                out.display(),
                written.plots.len(),
                if written.plots.len() == 1 { "" } else { "s" }
            );
            Ok(exit::OK)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("lethe: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
