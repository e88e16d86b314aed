"""Input conversion and row normalisation for the estimators."""

import warnings

import numpy as np
import scipy.sparse as sp

NORMALIZE = ("unit_norm", "max_norm", "none")


class DensifiedWarning(UserWarning):
    """A scipy.sparse input was converted to a dense array (the core takes dense input)."""


def densify(X):
    """A dense array from ``X``: scipy.sparse matrices and arrays are densified with a
    :class:`DensifiedWarning`; anything else is returned unchanged."""
    if sp.issparse(X):
        warnings.warn(
            f"lethe densifies its sparse input ({X.shape[0]}×{X.shape[1]}, "
            f"{X.nnz} stored values): the core takes dense rows",
            DensifiedWarning,
            stacklevel=3,
        )
        return X.toarray()
    return X


def check_normalize(normalize):
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")


def fit_scale(X, normalize):
    """The scale the training rows are divided by: max row norm for ``max_norm`` (1 when every
    row is 0), else 1 (``unit_norm`` scales each row by its own norm)."""
    if normalize != "max_norm":
        return 1.0
    norms = np.linalg.norm(X, axis=1)
    top = float(norms.max()) if norms.size else 0.0
    return top if top > 0.0 else 1.0


def normalize_rows(X, normalize, scale):
    """Rows as the certified model sees them.

    - ``unit_norm``: each row divided by its norm (rows of zeros stay zero);
    - ``max_norm``: every row divided by the training data's largest row norm ``scale``;
    - ``none``: unchanged. On training data a row with ‖x‖ > 1 is an error, since the
      certificate needs ‖x‖ ≤ 1: the Rust core checks it (``RowNormExceeded``, a
      ``ValueError`` naming the row, with the tolerance 1e-12 of ``Dataset::check_row_norms``)
      where it trains, so the rows are not read an extra time here.
    """
    if normalize == "unit_norm":
        norms = np.linalg.norm(X, axis=1)
        norms[norms == 0.0] = 1.0
        return X / norms[:, None]
    if normalize == "max_norm":
        return X / scale
    return X
