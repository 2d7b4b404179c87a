"""The one-set numpy L-BFGS (``_lean``) solves exactly what the lockstep torch solver does."""

import numpy as np
import pytest

from curriculens.probes.fused import fit_logistic_batch


def _data(P=3, n=420, d=300, L=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, n, d)).astype(np.float32) * rng.uniform(0.5, 3, d).astype(np.float32)
    X += rng.normal(size=d).astype(np.float32) * 4  # offsets: standardization matters
    w = rng.normal(size=(P, d))
    Xc = X - X.mean(1, keepdims=True)
    y = np.stack([(Xc[p] @ w[p] + rng.normal(size=n) * 8 > 0) for p in range(P)]).astype(int)
    labels = np.stack([y, rng.integers(0, 2, (P, n)), y[:, rng.permutation(n)]], 1)[:, :L]
    labels[0, -1, :50] = -1  # missing rows in one problem
    if L == 3:
        labels[1, 2] = 1  # a single-class problem fails, the others of its set still solve
    train = rng.random((P, n)) < 0.7
    mask = np.ones((P, n), bool)
    mask[2, 380:] = False  # a shorter, padded set
    return X, labels, train, mask


@pytest.mark.parametrize(("C", "L"), [(0.05, 3), (1.0, 3), (1.0, 1)])
def test_one_set_loop_matches_lockstep(C, L):
    X, labels, train, mask = _data(L=L)
    kw = dict(train=train, mask=mask, Cs=(C,), n_jobs=1, tol=1e-5)
    lock = fit_logistic_batch(X, labels, chunk_size=3, **kw)  # torch lockstep solver
    one = fit_logistic_batch(X, labels, chunk_size=1, **kw)  # numpy one-set loop
    assert one.failure == lock.failure
    assert (L == 1 or one.failure[1][2] is not None) and one.failure[1][0] is None
    # the same iterations up to float32 rounding, which can move a stop by one iteration
    assert np.abs(one.n_iter - lock.n_iter).max() <= 1
    assert np.abs(one.n_passes - lock.n_passes).max() <= 1
    np.testing.assert_allclose(one.acc, lock.acc, atol=1e-9)
    np.testing.assert_allclose(one.coef, lock.coef, atol=2e-4)
    np.testing.assert_allclose(one.intercept, lock.intercept, atol=2e-4)
    assert one.converged[np.isfinite(one.acc)].all()
