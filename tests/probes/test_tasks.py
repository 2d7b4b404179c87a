"""fit_probe_tasks: the sweep's contract on top of the fused engine."""

import dataclasses
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from curriculens.errors import ProbeError
from curriculens.probes import ProbeTask, control_labels, fit_probe_tasks


def _task(seed, n, d=16, key=None, strength=1.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.2, 4, d) + rng.normal(size=d) * 3
    y = (X @ rng.normal(size=d) / 3 + strength * rng.normal(size=n) > 0).astype(int)
    tok = rng.integers(0, 30, n)
    train = rng.random(n) < 0.75
    return ProbeTask(
        X=X.astype(np.float32), y=y, train=train, control_y=control_labels(tok, y=y), key=key
    )


def _sk(t, y):
    sc = StandardScaler().fit(t.X[t.train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8)
        clf.fit(sc.transform(t.X[t.train]), y[t.train])
    return (clf.predict(sc.transform(t.X[~t.train])) == y[~t.train]).astype(np.float32)


def test_tasks_of_different_sizes_match_sklearn():
    tasks = [_task(i, n, key=("skill", i)) for i, n in enumerate([300, 380, 333, 410])]
    res = fit_probe_tasks(tasks, C=1.0)
    diffs = []
    for t, r in zip(tasks, res, strict=True):
        assert r.key == t.key and r.failure is None
        assert r.n_train == t.train.sum() and r.n_test == (~t.train).sum()
        ref = _sk(t, t.y)
        assert r.correct.shape == ref.shape and r.correct.dtype == np.float32
        diffs.append(abs(r.acc - ref.mean()))
        diffs.append(abs(r.control_acc - _sk(t, t.control_y).mean()))
        assert r.selectivity == pytest.approx(r.acc - r.control_acc)
        assert 0.0 <= r.majority <= 1.0 and 0.0 <= r.auroc <= 1.0 and r.xent > 0
    assert np.mean(diffs) <= 0.005 and np.max(diffs) <= 0.02


def test_bad_tasks_get_failures_without_sinking_the_batch():
    good = _task(0, 300, key="good")
    bad_shape = ProbeTask(X=good.X[:10], y=good.y, train=good.train, key="shape")
    X_nan = good.X.copy()
    X_nan[4, 2] = np.inf
    nan = ProbeTask(X=X_nan, y=good.y, train=good.train, key="nan")
    single = ProbeTask(X=good.X, y=np.ones_like(good.y), train=good.train, key="single")
    few = ProbeTask(X=good.X[:3], y=good.y[:3], train=np.array([True, False, False]), key="few")
    res = fit_probe_tasks([bad_shape, good, nan, single, few])
    assert "shape mismatch" in res[0].failure
    assert res[1].failure is None and res[1].acc > 0.6
    assert "NaN or inf" in res[2].failure
    assert "single-class" in res[3].failure
    assert "too few examples" in res[4].failure
    alone = fit_probe_tasks([good])[0]
    assert res[1].acc == alone.acc and res[1].control_acc == alone.control_acc


def test_c_grid_and_shuffle_baseline():
    tasks = [_task(i, 400, key=i) for i in range(3)]
    res = fit_probe_tasks(tasks, Cs=(0.01, 0.1, 1.0, 10.0), shuffle=True, seed=3)
    for r in res:
        assert r.C in (0.01, 0.1, 1.0, 10.0) and r.control_C in (0.01, 0.1, 1.0, 10.0)
        assert abs(r.shuffle_acc - r.majority) < 0.1  # no signal left: about chance level
    again = fit_probe_tasks(tasks, Cs=(0.01, 0.1, 1.0, 10.0), shuffle=True, seed=3)
    assert [r.acc for r in res] == [r.acc for r in again]  # deterministic under a seed


def test_repeated_splits_in_one_solve_match_fits_one_by_one():
    """Task on every split, controls on split 0: the same scores as separate calls."""
    from curriculens.probes.controls import control_draws

    rng = np.random.default_rng(3)
    n, d = 240, 280
    X = rng.normal(size=(n, d)).astype(np.float32) + rng.normal(size=d).astype(np.float32)
    groups = rng.integers(0, 40, n)
    y = ((X - X.mean(0)) @ rng.normal(size=d) > 0).astype(int)
    controls = control_draws(groups, n_draws=5, n_classes=2, seed=0)
    splits = np.stack([np.isin(groups, rng.permutation(40)[:28]) for _ in range(3)])
    task = ProbeTask(X=X, y=y, train=splits[0], control_y=controls, splits=splits[1:], key="k")
    (one,) = fit_probe_tasks([task], C=0.5)
    (ref,) = fit_probe_tasks([ProbeTask(X=X, y=y, train=splits[0], control_y=controls)], C=0.5)
    tol = 1.0 / (~splits).sum(1).min() + 1e-9  # one held-out item
    assert one.failure is None and one.split_acc.shape == (3,)
    assert one.acc == pytest.approx(ref.acc, abs=tol) and one.split_acc[0] == one.acc
    assert one.control_acc == pytest.approx(ref.control_acc, abs=tol)
    assert one.control_draws.shape == (5,) and one.C == 0.5
    for s in (1, 2):
        (alone,) = fit_probe_tasks([ProbeTask(X=X, y=y, train=splits[s])], C=0.5)
        assert one.split_acc[s] == pytest.approx(alone.acc, abs=tol)
        assert one.split_correct[s].shape == alone.correct.shape
    with pytest.raises(ProbeError, match="one C"):
        fit_probe_tasks([task], Cs=(0.1, 1.0))


def _multi(seed, n, k, d=16, key=None):
    """A ``k``-class task with control draws of ``k`` classes."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    X = Z * rng.uniform(0.2, 4, d) + rng.normal(size=d) * 3
    y = (Z @ rng.normal(size=(d, k)) / 3 + rng.normal(size=(n, k))).argmax(1)
    tok = rng.integers(0, 30, n)
    draws = np.stack([control_labels(tok, y=y, seed=s) for s in range(4)])
    return ProbeTask(
        X=X.astype(np.float32), y=y, train=rng.random(n) < 0.75, control_y=draws, key=key
    )


def _same(a, b, xent_tol=0.0):
    assert a.failure is None and b.failure is None
    assert a.acc == b.acc and a.n_iter == b.n_iter
    np.testing.assert_array_equal(a.control_acc, b.control_acc)  # NaN without controls
    np.testing.assert_array_equal(a.correct, b.correct)
    np.testing.assert_array_equal(a.control_correct, b.control_correct)
    assert a.xent == pytest.approx(b.xent, rel=xent_tol, abs=0.0)


@pytest.mark.parametrize("d", [16, 300])  # an eigenbasis preconditioner; a Cholesky factor
def test_a_task_scores_the_same_in_any_company(d):
    """Issue 28: one call padded every problem to its most items, label sets and classes, and its
    scores moved with its batch-mates. A lexical baseline (one label set, 4 classes) padded to
    the controls' label sets got empty label sets of "2 classes", so its chunk's problems no
    longer shared one C scale and all of them were solved in an eigenbasis with an adaptive
    bound instead of by a Cholesky factor: at d = 300 that moved neighbours' cross-entropies by
    up to 1.5 % of their value, 3 held-out outcomes and 8 iteration counts. Solved by shape,
    alone, among tasks of other shapes or of its own, in calls of any size: the same accuracy,
    held-out outcomes and iterations, and the cross-entropy to float32 rounding."""
    binary = _task(0, 400, d=d, key="binary")
    small = _task(1, 120, d=d, key="small")
    five = _multi(2, 400, 5, d=d, key="five")
    lexical = dataclasses.replace(_multi(3, 400, 4, d=d), control_y=None)
    mates = [_task(10 + i, 400, d=d) for i in range(3)]
    mates += [_multi(20, 120, 3, d=d), small, five, lexical]
    together = fit_probe_tasks([*mates, binary], C=1.0)
    one_by_one = fit_probe_tasks([*mates, binary], C=1.0, max_bytes=1)  # a call per task
    for t, r, s in zip([*mates, binary], together, one_by_one, strict=True):
        alone = fit_probe_tasks([t], C=1.0)[0]
        _same(r, alone, xent_tol=1e-5)
        _same(s, alone, xent_tol=1e-5)


def test_calls_hold_one_shape_within_the_memory_budget(monkeypatch):
    """Every fused call holds tasks of one shape, and no more of them than ``max_bytes`` allows
    by :func:`task_bytes` (a task larger than the budget is solved alone)."""
    import curriculens.probes.tasks as tasks_mod

    calls = []
    real = tasks_mod.fit_logistic_batch

    def spy(X, y, **kw):
        calls.append((X.shape, y.shape))
        return real(X, y, **kw)

    monkeypatch.setattr(tasks_mod, "fit_logistic_batch", spy)
    tasks = [_task(i, 300) for i in range(7)] + [_task(9, 150), _multi(8, 300, 4)]
    per = tasks_mod.task_bytes(300, 16, 1 + 1, 2)  # task labels and one control draw
    res = fit_probe_tasks(tasks, max_bytes=3 * per)
    assert all(r.failure is None for r in res)
    assert sorted(calls) == sorted(
        [((3, 300, 16), (3, 2, 300))] * 2
        + [((1, 300, 16), (1, 2, 300)), ((1, 150, 16), (1, 2, 150)), ((1, 300, 16), (1, 5, 300))]
    )
    with pytest.raises(ProbeError, match="max_bytes"):
        fit_probe_tasks(tasks, max_bytes=0)


def test_a_c_grid_picks_the_same_validation_rows_in_calls_of_any_size():
    """The validation rows of a C grid are carved over every task of a width, as one call
    would: splitting the tasks into calls moves no chosen C and no score."""
    tasks = [_task(i, 300 + 40 * (i % 2), key=i) for i in range(5)]
    grid = (0.01, 0.1, 1.0, 10.0)
    one = fit_probe_tasks(tasks, Cs=grid, seed=2)
    split = fit_probe_tasks(tasks, Cs=grid, seed=2, max_bytes=1)
    for a, b in zip(one, split, strict=True):
        assert a.C == b.C and a.control_C == b.control_C
        _same(a, b, xent_tol=1e-5)
