"""Fused logistic engine: sklearn parity, padding/masking, per-probe failures."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from curriculens.errors import ProbeError
from curriculens.probes.fused import carve_validation, fit_logistic_batch


def _split(n, seed=0, frac=0.7):
    return np.random.default_rng(seed).random(n) < frac


def _sk_acc(X, y, tr, C):
    sc = StandardScaler().fit(X[tr])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit(sc.transform(X[tr]), y[tr])
    return clf.score(sc.transform(X[~tr]), y[~tr]), clf


@pytest.mark.parametrize("load", [load_breast_cancer, load_digits, load_wine])
def test_parity_with_sklearn(load):
    X, y = load(return_X_y=True)
    diffs = []
    for seed in range(2):
        tr = _split(len(y), seed)
        for C in (0.1, 1.0):
            ref, clf = _sk_acc(X, y, tr, C)
            res = fit_logistic_batch(X[None].astype(np.float32), y[None], train=tr[None], Cs=(C,))
            assert res.failure[0][0] is None
            assert res.converged[0, 0]
            diffs.append(abs(res.acc[0, 0] - ref))
            k = len(clf.classes_)
            coef = res.coef[0, 0, 1] - res.coef[0, 0, 0] if k == 2 else res.coef[0, 0, :k]
            rel = np.abs(coef - clf.coef_).max() / np.abs(clf.coef_).max()
            assert rel < 0.1
    assert np.mean(diffs) <= 0.005
    assert np.max(diffs) <= 0.02


def test_batch_of_datasets_shares_nothing_wrongly():
    """Two different label sets on one activation set equal two separate fits."""
    X, y = load_breast_cancer(return_X_y=True)
    tr = _split(len(y))
    y2 = (X[:, 0] > np.median(X[:, 0])).astype(int)
    both = fit_logistic_batch(X[None], np.stack([y, y2])[None], train=tr[None])
    for lab, yy in enumerate((y, y2)):
        one = fit_logistic_batch(X[None], yy[None], train=tr[None])
        assert both.acc[0, lab] == pytest.approx(one.acc[0, 0], abs=1e-9)
        np.testing.assert_allclose(both.coef[0, lab], one.coef[0, 0], atol=2e-3)


def test_padding_and_masking_equal_separate_fits():
    rng = np.random.default_rng(0)
    sizes, d = [120, 200, 161], 6
    Xs, ys, trs = [], [], []
    for i, n in enumerate(sizes):
        X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
        y = (X @ rng.normal(size=d) + rng.normal(size=n) > 0).astype(int) + (i == 2) * (X[:, 0] > 1)
        Xs.append(X.astype(np.float32)), ys.append(y), trs.append(_split(n, i))
    n_max = max(sizes)
    Xp = np.full((3, n_max, d), 1e3, np.float32)  # garbage in padding must not matter
    yp = np.zeros((3, n_max), int)
    trp = np.ones((3, n_max), bool)
    mask = np.zeros((3, n_max), bool)
    for p, n in enumerate(sizes):
        Xp[p, :n], yp[p, :n], trp[p, :n], mask[p, :n] = Xs[p], ys[p], trs[p], True
    batch = fit_logistic_batch(Xp, yp, train=trp, mask=mask)
    for p in range(3):
        one = fit_logistic_batch(Xs[p][None], ys[p][None], train=trs[p][None])
        assert batch.acc[p, 0] == pytest.approx(one.acc[0, 0], abs=1e-9)
        assert batch.n_train[p, 0] == trs[p].sum()
        k = len(one.classes[0][0])
        np.testing.assert_allclose(batch.coef[p, 0, :k], one.coef[0, 0, :k], atol=2e-3)
        np.testing.assert_array_equal(batch.correct[p][0], one.correct[0][0])


def test_bad_probes_get_failures_and_others_survive():
    rng = np.random.default_rng(1)
    P, n, d = 5, 100, 4
    X = rng.normal(size=(P, n, d)).astype(np.float32)
    y = (X[..., 0] > 0).astype(int)
    train = np.broadcast_to(np.arange(n) < 70, (P, n)).copy()
    X[1, 3, 2] = np.nan
    X[2, 5, 0] = np.inf
    y[3] = 1  # single class
    train[4] = True  # nothing held out
    res = fit_logistic_batch(X, y, train=train)
    assert res.failure[0][0] is None and res.acc[0, 0] > 0.85
    assert "NaN or inf" in res.failure[1][0] and "NaN or inf" in res.failure[2][0]
    assert "single-class" in res.failure[3][0]
    assert "too few examples" in res.failure[4][0]
    assert np.isnan(res.acc[1:, 0]).all()
    clean = fit_logistic_batch(X[:1], y[:1], train=train[:1])
    assert res.acc[0, 0] == clean.acc[0, 0]


def test_nonfinite_rows_anywhere_used_fail_only_their_probe():
    # checked on the rows each fit uses: held-out rows, validation rows of a C grid, and values
    # whose squares overflow float32 count; rows masked out as padding do not
    rng = np.random.default_rng(2)
    P, n, d = 5, 120, 4
    X = rng.normal(size=(P, n, d)).astype(np.float32)
    y = (X[..., 0] > 0).astype(int)
    train = np.broadcast_to(np.arange(n) < 90, (P, n)).copy()
    mask = np.ones((P, n), bool)
    X[1, 100, 1] = np.inf  # a held-out row
    X[2, 10, 3] = 3e25  # finite, but its square is not
    X[3, 119, :] = np.nan  # padding
    mask[3, 119] = False
    clean = fit_logistic_batch(X[:1], y[:1], train=train[:1])
    for Cs in [(1.0,), (0.1, 1.0)]:
        res = fit_logistic_batch(X, y, train=train, mask=mask, Cs=Cs)
        assert "NaN or inf" in res.failure[1][0] and "NaN or inf" in res.failure[2][0]
        assert np.isnan(res.acc[1:3, 0]).all()
        assert res.failure[3][0] is None and res.acc[3, 0] > 0.85
        assert res.failure[0][0] is None and res.failure[4][0] is None
        if Cs == (1.0,):
            assert res.acc[0, 0] == clean.acc[0, 0]


def test_shape_errors_are_clear():
    X = np.zeros((2, 10, 3), np.float32)
    with pytest.raises(ProbeError, match=r"labels must have shape"):
        fit_logistic_batch(X, np.zeros((2, 9), int))
    with pytest.raises(ProbeError, match=r"X must have shape \[probe, n, d\]"):
        fit_logistic_batch(X[0], np.zeros((10,), int))
    with pytest.raises(ProbeError, match=r"X has an empty axis"):
        fit_logistic_batch(np.zeros((0, 10, 3), np.float32), np.zeros((0, 10), int))
    with pytest.raises(ProbeError, match=r"train must have shape"):
        fit_logistic_batch(X, np.zeros((2, 10), int), train=np.ones(10, bool))
    with pytest.raises(ProbeError, match="Cs must be"):
        fit_logistic_batch(X, np.zeros((2, 10), int), Cs=[-1.0])


def test_c_grid_selects_on_validation_and_reports_choice():
    X, y = load_breast_cancer(return_X_y=True)
    tr = _split(len(y))
    grid = (0.01, 0.1, 1.0, 10.0, 100.0)
    val = carve_validation(tr[None], fraction=0.2, seed=0)
    res = fit_logistic_batch(X[None], y[None], train=tr[None], Cs=grid, val=val)
    fit = tr & ~val[0]
    accs = []
    for C in grid:
        sc = StandardScaler().fit(X[fit])
        clf = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit(sc.transform(X[fit]), y[fit])
        accs.append(clf.score(sc.transform(X[val[0]]), y[val[0]]))
    assert res.C[0, 0] == grid[int(np.argmax(accs))]
    ref, _ = _sk_acc(X, y, tr, res.C[0, 0])
    assert abs(res.acc[0, 0] - ref) <= 0.02


def test_metrics_are_consistent():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1, 400, 5)).astype(np.float32)
    y = (X[..., 0] + 0.5 * rng.normal(size=(1, 400)) > 0).astype(int)
    tr = np.arange(400)[None] < 300
    res = fit_logistic_batch(X, y, train=tr)
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    scores = res.decision_function(X[0, 300:], 0)
    pred = scores.argmax(1)
    assert res.acc[0, 0] == pytest.approx(np.mean(pred == y[0, 300:]))
    assert res.balanced_acc[0, 0] == pytest.approx(balanced_accuracy_score(y[0, 300:], pred))
    assert res.auroc[0, 0] == pytest.approx(roc_auc_score(y[0, 300:], scores[:, 1] - scores[:, 0]))
    assert 0 < res.xent[0, 0] < np.log(2)
    assert 0.3 < res.majority[0, 0] < 0.7


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree():
    X, y = load_digits(return_X_y=True)
    tr = _split(len(y))
    cpu = fit_logistic_batch(X[None].astype(np.float32), y[None], train=tr[None])
    gpu = fit_logistic_batch(X[None].astype(np.float32), y[None], train=tr[None], device="cuda")
    assert abs(cpu.acc[0, 0] - gpu.acc[0, 0]) <= 0.01
    np.testing.assert_allclose(cpu.coef, gpu.coef, atol=5e-2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precond_rank", [None, 8])
def test_cpu_and_cuda_agree_on_a_c_grid(precond_rank):
    """The eigenbasis or sketch path with a C grid (TF32 Gram on the GPU) picks the same C."""
    X, y = load_breast_cancer(return_X_y=True)
    tr = _split(len(y))
    kw = dict(train=tr[None], Cs=(0.1, 1.0, 10.0), precond_rank=precond_rank, tol=1e-5)
    cpu = fit_logistic_batch(X[None].astype(np.float32), y[None], **kw)
    gpu = fit_logistic_batch(X[None].astype(np.float32), y[None], device="cuda", **kw)
    assert cpu.C[0, 0] == gpu.C[0, 0]
    assert abs(cpu.acc[0, 0] - gpu.acc[0, 0]) <= 0.01


def test_multinomial_grid_refit_matches_sklearn_refit():
    """C grid on a multinomial problem: the warm-started refit equals a fresh sklearn refit."""
    X, y = load_digits(return_X_y=True)
    tr = _split(len(y), seed=1)
    grid = (0.01, 0.1, 1.0)
    res = fit_logistic_batch(X[None].astype(np.float32), y[None], train=tr[None], Cs=grid)
    assert res.C[0, 0] in grid and res.converged[0, 0]
    ref, _ = _sk_acc(X, y, tr, res.C[0, 0])
    assert abs(res.acc[0, 0] - ref) <= 0.01


@pytest.mark.parametrize("load", [load_breast_cancer, load_digits])
@pytest.mark.parametrize("Cs", [(1.0,), (0.1, 1.0, 10.0)])
def test_nystrom_preconditioner_reaches_the_exact_optimum(load, Cs):
    """A low-rank sketch only changes the path, not the optimum: same C, near-same weights."""
    X, y = load(return_X_y=True)
    tr = _split(len(y))
    Xb = np.stack([X, X[:, ::-1]]).astype(np.float32)  # two activation sets in one batch
    kw = dict(train=np.stack([tr, tr]), Cs=Cs, tol=1e-5, max_iter=1000)
    exact = fit_logistic_batch(Xb, np.stack([y, y]), precond_rank=None, **kw)
    sketch = fit_logistic_batch(Xb, np.stack([y, y]), precond_rank=8, **kw)
    assert sketch.converged.all() and exact.converged.all()
    np.testing.assert_array_equal(sketch.C, exact.C)
    np.testing.assert_allclose(sketch.acc, exact.acc, atol=0.01)
    np.testing.assert_allclose(sketch.coef, exact.coef, atol=0.05 * np.abs(exact.coef).max())


def test_bad_preconditioner_rank_is_rejected():
    X = np.random.default_rng(0).normal(size=(1, 40, 3)).astype(np.float32)
    with pytest.raises(ProbeError, match=r"precond_rank must be 'auto', None"):
        fit_logistic_batch(X, (X[..., 0] > 0).astype(int), precond_rank=0)


def test_large_sets_take_the_skipping_loop_and_match_separate_fits():
    """Sets above the small-block size run per-set kernels that skip converged sets; a hard and
    an easy problem batched together must equal their separate fits."""
    from curriculens.probes._kernels import SMALL_BLOCK

    rng = np.random.default_rng(3)
    n, d = 1100, 300
    assert n * d * 4 > SMALL_BLOCK
    X = rng.normal(size=(2, n, d)).astype(np.float32) * np.linspace(0.2, 3, d, dtype=np.float32)
    y = np.stack(
        [
            (rng.random(n) < 0.5).astype(int),  # no signal: converges in a few iterations
            (X[1] @ rng.normal(size=d) + 8 * rng.normal(size=n) > 0).astype(int),  # noisy
        ]
    )
    tr = np.broadcast_to(_split(n, 1), (2, n)).copy()
    both = fit_logistic_batch(X, y, train=tr)
    assert both.n_iter[0, 0] != both.n_iter[1, 0]  # one set stops while the other moves
    for p in range(2):
        one = fit_logistic_batch(X[p : p + 1], y[p : p + 1], train=tr[p : p + 1])
        assert both.acc[p, 0] == pytest.approx(one.acc[0, 0], abs=1e-9)
        np.testing.assert_allclose(both.coef[p], one.coef[0], atol=1e-3)


def test_default_chunk_sizes(monkeypatch):
    """CPU: 8 sets, more for small sets; CUDA: what fits a quarter of free memory."""
    from types import SimpleNamespace

    from curriculens.probes._chunks import default_chunk_size

    def fake(device, shape):
        return SimpleNamespace(device=SimpleNamespace(type=device), shape=shape)

    assert default_chunk_size(fake("cpu", (104, 4000, 768))) == 8  # W1: 12 MB per set
    # binary problems at one C with a Cholesky preconditioner: one large set per chunk
    assert default_chunk_size(fake("cpu", (104, 4000, 768)), one_set=True) == 1
    assert default_chunk_size(fake("cpu", (30, 300, 128)), one_set=True) == 54
    assert default_chunk_size(fake("cpu", (30, 300, 128))) == 54  # sweep-sized: 150 KB per set
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (80 * 2**30, 80 * 2**30))
    per_set = 4 * 4000 * 768 * 4 + 3 * 768**2 * 4
    assert default_chunk_size(fake("cuda", (104, 4000, 768))) == 20 * 2**30 // per_set  # > 104
