"""The probe contract of the sweep: fit many (skill, layer) probes and their controls at once.

``fit_probe_tasks`` takes a list of :class:`ProbeTask` (one activation set and its label sets) and
returns one :class:`ProbeResult` per task. Tasks of one shape (feature width, items, label sets,
classes) are stacked into batches of bounded size and solved by the fused engine
(:func:`curriculens.probes.fused.fit_logistic_batch`): the task labels, the control labels and
the shuffle baseline share one standardization, Gram matrix and factorization per activation
set. A bad task gets a recorded ``failure`` instead of sinking the batch.

Why by shape: the engine pads every problem of a call to the call's most items, label sets and
classes, and picks some of its methods per chunk of activation sets: a chunk whose problems do
not all share one C scale (a set with binary and multi-class label sets, as a multi-class lexical
baseline padded with the controls' empty label sets has) is preconditioned in an eigenbasis with
an adaptive bound instead of by a Cholesky factor, so its problems stop at other points within
the solver's tolerance. In one call for everything, a probe's scores thus depended on which
others shared its chunk, binary probes ran as 5-class softmaxes and 96-item sets were padded to
300 rows. By shape, a task is solved the same way in any company: its accuracy, held-out
outcomes and iterations do not depend on its batch-mates, its cross-entropy only to float32
rounding (tests/probes/test_tasks.py). Why bounded: the engine's memory grows with the problems
of a call (its L-BFGS state per label set, then the solutions and held-out scores kept to the
end of the call); a budget per call (:data:`FIT_BUDGET_BYTES`) bounds a sweep's fits by it
instead of by its probe count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from curriculens.errors import ProbeError
from curriculens.probes.calibrated import fit_calibrated_batch
from curriculens.probes.fused import carve_validation, fit_logistic_batch

#: Working memory one fused call may hold, by :func:`task_bytes`'s estimate: a batch of one
#: shape is split into calls of at most this much (a task larger than it is fitted alone).
FIT_BUDGET_BYTES = 256 << 20


@dataclass(frozen=True, kw_only=True)
class ProbeTask:
    """One activation set with its labels.

    Attributes:
        X: Activations, shape ``[n, d]``.
        y: Task labels, shape ``[n]``, ints.
        train: Boolean mask ``[n]``: True for the training split, False for held-out.
        control_y: Hewitt & Liang control labels ``[n]`` (a random class per token type), or
            several draws of them ``[draw, n]`` (solved together with the task labels), or None.
        key: Free-form identifier echoed into the result.
        splits: Further training masks ``[k, n]`` (repeated group splits) on which the task
            probe is also fitted, or None. ``train`` is split 0. Controls are fitted on split 0.
    """

    X: np.ndarray
    y: np.ndarray
    train: np.ndarray
    control_y: np.ndarray | None = None
    key: object = None
    splits: np.ndarray | None = None


@dataclass(kw_only=True)
class ProbeResult:
    """Held-out scores of one task. ``correct`` holds per-test-item 0/1 for bootstrapping.

    ``majority`` is the per-skill chance level (held-out accuracy of the training majority class);
    ``shuffle_acc`` is the label-shuffle baseline (NaN unless requested); ``C`` is the chosen
    inverse regularization of the task probe.

    With repeated splits (``ProbeTask.splits``), ``split_acc [1 + k]`` and ``split_correct`` hold
    the task probe's held-out accuracy and outcomes on each split (split 0 is ``train``, the
    same as ``acc`` and ``correct``).

    With several control draws, ``control_acc`` is their mean, ``control_sd`` their standard
    deviation (ddof 1), ``control_draws`` each draw's accuracy, and ``control_correct`` each
    held-out item's share of draws it was right in (so ``correct - control_correct`` pairs the
    items of the task probe and of the mean control).
    """

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
    balanced_acc: float = float("nan")
    auroc: float = float("nan")
    xent: float = float("nan")
    control_C: float = float("nan")
    shuffle_acc: float = float("nan")
    n_iter: int = 0
    control_sd: float = float("nan")
    control_draws: np.ndarray = field(default_factory=lambda: np.zeros(0))
    split_acc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    split_correct: list[np.ndarray] = field(default_factory=list)

    @property
    def selectivity(self) -> float:
        """Task accuracy minus control-task accuracy (Hewitt & Liang 2019)."""
        return self.acc - self.control_acc


def _check(task: ProbeTask) -> str | None:
    X, y, tr = np.asarray(task.X), np.asarray(task.y), np.asarray(task.train)
    if X.ndim != 2 or y.ndim != 1 or tr.shape != y.shape or X.shape[0] != y.shape[0]:
        return (
            f"shape mismatch: X {X.shape}, y {y.shape}, train {tr.shape}; expected "
            "X [n, d], y [n], train [n] with the same n"
        )
    c = task.control_y
    if c is not None and not (np.shape(c) == y.shape or np.shape(c)[1:] == y.shape):
        return (
            f"shape mismatch: control_y {np.shape(c)}, expected {y.shape} like y or "
            f"[draw, {y.shape[0] if y.ndim else '?'}] (several draws)"
        )
    if not np.issubdtype(y.dtype, np.integer):
        return f"labels must be integer class ids; received dtype {y.dtype}"
    sp = task.splits
    if sp is not None and (np.ndim(sp) != 2 or np.shape(sp)[1:] != y.shape):
        return f"shape mismatch: splits {np.shape(sp)}, expected [k, {y.shape[0]}] (k splits)"
    return None


def _control_rows(task: ProbeTask) -> list[np.ndarray]:
    """A task's control label sets (none, one, or one per draw), as int64 rows."""
    if task.control_y is None:
        return []
    c = np.asarray(task.control_y, np.int64)
    return list(c) if c.ndim == 2 else [c]


