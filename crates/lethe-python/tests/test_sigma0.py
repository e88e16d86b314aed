"""At σ = 0 lethe's objective Σ ℓ + (λn/2)‖w‖² is scikit-learn's ½‖w‖² + C Σ ℓ times λn,
so the weights equal LogisticRegression(fit_intercept=False, C=1/(λn))."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from lethe import CertifiedLogisticRegression


def sklearn_weights(X, y, C):
    return LogisticRegression(
        fit_intercept=False, C=C, tol=1e-12, max_iter=10_000, solver="newton-cholesky"
    ).fit(X, y).coef_


@pytest.mark.parametrize("lam", [1e-3, 1e-4])
def test_sigma0_equals_sklearn(unit_rows, lam):
    X, y = unit_rows
    n = len(y)
    ours = CertifiedLogisticRegression(lam=lam, sigma=0.0, normalize="none", random_state=0)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.coef_, sklearn_weights(X, y, 1 / (lam * n)), rtol=0, atol=1e-6)
    # The scaling matters: C = 1/λ (mean form) gives weights far away.
    assert np.abs(ours.coef_ - sklearn_weights(X, y, 1 / lam)).max() > 1e-2
    # σ = 0 certifies nothing.
    assert ours.epsilon_spent_ is None and not ours.certified_


def test_unit_norm_option_is_the_same_as_normalising_first(breast_cancer, unit_rows):
    X, y = breast_cancer
    Xu, _ = unit_rows
    a = CertifiedLogisticRegression(lam=1e-3, sigma=0.5, normalize="unit_norm", random_state=3)
    b = CertifiedLogisticRegression(lam=1e-3, sigma=0.5, normalize="none", random_state=3)
    np.testing.assert_array_equal(a.fit(X, y).coef_, b.fit(Xu, y).coef_)
