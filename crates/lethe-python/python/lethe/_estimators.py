"""scikit-learn estimators over lethe's certified model (``lethe._core.Model``).

Objective (lethe's sum form, DESIGN §1): L_b(w; D) = Σᵢ ℓ(wᵀxᵢ, yᵢ) + (λn/2)‖w‖² + bᵀw with
b ~ σ·(noise) drawn from the seed's training stream. scikit-learn's ``LogisticRegression``
minimises ½‖w‖² + C Σᵢ ℓ, which is the same objective divided by λn: at σ = 0,
``CertifiedLogisticRegression(lam)`` equals ``LogisticRegression(fit_intercept=False,
C=1/(λn))``. No intercept is fitted (add a constant feature for one).
"""

import json
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._certificate import Certificate, CertificateList
from ._validation import check_normalize, densify, fit_scale, normalize_rows

_SEED_MAX = np.iinfo(np.int64).max


class _CertifiedBase(BaseEstimator):
    """What both estimators share: parameters → ``CertifiedParams``, fit, remove, state."""

    _loss = None  # "logistic" or "squared"

    def __init__(
        self,
        lam=1e-3,
        sigma=1.0,
        *,
        epsilon=1.0,
        delta=1e-4,
        noise="gaussian",
        accounting="analytic",
        removal_solver="stale",
        bound="data_dependent",
        tol=1e-8,
        max_iter=1000,
        random_state=None,
        normalize="max_norm",
    ):
        self.lam = lam
        self.sigma = sigma
        self.epsilon = epsilon
        self.delta = delta
        self.noise = noise
        self.accounting = accounting
        self.removal_solver = removal_solver
        self.bound = bound
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.normalize = normalize

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Sparse input is accepted and densified with a DensifiedWarning.
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags

    # -- parameters -------------------------------------------------------------------------

    def _params_json(self):
        """The ``lethe_removal::CertifiedParams`` of the current parameters (validated by
        Rust: λ > 0, σ ≥ 0, 0 < δ < 1, ε > 0, the names of every choice)."""
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral):
            raise ValueError(f"max_iter must be an integer, got {self.max_iter!r}")
        number = {"lam": self.lam, "sigma": self.sigma, "epsilon": self.epsilon,
                  "delta": self.delta, "tol": self.tol}
        for name, v in number.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{name} must be a real number, got {v!r}")
        params = {
            "model": {
                "loss": self._loss,
                "lambda": float(self.lam),
                "sigma": float(self.sigma),
                "noise": self.noise,
                "solver": {"tolerance": float(self.tol), "max_iterations": int(self.max_iter)},
            },
            "epsilon": float(self.epsilon),
            "delta": float(self.delta),
            "accounting": self.accounting,
            "bound": self.bound,
            "solver": self.removal_solver,
        }
        return json.dumps(params)

    def _seed(self):
        """An int ``random_state`` ≥ 0 is lethe's seed itself (the ``seed`` of a config, so the
        same number gives the CLI's b); None or a RandomState draws one."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if not 0 <= int(rs) <= np.iinfo(np.uint64).max:
                raise ValueError(f"random_state must be in [0, 2**64), got {rs}")
            return int(rs)
        return int(check_random_state(rs).randint(_SEED_MAX, dtype=np.int64))

    # -- fitting ----------------------------------------------------------------------------

    def _validate_X(self, X, reset):
        X = validate_data(
            self, X, reset=reset, accept_sparse=True, dtype=np.float64, ensure_all_finite=True
        )
        return densify(X)

    def _train(self, X, y_encoded):
        check_normalize(self.normalize)
        params = self._params_json()
        seed = self._seed()
        scale = fit_scale(X, self.normalize)
        Xn = np.ascontiguousarray(normalize_rows(X, self.normalize, scale))
        y_encoded = np.ascontiguousarray(y_encoded, dtype=np.float64)
        core = _core.Model.fit(Xn, y_encoded, params, seed)
        self._core = core
        self._fit_state = {"X": Xn, "y": y_encoded, "params": params, "seed": seed,
                           "requests": []}
        self.seed_ = seed
        self.scale_ = scale
        self.certificates_ = CertificateList()
        self._refresh()
        return self

    def _refresh(self, trained=True):
        """Fitted attributes from the core's current weights; ``trained`` when the core has
        (re)trained since the last refresh (a removal that did not retrain leaves the
        training summary, hence ``n_iter_``, as it was)."""
        w = self._core.weights().T  # K × d, on the normalised rows
        self.weights_ = w
        if trained:
            # Solver iterations of the last (re)training, summed over class models.
            self.n_iter_ = json.loads(self._core.train_summary_json())["iterations"]
        self.coef_ = self._coef(w / self.scale_ if self.normalize == "max_norm" else w)

    def _coef(self, w):
        return w

    def _decision(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        Xn = normalize_rows(X, self.normalize, self.scale_)
        return self._core.decision_function(np.ascontiguousarray(Xn))

    # -- removal ----------------------------------------------------------------------------

    def remove(self, indices):
        """Removes training rows as one certified request and returns its
        :class:`Certificate`.

        ``indices`` are positions in the X given to ``fit``: one int removes one row, a list
        (or array) of ints removes them together as a batch. A request that fails (a row
        removed before, out of range, repeated, or one that would leave no rows) raises and
        changes nothing. Past the budget the model is retrained on the remaining rows with a
        fresh b (Algorithm 2); ``n_retrains_`` counts those.
        """
        if getattr(self, "_core", None) is None:
            check_is_fitted(self)  # raises NotFittedError
        n = self._fit_state["X"].shape[0]
        rows = [_row_index(i, n) for i in _index_list(indices)]
        cert = Certificate._from_core(self._core.remove(rows))
        self._fit_state["requests"].append(rows)
        self.certificates_.append(cert)
        self._refresh(trained=cert.retrained)
        return cert

    @property
    def budget_(self):
        """The residual budget β may reach: σ·r*(ε, δ) (analytic), σε/c (paper), σε (Gamma)."""
        check_is_fitted(self)
        return self._core.budget

    @property
    def beta_(self):
        """The accumulated gradient-residual bound β of the released model."""
        check_is_fitted(self)
        return self._core.beta

    @property
    def epsilon_spent_(self):
        """The smallest ε the current β certifies (None when the model certifies nothing,
        e.g. σ = 0)."""
        check_is_fitted(self)
        return self._core.epsilon_spent

    @property
    def n_retrains_(self):
        """Budget retrains so far."""
        check_is_fitted(self)
        return self._core.retrains

    @property
    def certified_(self):
        """Whether the released model is (ε, δ)-certified now."""
        check_is_fitted(self)
        return self._core.is_certified

    # -- pickling ---------------------------------------------------------------------------

    def __getstate__(self):
        # The fitted state is plain Python and numpy (_fit_state); the native model is not
        # pickled but rebuilt by __setstate__.
        state = dict(super().__getstate__())
        state.pop("_core", None)
        return state

    def __setstate__(self, state):
        fit = state.get("_fit_state")
        if fit is not None:
            # The same rows, parameters and seed give the same b and weights, and replaying
            # the same requests the same certificates (one seed, one result).
            core = _core.Model.fit(fit["X"], fit["y"], fit["params"], fit["seed"])
            for rows in fit["requests"]:
                core.remove(rows)
            certs = state.get("certificates_") or []
            if certs and certs[-1].weights_sha256 != core.weights_sha256():
                raise ValueError(
                    "the unpickled model does not reproduce the weights of its last "
                    "certificate (was it pickled by another build of lethe?)"
                )
            state["_core"] = core
        super().__setstate__(state)


class CertifiedLogisticRegression(ClassifierMixin, _CertifiedBase):
    """Logistic regression trained for certified removal (Guo et al. 2020).

    Parameters
    ----------
    lam : float, λ > 0 of the regulariser (λn/2)‖w‖² (sum form; C = 1/(λn) in scikit-learn).
    sigma : float, σ ≥ 0, the scale of the objective perturbation b (σ = 0: no certificate).
    epsilon, delta : the (ε, δ) of certified removal.
    noise : "gaussian" or "gamma_norm".
    accounting : "analytic" (exact Gaussian privacy profile) or "paper" (σε/c).
    removal_solver : "stale", "pcg" or "cholesky": how each Newton removal step is solved
        (every one charges its own solve residual to the certificate).
    bound : "data_dependent" (the paper's) or "tight".
    tol, max_iter : training stops at ‖∇L_b‖ ≤ tol (sum scale) or after max_iter steps.
    random_state : int seed (lethe's seed itself), RandomState or None.
    normalize : "max_norm" (divide by the training set's largest row norm), "unit_norm"
        (each row by its norm) or "none" (rows must already have ‖x‖ ≤ 1).

    Binary labels (any two values) give one model; more classes give one-vs-rest with one
    b per class. ``coef_`` is (1, d) or (K, d) in the input features (for ``unit_norm``: on the
    unit-norm rows); ``weights_`` holds the certified model's weights on the rows it was
    trained on.
    """

    _loss = "logistic"

    def fit(self, X, y):
        """Trains on X (n × d) and labels y."""
        X, y = validate_data(
            self, X, y, accept_sparse=True, dtype=np.float64, ensure_all_finite=True
        )
        X = densify(X)
        check_classification_targets(y)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "CertifiedLogisticRegression needs samples of at least 2 classes in the data, "
                f"but the data contain only one class: {self.classes_[0]!r}"
            )
        codes = enc.transform(y)
        y_enc = np.where(codes == 1, 1.0, -1.0) if len(self.classes_) == 2 else codes
        return self._train(X, y_enc)

    def decision_function(self, X):
        """X W: shape (n,) for two classes (positive favours ``classes_[1]``), (n, K) else."""
        z = self._decision(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X):
        """σ(z) for two classes; one-vs-rest σ(z_k) normalised over k for more (as
        scikit-learn's one-vs-rest logistic regression)."""
        z = self._decision(X)
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p, p])
        p = 1.0 / (1.0 + np.exp(-z))
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class of the largest decision value (the sign for two classes)."""
        z = self._decision(X)
        if z.shape[1] == 1:
            return self.classes_[(z[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(z, axis=1)]


class CertifiedRidge(RegressorMixin, _CertifiedBase):
    """Ridge regression (squared loss ℓ = (wᵀx − y)², sum form with (λn/2)‖w‖²) trained for
    certified removal. Its Newton removal step is exact (γ = 0); β stays at the training
    residual plus each step's solve residual. Parameters as
    :class:`CertifiedLogisticRegression`; ``coef_`` has shape (d,)."""

    _loss = "squared"

    def fit(self, X, y):
        """Trains on X (n × d) and real targets y."""
        X, y = validate_data(
            self, X, y, accept_sparse=True, dtype=np.float64, ensure_all_finite=True,
            y_numeric=True,
        )
        X = densify(X)
        return self._train(X, np.asarray(y, dtype=np.float64))

    def _coef(self, w):
        return w[0]

    def predict(self, X):
        """X w."""
        return self._decision(X)[:, 0]


def _index_list(indices):
    """``indices`` as a list: one int, or the elements of a list, tuple or array."""
    if isinstance(indices, list) and all(type(i) is int for i in indices):
        return indices
    return [indices] if np.ndim(indices) == 0 else list(np.asarray(indices).ravel())


def _row_index(i, n):
    """``i`` as a row position in 0..n: an int or numpy integer, not a bool."""
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral):
        raise TypeError(f"row indices must be integers, got {i!r}")
    i = int(i)
    if not 0 <= i < n:
        raise IndexError(f"row {i} does not exist (fit was given {n} rows)")
    return i
