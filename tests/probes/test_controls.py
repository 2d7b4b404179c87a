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
