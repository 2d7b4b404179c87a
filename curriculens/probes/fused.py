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

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from threadpoolctl import threadpool_limits
from torch import Tensor

from curriculens.errors import ProbeError
from curriculens.probes._kernels import rows_matmul
from curriculens.probes._lbfgs import lbfgs
from curriculens.probes._metrics import problem_metrics
from curriculens.probes._precond import Precond, nystrom
from curriculens.probes._prepare import (
    NONFINITE,
    ScratchPool,
    apply_standardize,
    encode,
    positive_grid,
    prepare,
    standardize_gram,
)

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


# ----------------------------------------------------------------------------------------------
# One chunk of activation sets
# ----------------------------------------------------------------------------------------------


def _fit_logistic_chunk(
    X,
    codes,
    fit_rows,
    eval_rows,
    cinv_eff,
    cmask,
    ok,
    *,
    tol,
    max_iter,
    hist,
    rank,
    seed,
    init=None,
    ws=None,
):
    """Fit every (label, grid) problem of a chunk of activation sets; score on ``eval_rows``.

    ``init`` (refit after a C grid) reuses the grid's eigendecomposition as the preconditioner,
    rescaled to the new row count, and warm-starts from the chosen grid solution mapped exactly
    into the new standardization; no new Gram or factorization is computed.
    """
    P, L, N = codes.shape
    lowrank = init is None and rank is not None
    Ztr, gram, idx_tr, valid_tr, mean, scale, trace, nonfinite_tr = standardize_gram(
        X,
        fit_rows,
        with_gram=init is None and not lowrank,
        precond_only=True,
        ws=ws,
        scale_rows=False,  # 1/scale is folded into the weights: a pass over the block saved
    )
    inv_scale = 1.0 / scale
    dev = X.device
    codes_t = torch.from_numpy(codes).to(dev)
    idx_t = torch.from_numpy(idx_tr).to(dev)
    ctr = torch.gather(codes_t, 2, idx_t[:, None, :].expand(P, L, idx_tr.shape[1]))
    ok_t = torch.from_numpy(ok).to(dev)
    sw = ((ctr >= 0) & torch.from_numpy(valid_tr).to(dev)[:, None, :] & ok_t[:, :, None]).float()
    n_obj = sw.sum(-1).clamp_min(1.0)
    cmask_t = torch.from_numpy(cmask).to(dev)
    cinv = torch.from_numpy(cinv_eff).to(dev, torch.float32)
    n_rows = torch.from_numpy(np.maximum(valid_tr.sum(1), 1)).to(dev)
    binary = cmask.shape[2] == 2  # every problem of the batch is binary: one sigmoid logit
    if binary:
        cinv = cinv / 2.0  # undo the 2-class-softmax factor
    eig, x0 = None, None
    if lowrank:
        ev, V, tail = nystrom(Ztr, trace, rank, seed, inv_scale)
        bound = 0.25 if binary else 0.5
        eig = (bound * ev, V, bound * tail)
    if init is not None:
        ev, V, tail = init["eig"]
        ratio = (n_rows / init["n_rows"]).float()
        eig = (ev * ratio[:, None], V, None if tail is None else tail * ratio)
        xo = torch.from_numpy(init["x0"]).to(dev)  # [P, L, 1, K, d+1], old standardization
        ratio = (init["scale"] / scale)[:, None, None, None, :]  # old scale / new scale ...
        shift = ((mean - init["mean"]) / init["scale"])[:, None, None, None, :]
        w_old = xo[..., :-1]
        b_new = xo[..., -1] + (w_old * shift).sum(-1)
        x0 = torch.cat([w_old / ratio, b_new[..., None]], dim=-1)
        if binary:
            x0 = 2.0 * x0[:, :, :, 1:2, :]
    precond = Precond(gram, n_rows, cinv, cmask_t, n_obj, binary=binary, eig=eig, ws=ws)
    x, n_iter, conv, passes = lbfgs(
        Ztr,
        sw,
        ctr,
        cmask_t,
        cinv,
        n_obj,
        precond,
        tol=tol,
        max_iter=max_iter,
        history=hist,
        binary=binary,
        x0=x0,
        inv_scale=inv_scale,
    )
    if binary:  # back to the two-row softmax form shared with multinomial problems
        x = torch.cat([-0.5 * x, 0.5 * x], dim=3)
    del Ztr
    Zte, idx_te, valid_te, bad_te = apply_standardize(X, eval_rows, mean, scale, ws)
    Gr, K = cinv.shape[2], cmask.shape[2]
    W, b = x[..., :-1], x[..., -1]
    logits = rows_matmul(W.reshape(P, L * Gr * K, -1), Zte).view(P, L, Gr, K, -1)
    logits = (logits + b[..., None]).masked_fill(~cmask_t[:, :, None, :, None], -math.inf)
    logp = torch.log_softmax(logits, dim=3)
    return dict(
        logp=logp.cpu().numpy(),  # [P, L, G, K, n_te]
        idx_te=idx_te,
        valid_te=valid_te,
        x=x.cpu().numpy(),
        eig=None if precond.V is None else (precond.ev, precond.V, precond.tail),
        n_rows=n_rows,
        mean_t=mean,
        scale_t=scale,
        mean=mean.cpu().numpy(),
        scale=scale.cpu().numpy(),
        n_iter=n_iter.cpu().numpy(),
        passes=passes,
        converged=conv.cpu().numpy(),
        nonfinite=nonfinite_tr | bad_te,
    )


