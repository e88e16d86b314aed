"""The experiment runner from Python: configs as dicts, results as dicts and DataFrames."""

import io
import json
import os
import tempfile
from typing import NamedTuple

from . import _core


def run_experiment(config, data_dir=None, out_dir=None, jobs=1):
    """Runs a ``lethe.experiment/1`` config given as a dict, exactly as ``lethe run`` runs
    the same config from a file (same validation, same seed ⇒ same numbers), and returns the
    merged result as a dict (the JSON of ``lethe run``: +∞ as ``"inf"``, NaN as None).

    ``data_dir`` is ``lethe run --data-dir`` (default: ``$LETHE_DATA``); relative data paths
    in the config resolve against the current directory first. ``out_dir`` keeps the result
    files (``<name>.json``, point files) there; by default they go to a temporary directory
    that is removed. Raises :class:`lethe.LetheError` (a ValueError) with lethe's message for
    an invalid config or a failed run.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    text = json.dumps(config, allow_nan=False)
    if data_dir is None:
        data_dir = os.environ.get("LETHE_DATA") or None
    base = os.getcwd()
    if out_dir is not None:
        return json.loads(
            _core.run_experiment_json(text, os.fspath(out_dir), base, data_dir, jobs)
        )
    with tempfile.TemporaryDirectory(prefix="lethe-run-") as tmp:
        return json.loads(_core.run_experiment_json(text, tmp, base, data_dir, jobs))


class Results(NamedTuple):
    """The tables of a result file (pandas DataFrames)."""

    runs: object
    """One row per run (grid point): run, hash, seed, param.*, summary.*, train.*, timings.*."""
    removals: object
    """One row per removal request: run, hash, param.*, then the removal record."""
    audit: object
    """One row per membership-inference result: run, hash, param.*, then the attack result."""


def load_results(path):
    """Reads a result file (``OUT/<name>.json`` of ``lethe run`` or ``run_experiment``) into
    :class:`Results` of three pandas DataFrames, the tables ``lethe run --tables csv`` writes
    (lethe_experiments::tables): nested fields as dotted columns, numbers as float64/int64
    columns (±∞ as ±inf, null as NaN), arrays of numbers as JSON text, arrays of objects (ROC
    curves) left out."""
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("lethe.load_results needs pandas: pip install pandas") from e
    texts = _core.result_tables(os.fspath(path))

    def frame(text):
        if not text.strip():
            return pd.DataFrame()
        return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])

    return Results(*(frame(t) for t in texts))
