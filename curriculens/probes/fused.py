"""Fused linear-probe engine: many L2 logistic (or ridge) probes on padded activations in one solve.

Every probe that shares an activation set shares its standardization, its Gram matrix and its
factorization, and each pass over the activations serves all of its label sets (task, control,
shuffle) and every value of the regularization grid at once. The logistic solver is L-BFGS
preconditioned with the Böhning bound ``H0 = ½(I - 11ᵀ/K) ⊗ ZᵀZ + I/C``, so it converges in a
few tens of passes instead of hundreds. ``ZᵀZ`` is exact (a Cholesky factor, or an eigenbasis for
a C grid and for d ≤ 256) or, for wide activations, a randomized Nyström sketch; in an eigenbasis
the bound is rescaled to the measured mean curvature as predictions grow confident.

Glossary of dimension names: ``probe`` activation sets (P), ``label`` label sets per activation set
(L), ``grid`` values of C (G), ``cls`` classes (K), ``n`` rows, ``d`` features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from curriculens.errors import ProbeError
from curriculens.probes._chunks import (
    ChunkFit,
    WarmStart,
    chunk_bounds,
    default_chunk_size,
    fit_logistic_chunk,
    run_chunks,
)
from curriculens.probes._metrics import problem_metrics
from curriculens.probes._precond import EIG_MAX_D
from curriculens.probes._prepare import NONFINITE, ScratchPool, encode, positive_grid, prepare

__all__ = [
    "BatchProbeResult",
    "carve_validation",
    "fit_logistic_batch",
]


@dataclass(frozen=True, kw_only=True)
class BatchProbeResult:
    """Held-out scores and fitted models of ``P`` activation sets × ``L`` label sets.

    Array fields are numpy arrays indexed ``[probe, label]``. Failed problems have NaN scores and a
    reason in ``failure``; their coefficients are zero.

    Attributes:
        acc: Held-out accuracy.
        balanced_acc: Held-out balanced accuracy (mean recall over classes present in the test set).
        auroc: Held-out AUROC for binary problems, NaN otherwise.
        xent: Held-out mean cross-entropy in nats (logistic); NaN for ridge.
        majority: Held-out accuracy of the majority class of the training labels (chance level).
        C: Chosen inverse regularization (logistic) or ``1 / alpha`` (ridge).
        n_train: Training rows per problem.
        n_test: Held-out rows per problem.
        n_iter: Solver iterations (passes over the activations) per problem.
        converged: Whether the gradient tolerance was met.
        n_passes: Passes over the activations per activation set ``[P]`` over all solves (grid
            and refit), counting two reads (margins of a direction, gradient) as one pass.
            Ridge: 1.
        failure: ``failure[p][l]`` is None, or why that problem could not be fit.
        correct: ``correct[p][l]`` is a float32 0/1 array over held-out rows, in row order.
        coef: Weights on standardized features, ``[P, L, K, d]`` (K = max classes; binary problems
            use two softmax rows whose difference is the sklearn ``coef_``).
        intercept: ``[P, L, K]``.
        mean: Feature means used for standardization, ``[P, d]``.
        scale: Feature scales used for standardization, ``[P, d]``.
        classes: ``classes[p][l]`` holds the original labels, in code order.
    """

    acc: np.ndarray
    balanced_acc: np.ndarray
    auroc: np.ndarray
    xent: np.ndarray
    majority: np.ndarray
    C: np.ndarray
    n_train: np.ndarray
    n_test: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    n_passes: np.ndarray
    failure: list[list[str | None]]
    correct: list[list[np.ndarray]]
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    classes: list[list[np.ndarray]]

    def decision_function(self, X: np.ndarray | Tensor, p: int, label: int = 0) -> np.ndarray:
        """Class scores ``[n, K]`` of problem ``(p, label)`` on raw activations ``X [n, d]``."""
        Xn = np.asarray(X, np.float64)
        Z = (Xn - self.mean[p]) / self.scale[p]
        k = len(self.classes[p][label])
        return Z @ self.coef[p, label, :k].T.astype(np.float64) + self.intercept[p, label, :k]


# ----------------------------------------------------------------------------------------------
# Validation split
# ----------------------------------------------------------------------------------------------


def carve_validation(
    train: Bool[np.ndarray, "probe n"], *, fraction: float = 0.2, seed: int = 0
) -> Bool[np.ndarray, "probe n"]:
    """Pick a random ``fraction`` of each probe's training rows as a validation split.

    Args:
        train: Training rows per activation set.
        fraction: Share of the training rows moved to validation, in (0, 1).
        seed: Seed of the split; the same seed gives the same split.

    Returns:
        A boolean mask of validation rows (a subset of ``train``).

    >>> val = carve_validation(np.ones((2, 10), bool), fraction=0.2, seed=0)
    >>> val.sum(axis=1).tolist()
    [2, 2]
    """
    if not 0.0 < fraction < 1.0:
        raise ProbeError(
            f"validation fraction must be in (0, 1); received {fraction}. Use e.g. fraction=0.2."
        )
    train = np.asarray(train, bool)
    rng = np.random.default_rng(seed)
    val = np.zeros_like(train)
    for p in range(train.shape[0]):
        rows = np.flatnonzero(train[p])
        n_val = int(round(fraction * rows.size))
        if rows.size >= 2:
            n_val = min(max(n_val, 1), rows.size - 1)
            val[p, rng.permutation(rows)[:n_val]] = True
    return val


# Batch driver
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Job:
    """What every chunk solve of one :func:`fit_logistic_batch` call shares.

    ``failure`` and ``ok`` are updated in place as chunks find sets with non-finite rows.
    """

    X: Tensor  # [P, N, d]
    codes: np.ndarray  # [P, L, N] class codes, -1 = missing
    cmask: np.ndarray  # [P, L, K] classes present per problem
    ok: np.ndarray  # [P, L] problems without a recorded failure
    failure: list[list[str | None]]
    bounds: list[tuple[int, int]]  # chunks of activation sets
    n_jobs: int
    scratch: ScratchPool  # work buffers reused by the grid solve and the refit
    tol: float
    max_iter: int
    history: int
    rank: int | None
    seed: int


def _solve_chunk(job: _Job, fit_rows, eval_rows, cinv, inits, on_part, ci, se) -> ChunkFit:
    """Fit chunk ``ci`` (sets ``se = (start, end)``) in a worker; fail its non-finite sets."""
    s, e = se
    with job.scratch.lease() as ws:
        part = fit_logistic_chunk(
            job.X[s:e],
            job.codes[s:e],
            fit_rows[s:e],
            eval_rows[s:e],
            cinv[s:e],
            job.cmask[s:e],
            job.ok[s:e],
            tol=job.tol,
            max_iter=job.max_iter,
            hist=job.history,
            rank=job.rank,
            seed=job.seed,
            init=None if inits is None else inits[ci],
            ws=ws,
        )
    for p in s + np.flatnonzero(part.nonfinite):  # sets found with NaN/inf rows
        job.failure[p] = [f or NONFINITE.format(p=p) for f in job.failure[p]]
    if on_part is not None:
        on_part(s, part)
    return part


def _solve(job: _Job, fit_rows, eval_rows, cinv, inits=None, on_part=None) -> list[ChunkFit]:
    """Fit every chunk on ``fit_rows`` with ``cinv [P, L, G]``, scored on ``eval_rows``;
    ``on_part(start, part)`` runs in the worker as each chunk finishes."""
    fn = partial(_solve_chunk, job, fit_rows, eval_rows, cinv, inits, on_part)
    parts = run_chunks(fn, job.bounds, job.n_jobs, job.X.device.type)
    job.ok[:] = _solvable(job.failure)
    return parts


def _validation_split(job: _Job, tr, val, val_fraction, seed) -> tuple[np.ndarray, np.ndarray]:
    """Validation rows and the remaining fit rows for the C grid; problems left without two
    fit rows, a validation row or two classes are failed."""
    vrows = carve_validation(tr, fraction=val_fraction, seed=seed) if val is None else val
    vrows = np.asarray(vrows, bool) & tr
    fit_rows = tr & ~vrows
    failure = job.failure
    for p in range(tr.shape[0]):
        n_fit, n_val = int(fit_rows[p].sum()), int(vrows[p].sum())
        for lab in range(job.codes.shape[1]):
            if failure[p][lab] is None and (n_fit < 2 or n_val < 1):
                failure[p][lab] = (
                    f"too few examples for the validation split: {n_fit} fit and {n_val} "
                    "validation rows. Pass a single C or more training rows."
                )
            elif failure[p][lab] is None:
                fl = job.codes[p, lab][fit_rows[p]]
                if np.unique(fl[fl >= 0]).size < 2:
                    failure[p][lab] = (
                        "single-class labels after carving the validation split; "
                        "pass a single C or more training rows."
                    )
    job.ok[:] = _solvable(failure)
    return vrows, fit_rows


def _choose_C(job: _Job, parts, ks, Cs_arr, chosen) -> None:
    """Set ``chosen [P, L]`` to the C of best validation accuracy (ties: first in the grid)."""
    for ci, (s, _e) in enumerate(job.bounds):
        part = parts[ci]
        for pp in range(part.logp.shape[0]):
            p = s + pp
            rows = part.idx_te[pp][part.valid_te[pp]]
            for lab in range(job.codes.shape[1]):
                if job.failure[p][lab] is not None:
                    continue
                true = job.codes[p, lab, rows]
                accs = [
                    float(
                        (part.logp[pp, lab, gi, : ks[p, lab], : rows.size].argmax(0) == true).mean()
                    )
                    for gi in range(Cs_arr.size)
                ]
                chosen[p, lab] = Cs_arr[int(np.argmax(accs))]


def _warm_starts(job: _Job, parts, Cs_arr, chosen) -> list[WarmStart | None]:
    """Per chunk, the grid's factorization and its solution at the chosen C (None without an
    eigenbasis to reuse)."""
    gi = (Cs_arr[None, None, :] == chosen[:, :, None]).argmax(-1)
    inits: list[WarmStart | None] = []
    for part, (s, e) in zip(parts, job.bounds, strict=True):
        x0 = np.take_along_axis(part.x, gi[s:e][:, :, None, None, None], axis=2)
        if part.eig is None:
            inits.append(None)
        else:
            inits.append(WarmStart(part.eig, part.n_rows, part.mean_t, part.scale_t, x0))
    return inits


@dataclass(frozen=True)
class _Scores:
    """Per-problem outputs of the final fits, filled in chunk by chunk."""

    acc: np.ndarray
    bacc: np.ndarray
    auroc: np.ndarray
    xent: np.ndarray
    majority: np.ndarray
    n_train: np.ndarray
    n_test: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    correct: list[list[np.ndarray]]
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def empty(cls, P: int, L: int, K: int, d: int) -> _Scores:
        acc = np.full((P, L), np.nan)
        return cls(
            acc=acc,
            bacc=acc.copy(),
            auroc=acc.copy(),
            xent=acc.copy(),
            majority=acc.copy(),
            n_train=np.zeros((P, L), np.int64),
            n_test=np.zeros((P, L), np.int64),
            n_iter=np.zeros((P, L), np.int64),
            converged=np.zeros((P, L), bool),
            correct=[[np.zeros(0, np.float32) for _ in range(L)] for _ in range(P)],
            coef=np.zeros((P, L, K, d), np.float32),
            intercept=np.zeros((P, L, K), np.float32),
            mean=np.zeros((P, d)),
            scale=np.ones((P, d)),
        )


def _collect(out: _Scores, job: _Job, labels, tr, te, ks, s: int, part: ChunkFit) -> None:
    """Scores of one chunk's final fits, in its worker: they overlap the other workers'
    solves instead of running after all of them (sets never overlap between chunks)."""
    codes, failure = job.codes, job.failure
    d = out.coef.shape[-1]
    for pp in range(part.logp.shape[0]):
        p = s + pp
        out.mean[p], out.scale[p] = part.mean[pp], part.scale[pp]
        rows = part.idx_te[pp][part.valid_te[pp]]
        for lab in range(labels.shape[1]):
            out.n_train[p, lab] = int((tr[p] & (labels[p, lab] >= 0)).sum())
            out.n_test[p, lab] = int((te[p] & (labels[p, lab] >= 0)).sum())
            if failure[p][lab] is not None:
                continue
            out.coef[p, lab] = part.x[pp, lab, 0, :, :d]
            out.intercept[p, lab] = part.x[pp, lab, 0, :, d]
            out.n_iter[p, lab] = part.n_iter[pp, lab, 0]
            out.converged[p, lab] = part.converged[pp, lab, 0]
            keep = labels[p, lab, rows] >= 0
            if not keep.any():
                continue
            k = ks[p, lab]
            true = codes[p, lab, rows][keep]
            a, bb, au, xe, cor = problem_metrics(
                part.logp[pp, lab, 0][:, : rows.size][:, keep], true, k
            )
            out.acc[p, lab], out.bacc[p, lab], out.auroc[p, lab], out.xent[p, lab] = a, bb, au, xe
            out.correct[p][lab] = cor
            counts = np.bincount(codes[p, lab][tr[p] & (codes[p, lab] >= 0)], minlength=k)
            out.majority[p, lab] = float((true == counts.argmax()).mean())


def fit_logistic_batch(
    X: Float[Tensor, "probe n d"] | Float[np.ndarray, "probe n d"],
    y: Int[np.ndarray, "probe n"] | Int[np.ndarray, "probe label n"],
    *,
    train: Bool[np.ndarray, "probe n"] | None = None,
    mask: Bool[np.ndarray, "probe n"] | None = None,
    Cs: Sequence[float] = (1.0,),
    val: Bool[np.ndarray, "probe n"] | None = None,
    val_fraction: float = 0.2,
    tol: float = 1e-4,
    max_iter: int = 300,
    history: int = 10,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    n_jobs: int = 1,
    seed: int = 0,
    precond_rank: int | str | None = "auto",
) -> BatchProbeResult:
    """Fit L2 logistic probes for every (activation set, label set) at once, sklearn parity.

    Each problem minimizes ``Σ log-loss + ‖w‖²/(2C)`` on standardized features with an
    unpenalized intercept, as ``StandardScaler`` + ``LogisticRegression(C=C)`` does (binary:
    sigmoid; more classes: multinomial). With several ``Cs``, each problem is fit for every C on
    ``train`` minus a validation split, the C with the best validation accuracy (ties: first in
    ``Cs``) is chosen, and the problem is refit on all of ``train`` with it.

    Args:
        X: Activations ``[P, N, d]``; pad activation sets of different sizes and pass ``mask``.
        y: Integer labels ``[P, N]`` or ``[P, L, N]`` (L label sets sharing each activation set,
            e.g. task, control, shuffle). Negative labels mark missing rows.
        train: Training rows ``[P, N]``; the other valid rows are held out. Default: fit on all
            valid rows and report no held-out metrics (NaN).
        mask: Valid rows ``[P, N]``; default all.
        Cs: Grid of inverse regularization strengths.
        val: Validation rows (subset of ``train``) for the C grid; default carved with ``seed``.
        val_fraction: Share of training rows carved for validation when ``val`` is None.
        tol: Stop when the max-abs gradient of the averaged objective is below this (sklearn's).
        max_iter: Maximum L-BFGS iterations.
        history: L-BFGS memory.
        device: Torch device for the math; default that of ``X`` (CPU for numpy).
        chunk_size: Activation sets solved in lockstep per call (memory vs overhead). Default:
            8 on CPU, or 1 for large sets of binary problems at one C (each set's block then
            stays in cache); on a GPU, as many as fit in a quarter of its free memory, since there
            every chunk costs a full set of kernel launches per iteration.
        n_jobs: CPU worker threads over chunks, each with one BLAS/torch thread.
        seed: Seed of the validation split and of the Nyström sketch.
        precond_rank: Preconditioner. ``None``: the exact Gram of each activation set (one
            ``n·d²`` product and a ``d³`` factorization). An int ``r``: a rank-``r`` randomized
            Nyström sketch of it (two ``n·d·r`` products), which needs more passes but wins when
            ``d`` is large. ``"auto"`` (default): exact up to d = 2048, rank 128 above; measured
            on the 2-core box (8 probes, n = 3200), exact was faster at d = 768, the two on par
            at d = 2048 and the sketch 2.1x faster at d = 4096
            (``benchmarks/bench_probes.py --workload W-wide``).

    Returns:
        A :class:`BatchProbeResult` with held-out metrics per ``[probe, label]``.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2, 300, 4)).astype(np.float32)
    >>> y = (X[..., 0] > 0).astype(int)
    >>> res = fit_logistic_batch(X, y, train=np.arange(300) < 200 + np.zeros((2, 1), bool))
    >>> bool((res.acc > 0.9).all())
    True
    """
    prep = prepare(X, y, train, mask, device, check_finite=False)
    Xt, yl, tr, te = prep.X, prep.y, prep.train, prep.test
    P, L, N = yl.shape
    d = Xt.shape[2]
    rank = _preconditioner_rank(precond_rank, d)
    Cs_arr = positive_grid(Cs, "Cs")
    failure = [list(r) for r in prep.failure]
    codes, classes = encode(yl, tr, failure)
    K = max([c.size for row in classes for c in row] + [2])
    ks = np.array([[max(c.size, 2) for c in row] for row in classes]).reshape(P, L)
    cmask = np.arange(K)[None, None, :] < ks[:, :, None]
    binary_factor = np.where(ks == 2, 2.0, 1.0)  # binary sigmoid == 2-class softmax at C/2

    if chunk_size is None:
        # binary problems, one C and a Cholesky preconditioner: one large set per chunk (_lean)
        one_set = K == 2 and Cs_arr.size == 1 and rank is None and d > EIG_MAX_D
        chunk_size = default_chunk_size(Xt, one_set=one_set)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ProbeError(f"chunk_size must be a positive int or None; received {chunk_size!r}.")
    job = _Job(
        X=Xt,
        codes=codes,
        cmask=cmask,
        ok=_solvable(failure),
        failure=failure,
        bounds=chunk_bounds(P, chunk_size, n_jobs if Xt.device.type == "cpu" else 1),
        n_jobs=n_jobs,
        scratch=ScratchPool(),
        tol=tol,
        max_iter=max_iter,
        history=history,
        rank=rank,
        seed=seed,
    )

    chosen = np.full((P, L), Cs_arr[0])
    n_passes = np.zeros(P, np.int64)
    inits = None
    if Cs_arr.size > 1:  # the grid on a validation split; the refit reuses its factorization
        vrows, fit_rows = _validation_split(job, tr, val, val_fraction, seed)
        cinv = binary_factor[:, :, None] / Cs_arr[None, None, :]
        parts = _solve(job, fit_rows, vrows, cinv)
        n_passes += np.concatenate([part.passes for part in parts])
        _choose_C(job, parts, ks, Cs_arr, chosen)
        inits = _warm_starts(job, parts, Cs_arr, chosen)

    out = _Scores.empty(P, L, K, d)
    collect = partial(_collect, out, job, yl, tr, te, ks)
    cinv = (binary_factor / chosen)[:, :, None]
    parts = _solve(job, tr, te, cinv, inits, on_part=collect)
    n_passes += np.concatenate([part.passes for part in parts])
    return BatchProbeResult(
        acc=out.acc,
        balanced_acc=out.bacc,
        auroc=out.auroc,
        xent=out.xent,
        majority=out.majority,
        C=np.where(job.ok, chosen, np.nan),
        n_train=out.n_train,
        n_test=out.n_test,
        n_iter=out.n_iter,
        converged=out.converged,
        n_passes=n_passes,
        failure=failure,
        correct=out.correct,
        coef=out.coef,
        intercept=out.intercept,
        mean=out.mean,
        scale=out.scale,
        classes=classes,
    )


def _solvable(failure: list[list[str | None]]) -> np.ndarray:
    """``[P, L]``: which problems have no recorded failure.

    >>> _solvable([[None, "single-class"], [None, None]]).tolist()
    [[True, False], [True, True]]
    """
    return np.array([[f is None for f in row] for row in failure], bool).reshape(len(failure), -1)


_AUTO_EXACT_MAX_D = 2048
_AUTO_RANK = 128


def _preconditioner_rank(precond_rank, d: int) -> int | None:
    """The Nyström rank to use for ``d`` features, or None for the exact Gram.

    >>> _preconditioner_rank("auto", 2048) is None, _preconditioner_rank("auto", 4096)
    (True, 128)
    >>> _preconditioner_rank(64, 32) is None  # a rank of at least d is the exact Gram
    True
    """
    if precond_rank == "auto":
        return None if d <= _AUTO_EXACT_MAX_D else _AUTO_RANK
    if precond_rank is None:
        return None
    if isinstance(precond_rank, bool) or not isinstance(precond_rank, int) or precond_rank < 1:
        raise ProbeError(
            f"precond_rank must be 'auto', None (exact Gram) or a positive int; received "
            f"{precond_rank!r}."
        )
    return None if precond_rank >= d else precond_rank
