"""Calibrated probes as one solve: a probe, its control draws and its repeated group splits.

"Calibrated verdicts" stands every probe beside the mean of many control draws and averages it
over repeated group splits. Fitted one by one that is dozens of fits per (skill, hook), but most
of the work is shared: every label set (task, control draws) and every split reads the same
activations. :func:`fit_calibrated_batch` fits all the (split, label set) problems of an
activation set together:

- one gather and centering of the set's valid rows, ordered so that split 0's training rows come
  first, and one Gram of those rows (blocked on oneDNN, :func:`~curriculens.probes._kernels.gram`);
- each split's standardization from column sums: all rows minus its held-out rows, re-centered
  on its training mean (no second pass over the training rows);
- when every split has at least two training rows per feature, one Cholesky factor of the
  Böhning bound (split 0's, or the first split fitted) for every problem; the problems of
  other splits apply it rescaled to their standardization (a preconditioner only: the same
  solution, a few more iterations). With
  fewer rows each split gets its own factor, its Gram downdated from the Gram of all rows
  (``G_train = G_all - X_heldᵀ X_held``) and re-centered by a rank-one correction;
- one read of the rows per L-BFGS step for every problem at once (each problem weights its own
  training rows; its standardization is folded into its weights), on oneDNN's kernels, and the
  held-out scores from the final margins, with no separate evaluation pass.

Binary label sets at one C on CPU take this path; anything else is fitted split by split with
:func:`~curriculens.probes.fused.fit_logistic_batch` (same results, nothing shared across
splits). Results match ``StandardScaler`` + ``LogisticRegression(C=C)`` fitted on each split.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from curriculens.errors import ProbeError
from curriculens.probes import _lapack
from curriculens.probes._chunks import run_chunks
from curriculens.probes._kernels import gram, times_rows
from curriculens.probes._lean import BinaryProblems, lbfgs_loop, row_dot
from curriculens.probes._metrics import binary_auroc
from curriculens.probes._prepare import NONFINITE, Scratch
from curriculens.probes.fused import fit_logistic_batch

__all__ = ["CalibratedResult", "fit_calibrated_batch"]

NOT_REQUESTED = "not requested (pairs)"

_scratch = threading.local()  # per worker thread: the block and Gram buffers, reused set to set


def _buffer(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A reused float32 work array of this worker thread (fresh multi-megabyte arrays are
    page-faulted on first touch: see :class:`~curriculens.probes._prepare.Scratch`)."""
    ws = _scratch.__dict__.setdefault("ws", Scratch())
    return ws.get(name, shape).numpy()


@dataclass(frozen=True, kw_only=True)
class CalibratedResult:
    """Held-out scores of ``P`` activation sets × ``S`` splits × ``L`` label sets.

    Array fields are indexed ``[probe, split, label]``; pairs that were not requested or failed
    have NaN scores and a reason in ``failure``.

    Attributes:
        acc, balanced_acc, auroc, xent: Held-out metrics, as in
            :class:`~curriculens.probes.fused.BatchProbeResult`.
        majority: Held-out accuracy of the training majority class (chance level).
        n_train, n_test: Rows with a label in the split's training and held-out parts.
        n_iter, converged: Solver iterations and whether the gradient tolerance was met.
        n_passes: Passes over each set's rows ``[P]`` (two reads a pass), shared by its problems.
        failure: ``failure[p][s][l]`` is None or why that problem was not fit.
        correct: ``correct[p][s][l]`` is the 0/1 outcome of each held-out row, in row order.
        shared: Whether the set was solved by the shared solve (else split by split).
    """

    acc: np.ndarray
    balanced_acc: np.ndarray
    auroc: np.ndarray
    xent: np.ndarray
    majority: np.ndarray
    n_train: np.ndarray
    n_test: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    n_passes: np.ndarray
    failure: list[list[list[str | None]]]
    correct: list[list[list[np.ndarray]]]
    shared: bool

    @classmethod
    def empty(cls, P: int, S: int, L: int, shared: bool) -> CalibratedResult:
        """Unfitted problems, filled in set by set by the solves (arrays written in place)."""
        nan = np.full((P, S, L), np.nan)
        ints = np.zeros((P, S, L), np.int64)
        return cls(
            acc=nan,
            balanced_acc=nan.copy(),
            auroc=nan.copy(),
            xent=nan.copy(),
            majority=nan.copy(),
            n_train=ints,
            n_test=ints.copy(),
            n_iter=ints.copy(),
            converged=np.zeros((P, S, L), bool),
            n_passes=np.zeros(P, np.int64),
            failure=[[[NOT_REQUESTED] * L for _ in range(S)] for _ in range(P)],
            correct=[[[np.zeros(0, np.float32)] * L for _ in range(S)] for _ in range(P)],
            shared=shared,
        )


