#!/usr/bin/env bash
# A bounded run of every fuzz target (CI's fuzz step): each target for FUZZ_SECONDS seconds
# (default 30), its corpus seeded from the project's own files, then a summary line per target
# with the executions libFuzzer ran. A finding (panic, abort, sanitizer report, allocation above
# the target's -malloc_limit_mb, timeout) fails the run and leaves the input in
# fuzz/artifacts/<target>/; replay it with `cargo +nightly fuzz run <target> <file>`.
#
# Needs a nightly toolchain (`cargo +nightly`); cargo-fuzz is installed from crates.io when it
# is missing. Without nightly the step says so and exits 0 (the proptest-over-bytes suites
# still run on stable in `cargo test`).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-30}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain on this machine (cargo +nightly failed); skipping the fuzz step"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io"
  cargo install --locked --quiet cargo-fuzz
fi

# Seed corpora from files the project ships (libFuzzer truncates seeds above -max_len).
seed() { mkdir -p "corpus/$1"; }
seed csv; seed gzip; seed libsvm; seed idx; seed config; seed report
for f in ../crates/lethe-data/data/*.csv.gz; do
  cp "$f" "corpus/gzip/$(basename "$f")"
  # (head closes the pipe early, so gzip ends on SIGPIPE: not an error here)
  gzip -dc "$f" 2>/dev/null | head -c 4096 > "corpus/csv/$(basename "$f" .gz)" || true
done
printf '+1 1:0.5 3:0.25\n-1 2:1\n' > corpus/libsvm/small.svm
printf '\x00\x01 1:0.5 2:0.5\n1 4:1 # comment\n' > corpus/libsvm/odd.svm
# IDX: a 2-image 2x2 ubyte image file and its label file.
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03\x04\x05\x06\x07\x08' > corpus/idx/images.idx
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\x08' > corpus/idx/labels.idx
cp ../experiments/*.json corpus/config/
if [ -x ../target/release/lethe ]; then
  # Small finished results (the committed ones are far above -max_len).
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for cfg in quickstart; do
    ../target/release/lethe run "../experiments/$cfg.json" --out "$tmp" --quiet
  done
  python3 - "$tmp/quickstart.json" corpus/report/ <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for run in doc["runs"]:
    run["removals"] = run["removals"][:2]
doc["runs"] = doc["runs"][:2]
open(sys.argv[2] + "quickstart-small.json", "w").write(json.dumps(doc))
PY
fi
cp ../results/removal-ratio.json corpus/report/ 2>/dev/null || true

run() {
  local target=$1; shift
  local features=()
  if [ "$1" = "--config" ]; then features=(--features config); shift; fi
  local log
  log=$(mktemp)
  if ! cargo +nightly fuzz run "${features[@]}" "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 "$@" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: target $target found a failing input (see fuzz/artifacts/$target/)"
    exit 1
  fi
  local runs
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 | grep -o '[0-9]*' || echo "?")
  echo "fuzz: $target: $runs executions in ${seconds} s, no finding"
  rm -f "$log"
}

run idx -max_len=4096 -rss_limit_mb=2048 -malloc_limit_mb=1024
run csv -max_len=4096 -rss_limit_mb=2048
run libsvm -max_len=4096 -rss_limit_mb=2048 -malloc_limit_mb=1024
run gzip -rss_limit_mb=2048
run config --config -max_len=8192 -timeout=10 -rss_limit_mb=2048
run report --config -max_len=65536 -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024
