"""The probe contract of the sweep: fit many (skill, layer) probes and their controls at once.

``fit_probe_tasks`` takes a list of :class:`ProbeTask` (one activation set and its label sets) and
returns one :class:`ProbeResult` per task. A bad task gets a recorded ``failure`` instead of
sinking the batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits


@dataclass(frozen=True, kw_only=True)
class ProbeTask:
    """One activation set with its labels.

    Attributes:
        X: Activations, shape ``[n, d]``.
        y: Task labels, shape ``[n]``, ints.
        train: Boolean mask ``[n]``: True for the training split, False for held-out.
        control_y: Hewitt & Liang control labels ``[n]`` (a random class per token type), or None.
        key: Free-form identifier echoed into the result.
    """

    X: np.ndarray
    y: np.ndarray
    train: np.ndarray
    control_y: np.ndarray | None = None
    key: object = None


@dataclass(kw_only=True)
class ProbeResult:
    """Held-out scores of one task. ``correct`` holds per-test-item 0/1 for bootstrapping."""

    key: object
    acc: float = float("nan")
    control_acc: float = float("nan")
    majority: float = float("nan")
    n_train: int = 0
    n_test: int = 0
    C: float = float("nan")
    correct: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    control_correct: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    failure: str | None = None

    @property
    def selectivity(self) -> float:
        return self.acc - self.control_acc


def _check(task: ProbeTask) -> str | None:
    X, y, tr = task.X, task.y, task.train
    if X.ndim != 2 or y.ndim != 1 or tr.shape != y.shape or X.shape[0] != y.shape[0]:
        return (
            f"shape mismatch: X {X.shape}, y {y.shape}, train {tr.shape}; expected "
            "X [n, d], y [n], train [n]"
        )
    if not np.isfinite(X).all():
        return "X has NaN or inf values; check the activations (fp16 overflow?)"
    if tr.sum() < 2 or (~tr).sum() < 1:
        return f"too few examples for the split: {int(tr.sum())} train, {int((~tr).sum())} test"
    if np.unique(y[tr]).size < 2:
        return f"single-class training labels (all {int(y[tr][0])}); a probe needs two classes"
    return None


def _fit_one(X, y, train, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X[train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(C=C, max_iter=500).fit(scaler.transform(X[train]), y[train])
    pred = clf.predict(scaler.transform(X[~train]))
    return (pred == y[~train]).astype(np.float32)


def fit_probe_tasks(
    tasks: Sequence[ProbeTask], *, C: float = 1.0, seed: int = 0
) -> list[ProbeResult]:
    """Fit an L2 logistic probe (and its control) per task; score held-out accuracy.

    Args:
        tasks: Activation sets with labels and train masks.
        C: Inverse L2 strength (scikit-learn convention).
        seed: Unused by the deterministic solver; kept for the engine interface.

    Returns:
        One result per task, in order. Failed tasks carry ``failure`` and NaN scores.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    >>> r = fit_probe_tasks([ProbeTask(X=X, y=y, train=np.arange(200) < 150)])[0]
    >>> r.acc > 0.9
    True
    """
    del seed
    out = []
    with threadpool_limits(limits=1):
        for t in tasks:
            X = np.asarray(t.X, np.float64)
            y, tr = np.asarray(t.y), np.asarray(t.train, bool)
            res = ProbeResult(key=t.key, n_train=int(tr.sum()), n_test=int((~tr).sum()), C=C)
            res.failure = _check(t)
            if res.failure is None:
                counts = np.bincount(y[tr])
                res.majority = float(np.mean(y[~tr] == counts.argmax()))
                res.correct = _fit_one(X, y, tr, C)
                res.acc = float(res.correct.mean())
                if t.control_y is not None and np.unique(t.control_y[tr]).size > 1:
                    res.control_correct = _fit_one(X, np.asarray(t.control_y), tr, C)
                    res.control_acc = float(res.control_correct.mean())
            out.append(res)
    return out
