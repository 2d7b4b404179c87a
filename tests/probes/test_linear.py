"""LinearProbe: scikit-learn's estimator checks and parity with LogisticRegression / Ridge."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from curriculens.errors import ProbeError
from curriculens.probes import LinearProbe

# Documented exceptions: none of sklearn's checks are expected to fail today. Any that must be
# skipped would be listed here with the reason (e.g. a check that needs sample_weight).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [LinearProbe(), LinearProbe(kind="ridge")],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def _split(n, seed=0):
    return np.random.default_rng(seed).random(n) < 0.7


@pytest.mark.parametrize("load", [load_breast_cancer, load_digits, load_wine])
def test_logistic_and_ridge_parity(load):
    X, y = load(return_X_y=True)
    tr = _split(len(y))
    sc = StandardScaler().fit(X[tr])
    Ztr, Zte = sc.transform(X[tr]), sc.transform(X[~tr])
    ref = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8).fit(Ztr, y[tr])
    probe = LinearProbe(C=1.0).fit(X[tr], y[tr])
    assert abs(probe.score(X[~tr], y[~tr]) - ref.score(Zte, y[~tr])) <= 0.02
    np.testing.assert_allclose(probe.predict_proba(X[~tr]), ref.predict_proba(Zte), atol=0.05)
    ridge_ref = RidgeClassifier(alpha=3.0).fit(Ztr, y[tr])
    ridge = LinearProbe(kind="ridge", alpha=3.0).fit(X[tr], y[tr])
    assert ridge.score(X[~tr], y[~tr]) == ridge_ref.score(Zte, y[~tr])
    np.testing.assert_allclose(ridge.coef_.ravel(), ridge_ref.coef_.ravel(), rtol=1e-3, atol=1e-3)
    assert not hasattr(ridge, "predict_proba")


def test_bad_params_and_labels_are_rejected_clearly():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ProbeError, match="kind must be one of"):
        LinearProbe(kind="svm").fit(X, np.arange(20) % 2)
    with pytest.raises(ProbeError, match="C must be a positive float"):
        LinearProbe(C=-1.0).fit(X, np.arange(20) % 2)
    with pytest.raises(ProbeError, match="single-class"):
        LinearProbe().fit(X, np.zeros(20, int))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LinearProbe().fit(X, np.arange(20) % 2)
