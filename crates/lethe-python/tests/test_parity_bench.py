"""The Python-parity benchmark script runs end to end (one round on the synthetic stand-in of
MNIST 3-vs-8's shape) and writes its JSON and the Markdown generated from it. Timings are not
asserted (the machine is shared); what is checked is that both sides computed the same model
(the script refuses a round whose weights differ) and the shape of the result."""

import importlib.util
import json
import os


def load_script(repo):
    path = repo / "crates" / "lethe-python" / "bench" / "parity.py"
    spec = importlib.util.spec_from_file_location("lethe_parity_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parity_benchmark_runs_and_records_identical_models(tmp_path, monkeypatch, repo):
    monkeypatch.delenv("LETHE_DATA", raising=False)
    bench = load_script(repo)
    argv = ["--rounds", "1", "--out", str(tmp_path)]
    if os.environ.get("LETHE_PARITY_BIN"):
        argv += ["--rust-bin", os.environ["LETHE_PARITY_BIN"]]
    bench.main(argv)
    result = json.loads((tmp_path / "python-parity.json").read_text())
    assert result["schema"] == "lethe.python_parity/1"
    assert result["config"]["n"] == 11_982 and result["config"]["d"] == 784
    assert "synthetic" in result["config"]["source"]
    assert result["identical_weights_every_round"] is True
    (round_,) = result["rounds"]
    assert round_["rust"]["weights_sha256_after_second"] == \
        round_["python"]["weights_sha256_after_second"]
    assert round_["rust"]["weights_sha256_after_reused"] == \
        round_["python"]["weights_sha256_after_reused"]
    for op in ("fit", "first_removal", "second_removal", "reused_removal"):
        s = result["summary"][op]
        assert s["rust_seconds"]["median"] > 0 and s["python_seconds"]["median"] > 0
        assert isinstance(s["within_10_percent"], bool)
    md = (tmp_path / "python-parity.md").read_text()
    assert md.startswith("# Python vs Rust") and "| fit |" in md