def shuffle_labels(y: np.ndarray, train: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Permute labels within the training rows and within the held-out rows (class balance kept).

    >>> shuffle_labels(np.array([0, 1, 0, 1]), np.array([True, True, False, False])).shape
    (4,)
    """
    rng = np.random.default_rng(seed)
    out = np.array(y, copy=True)
    for rows in (np.flatnonzero(train), np.flatnonzero(~np.asarray(train, bool))):
        out[rows] = out[rng.permutation(rows)]
    return out


def fit_probe_tasks(
    tasks: Sequence[ProbeTask],
    *,
    C: float = 1.0,
    seed: int = 0,
    Cs: Sequence[float] | None = None,
    shuffle: bool = False,
    device: str | None = None,
    n_jobs: int = 1,
    max_bytes: int | None = None,
) -> list[ProbeResult]:
    """Fit an L2 logistic probe (and its control) per task; score held-out accuracy.

    Tasks of one shape (feature width, items, label sets, classes; see :func:`task_shape`) are
    stacked into fused solves of at most ``max_bytes`` of working memory each, so a task's
    scores do not depend on the other tasks of the call (beyond float32 rounding) and the
    memory of a call is bounded by ``max_bytes``, not by the number of tasks.

    Args:
        tasks: Activation sets with labels and train masks.
        C: Inverse L2 strength (scikit-learn convention), used when ``Cs`` is None.
        seed: Seed of the validation split (with ``Cs``) and of the label shuffle.
        Cs: Optional grid of C; each probe picks its C on a validation split carved from train,
            then is refit on all training rows.
        shuffle: Also fit a label-shuffle baseline (``ProbeResult.shuffle_acc``).
        device: Torch device of the solve (default CPU).
        n_jobs: CPU worker threads (each with one BLAS thread).
        max_bytes: Working memory of one fused solve, by :func:`task_bytes`'s estimate (a task
            larger than it is solved alone); default :data:`FIT_BUDGET_BYTES`.

    Returns:
        One result per task, in order. Failed tasks carry ``failure`` and NaN scores.

    Tasks with repeated splits (``ProbeTask.splits``) are fitted by
    :func:`~curriculens.probes.calibrated.fit_calibrated_batch`: every split and control draw of
    an activation set in one solve that shares its Gram (downdated per split) and factorizations.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    >>> r = fit_probe_tasks([ProbeTask(X=X, y=y, train=np.arange(200) < 150)])[0]
    >>> r.acc > 0.9
    True
    """
    max_bytes = FIT_BUDGET_BYTES if max_bytes is None else max_bytes
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ProbeError(
            f"max_bytes must be a positive int (bytes per fused solve); received {max_bytes!r}."
        )
    out = [ProbeResult(key=t.key, C=C) for t in tasks]
    widths: dict[int, list[int]] = {}
    for i, t in enumerate(tasks):
        tr = np.asarray(t.train, bool)
        out[i].n_train, out[i].n_test = int(tr.sum()), int((~tr).sum())
        out[i].failure = _check(t)
        if out[i].failure is None:
            widths.setdefault(int(np.shape(t.X)[1]), []).append(i)
    for d, idx in widths.items():
        splits = any(tasks[i].splits is not None for i in idx)
        if splits and Cs is not None:
            raise ProbeError(
                f"repeated splits are fitted at one C; received Cs={list(Cs)}. Pass C= "
                "instead, or leave ProbeTask.splits as None."
            )
        val = _validation_rows(tasks, idx, seed) if Cs is not None and len(Cs) > 1 else None
        for batch in _batches(tasks, idx, d, max_bytes, shuffle):
            if splits:
                _fit_group_splits(
                    tasks, batch, d, out, C=C, seed=seed, shuffle=shuffle, n_jobs=n_jobs
                )
                continue
            _fit_group(
                tasks,
                batch,
                d,
                out,
                C=C,
                Cs=Cs,
                seed=seed,
                shuffle=shuffle,
                device=device,
                n_jobs=n_jobs,
                val=val,
            )
    return out


def task_shape(task: ProbeTask) -> tuple[int, int, int, bool, int]:
    """What the fused engine pads a call to, and what makes it solve a task one way or another:
    items ``n``, label sets ``L`` (task and control draws), classes ``K`` (the most of any label
    set, counted on the training rows as the engine does, at least 2), whether a multi-class task
    has a label set of two classes or fewer (which changes its preconditioner), and repeated
    splits ``S``. Tasks of one shape are solved alike in any company.

    >>> y = np.array([0, 1, 2, 0, 1, 2]); tr = np.ones(6, bool)
    >>> task_shape(ProbeTask(X=np.zeros((6, 3)), y=y, train=tr))
    (6, 1, 3, False, 0)
    >>> task_shape(ProbeTask(X=np.zeros((6, 3)), y=y, train=tr, control_y=np.array([0, 1] * 3)))
    (6, 2, 3, True, 0)
    """
    tr = np.asarray(task.train, bool)
    ks = [
        max(np.unique(r[tr & (r >= 0)]).size, 2) for r in [np.asarray(task.y), *_control_rows(task)]
    ]
    K = max(ks)
    S = 0 if task.splits is None else len(task.splits)
    return int(np.shape(task.y)[0]), len(ks), K, K > 2 and min(ks) == 2, S


def task_bytes(n: int, d: int, L: int, K: int) -> int:
    """Estimated peak bytes of one task of ``n`` items, ``d`` features, ``L`` label sets and ``K``
    classes in a fused solve: its activations (and their standardized training and held-out
    copies), a ``d x d`` Gram, factor and eigenbasis, and the solver's state per label set, which
    dominates: about 34 copies of the parameters ``[K, d + 1]`` (an L-BFGS history of 10 pairs,
    the gradient, direction, trial point and the preconditioner's work) and 10 of the margins
    ``[K, n]`` (one row, not ``K``, when every problem of the solve is binary).

    >>> task_bytes(100, 576, 31, 2) >> 20, task_bytes(100, 576, 31, 5) >> 20  # SmolLM2-135M
    (6, 16)
    """
    k = 1 if K <= 2 else K  # an all-binary solve runs one sigmoid logit per problem
    per_label = 34 * k * (d + 1) + 10 * k * n
    return 4 * (3 * n * d + 3 * d * d + L * per_label) + 32 * L * n


def _batches(tasks, idx, d, max_bytes, shuffle) -> list[list[int]]:
    """The tasks ``idx`` (one feature width) in batches of one :func:`task_shape`, each of at most
    ``max_bytes`` by :func:`task_bytes` (at least one task), in first-seen order of the shapes."""
    shapes: dict[tuple, list[int]] = {}
    for i in idx:
        shapes.setdefault(task_shape(tasks[i]), []).append(i)
    out = []
    for (n, L, K, _mixed, S), members in shapes.items():
        per = task_bytes(n, d, (L + int(shuffle)) * (1 + S), K)
        size = max(1, max_bytes // per)
        out += [members[s : s + size] for s in range(0, len(members), size)]
    return out


def _validation_rows(tasks, idx, seed) -> dict[int, np.ndarray]:
    """The C grid's validation rows of the tasks ``idx``, carved as one call over all of them
    would (so batching does not move them): ``{task index: rows}``, padded to their most items."""
    n_max = max(int(np.shape(tasks[i].y)[0]) for i in idx)
    train = np.zeros((len(idx), n_max), bool)
    for p, i in enumerate(idx):
        train[p, : np.shape(tasks[i].y)[0]] = np.asarray(tasks[i].train, bool)
    val = carve_validation(train, seed=seed)
    return {i: val[p] for p, i in enumerate(idx)}


def _pad(tasks, idx, d, shuffle, seed):
    """Stack a group's tasks: X ``[P, n, d]``, labels ``[P, L, n]`` (task, control draws,
    shuffle), train and valid masks ``[P, n]``, and each task's control draws."""
    P = len(idx)
    n_max = max(int(np.shape(tasks[i].y)[0]) for i in idx)
    draws = {i: _control_rows(tasks[i]) for i in idx}
    L = 1 + max(len(c) for c in draws.values()) + int(shuffle)
    X = np.zeros((P, n_max, d), np.float32)
    y = np.full((P, L, n_max), -1, np.int64)
    train = np.zeros((P, n_max), bool)
    mask = np.zeros((P, n_max), bool)
    for p, i in enumerate(idx):
        t = tasks[i]
        n = np.shape(t.y)[0]
        X[p, :n] = np.asarray(t.X, np.float32)
        tr = np.asarray(t.train, bool)
        train[p, :n], mask[p, :n] = tr, True
        y[p, 0, :n] = t.y
        for k, c in enumerate(draws[i]):
            y[p, 1 + k, :n] = c
        if shuffle:
            y[p, L - 1, :n] = shuffle_labels(np.asarray(t.y), tr, seed=seed + i)
    return X, y, train, mask, draws


