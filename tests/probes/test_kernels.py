"""The oneDNN products and blocked Gram agree with numpy, and the engines give the same answers
with them and without them."""

import numpy as np
import pytest
import torch

from curriculens.probes import _kernels
from curriculens.probes.calibrated import fit_calibrated_batch
from curriculens.probes.fused import fit_logistic_batch


@pytest.mark.parametrize("d", [100, 400, 770])  # syrk below 2 blocks; 2 and 4 uneven blocks
def test_gram_matches_numpy_and_is_symmetric(d):
    Z = torch.from_numpy(np.random.default_rng(0).normal(size=(300, d)).astype(np.float32))
    G = _kernels.gram(Z, torch.empty(d, d), torch.empty(d, 300))
    ref = Z.double().T @ Z.double()
    np.testing.assert_allclose(G.numpy(), ref.numpy(), atol=2e-3 * 300**0.5)
    assert bool((G == G.T).all())
    op = _kernels._onednn_linear()
    if op is not None and d >= 2 * _kernels.GRAM_BLOCK:  # the blocks, whichever gram() chose
        B = _kernels._blocked_gram(op, Z, torch.empty(d, d), torch.empty(d, 300))
        np.testing.assert_allclose(B.numpy(), ref.numpy(), atol=2e-3 * 300**0.5)
        assert bool((B == B.T).all())


def test_empty_blocks():
    G = _kernels.gram(torch.empty(0, 400), torch.full((400, 400), 7.0), torch.empty(400, 0))
    assert bool((G == 0).all())
    W, R = np.ones((9, 400), np.float32), np.ones((9, 0), np.float32)
    assert _kernels.times_rows(W, np.ones((0, 400), np.float32)).shape == (9, 0)
    assert (_kernels.times_block(R, np.ones((0, 400), np.float32)) == 0).all()


@pytest.mark.parametrize("m", [1, 7, 8, 35])
def test_products_match_numpy(m):
    rng = np.random.default_rng(1)
    W = rng.normal(size=(m, 64)).astype(np.float32)
    Z = rng.normal(size=(500, 64)).astype(np.float32)
    R = rng.normal(size=(m, 500)).astype(np.float32)
    np.testing.assert_allclose(_kernels.times_rows(W, Z), W @ Z.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_kernels.times_block(R, Z), R @ Z, rtol=1e-4, atol=1e-3)


def _data(P=2, n=900, d=400, L=9, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d) * 4
    X = X.astype(np.float32)
    w = rng.normal(size=(P, d))
    score = np.einsum("pnd,pd->pn", X - X.mean(1, keepdims=True), w)
    y = (score + rng.normal(size=(P, n)) * score.std() > 0).astype(int)
    labels = np.stack([y] + [rng.integers(0, 2, (P, n)) for _ in range(L - 1)], 1)
    return X, labels, rng.random((P, 2, n)) < 0.8


def test_engines_agree_with_and_without_onednn(monkeypatch):
    X, labels, splits = _data()
    with_dnn = fit_logistic_batch(X, labels[:, :1], train=splits[:, 0], tol=1e-5)
    cal_dnn = fit_calibrated_batch(X, labels, splits, tol=1e-5)
    monkeypatch.setattr(_kernels, "_onednn_linear", lambda: None)  # numpy/OpenBLAS throughout
    plain = fit_logistic_batch(X, labels[:, :1], train=splits[:, 0], tol=1e-5)
    cal_plain = fit_calibrated_batch(X, labels, splits, tol=1e-5)
    # float32 sums in another order: the same solutions, held-out accuracy within a row
    one_row = 1.0 / plain.n_test.min() + 1e-9
    assert np.abs(with_dnn.acc - plain.acc).max() <= one_row
    np.testing.assert_allclose(with_dnn.coef, plain.coef, atol=2e-3)
    assert np.abs(with_dnn.n_iter - plain.n_iter).max() <= 1
    assert np.abs(cal_dnn.acc - cal_plain.acc).max() <= 1.0 / cal_plain.n_test.min() + 1e-9
    assert cal_dnn.converged.all() and cal_plain.converged.all()


def test_the_gram_kernel_is_chosen_by_the_machine_not_by_a_timing(monkeypatch):
    """The blocked oneDNN Gram rounds differently from syrk, so the choice must not depend on
    load: it follows the CPU's torch capability and numpy's BLAS kernel family only."""
    import threadpoolctl

    if _kernels._onednn_linear() is None:
        pytest.skip("oneDNN's linear op is not available in this torch")
    numpy_blas = [{"filepath": "/x/numpy.libs/libopenblas.so", "architecture": "Haswell"}]
    cases = [("AVX512", numpy_blas, True), ("AVX2", numpy_blas, False),
             ("AVX512", [dict(numpy_blas[0], architecture="SkylakeX")], False)]  # fmt: skip
    for capability, info, expected in cases:
        _kernels._blocks_pay.cache_clear()
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda i=info: i)
        assert _kernels._blocks_pay() is expected
    _kernels._blocks_pay.cache_clear()
