"""Control tasks: labels fixed per token type; selectivity separates memorization from signal."""

import numpy as np
import pytest

from curriculens.errors import ProbeError
from curriculens.probes import ProbeTask, control_labels, fit_probe_tasks


def test_control_labels_are_fixed_per_type_and_seeded():
    tok = np.random.default_rng(0).integers(0, 40, 500)
    c = control_labels(tok, n_classes=3, seed=1)
    for t in np.unique(tok):
        assert np.unique(c[tok == t]).size == 1
    np.testing.assert_array_equal(c, control_labels(tok, n_classes=3, seed=1))
    assert set(np.unique(c)) <= {0, 1, 2}
    y = (np.arange(500) % 4 == 0).astype(int)  # 25% positives
    cy = control_labels(tok, y=y, seed=2)
    assert set(np.unique(cy)) <= {0, 1}


def test_control_labels_reject_bad_input():
    with pytest.raises(ProbeError, match="n_classes must be at least 2"):
        control_labels(np.arange(5))
    with pytest.raises(ProbeError, match="like token_ids"):
        control_labels(np.arange(5), y=np.zeros(4, int))


def _world(seed, task):
    """Rows carry a token-type embedding; the task is planted linear or random per type."""
    rng = np.random.default_rng(seed)
    n, d, n_types = 800, 16, 100
    tok = rng.integers(0, n_types, n)
    emb = rng.normal(size=(n_types, d))
    X = emb[tok] + 0.3 * rng.normal(size=(n, d))
    if task == "linear":
        y = rng.integers(0, 2, n)
        u = rng.normal(size=d)
        X += np.outer(2 * y - 1, u / np.linalg.norm(u)) * 2.0
    else:  # memorizable random task: a random class per type, like the control
        y = rng.integers(0, 2, n_types)[tok]
    train = rng.random(n) < 0.7
    ctrl = control_labels(tok, y=y, seed=seed + 100)
    return ProbeTask(X=X.astype(np.float32), y=y, train=train, control_y=ctrl, key=task)


def test_selectivity_near_zero_on_memorizable_task_and_high_on_planted_one():
    tasks = [_world(s, kind) for s in range(5) for kind in ("random", "linear")]
    res = fit_probe_tasks(tasks, C=1.0, shuffle=True)
    rand = [r for r in res if r.key == "random"]
    lin = [r for r in res if r.key == "linear"]
    assert all(r.failure is None for r in res)
    assert abs(np.mean([r.selectivity for r in rand])) < 0.1
    assert np.mean([r.acc for r in rand]) > 0.6  # partly memorized, like the control
    assert np.mean([r.selectivity for r in lin]) > 0.2
    assert np.mean([r.acc for r in lin]) > 0.9
    assert all(abs(r.shuffle_acc - 0.5) < 0.15 for r in lin)


def test_control_draws_keep_draw_zero_and_are_each_a_control_task():
    from curriculens.probes.controls import CONTROL_DRAWS, control_draws

    groups = np.repeat(np.arange(40), 5)
    y = groups % 2
    first = control_labels(groups, y=y, seed=3)
    c = control_draws(groups, first=first, y=y, seed=3)
    assert c.shape == (CONTROL_DRAWS, 200) and CONTROL_DRAWS >= 30
    np.testing.assert_array_equal(c[0], first)
    np.testing.assert_array_equal(c, control_draws(groups, first=first, y=y, seed=3))
    for draw in c:  # one class per group in every draw
        assert all(np.unique(draw[groups == g]).size == 1 for g in range(40))
    assert len({tuple(d) for d in c}) == CONTROL_DRAWS  # the draws differ
    with pytest.raises(ProbeError, match="n_draws"):
        control_draws(groups, y=y, n_draws=0)


def test_mean_control_over_draws_sits_at_chance_under_a_group_split():
    """Held-out groups' control classes are never seen in training: every draw is chance, and
    their mean is chance within a few SD of the mean (Hewitt & Liang under a group split)."""
    from curriculens.probes.controls import control_draws

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), 5)
    y = groups % 2
    X = rng.normal(size=(300, 24)).astype(np.float32)
    X[:, :8] += rng.normal(size=(60, 8)).astype(np.float32)[groups] * 3  # group identity
    train = groups < 42
    c = control_draws(groups, y=y, seed=0)
    (r,) = fit_probe_tasks([ProbeTask(X=X, y=y, train=train, control_y=c)])
    assert len(r.control_draws) == len(c) and r.control_sd > 0
    assert r.control_acc == pytest.approx(float(np.mean(r.control_draws)))
    assert r.control_correct.shape == (int((~train).sum()),)
    assert r.control_correct.mean() == pytest.approx(r.control_acc, abs=1e-6)
    assert abs(r.control_acc - 0.5) < 2 * r.control_sd
    (one,) = fit_probe_tasks([ProbeTask(X=X, y=y, train=train, control_y=c[0])])
    assert one.control_acc == pytest.approx(r.control_draws[0])  # draw 0 is the one-draw fit
    assert np.isnan(one.control_sd)
