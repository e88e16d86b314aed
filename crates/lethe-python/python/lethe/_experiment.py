"""The experiment runner from Python: configs as dicts, results as dicts and DataFrames."""

import json
import os
import tempfile

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
