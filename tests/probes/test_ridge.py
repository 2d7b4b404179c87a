"""Batched ridge probes: parity with RidgeClassifier and exact leave-one-out alpha selection."""

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import RidgeClassifierCV
from sklearn.preprocessing import StandardScaler

from curriculens.probes.ridge import fit_ridge_batch


def _split(n, seed=0, frac=0.7):
    return np.random.default_rng(seed).random(n) < frac


def test_ridge_batch_parity_and_loo_selection():
    X, y = load_wine(return_X_y=True)
    tr = _split(len(y))
    grid = (0.01, 0.1, 1.0, 10.0, 100.0)
    sc = StandardScaler().fit(X[tr])
    cv = RidgeClassifierCV(alphas=grid).fit(sc.transform(X[tr]), y[tr])
    res = fit_ridge_batch(X[None], y[None], train=tr[None], alphas=grid)
    assert 1.0 / res.C[0, 0] == pytest.approx(cv.alpha_)
    assert res.acc[0, 0] == pytest.approx(cv.score(sc.transform(X[~tr]), y[~tr]))
