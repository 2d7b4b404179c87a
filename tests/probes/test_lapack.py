"""The GIL-free LAPACK calls agree with numpy/torch, and the engine gives the same answers with
them, without them, and however its chunks reuse scratch buffers."""

import numpy as np
import pytest
import torch

from curriculens.probes import _lapack
from curriculens.probes import fused as F

pytestmark = pytest.mark.skipif(not _lapack.AVAILABLE, reason="SciPy's LAPACK pointers missing")


def _spd(d, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3 * d, d)).astype(np.float32)
    return (A.T @ A / d + np.eye(d, dtype=np.float32)).astype(np.float32)


@pytest.mark.parametrize("order", ["C", "F"])
def test_potrf_and_solve_match_numpy(order):
    h = _spd(40)
    a = np.array(h, order=order)
    assert _lapack.potrf_lower(a) == 0
    L = np.tril(a)
    np.testing.assert_allclose(L, np.linalg.cholesky(h.astype(np.float64)), atol=1e-4)
    b = np.random.default_rng(1).normal(size=40).astype(np.float32)
    x = b.copy()
    _lapack.potrs_lower_vec(np.asfortranarray(a), x)
    np.testing.assert_allclose(h @ x, b, atol=1e-3)


def test_potrf_reports_an_indefinite_matrix():
    a = -_spd(10)
    assert _lapack.potrf_lower(a) > 0


def test_syevd_matches_torch():
    h = _spd(50, seed=3)
    V = h.copy()
    w = np.empty(50, np.float32)
    assert _lapack.syevd(V, w) == 0
    ref = torch.linalg.eigvalsh(torch.from_numpy(h).double()).numpy()
    np.testing.assert_allclose(w, ref, rtol=1e-4)
    np.testing.assert_allclose(V.T @ np.diag(w) @ V, h, atol=1e-3)  # rows are eigenvectors


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="square float32"):
        _lapack.potrf_lower(np.eye(3))
    with pytest.raises(ValueError, match="contiguous"):
        _lapack.potrf_lower(np.eye(6, dtype=np.float32)[::2, ::2])


def _problem(P=4, n=400, d=300, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(P, n, d)) * rng.uniform(0.2, 3.0, size=d) + 1.0).astype(np.float32)
    w = rng.normal(size=d)
    y = np.stack(
        [(X[p] @ w + rng.normal(scale=3.0, size=n) > X[p] @ w).astype(int) for p in range(P)]
    )
    control = rng.integers(0, 2, size=(P, n))
    train = np.broadcast_to(np.arange(n) < 300, (P, n)).copy()
    return X, np.stack([y, control], axis=1), train


@pytest.mark.parametrize("Cs", [(1.0,), (0.1, 1.0, 10.0)])
def test_engine_agrees_with_and_without_the_lapack_calls(monkeypatch, Cs):
    # d = 300 takes the Cholesky path for one C and the eigenbasis for a grid
    X, y, train = _problem()
    fast = F.fit_logistic_batch(X, y, train=train, Cs=Cs)
    monkeypatch.setattr(_lapack, "AVAILABLE", False)
    slow = F.fit_logistic_batch(X, y, train=train, Cs=Cs)
    np.testing.assert_array_equal(fast.C, slow.C)
    assert np.abs(fast.acc - slow.acc).max() <= 0.01
    np.testing.assert_allclose(fast.coef, slow.coef, atol=5e-3)


def test_scratch_reuse_across_chunks_and_workers_changes_nothing():
    # One set per chunk on two workers reuses each worker's buffers many times, and a C grid
    # keeps each chunk's eigenvectors for the refit after its buffers have moved on. Stale data
    # would change the fits, a stale preconditioner the passes; batching alone only rounds.
    X, y, train = _problem(P=6, n=1600, seed=4)
    train = np.broadcast_to(np.arange(1600) < 1200, train.shape).copy()
    for Cs in [(1.0,), (0.1, 1.0, 10.0)]:
        one = F.fit_logistic_batch(X, y, train=train, Cs=Cs, chunk_size=6, n_jobs=1, tol=1e-5)
        many = F.fit_logistic_batch(X, y, train=train, Cs=Cs, chunk_size=1, n_jobs=2, tol=1e-5)
        np.testing.assert_array_equal(one.C, many.C)
        assert np.abs(one.acc - many.acc).max() <= 1 / 400
        np.testing.assert_allclose(one.coef, many.coef, atol=1e-3)
        assert np.abs(one.n_passes - many.n_passes).max() <= 2