def _fit_group(tasks, idx, d, out, *, C, Cs, seed, shuffle, device, n_jobs, val=None):
    X, y, train, mask, draws = _pad(tasks, idx, d, shuffle, seed)
    if val is not None:  # the C grid's validation rows, carved over every task of the width
        val = np.stack([val[i][: y.shape[2]] for i in idx])
    res = fit_logistic_batch(
        X,
        y,
        train=train,
        mask=mask,
        Cs=(C,) if Cs is None else Cs,
        device=device,
        n_jobs=n_jobs,
        seed=seed,
        val=val,
    )
    _fill(out, idx, draws, shuffle, res, res.failure, res.correct)


def _fit_group_splits(tasks, idx, d, out, *, C, seed, shuffle, n_jobs):
    """Tasks with repeated splits: the task on every split, controls and shuffle on split 0."""
    X, y, train, mask, draws = _pad(tasks, idx, d, shuffle, seed)
    P, L, N = y.shape
    S = 1 + max(0 if tasks[i].splits is None else len(tasks[i].splits) for i in idx)
    splits = np.repeat(train[:, None, :], S, axis=1)
    pairs = np.zeros((P, S, L), bool)
    pairs[:, 0, :] = True
    for p, i in enumerate(idx):
        extra = tasks[i].splits
        if extra is not None:
            n = np.shape(tasks[i].y)[0]
            splits[p, 1 : 1 + len(extra), :n] = np.asarray(extra, bool)
            pairs[p, 1 : 1 + len(extra), 0] = True
    res = fit_calibrated_batch(X, y, splits, pairs=pairs, mask=mask, C=C, n_jobs=n_jobs)
    first = _SplitZero(res)
    failure = [row[0] for row in res.failure]
    correct = [row[0] for row in res.correct]
    _fill(out, idx, draws, shuffle, first, failure, correct)
    for p, i in enumerate(idx):
        k = S if tasks[i].splits is None else 1 + len(tasks[i].splits)
        out[i].split_acc = res.acc[p, :k, 0].astype(float)
        out[i].split_correct = [res.correct[p][s][0] for s in range(k)]


