"""run_experiment: the same config through Python and through `lethe run` gives the same
certificates bit for bit."""

import json
import os
import subprocess

import numpy as np
import pytest

import lethe

CONFIG = {
    "schema": "lethe.experiment/1",
    "name": "py-vs-cli",
    "seed": 5,
    "dataset": {"name": "digits", "classes": [3, 8], "test_fraction": 0.2},
    "model": {"loss": "logistic", "lambda": 0.1, "sigma": 0.2, "noise": "gaussian"},
    "certificate": {"epsilon": 1.0, "delta": 1e-4},
    "removal": {"strategy": "newton", "requests": 12, "batch_size": 2, "order": "random",
                "solver": "pcg"},
}
TIMING = ("seconds", "step_seconds", "retrain_seconds")


def lethe_bin(repo):
    path = os.environ.get("LETHE_BIN") or str(repo / "target" / "release" / "lethe")
    if not os.path.exists(path):
        pytest.fail(f"the lethe binary is not at {path}: cargo build --release -p "
                    "lethe-experiments (scripts/test.sh does), or set LETHE_BIN")
    return path


def certificates(result):
    (run,) = result["runs"]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in run["removals"]]


def test_same_certificates_as_the_cli(repo, tmp_path):
    ours = lethe.run_experiment(CONFIG, out_dir=tmp_path / "py")
    cfg = tmp_path / "py-vs-cli.json"
    cfg.write_text(json.dumps(CONFIG))
    subprocess.run([lethe_bin(repo), "run", str(cfg), "--out", str(tmp_path / "cli"), "--quiet"],
                   check=True)
    cli = json.loads((tmp_path / "cli" / "py-vs-cli.json").read_text())
    assert ours["schema"] == cli["schema"] == "lethe.result/1"
    assert ours["config"] == cli["config"]
    a, b = certificates(ours), certificates(cli)
    assert len(a) == 12
    # json floats round-trip exactly: equal values are equal bits.
    assert a == b
    assert ours["runs"][0]["train"]["weight_norm"] == cli["runs"][0]["train"]["weight_norm"]
    assert (tmp_path / "py" / "py-vs-cli.json").exists()


def test_same_seed_same_numbers():
    a = certificates(lethe.run_experiment(CONFIG))
    b = certificates(lethe.run_experiment(CONFIG))
    assert a == b


def test_invalid_config_is_a_lethe_error():
    bad = dict(CONFIG, model={"loss": "logistic", "lambda": -1.0, "sigma": 1.0})
    with pytest.raises(lethe.LetheError, match="lambda"):
        lethe.run_experiment(bad)
    with pytest.raises(TypeError):
        lethe.run_experiment("config.json")


def test_load_results_tables(tmp_path):
    pd = pytest.importorskip("pandas")
    cfg = dict(CONFIG, grid={"model.sigma": [0.0, 0.2]}, audit={"attacks": ["loss"]})
    result = lethe.run_experiment(cfg, out_dir=tmp_path)
    res = lethe.load_results(tmp_path / "py-vs-cli.json")
    assert isinstance(res, lethe.Results)
    assert len(res.runs) == 2 and len(res.removals) == 24 and len(res.audit) > 0
    assert res.removals["beta"].dtype == np.float64
    # σ = 0 certifies nothing: epsilon_spent is null there, NaN in the table, a float column.
    assert res.removals["epsilon_spent"].dtype == np.float64
    assert res.removals.groupby("param.model.sigma")["epsilon_spent"].count().tolist() == [0, 12]
    beta = [r["beta"] for run in result["runs"] for r in run["removals"]]
    assert sorted(res.removals["beta"].tolist()) == sorted(beta)
    assert res.audit["metrics.auc"].dtype == np.float64
    assert res.runs["summary.beta_final"].dtype == np.float64


def test_infinities_are_floats(tmp_path):
    """Result files write ±∞ as "inf" strings; the tables give float columns with ±inf (they
    made pandas columns of dtype object)."""
    doc = {"schema": "lethe.result/1", "runs": [
        {"index": 0, "hash": "a", "seed": 0, "params": {},
         "summary": {"speedup_median": "inf", "epsilon_spent_final": None},
         "removals": [{"request": 1, "beta": "-inf"}, {"request": 2, "beta": 0.5}]}]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    res = lethe.load_results(path)
    assert res.runs["summary.speedup_median"].dtype == np.float64
    assert res.runs["summary.speedup_median"][0] == np.inf
    assert np.isnan(res.runs["summary.epsilon_spent_final"][0])
    assert res.removals["beta"].tolist() == [-np.inf, 0.5]
    assert res.audit.empty


def test_cli_tables_read_as_numbers(repo, tmp_path):
    pd = pytest.importorskip("pandas")
    cfg = tmp_path / "py-vs-cli.json"
    cfg.write_text(json.dumps(CONFIG))
    subprocess.run([lethe_bin(repo), "run", str(cfg), "--out", str(tmp_path / "o"), "--quiet",
                    "--tables", "csv"], check=True)
    removals = pd.read_csv(tmp_path / "o" / "py-vs-cli.removals.csv")
    summary = pd.read_csv(tmp_path / "o" / "py-vs-cli.summary.csv")
    assert len(removals) == 12 and len(summary) == 1
    for col in ("beta", "budget", "epsilon_spent", "certificate_bound"):
        assert removals[col].dtype == np.float64, col
    assert removals["certified"].dtype == bool
    assert removals.equals(lethe.load_results(tmp_path / "o" / "py-vs-cli.json").removals)
