"""Estimator behaviour: labels, one-vs-rest, inputs, normalisation, errors, scikit-learn
tools (clone, GridSearchCV, cross_val_score, Pipeline) and pickling."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lethe
from lethe import CertifiedLogisticRegression, CertifiedRidge


def test_any_label_values(unit_rows):
    X, y = unit_rows
    names = np.where(y == 1, "benign", "malignant")
    # At σ = 0 relabelling only flips the sign: "benign" is classes_[0] (label −1) here but
    # classes_[1] (label +1) with the 0/1 labels.
    a = CertifiedLogisticRegression(sigma=0.0, random_state=0).fit(X, names)
    b = CertifiedLogisticRegression(sigma=0.0, random_state=0).fit(X, y)
    assert list(a.classes_) == ["benign", "malignant"]
    np.testing.assert_allclose(a.coef_, -b.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(a.predict(X), np.where(b.predict(X) == 1, "benign", "malignant"))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X)[:, ::-1], atol=1e-12)


def test_one_vs_rest(unit_rows):
    X, y = unit_rows
    rng = np.random.default_rng(0)
    y3 = np.where(y == 1, rng.integers(1, 3, size=len(y)), 0) * 10
    m = CertifiedLogisticRegression(lam=1e-3, sigma=0.1, random_state=0).fit(X, y3)
    assert list(m.classes_) == [0, 10, 20] and m.coef_.shape == (3, 30)
    p = m.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.array_equal(m.predict(X), m.classes_[np.argmax(m.decision_function(X), axis=1)])
    c = m.remove([0, 1])
    assert len(c.classes) == 3 and c.certified


def test_binary_proba_and_decision(unit_rows):
    X, y = unit_rows
    m = CertifiedLogisticRegression(random_state=0).fit(X, y)
    z = m.decision_function(X)
    np.testing.assert_allclose(z, X @ m.coef_[0])
    np.testing.assert_allclose(m.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)))
    assert np.array_equal(m.predict(X), np.where(z > 0, 1.0, 0.0))


def test_float32_and_fortran_give_the_same_model(breast_cancer):
    X, y = breast_cancer
    ref = CertifiedLogisticRegression(random_state=2).fit(X, y).coef_
    np.testing.assert_array_equal(
        CertifiedLogisticRegression(random_state=2).fit(np.asfortranarray(X), y).coef_, ref
    )
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(
        CertifiedLogisticRegression(random_state=2).fit(X32, y).coef_,
        CertifiedLogisticRegression(random_state=2).fit(X32.astype(np.float64), y).coef_,
    )


def test_sparse_is_densified_with_a_warning(unit_rows):
    X, y = unit_rows
    with pytest.warns(lethe.DensifiedWarning, match="densifies"):
        a = CertifiedLogisticRegression(random_state=0).fit(sp.csr_matrix(X), y)
    b = CertifiedLogisticRegression(random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_max_norm_coef_is_in_input_features(breast_cancer):
    X, y = breast_cancer
    m = CertifiedLogisticRegression(normalize="max_norm", random_state=0).fit(X, y)
    np.testing.assert_allclose(m.decision_function(X), X @ m.coef_[0], rtol=1e-10)
    assert m.scale_ == pytest.approx(np.linalg.norm(X, axis=1).max())


def test_normalize_none_rejects_large_rows(breast_cancer):
    X, y = breast_cancer
    with pytest.raises(ValueError, match=r"row 0 has norm .* > 1: a certificate needs"):
        CertifiedLogisticRegression(normalize="none").fit(X, y)
    with pytest.raises(ValueError, match="normalize must be one of"):
        CertifiedLogisticRegression(normalize="l2").fit(X, y)


@pytest.mark.parametrize(
    "params, text",
    [
        ({"lam": 0.0}, "lambda"),
        ({"sigma": -1.0}, "sigma"),
        ({"delta": 2.0}, "delta"),
        ({"removal_solver": "lu"}, "lu"),
        ({"noise": "laplace"}, "laplace"),
        ({"accounting": "paper", "epsilon": 20.0}, "paper"),
        ({"lam": "big"}, "real number"),
    ],
)
def test_invalid_parameters_raise_value_errors(unit_rows, params, text):
    X, y = unit_rows
    with pytest.raises(ValueError, match=text):
        CertifiedLogisticRegression(**params).fit(X, y)


def test_random_state_int_is_the_seed(unit_rows):
    X, y = unit_rows
    a = CertifiedLogisticRegression(random_state=7).fit(X, y)
    assert a.seed_ == 7
    b = CertifiedLogisticRegression(random_state=8).fit(X, y)
    assert not np.array_equal(a.coef_, b.coef_)
    c = CertifiedLogisticRegression(random_state=np.random.RandomState(0)).fit(X, y)
    d = CertifiedLogisticRegression(random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(c.coef_, d.coef_)


def test_clone_grid_search_and_cross_val(breast_cancer):
    X, y = breast_cancer
    est = CertifiedLogisticRegression(lam=1e-3, sigma=1.0, random_state=0)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "coef_")
    pipe = make_pipeline(StandardScaler(), est)
    grid = GridSearchCV(pipe, {"certifiedlogisticregression__sigma": [0.1, 1.0, 100.0]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["certifiedlogisticregression__sigma"] in (0.1, 1.0)
    assert grid.cv_results_["mean_test_score"][2] < grid.best_score_
    scores = cross_val_score(make_pipeline(StandardScaler(), clone(est)), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    r = cross_val_score(make_pipeline(StandardScaler(), CertifiedRidge(random_state=0)), X, y,
                        cv=3)
    assert r.shape == (3,)


@pytest.mark.parametrize("cls", [CertifiedLogisticRegression, CertifiedRidge])
def test_pickle_after_removals(unit_rows, cls):
    X, y = unit_rows
    m = cls(sigma=0.05, random_state=0).fit(X, y)
    for i in range(6):
        m.remove([2 * i, 2 * i + 1])
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.coef_, m.coef_)
    assert m2.certificates_ == m.certificates_ and m2.beta_ == m.beta_
    assert m2.n_retrains_ == m.n_retrains_
    # The unpickled model goes on exactly as the original.
    assert m2.remove(50) == _strip_time(m.remove(50), m2.certificates_[-1])
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))


def _strip_time(a, b):
    """a with b's timings: everything else must be bit for bit equal."""
    d = a.to_dict()
    for k in ("seconds", "step_seconds", "retrain_seconds"):
        d[k] = getattr(b, k)
    return lethe.Certificate(d)


def test_fit_releases_the_gil():
    """Another Python thread runs while the core trains (it could not if fit held the GIL)."""
    import threading
    import time

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 200))
    y = (X[:, 0] > 0).astype(float)
    stamps = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        t0 = time.perf_counter()
        CertifiedLogisticRegression(removal_solver="cholesky", random_state=0).fit(X, y)
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    # Ticks well inside the fit (not at its edges, where Python code runs).
    margin = 0.25 * (t1 - t0)
    inside = [s for s in stamps if t0 + margin < s < t1 - margin]
    assert len(inside) >= 3, (t1 - t0, len(stamps))
