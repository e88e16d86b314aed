"""The certificate of one removal request, as returned by ``remove``."""

import math

# Every field of the Rust ``Certificate`` (crates/lethe-removal/src/certified.rs), in order;
# tests/test_certificate.py checks this list against the Rust source.
FIELDS = (
    "request",
    "indices",
    "n_remaining",
    "bound_kind",
    "spectral_norm",
    "solver",
    "bound_data_dependent",
    "bound_tight",
    "bound_gamma_n_v2",
    "bound_worst_case",
    "solve_residual",
    "certificate_bound",
    "certificate_bound_source",
    "rounding_allowance",
    "step_residual_norm",
    "residual_norm",
    "beta_before",
    "beta",
    "budget",
    "c_delta",
    "accounting",
    "epsilon",
    "delta",
    "epsilon_spent",
    "epsilon_spent_analytic",
    "retrained",
    "certified",
    "exact_step",
    "seconds",
    "step_seconds",
    "retrain_seconds",
    "classes",
    "weights_sha256",
)


def _floats(value):
    """Result-file JSON writes +inf/-inf as the strings "inf"/"-inf": make them floats."""
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


class Certificate:
    """The certificate of one removal request: every field of lethe's Rust ``Certificate``
    as an attribute (all norms in sum scale; ``None`` where Rust has null).

    ``certified`` says whether the released model is (ε, δ)-certified: β (``beta``) is within
    ``budget`` and the model could certify at all (σ > 0, rows ‖x‖ ≤ 1).
    ``epsilon_spent`` is the smallest ε the accumulated β certifies.
    """

    __slots__ = FIELDS

    def __init__(self, fields):
        self._set(_floats(dict(fields)))

    @classmethod
    def _from_core(cls, fields):
        """From the dict ``lethe._core.Model.remove`` builds, whose ±∞ are floats already."""
        cert = cls.__new__(cls)
        cert._set(fields)
        return cert

    def _set(self, fields):
        """Every field from ``fields``, which must hold exactly the names of FIELDS."""
        if len(fields) != len(FIELDS) or not all(f in fields for f in FIELDS):
            missing = [f for f in FIELDS if f not in fields]
            extra = sorted(set(fields) - set(FIELDS))
            raise ValueError(
                f"certificate fields do not match lethe's Certificate: missing {missing}, "
                f"unknown {extra}"
            )
        for f in FIELDS:
            setattr(self, f, fields[f])

    def to_dict(self):
        """Every field, as a new dict (lists and per-class dicts copied)."""
        return {f: _copy(getattr(self, f)) for f in FIELDS}

    def __eq__(self, other):
        if not isinstance(other, Certificate):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __getstate__(self):
        return self.to_dict()

    def __setstate__(self, state):
        for f in FIELDS:
            setattr(self, f, state[f])

    def __repr__(self):
        eps = "None" if self.epsilon_spent is None else f"{self.epsilon_spent:.4g}"
        return (
            f"Certificate(request={self.request}, indices={self.indices}, "
            f"certified={self.certified}, beta={self.beta:.4g}, budget={self.budget:.4g}, "
            f"epsilon_spent={eps}, retrained={self.retrained})"
        )


def _copy(value):
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


class CertificateList(list):
    """The certificates of a model's requests, in order; ``to_frame()`` gives a DataFrame."""

    def to_frame(self):
        """One row per request, one column per certificate field (pandas needed)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("CertificateList.to_frame needs pandas: pip install pandas") from e
        return pd.DataFrame([c.to_dict() for c in self], columns=list(FIELDS))