class _SplitZero:
    """Split 0 of a :class:`~curriculens.probes.calibrated.CalibratedResult`, indexed
    ``[probe, label]`` like a :class:`~curriculens.probes.fused.BatchProbeResult`."""

    def __init__(self, res):
        self.acc, self.majority = res.acc[:, 0], res.majority[:, 0]
        self.balanced_acc, self.auroc = res.balanced_acc[:, 0], res.auroc[:, 0]
        self.xent, self.n_iter = res.xent[:, 0], res.n_iter[:, 0]
        self.C = np.full(res.acc[:, 0].shape, np.nan)  # the C of the call, set by the caller


def _fill(out, idx, draws, shuffle, res, failure, correct):
    """Write a fit's scores ``[probe, label]`` into the tasks' results."""
    for p, i in enumerate(idx):
        r = out[i]
        r.failure = failure[p][0]
        if r.failure is not None:
            continue
        r.acc, r.majority = float(res.acc[p, 0]), float(res.majority[p, 0])
        if np.isfinite(res.C[p, 0]):
            r.C = float(res.C[p, 0])
        r.balanced_acc, r.auroc = float(res.balanced_acc[p, 0]), float(res.auroc[p, 0])
        r.xent, r.n_iter = float(res.xent[p, 0]), int(res.n_iter[p, 0])
        r.correct = correct[p][0]
        fit = [1 + k for k in range(len(draws[i])) if failure[p][1 + k] is None]
        if fit:
            accs = np.array([float(res.acc[p, lab]) for lab in fit])
            r.control_acc = float(accs.mean())
            r.control_C = float(res.C[p, fit[0]]) if np.isfinite(res.C[p, fit[0]]) else r.C
            r.control_draws = accs
            r.control_sd = float(accs.std(ddof=1)) if len(accs) > 1 else float("nan")
            r.control_correct = np.mean([correct[p][lab] for lab in fit], axis=0).astype(np.float32)
        L = res.acc.shape[1]
        if shuffle and failure[p][L - 1] is None:
            r.shuffle_acc = float(res.acc[p, L - 1])