def _run_chunks(fn, chunks, n_jobs, device_type):
    """Run ``fn`` over the chunks: in order, or on ``n_jobs`` CPU worker threads that each use
    one torch and one BLAS thread. In order on CPU, BLAS/LAPACK (Gram, eigh) gets as many
    threads as torch has, so both follow the caller's (recorded) choice instead of OpenBLAS's
    default of all cores, which issue #4 measured as pathological for LAPACK on a shared CPU
    (eigh 11 s against 92 ms)."""
    if device_type != "cpu":
        return [fn(i, se) for i, se in enumerate(chunks)]
    if n_jobs <= 1 or len(chunks) <= 1:
        with threadpool_limits(limits=torch.get_num_threads()):
            return [fn(i, se) for i, se in enumerate(chunks)]
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1), ThreadPoolExecutor(n_jobs) as pool:
            return list(pool.map(lambda ise: fn(*ise), enumerate(chunks)))
    finally:
        torch.set_num_threads(prev)


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
            8 on CPU; on a GPU, as many as fit in a quarter of its free memory, since there
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
    ok = _solvable(failure)

    if chunk_size is None:
        chunk_size = _default_chunk_size(Xt)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ProbeError(f"chunk_size must be a positive int or None; received {chunk_size!r}.")
    bounds = _chunk_bounds(P, chunk_size, n_jobs if Xt.device.type == "cpu" else 1)

    scratch = ScratchPool()  # work buffers reused by the grid solve and the refit

    def solve(fit_rows, eval_rows, cinv, inits=None, on_part=None):
        def fn(ci, se):
            s, e = se
            with scratch.lease() as ws:
                part = _fit_logistic_chunk(
                    Xt[s:e],
                    codes[s:e],
                    fit_rows[s:e],
                    eval_rows[s:e],
                    cinv[s:e],
                    cmask[s:e],
                    ok[s:e],
                    tol=tol,
                    max_iter=max_iter,
                    hist=history,
                    rank=rank,
                    seed=seed,
                    init=None if inits is None else inits[ci],
                    ws=ws,
                )
            for p in s + np.flatnonzero(part["nonfinite"]):  # sets found with NaN/inf rows
                failure[p] = [f or NONFINITE.format(p=p) for f in failure[p]]
            if on_part is not None:
                on_part(s, part)
            return part

        parts = _run_chunks(fn, bounds, n_jobs, Xt.device.type)
        ok[:] = _solvable(failure)
        return parts

    chosen = np.full((P, L), Cs_arr[0])
    n_passes = np.zeros(P, np.int64)
    if Cs_arr.size > 1:
        vrows = carve_validation(tr, fraction=val_fraction, seed=seed) if val is None else val
        vrows = np.asarray(vrows, bool) & tr
        fit_rows = tr & ~vrows
        for p in range(P):
            n_fit, n_val = int(fit_rows[p].sum()), int(vrows[p].sum())
            for lab in range(L):
                if failure[p][lab] is None and (n_fit < 2 or n_val < 1):
                    failure[p][lab] = (
                        f"too few examples for the validation split: {n_fit} fit and {n_val} "
                        "validation rows. Pass a single C or more training rows."
                    )
                elif failure[p][lab] is None:
                    fl = codes[p, lab][fit_rows[p]]
                    if np.unique(fl[fl >= 0]).size < 2:
                        failure[p][lab] = (
                            "single-class labels after carving the validation split; "
                            "pass a single C or more training rows."
                        )
        ok[:] = _solvable(failure)
        cinv = binary_factor[:, :, None] / Cs_arr[None, None, :]
        parts = solve(fit_rows, vrows, cinv)
        n_passes += np.concatenate([part["passes"] for part in parts])
        for ci, (s, _e) in enumerate(bounds):
            part = parts[ci]
            for pp in range(part["logp"].shape[0]):
                p = s + pp
                rows = part["idx_te"][pp][part["valid_te"][pp]]
                for lab in range(L):
                    if failure[p][lab] is not None:
                        continue
                    true = codes[p, lab, rows]
                    accs = [
                        float(
                            (
                                part["logp"][pp, lab, gi, : ks[p, lab], : rows.size].argmax(0)
                                == true
                            ).mean()
                        )
                        for gi in range(Cs_arr.size)
                    ]
                    chosen[p, lab] = Cs_arr[int(np.argmax(accs))]
    inits = None
    if Cs_arr.size > 1:  # refit reuses each chunk's grid eigendecomposition and solution
        gi = (Cs_arr[None, None, :] == chosen[:, :, None]).argmax(-1)
        inits = []
        for ci, (s, e) in enumerate(bounds):
            part = parts[ci]
            x0 = np.take_along_axis(part["x"], gi[s:e][:, :, None, None, None], axis=2)
            keys = ("eig", "n_rows", "mean_t", "scale_t")
            init = dict(
                zip(("eig", "n_rows", "mean", "scale"), (part[k] for k in keys), strict=True)
            )
            inits.append(None if part["eig"] is None else {**init, "x0": x0})
    acc = np.full((P, L), np.nan)
    bacc, auroc, xent, majority = acc.copy(), acc.copy(), acc.copy(), acc.copy()
    n_train = np.zeros((P, L), np.int64)
    n_test = np.zeros((P, L), np.int64)
    n_iter = np.zeros((P, L), np.int64)
    converged = np.zeros((P, L), bool)
    correct = [[np.zeros(0, np.float32) for _ in range(L)] for _ in range(P)]
    coef = np.zeros((P, L, K, d), np.float32)
    intercept = np.zeros((P, L, K), np.float32)
    mean = np.zeros((P, d))
    scale = np.ones((P, d))

    def collect(s, part):
        """Scores of one chunk's final fits, in its worker: they overlap the other workers'
        solves instead of running after all of them (sets never overlap between chunks)."""
        for pp in range(part["logp"].shape[0]):
            p = s + pp
            mean[p], scale[p] = part["mean"][pp], part["scale"][pp]
            rows = part["idx_te"][pp][part["valid_te"][pp]]
            for lab in range(L):
                n_train[p, lab] = int((tr[p] & (yl[p, lab] >= 0)).sum())
                n_test[p, lab] = int((te[p] & (yl[p, lab] >= 0)).sum())
                if failure[p][lab] is not None:
                    continue
                coef[p, lab] = part["x"][pp, lab, 0, :, :d]
                intercept[p, lab] = part["x"][pp, lab, 0, :, d]
                n_iter[p, lab] = part["n_iter"][pp, lab, 0]
                converged[p, lab] = part["converged"][pp, lab, 0]
                keep = yl[p, lab, rows] >= 0
                if not keep.any():
                    continue
                k = ks[p, lab]
                true = codes[p, lab, rows][keep]
                a, bb, au, xe, cor = problem_metrics(
                    part["logp"][pp, lab, 0][:, : rows.size][:, keep], true, k
                )
                acc[p, lab], bacc[p, lab], auroc[p, lab], xent[p, lab] = a, bb, au, xe
                correct[p][lab] = cor
                counts = np.bincount(codes[p, lab][tr[p] & (codes[p, lab] >= 0)], minlength=k)
                majority[p, lab] = float((true == counts.argmax()).mean())

    cinv = (binary_factor / chosen)[:, :, None]
    parts = solve(tr, te, cinv, inits, on_part=collect)
    n_passes += np.concatenate([part["passes"] for part in parts])
    return BatchProbeResult(
        acc=acc,
        balanced_acc=bacc,
        auroc=auroc,
        xent=xent,
        majority=majority,
        C=np.where(ok, chosen, np.nan),
        n_train=n_train,
        n_test=n_test,
        n_iter=n_iter,
        converged=converged,
        n_passes=n_passes,
        failure=failure,
        correct=correct,
        coef=coef,
        intercept=intercept,
        mean=mean,
        scale=scale,
        classes=classes,
    )


