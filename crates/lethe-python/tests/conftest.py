"""Shared fixtures of lethe's Python tests (run by scripts/test.sh)."""

import gzip
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def breast_cancer():
    """lethe's bundled breast-cancer set (label first, then 30 features), as (X, y)."""
    path = REPO / "crates" / "lethe-data" / "data" / "breast_cancer.csv.gz"
    with gzip.open(path, "rt") as f:
        d = np.loadtxt(f, delimiter=",", skiprows=1)
    return d[:, 1:], d[:, 0]


@pytest.fixture(scope="session")
def unit_rows(breast_cancer):
    X, y = breast_cancer
    return X / np.linalg.norm(X, axis=1)[:, None], y
