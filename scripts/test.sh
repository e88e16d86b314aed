#!/usr/bin/env bash
# Every test of lethe: the Rust workspace, then the Python package `lethe` (distribution
# lethe-unlearning) built into a fresh virtual environment and tested with pytest.
#
#   scripts/test.sh            both
#   scripts/test.sh --python   the Python part only (venv, installs, build, pytest)
#
# LETHE_VENV=DIR keeps the virtual environment in DIR (default: a temporary directory that is
# removed afterwards). The Python tools come from the package index.
set -euo pipefail
cd "$(dirname "$0")/.."

python_only=false
case "${1:-}" in
  "") ;;
  --python) python_only=true ;;
  *) echo "usage: scripts/test.sh [--python]" >&2; exit 2 ;;
esac

if ! $python_only; then
  echo "== cargo test --workspace --release"
  cargo test --workspace --release
fi

echo "== Python: fresh virtual environment, maturin build, pytest"
start=$SECONDS
if [ -n "${LETHE_VENV:-}" ]; then
  venv=$LETHE_VENV
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  venv=$tmp/venv
fi
python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet maturin numpy scipy scikit-learn pandas pytest
(cd crates/lethe-python && maturin develop --release --quiet)
# The CLI the Python results are compared with, and the Rust half of the parity benchmark
# (both already built by cargo test).
cargo build --release --quiet -p lethe-experiments --bin lethe
cargo build --release --quiet -p lethe-benches --example python_parity
LETHE_BIN=$PWD/target/release/lethe LETHE_PARITY_BIN=$PWD/target/release/examples/python_parity \
  python -m pytest -q -p no:cacheprovider crates/lethe-python/tests
echo "== Python part: $((SECONDS - start)) s"