def _solvable(failure: list[list[str | None]]) -> np.ndarray:
    """``[P, L]``: which problems have no recorded failure.

    >>> _solvable([[None, "single-class"], [None, None]]).tolist()
    [[True, False], [True, True]]
    """
    return np.array([[f is None for f in row] for row in failure], bool).reshape(len(failure), -1)


def _default_chunk_size(X: Tensor) -> int:
    """On CPU, 8 sets per chunk, or more (up to 64) when a chunk's rows still fit in 8 MB, so
    that small probes share one lockstep solve. On CUDA, as many as fit in a quarter of the free
    memory, at about four copies of each set's block (gathered rows, Gram, factor, temporaries)."""
    if X.device.type != "cuda":
        per_set = max(X.shape[1] * X.shape[2] * 4, 1)
        return max(8, min(64, (8 << 20) // per_set))
    free, _total = torch.cuda.mem_get_info(X.device)
    per_set = 4 * X.shape[1] * X.shape[2] * 4 + 3 * X.shape[2] ** 2 * 4
    return max(1, int(free // 4 // max(per_set, 1)))


def _chunk_bounds(P, chunk_size, n_jobs=1):
    """Contiguous chunks of at most ``chunk_size`` sets, as even as possible, and a multiple of
    ``n_jobs`` in number, so no worker idles through a last, lone chunk.

    >>> _chunk_bounds(26, 8, 2)
    [(0, 6), (6, 13), (13, 20), (20, 26)]
    >>> _chunk_bounds(5, 8)
    [(0, 5)]
    """
    if P == 0:
        return []
    n_jobs = max(1, min(n_jobs, P))
    n = n_jobs * math.ceil(P / (n_jobs * max(chunk_size, 1)))
    n = min(n, P)
    edges = [round(i * P / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))
