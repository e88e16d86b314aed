#!/usr/bin/env bash
# Regenerates every committed result and the report: the quickstart, the paper's MNIST
# experiments (Guo et al. 2020, Figure 1, Figure 2, Table 1) and lethe's fast-path trade-offs.
# Usage: scripts/reproduce-paper.sh DATA_DIR   (DATA_DIR holds mnist/ with the official files)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${LETHE_DATA:-}}"
if [ -z "$data" ]; then
  echo "usage: $0 DATA_DIR (the directory that holds mnist/)" >&2
  exit 2
fi
cargo build --release -p lethe-experiments
for c in quickstart paper-fig1-accuracy paper-fig1-budget paper-fig2-residuals paper-table1-timing fast-path-tradeoffs accounting-mnist audit-musk; do
  start=$(date +%s)
  ./target/release/lethe run "experiments/$c.json" --data-dir "$data" --quiet --force
  echo "$c: $(( $(date +%s) - start )) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
# every lethe.result/1 file; scaling.json, removal-ratio.json and python-parity.json are the benchmarks' own formats
./target/release/lethe report $(ls results/*.json | grep -v -e '/scaling\.json$' -e '/removal-ratio\.json$' -e '/python-parity\.json$')