def fit_calibrated_batch(
    X: Float[Tensor, "probe n d"] | Float[np.ndarray, "probe n d"],
    y: Int[np.ndarray, "probe label n"],
    splits: Bool[np.ndarray, "probe split n"],
    *,
    pairs: Bool[np.ndarray, "probe split label"] | None = None,
    mask: Bool[np.ndarray, "probe n"] | None = None,
    C: float = 1.0,
    tol: float = 1e-4,
    max_iter: int = 300,
    history: int = 10,
    n_jobs: int = 1,
    device: str | torch.device | None = None,
) -> CalibratedResult:
    """Fit every requested (split, label set) L2 logistic probe of each activation set at once.

    Args:
        X: Activations ``[P, N, d]`` (pad shorter sets and pass ``mask``).
        y: Integer labels ``[P, L, N]``: e.g. the task labels, then control draws. Negative
            labels mark missing rows.
        splits: Training rows of each split ``[P, S, N]``; a split's other valid rows are held
            out. Split 0 is the primary split.
        pairs: Which (split, label set) problems to fit ``[P, S, L]`` (e.g. the task on every
            split, the control draws on split 0 only). Default: all.
        mask: Valid rows ``[P, N]``; default all.
        C: Inverse L2 strength (scikit-learn convention).
        tol, max_iter, history: As in :func:`~curriculens.probes.fused.fit_logistic_batch`.
        n_jobs: CPU worker threads over activation sets (one BLAS thread each).
        device: Torch device; the shared solve runs on CPU, any other device split by split.

    Returns:
        A :class:`CalibratedResult`.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1, 300, 4)).astype(np.float32)
    >>> y = np.stack([(X[0, :, 0] > 0), rng.random(300) < 0.5]).astype(int)[None]
    >>> splits = np.stack([rng.random(300) < 0.7 for _ in range(3)])[None]
    >>> res = fit_calibrated_batch(X, y, splits)
    >>> res.acc.shape, bool((res.acc[0, :, 0] > 0.9).all())
    ((1, 3, 2), True)
    """
    Xt = torch.as_tensor(np.ascontiguousarray(X) if isinstance(X, np.ndarray) else X)
    if Xt.ndim != 3:
        raise ProbeError(f"X must have shape [probe, n, d]; received {tuple(Xt.shape)}.")
    P, N, d = Xt.shape
    y = np.asarray(y)
    splits = np.asarray(splits, bool)
    if y.ndim != 3 or y.shape[0] != P or y.shape[2] != N:
        raise ProbeError(
            f"y must have shape [probe, label, n] = [{P}, L, {N}]; received {y.shape}."
        )
    if splits.ndim != 3 or splits.shape[0] != P or splits.shape[2] != N:
        raise ProbeError(
            f"splits must have shape [probe, split, n] = [{P}, S, {N}]; received {splits.shape}."
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ProbeError(f"labels must be integer class ids; received dtype {y.dtype}.")
    S, L = splits.shape[1], y.shape[1]
    pairs = np.ones((P, S, L), bool) if pairs is None else np.asarray(pairs, bool)
    if pairs.shape != (P, S, L):
        raise ProbeError(f"pairs must have shape {(P, S, L)}; received {pairs.shape}.")
    mask = np.ones((P, N), bool) if mask is None else np.asarray(mask, bool)
    if not (isinstance(C, int | float) and C > 0):
        raise ProbeError(f"C must be a positive float; received {C!r}.")
    dev = torch.device(device) if device is not None else Xt.device
    binary = all(_at_most_two_classes(y[p][:, mask[p]]) for p in range(P))
    if dev.type != "cpu" or not binary:
        return _split_by_split(Xt, y, splits, pairs, mask, C, tol, max_iter, history, n_jobs, dev)
    out = CalibratedResult.empty(P, S, L, shared=True)
    Xf = Xt.to(torch.float32)
    fn = partial(_fit_set, Xf, y, splits, pairs, mask, float(C), tol, max_iter, history, out)
    run_chunks(lambda _i, se: fn(se[0]), [(p, p + 1) for p in range(P)], n_jobs, "cpu")
    return out


def _at_most_two_classes(y_p: np.ndarray) -> bool:
    """Whether every label set of ``y_p [L, n]`` has at most two classes (negatives: missing).

    >>> _at_most_two_classes(np.array([[0, 1, -1, 1], [3, 3, 5, -1]]))
    True
    >>> _at_most_two_classes(np.array([[0, 1, 2, -1]]))
    False
    """
    ok = y_p >= 0
    lo = np.where(ok, y_p, np.iinfo(y_p.dtype).max).min(1, keepdims=True)
    hi = np.where(ok, y_p, np.iinfo(y_p.dtype).min).max(1, keepdims=True)
    return not (ok & (y_p != lo) & (y_p != hi)).any()


def _split_by_split(Xt, y, splits, pairs, mask, C, tol, max_iter, history, n_jobs, dev):
    """The general path: one :func:`fit_logistic_batch` call per split (multinomial labels, or
    a device other than the CPU)."""
    P, S, L = pairs.shape
    out = CalibratedResult.empty(P, S, L, shared=False)
    for s in range(S):
        labs = np.flatnonzero(pairs[:, s].any(0))
        if labs.size == 0:
            continue
        res = fit_logistic_batch(
            Xt,
            y[:, labs],
            train=splits[:, s],
            mask=mask,
            Cs=(C,),
            tol=tol,
            max_iter=max_iter,
            history=history,
            n_jobs=n_jobs,
            device=dev,
        )
        out.n_passes[:] += res.n_passes
        for p in range(P):
            for j, lab in enumerate(labs):
                if not pairs[p, s, lab]:
                    continue
                out.failure[p][s][lab] = res.failure[p][j]
                out.n_train[p, s, lab], out.n_test[p, s, lab] = res.n_train[p, j], res.n_test[p, j]
                out.n_iter[p, s, lab], out.converged[p, s, lab] = (
                    res.n_iter[p, j],
                    res.converged[p, j],
                )
                out.acc[p, s, lab] = res.acc[p, j]
                out.balanced_acc[p, s, lab] = res.balanced_acc[p, j]
                out.auroc[p, s, lab], out.xent[p, s, lab] = res.auroc[p, j], res.xent[p, j]
                out.majority[p, s, lab] = res.majority[p, j]
                out.correct[p][s][lab] = res.correct[p][j]
    return out


# ----------------------------------------------------------------------------------------------
# The shared solve of one activation set
# ----------------------------------------------------------------------------------------------


def _gram(Z, out):
    """``ZᵀZ`` of rows ``Z [n, d]`` into ``out [d, d]`` (:func:`~curriculens.probes._kernels.gram`,
    with this worker's buffer for the transposed rows)."""
    n, d = Z.shape
    zt = torch.from_numpy(_buffer("rows_t", (d, n)))
    gram(torch.from_numpy(Z), torch.from_numpy(out), zt)
    return out


def _held_rows(Z, tr, name: str = "held"):
    """The rows of the block outside ``tr`` (a split's held-out rows), in this worker's buffer
    ``name``."""
    held = np.flatnonzero(~tr)
    return np.take(Z, held, axis=0, out=_buffer(name, (held.size, Z.shape[1])))


def _split_moments(Z, total, sq_first, sq_rest, n_t, tr, s, ZH=None):
    """Mean shift ``δ`` (from the block's mean) and feature variances of split ``s`` (its
    ``n_t`` training rows ``tr`` in block order), from column sums: split 0's directly (its
    training rows lead the block), the others as all rows minus their held-out rows ``ZH``
    (float64 sums; gathered here when not given)."""
    if s == 0:
        sum_t, sq_t = Z[:n_t].sum(0, dtype=np.float64), sq_first
    else:
        ZH = _held_rows(Z, tr) if ZH is None else ZH
        sum_t = total - ZH.sum(0, dtype=np.float64)
        sq_t = sq_first + sq_rest - np.einsum("nd,nd->d", ZH, ZH, dtype=np.float64)
    delta = sum_t / max(n_t, 1)
    var = (sq_t - n_t * delta**2) / max(n_t, 1)  # re-centered on the split's mean
    return delta, var


def _split_gram(Z, G_first, G_all, tr, s, delta, n_t, ZH=None):
    """Centered Gram of split ``s``: split 0's directly, another split's downdated from the Gram
    of all rows ``G_all`` (``G_all - X_heldᵀ X_held``, the held-out rows ``ZH`` gathered here
    when not given), then re-centered on its mean by a rank-one term."""
    d = Z.shape[1]
    G = _buffer("gram_split", (d, d))
    if s == 0:
        G[:] = G_first
    else:
        ZH = _held_rows(Z, tr) if ZH is None else ZH
        _gram(ZH, G)
        np.subtract(G_all, G, out=G)
    dn = (np.sqrt(n_t) * delta).astype(np.float32)
    G -= np.outer(dn, dn)
    return G


def _scale(var):
    """Standardization scale from feature variances (constant features get 1)."""
    scale = np.sqrt(np.maximum(var, 0.0))
    return np.where(scale < 1e-6 * max(scale.max(), 1e-30), 1.0, scale).astype(np.float32)


def _factor(G, scale, cinv, s):
    """The lower Cholesky factor of ``¼ G_std + cinv·I`` (column-major, in this worker's
    buffer for split ``s``), with ``G_std`` the Gram ``G`` scaled to ``scale``."""
    inv = np.sqrt(0.25) / scale
    h = _buffer(f"h{s}", G.shape)
    np.multiply(G, inv[:, None], out=h)
    h *= inv[None, :]
    h[np.diag_indices_from(h)] += cinv
    chol = h.T  # symmetric: its transpose is the same matrix, column-major
    if not _lapack.AVAILABLE or _lapack.potrf_lower(chol) != 0:
        h = (G * (inv[:, None] * inv[None, :])).astype(np.float64)
        h[np.diag_indices_from(h)] += cinv + 1e-6
        return torch.linalg.cholesky(torch.from_numpy(h)).float().mT.contiguous().mT
    return torch.from_numpy(chol)


class _SharedBound:
    """``H0⁻¹`` per problem (rows ``[m, d+1]``) from Cholesky factors of the bound
    ``¼ G_std + cinv·I``, each serving a group of problems: one per split, or, when every
    split has at least :data:`SHARE_MIN_ROWS` rows per feature, one for all splits.

    Shared, the factor is the reference split's, and a problem of another split (its own
    standardization, ~20% other rows) takes its bound as ``R (¼ G_std + cinv·I) R`` with
    ``R = diag(scale_ref / scale_split)``: the same Gram in its units. It is a preconditioner
    only, so the solution is the same to the tolerance and only the iterations can change; each
    further split saves a Gram of its held-out rows and a factorization. With fewer rows than
    that the splits' Grams differ too much (n < d: their null spaces differ; in the tests'
    294 × 300 sets a shared factor took 75-94 iterations against 29-33).
    """

    def __init__(self, groups, b_scale, n_obj):
        # per group: (lower factor [d, d], problem rows, None or [rows, d] scale ratios)
        self.groups = [
            (c, c.numpy() if _lapack.AVAILABLE else None, r, rho) for c, r, rho in groups
        ]
        self.b_scale = b_scale  # [m] 1 / (¼ n_train of the problem's split)
        self.n_obj = n_obj[:, None]
        self.inverse: dict[int, np.ndarray] = {}  # per group of many problems: H0⁻¹ [d, d]

    def __call__(self, q):
        d = q.shape[1] - 1
        out = np.empty_like(q)
        for gi, (chol, chol_np, rows, rho) in enumerate(self.groups):
            w = q[rows, :d] if rho is None else q[rows, :d] * rho
            if rows.size == 1 and chol_np is not None:
                w = np.ascontiguousarray(w[0])
                _lapack.potrs_lower_vec(chol_np, w)
                sol = w[None]
            elif rows.size >= INVERSE_MIN_ROWS:
                if gi not in self.inverse:
                    self.inverse[gi] = torch.cholesky_inverse(chol).numpy()  # reads the lower L
                sol = times_rows(np.ascontiguousarray(w), self.inverse[gi])  # H0⁻¹ symmetric
            else:
                w = torch.from_numpy(np.ascontiguousarray(w))
                sol = torch.cholesky_solve(w.T, chol).T.numpy()
            out[rows, :d] = sol if rho is None else sol * rho
        out[:, d] = q[:, d] * self.b_scale
        return out * self.n_obj


#: From this many problems on, a factor's group is preconditioned by the explicit inverse
#: ``H0⁻¹`` (one product a step) instead of two triangular solves. Measured at d = 768, one
#: thread: the inverse took 5.3 ms, applying it to 35 problems 0.2-0.6 ms, the solves 1.06 ms;
#: a set of W1-calibrated applies it 12-14 times.
INVERSE_MIN_ROWS = 8

#: Training rows per feature from which every split's problems share one factor
#: (:class:`_SharedBound`).
SHARE_MIN_ROWS = 2


def _problems(y_p, tr_all, ho_all, lab_ok, pairs_p, failure_p):
    """The fittable (split, label) problems of one set and their binary codes (block order)."""
    probs = []
    for s in range(tr_all.shape[0]):
        for lab in np.flatnonzero(pairs_p[s]):
            ok = lab_ok[lab]
            n_tr, n_te = int((tr_all[s] & ok).sum()), int((ho_all[s] & ok).sum())
            seen = y_p[lab][tr_all[s] & ok]  # binary labels: two classes are a min and a max
            classes = np.array([seen.min(), seen.max()]) if seen.size else seen
            if classes.size and classes[0] == classes[1]:
                classes = classes[:1]
            if n_tr < 2 or n_te < 1:
                failure_p[s][lab] = (
                    f"too few examples for the split: {n_tr} train and {n_te} held-out rows; "
                    "expected at least 2 train and 1 held-out. Use more items or another split."
                )
            elif classes.size < 2:
                failure_p[s][lab] = (
                    "single-class training labels; a probe needs at least two classes. Check "
                    "the skill's labels or the split."
                )
            else:
                failure_p[s][lab] = None
                codes = np.where(ok, (y_p[lab] == classes[1]).astype(np.int64), -1)
                probs.append((s, int(lab), codes, n_tr, n_te))
    return probs


def _fit_set(
    X, y, splits, pairs, mask, C, tol, max_iter, history, out: CalibratedResult, p: int
) -> None:
    valid = np.flatnonzero(mask[p])
    S = pairs.shape[1]
    tr0 = splits[p, 0, valid]
    order = np.concatenate([valid[tr0], valid[~tr0]])  # split 0's training rows first
    n_first = int(tr0.sum())
    Xp = X[p].numpy()
    Z = np.take(Xp, order, axis=0, out=_buffer("block", (order.size, Xp.shape[1])))
    total = Z.sum(0, dtype=np.float64)
    mu = total / max(Z.shape[0], 1)
    if not np.isfinite(mu).all():
        for s in range(S):
            for lab in np.flatnonzero(pairs[p, s]):
                out.failure[p][s][lab] = NONFINITE.format(p=p)
        return
    Z -= mu.astype(np.float32)
    total = Z.sum(0, dtype=np.float64)
    d = Z.shape[1]
    G_first = _gram(Z[:n_first], _buffer("gram", (d, d)))
    y_p = y[p][:, order]
    lab_ok = y_p >= 0
    tr_all = splits[p][:, order]
    ho_all = ~tr_all
    probs = _problems(y_p, tr_all, ho_all, lab_ok, pairs[p], out.failure[p])
    for s, lab, _c, n_tr, n_te in probs:
        out.n_train[p, s, lab], out.n_test[p, s, lab] = n_tr, n_te
    if not probs:
        return
    cinv = 1.0 / C
    used = sorted({s for s, *_ in probs})
    sq_first = np.diagonal(G_first).astype(np.float64)
    rest = Z[n_first:]
    sq_rest = np.einsum("nd,nd->d", rest, rest, dtype=np.float64) if S > 1 else None
    n_rows = {s: n_first if s == 0 else int(tr_all[s].sum()) for s in used}
    shared = min(n_rows.values()) >= SHARE_MIN_ROWS * d
    # split by split, each split's held-out rows feed its moments and its downdated Gram:
    # gathered once, each in its own buffer
    held = {} if shared else {s: _held_rows(Z, tr_all[s], f"held{s}") for s in used if s}
    scales, deltas = {}, {}
    for s in used:
        delta, var = _split_moments(
            Z, total, sq_first, sq_rest, n_rows[s], tr_all[s], s, held.get(s)
        )
        if not (np.isfinite(var).all() and np.isfinite(delta).all()):
            for s2, lab, *_ in probs:
                out.failure[p][s2][lab] = NONFINITE.format(p=p)
            return
        scales[s], deltas[s] = _scale(var), delta.astype(np.float32)
    m = len(probs)
    split_of = np.array([s for s, *_ in probs])
    refs = used[:1] if shared else used  # the splits whose bounds are factored
    G_all = None
    if any(s != 0 for s in refs):
        G_all = _gram(rest, _buffer("gram_rest", (d, d)))
        G_all += G_first
    groups = []
    for r in refs:
        G = _split_gram(Z, G_first, G_all, tr_all[r], r, deltas[r], n_rows[r], held.get(r))
        if not np.isfinite(G).all():
            for s2, lab, *_ in probs:
                out.failure[p][s2][lab] = NONFINITE.format(p=p)
            return
        rows = np.arange(m) if shared else np.flatnonzero(split_of == r)
        rho = None
        if shared and len(used) > 1:
            rho = np.stack([scales[s] / scales[r] for s in split_of]).astype(np.float32)
        groups.append((_factor(G, scales[r], cinv, r), rows, rho))
    codes = np.stack([c for _s, _l, c, *_ in probs])
    sw = (tr_all[split_of] & (codes >= 0)).astype(np.float32)
    n_obj = np.maximum(sw.sum(1), 1.0).astype(np.float32)
    # only split 0: its training rows lead the block, so the solve reads just them and the
    # held-out margins come from one product at the end
    n_solve = n_first if used == [0] else Z.shape[0]
    col = np.stack([1.0 / scales[s] for s in split_of]).astype(np.float32)
    shift = np.stack([deltas[s] for s in split_of])
    pb = BinaryProblems(
        Z[:n_solve],
        col,
        np.ascontiguousarray(sw[:, :n_solve]),
        np.ascontiguousarray(np.maximum(codes[:, :n_solve], 0).astype(np.float32)),
        np.full(m, cinv, np.float32),
        n_obj,
        shift=shift,
    )
    bound = _SharedBound(
        groups,
        np.array([1.0 / (0.25 * max(n_rows[s], 1)) for s in split_of], np.float32),
        n_obj,
    )
    x, n_iter, converged, reads, z = lbfgs_loop(
        pb, bound, None, tol=tol, max_iter=max_iter, history=history
    )
    out.n_passes[p] = (reads + 1) // 2
    if n_solve < Z.shape[0]:
        Wc = x[:, :-1] * col
        b = x[:, -1] - row_dot(Wc, shift)
        z = np.concatenate([z, times_rows(Wc, Z[n_solve:]) + b[:, None]], axis=1)
    zt = torch.from_numpy(z)
    log_p1 = torch.nn.functional.logsigmoid(zt).numpy()  # all problems at once
    log_p0 = torch.nn.functional.logsigmoid(-zt).numpy()
    held_of = {}  # per split: its held-out rows (block indices) in row order
    for s in used:
        h = np.flatnonzero(ho_all[s])
        held_of[s] = h[np.argsort(order[h], kind="stable")]
    for i, (s, lab, c, _n_tr, _n_te) in enumerate(probs):
        held = held_of[s]
        true = c[held]
        if (true < 0).any():
            held = held[true >= 0]
            true = c[held]
        a, ba, au, xe, cor = _binary_scores(log_p0[i, held], log_p1[i, held], true)
        out.acc[p, s, lab], out.balanced_acc[p, s, lab], out.auroc[p, s, lab] = a, ba, au
        out.xent[p, s, lab], out.correct[p][s][lab] = xe, cor
        n_pos = int((c[tr_all[s]] == 1).sum())
        n_neg = int((c[tr_all[s]] == 0).sum())
        out.majority[p, s, lab] = float((true == int(n_pos > n_neg)).mean())  # ties: class 0
        out.n_iter[p, s, lab], out.converged[p, s, lab] = n_iter[i], converged[i]


def _binary_scores(log_p0, log_p1, true):
    """:func:`~curriculens.probes._metrics.problem_metrics` of a binary problem whose held-out
    rows all have a label, from its two log-probabilities, without stacking them: accuracy,
    balanced accuracy, AUROC, cross-entropy, and the 0/1 outcome per row.

    >>> lp1 = np.log(np.array([0.9, 0.2, 0.6], np.float32))
    >>> out = _binary_scores(np.log1p(-np.exp(lp1)), lp1, np.array([1, 0, 0]))
    >>> [round(v, 4) for v in out[:4]], out[4].tolist()
    ([0.6667, 0.75, 1.0, 0.4149], [1.0, 1.0, 0.0])
    """
    l0, l1 = log_p0.astype(np.float64), log_p1.astype(np.float64)
    pos = true == 1
    correct = ((l1 > l0) == pos).astype(np.float32)  # argmax: ties go to class 0
    if correct.size == 0:
        nan = float("nan")
        return nan, nan, nan, nan, correct
    acc = float(correct.mean(dtype=np.float64))
    recalls = [float(correct[m].mean(dtype=np.float64)) for m in (~pos, pos) if m.any()]
    bacc = float(np.mean(recalls))
    p_true = np.exp(np.where(pos, l1, l0))
    xent = float(-np.log(np.maximum(p_true, 1e-15)).mean())
    return acc, bacc, binary_auroc(l1 - l0, pos), xent, correct
