"""run_experiment: the same config through Python and through `lethe run` gives the same
certificates bit for bit."""

import json
import os
import subprocess

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
