"""Python-parity benchmark (issue 18): fit and certified removals on MNIST 3-vs-8 through the
Python package, against the same calls in Rust, timed in the same run.

Every round times, back to back, the Rust side (``benches/examples/python_parity.rs`` in a
subprocess, which trains a ``CertifiedModel`` on data it has already read and serves single
removals: row 0, row 1, then rows 2 … 11) and the Python side
(``lethe.CertifiedLogisticRegression.fit`` on numpy arrays holding the very same bits, then
``remove([0])``, ``remove([1])``, …, ``remove([11])``). The first removal factors the Hessian;
the others reuse the factor, and the median of the last ten (``reused_removal``) is reported
beside the single second removal, which on a shared machine is one noisy 4 ms reading. Both run
one configuration: the estimator's own ``CertifiedParams`` JSON is handed to the Rust side. The
``weights_sha256`` after the first, second and last removal must agree, which shows both sides computed the same
model; a round where they differ is an error, not a timing.

A ratio Python / Rust is formed inside each round, so both sides of it see the same machine
(the machine is shared and its speed drifts); the summary gives the median, 10th and 90th
percentiles of those ratios and whether the median is within 10 %.

Data: MNIST 3-vs-8 from ``$LETHE_DATA/mnist`` (or ``--data-dir``) with the paper's
preprocessing (pixels x/255 − 0.5, unit-norm rows, 3 → +1, 8 → −1), exported by the Rust
example so that Python reads exactly the bits Rust trains on; without MNIST, the synthetic
stand-in of the same shape (recorded as the ``source``).

Writes ``OUT/python-parity.json`` (schema ``lethe.python_parity/1``, with the git commit,
host and load averages) and ``OUT/python-parity.md``, generated from the JSON.

    python crates/lethe-python/bench/parity.py --data-dir /path/to/data [--rounds 15] [--out results]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lethe

REPO = Path(__file__).resolve().parents[3]
SCHEMA = "lethe.python_parity/1"
LAMBDA, SIGMA, SEED = 1e-3, 10.0, 0  # the Rust benches' MNIST setting (lethe_benches)
WITHIN = 1.10
# Removals on the reused factor after the second, as in the Rust example (REUSED_REMOVALS).
REUSED = 10
OPS = ("fit", "first_removal", "second_removal", "reused_removal")


def rust_binary(path):
    """The example binary: ``path`` if given, else built by cargo (a no-op when up to date)."""
    if path:
        return Path(path)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "lethe-benches", "--example",
         "python_parity"],
        cwd=REPO, check=True,
    )
    return REPO / "target" / "release" / "examples" / "python_parity"


def export_data(binary, data_dir, dump):
    env = dict(os.environ)
    if data_dir is not None:
        env["LETHE_DATA"] = str(Path(data_dir).resolve())
    subprocess.run([str(binary), "--dump", str(dump)], env=env, check=True)
    meta = json.loads((dump / "meta.json").read_text())
    n, d = meta["n"], meta["d"]
    X = np.fromfile(dump / "x.f64", dtype="<f8").reshape(n, d)
    y = np.fromfile(dump / "y.f64", dtype="<f8")
    return X, y, meta["source"]


def python_round(X, y):
    est = lethe.CertifiedLogisticRegression(lam=LAMBDA, sigma=SIGMA, random_state=SEED,
                                            normalize="none")
    t0 = time.perf_counter()
    est.fit(X, y)
    t1 = time.perf_counter()
    first = est.remove([0])
    t2 = time.perf_counter()
    second = est.remove([1])
    t3 = time.perf_counter()
    reused = []
    for row in range(2, 2 + REUSED):
        t = time.perf_counter()
        last = est.remove([row])
        reused.append(time.perf_counter() - t)
    return {
        "fit_seconds": t1 - t0,
        "first_removal_seconds": t2 - t1,
        "second_removal_seconds": t3 - t2,
        "reused_removals": REUSED,
        "reused_removal_seconds": statistics.median(reused),
        "weights_sha256_after_first": first.weights_sha256,
        "weights_sha256_after_second": second.weights_sha256,
        "weights_sha256_after_reused": last.weights_sha256,
    }, est._params_json()


def rust_round(binary, dump, params):
    out = subprocess.run(
        [str(binary), "--time", str(dump), "--params", params, "--seed", str(SEED)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def quantiles(values):
    v = sorted(values)
    if len(v) == 1:
        return {"median": v[0], "p10": v[0], "p90": v[0]}
    q = statistics.quantiles(v, n=10, method="inclusive")
    return {"median": statistics.median(v), "p10": q[0], "p90": q[-1]}


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def run(args):
    binary = rust_binary(args.rust_bin)
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp)
        X, y, source = export_data(binary, args.data_dir, dump)
        print(f"data: {source}, {X.shape[0]} x {X.shape[1]}", file=sys.stderr)
        load_before = load_average()
        # One untimed round of each side first (page cache, allocator, lazy imports).
        _, params = python_round(X, y)
        rust_round(binary, dump, params)
        rounds = []
        for r in range(args.rounds):
            rust = rust_round(binary, dump, params)
            py, _ = python_round(X, y)
            if rust.get("reused_removals") != REUSED:
                raise SystemExit(f"the Rust example times {rust.get('reused_removals')} reused-"
                                 f"factor removals, this script {REUSED}: rebuild it")
            for key in ("weights_sha256_after_first", "weights_sha256_after_second",
                        "weights_sha256_after_reused"):
                if rust[key] != py[key]:
                    raise SystemExit(f"round {r}: {key} differs (Rust {rust[key]}, Python "
                                     f"{py[key]}): the two sides did not compute the same model")
            rounds.append({"rust": rust, "python": py})
            print(f"round {r + 1}/{args.rounds}: fit {py['fit_seconds']:.3f} s (Python) / "
                  f"{rust['fit_seconds']:.3f} s (Rust)", file=sys.stderr)
        load_after = load_average()
    summary = {}
    for op in OPS:
        key = f"{op}_seconds"
        ratios = [r["python"][key] / r["rust"][key] for r in rounds]
        summary[op] = {
            "rust_seconds": quantiles([r["rust"][key] for r in rounds]),
            "python_seconds": quantiles([r["python"][key] for r in rounds]),
            "ratio_python_over_rust": quantiles(ratios),
            "within_10_percent": statistics.median(ratios) <= WITHIN,
        }
    return {
        "schema": SCHEMA,
        "git_commit": git_commit(),
        "lethe_version": lethe.__version__,
        "host": {"machine": platform.machine(), "cpu_count": os.cpu_count(),
                 "python": platform.python_version(), "numpy": np.__version__},
        "load_average_1m_before": load_before,
        "load_average_1m_after": load_after,
        "config": {"source": source, "n": int(X.shape[0]), "d": int(X.shape[1]),
                   "lambda": LAMBDA, "sigma": SIGMA, "seed": SEED, "rounds": args.rounds,
                   "params": json.loads(params)},
        "identical_weights_every_round": True,
        "summary": summary,
        "rounds": rounds,
    }


def markdown(result):
    cfg = result["config"]
    lines = [
        "# Python vs Rust: fit and certified removal",
        "",
        f"Generated by `crates/lethe-python/bench/parity.py` from `python-parity.json` "
        f"(commit `{result['git_commit'][:12]}`). Data: {cfg['source']} ({cfg['n']} × "
        f"{cfg['d']}), λ = {cfg['lambda']:g}, σ = {cfg['sigma']:g}, seed {cfg['seed']}, "
        f"{cfg['rounds']} interleaved rounds; the ratio is formed inside each round. The "
        "weights after each removal were bit-identical on both sides in every round.",
        "",
        "| call | Rust median (ms) | Python median (ms) | ratio median | ratio p10–p90 | within 10 % |",
        "|---|---:|---:|---:|---:|---|",
    ]
    names = {"fit": "fit", "first_removal": "first removal (factors H)",
             "second_removal": "second removal (reused factor)",
             "reused_removal": f"removals 3–{2 + REUSED} (reused factor, median per round)"}
    for op in OPS:
        s = result["summary"][op]
        r = s["ratio_python_over_rust"]
        lines.append(
            f"| {names[op]} | {s['rust_seconds']['median'] * 1e3:.2f} | "
            f"{s['python_seconds']['median'] * 1e3:.2f} | {r['median']:.3f} | "
            f"{r['p10']:.3f}–{r['p90']:.3f} | {'yes' if s['within_10_percent'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="directory holding mnist/ (default: $LETHE_DATA)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "results"))
    p.add_argument("--rust-bin", help="the python_parity example binary (default: cargo build)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "python-parity.json", json.dumps(result, indent=2) + "\n")
    write_atomic(out / "python-parity.md", markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
