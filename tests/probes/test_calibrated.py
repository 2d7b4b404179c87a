"""Calibrated probes as one solve: every (split, label set) problem matches its own fit."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from curriculens.errors import ProbeError
from curriculens.probes.calibrated import NOT_REQUESTED, fit_calibrated_batch
from curriculens.probes.fused import fit_logistic_batch


def _data(P=3, n=420, d=300, L=4, S=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d) * 4
    X = X.astype(np.float32)
    w = rng.normal(size=(P, d))
    score = np.einsum("pnd,pd->pn", X - X.mean(1, keepdims=True), w)
    score += rng.normal(size=(P, n)) * score.std() * 0.5
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))
    labels = np.stack([y] + [rng.integers(0, k, (P, n)) for _ in range(L - 1)], 1)
    labels[0, 1, :40] = -1  # missing rows in one problem
    splits = rng.random((P, S, n)) < 0.7
    mask = np.ones((P, n), bool)
    mask[-1, n - 50 :] = False  # a shorter, padded set
    return X, labels, splits, mask


@pytest.mark.parametrize(("d", "S"), [(300, 3), (24, 3), (300, 1)])
def test_every_problem_matches_its_own_fit(d, S):
    X, labels, splits, mask = _data(d=d, S=S)
    res = fit_calibrated_batch(X, labels, splits, mask=mask, C=0.5, tol=1e-5)
    assert res.shared
    for s in range(splits.shape[1]):
        ref = fit_logistic_batch(X, labels, train=splits[:, s], mask=mask, Cs=(0.5,), tol=1e-5)
        np.testing.assert_array_equal(res.n_test[:, s], ref.n_test)
        np.testing.assert_array_equal(res.n_train[:, s], ref.n_train)
        np.testing.assert_allclose(res.majority[:, s], ref.majority)
        # the same problem and stopping rule: held-out accuracy within one row
        assert np.abs(res.acc[:, s] - ref.acc).max() <= 1.0 / ref.n_test.min() + 1e-9
        if d > 256:  # the same preconditioner too: the same iterations and outcomes
            assert np.abs(res.n_iter[:, s] - ref.n_iter).max() <= 1
            for p in range(X.shape[0]):
                for lab in range(labels.shape[1]):
                    assert (res.correct[p][s][lab] != ref.correct[p][lab]).sum() <= 1
    assert res.converged.all()


def test_parity_with_sklearn_on_each_split():
    X, labels, splits, mask = _data(P=1, n=300, d=40, L=2, S=3)
    res = fit_calibrated_batch(X, labels, splits, mask=mask, C=1.0, tol=1e-6)
    for s in range(3):
        for lab in range(2):
            ok = mask[0] & (labels[0, lab] >= 0)
            tr, te = ok & splits[0, s], ok & ~splits[0, s]
            sc = StandardScaler().fit(X[0][mask[0] & splits[0, s]])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8)
                clf.fit(sc.transform(X[0][tr]), labels[0, lab][tr])
            ref = clf.score(sc.transform(X[0][te]), labels[0, lab][te])
            assert res.acc[0, s, lab] == pytest.approx(ref, abs=1.0 / te.sum() + 1e-9)


def test_pairs_fit_only_what_is_asked():
    X, labels, splits, mask = _data(P=2, L=3, S=3)
    pairs = np.zeros((2, 3, 3), bool)
    pairs[:, :, 0] = True  # the task on every split
    pairs[:, 0, 1:] = True  # the controls on split 0
    res = fit_calibrated_batch(X, labels, splits, mask=mask[:2], pairs=pairs)
    assert np.isfinite(res.acc[pairs]).all()
    assert np.isnan(res.acc[~pairs]).all()
    assert all(res.failure[0][s][lab] == NOT_REQUESTED for s in (1, 2) for lab in (1, 2))
    full = fit_calibrated_batch(X, labels, splits, mask=mask[:2])
    np.testing.assert_allclose(res.acc[pairs], full.acc[pairs], atol=1e-9)


def test_multinomial_labels_fit_split_by_split():
    X, labels, splits, mask = _data(P=2, d=30, L=2, S=2, k=3)
    res = fit_calibrated_batch(X, labels, splits, mask=mask[:2])
    assert not res.shared
    ref = fit_logistic_batch(X, labels, train=splits[:, 1], mask=mask[:2])
    np.testing.assert_allclose(res.acc[:, 1], ref.acc)


def test_bad_set_fails_alone_and_bad_input_raises():
    X, labels, splits, mask = _data(P=2, d=30)
    X[1, 5, 3] = np.nan
    res = fit_calibrated_batch(X, labels, splits, mask=mask[:2])
    assert np.isfinite(res.acc[0]).all() and np.isnan(res.acc[1]).all()
    assert "NaN" in res.failure[1][0][0]
    with pytest.raises(ProbeError, match="splits must have shape"):
        fit_calibrated_batch(X, labels, splits[0])
    with pytest.raises(ProbeError, match="C must be"):
        fit_calibrated_batch(X, labels, splits, C=0)


def test_binary_scores_equal_problem_metrics():
    from curriculens.probes._metrics import problem_metrics
    from curriculens.probes.calibrated import _binary_scores

    rng = np.random.default_rng(3)
    for n in (1, 7, 200):
        z = np.round(rng.normal(size=n), 1).astype(np.float32)  # rounded: ties in the scores
        z[:1] = 0.0  # a tie between the classes
        lp1 = -np.logaddexp(0, -z).astype(np.float32)
        lp0 = -np.logaddexp(0, z).astype(np.float32)
        for true in (rng.integers(0, 2, n), np.ones(n, int)):
            ref = problem_metrics(np.stack([lp0, lp1]).astype(np.float64), true, 2)
            got = _binary_scores(lp0, lp1, true)
            np.testing.assert_array_equal(got[4], ref[4])
            np.testing.assert_allclose(got[:4], ref[:4], rtol=0, atol=0)
