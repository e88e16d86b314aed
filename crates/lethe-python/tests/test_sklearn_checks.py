"""scikit-learn's own estimator checks, for both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from lethe import CertifiedLogisticRegression, CertifiedRidge


@parametrize_with_checks([CertifiedLogisticRegression(), CertifiedRidge()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
