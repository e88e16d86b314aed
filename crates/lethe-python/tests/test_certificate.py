"""Certificates: every field of the Rust Certificate, removal semantics, the budget."""

import math
import re

import numpy as np
import pytest

import lethe
from lethe import CertifiedLogisticRegression, CertifiedRidge
from lethe._certificate import FIELDS


def rust_certificate_fields(repo):
    src = (repo / "crates" / "lethe-removal" / "src" / "certified.rs").read_text()
    body = re.search(r"pub struct Certificate \{(.*?)\n\}", src, re.S).group(1)
    return re.findall(r"^\s*pub (\w+):", body, re.M)


def test_fields_are_the_rust_certificate_fields(repo):
    assert list(FIELDS) == rust_certificate_fields(repo)


@pytest.fixture
def model(unit_rows):
    X, y = unit_rows
    return CertifiedLogisticRegression(lam=1e-3, sigma=1.0, random_state=0).fit(X, y)


def test_remove_returns_a_full_certificate(model):
    before = model.coef_.copy()
    cert = model.remove(5)
    assert isinstance(cert, lethe.Certificate)
    d = cert.to_dict()
    assert list(d) == list(FIELDS)
    assert cert.request == 1 and cert.indices == [5] and cert.n_remaining == 568
    assert cert.certified and not cert.retrained
    assert cert.beta == model.beta_ and cert.budget == model.budget_
    assert cert.epsilon_spent == model.epsilon_spent_ and 0 < cert.epsilon_spent < 1
    assert cert.solver == "stale" and cert.accounting == "analytic"
    assert not np.array_equal(before, model.coef_)
    assert len(cert.classes) == 1 and "v_norm" in cert.classes[0]
    # to_dict is a copy
    d["indices"].append(7)
    assert cert.indices == [5]


def test_a_list_is_one_batch_request(model):
    cert = model.remove([1, 2, 3])
    assert cert.request == 1 and cert.indices == [1, 2, 3] and cert.n_remaining == 566
    cert2 = model.remove(np.array([10, 11]))
    assert cert2.request == 2 and cert2.beta_before == cert.beta
    assert len(model.certificates_) == 2


def test_certificates_to_frame(model):
    pd = pytest.importorskip("pandas")
    model.remove(1)
    model.remove([2, 3])
    df = model.certificates_.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(FIELDS) and len(df) == 2
    assert df["beta"].dtype == np.float64 and df["request"].tolist() == [1, 2]


@pytest.mark.parametrize(
    "bad, error, text",
    [
        (569, IndexError, "does not exist"),
        (-1, IndexError, "does not exist"),
        (1.5, TypeError, "integers"),
        ([4, 4], ValueError, "more than once"),
    ],
)
def test_invalid_requests_raise_and_change_nothing(model, bad, error, text):
    coef = model.coef_.copy()
    with pytest.raises(error, match=text):
        model.remove(bad)
    assert np.array_equal(coef, model.coef_) and model.certificates_ == []


def test_already_removed_is_a_lethe_error(model):
    model.remove(4)
    with pytest.raises(lethe.LetheError, match="already removed") as e:
        model.remove(4)
    assert isinstance(e.value, ValueError)


def test_budget_retrains(unit_rows):
    X, y = unit_rows
    m = CertifiedLogisticRegression(lam=1e-3, sigma=0.01, random_state=0).fit(X, y)
    certs = [m.remove(i) for i in range(20)]
    assert m.n_retrains_ >= 1 and any(c.retrained for c in certs)
    assert all(c.certified and c.beta <= c.budget for c in certs)


def test_paper_accounting_and_tight_bound(unit_rows):
    X, y = unit_rows
    m = CertifiedLogisticRegression(
        lam=1e-3, sigma=1.0, accounting="paper", bound="tight", removal_solver="cholesky",
        random_state=0,
    ).fit(X, y)
    c = m.remove(0)
    assert c.accounting == "paper" and c.bound_kind == "tight" and c.solver == "cholesky"
    assert math.isclose(c.c_delta, math.sqrt(2 * math.log(1.5 / 1e-4)))
    assert math.isclose(m.budget_, 1.0 * 1.0 / c.c_delta)


def test_ridge_removal_is_exact(unit_rows):
    X, _ = unit_rows
    rng = np.random.default_rng(0)
    y = X @ rng.normal(size=X.shape[1]) + 0.01 * rng.normal(size=len(X))
    m = CertifiedRidge(lam=1e-3, sigma=1.0, removal_solver="cholesky", random_state=1).fit(X, y)
    c = m.remove([0, 1])
    assert c.exact_step and c.bound_data_dependent == 0.0 and c.certified
    assert m.coef_.shape == (X.shape[1],)
