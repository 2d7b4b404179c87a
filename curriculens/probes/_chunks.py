"""One chunk of activation sets in the fused logistic engine, and how chunks are sized and run.

A chunk is solved in lockstep: standardize, precondition, L-BFGS, then score on held-out rows.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from curriculens.probes._kernels import SMALL_BLOCK, rows_matmul
from curriculens.probes._lbfgs import lbfgs
from curriculens.probes._lean import lbfgs_one_set
from curriculens.probes._precond import Precond, Spectrum, nystrom
from curriculens.probes._prepare import apply_standardize, standardize_gram


class WarmStart(NamedTuple):
    """What the refit of a chunk reuses from its C grid solve."""

    eig: Spectrum  # the grid's factorization of the bound, for the grid's row count
    n_rows: Tensor  # [P] training rows of the grid solve
    mean: Tensor  # [P, d] the grid's standardization
    scale: Tensor  # [P, d]
    x0: np.ndarray  # [P, L, 1, K, d+1] the chosen grid solution, in the grid's standardization


class ChunkFit(NamedTuple):
    """The fits of one chunk of activation sets and their scores on the evaluation rows."""

    logp: np.ndarray  # [P, L, G, K, n_te] log-probabilities on the evaluation rows
    idx_te: np.ndarray  # [P, n_te] evaluation row indices into X
    valid_te: np.ndarray  # [P, n_te] which of them are real rows
    x: np.ndarray  # [P, L, G, K, d+1] weights and intercepts (two-row softmax form)
    eig: Spectrum | None  # the preconditioner's eigenbasis, when it has one (for a refit)
    n_rows: Tensor  # [P] training rows
    mean_t: Tensor  # [P, d] standardization, as tensors (for a refit)
    scale_t: Tensor  # [P, d]
    mean: np.ndarray  # [P, d] the same, as arrays
    scale: np.ndarray  # [P, d]
    n_iter: np.ndarray  # [P, L, G]
    passes: np.ndarray  # [P]
    converged: np.ndarray  # [P, L, G]
    nonfinite: np.ndarray  # [P] sets with NaN/inf in the rows used


def _warm_start_x0(init: WarmStart, mean, scale, binary, dev) -> Tensor:
    """The chosen grid solution mapped exactly into the refit's standardization."""
    xo = torch.from_numpy(init.x0).to(dev)  # [P, L, 1, K, d+1], old standardization
    ratio = (init.scale / scale)[:, None, None, None, :]  # old scale / new scale ...
    shift = ((mean - init.mean) / init.scale)[:, None, None, None, :]
    w_old = xo[..., :-1]
    b_new = xo[..., -1] + (w_old * shift).sum(-1)
    x0 = torch.cat([w_old / ratio, b_new[..., None]], dim=-1)
    if binary:
        x0 = 2.0 * x0[:, :, :, 1:2, :]
    return x0


def fit_logistic_chunk(
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
    init: WarmStart | None = None,
    ws=None,
) -> ChunkFit:
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
        eig = Spectrum(bound * ev, V, bound * tail)
    if init is not None:
        ev, V, tail = init.eig
        ratio = (n_rows / init.n_rows).float()
        eig = Spectrum(ev * ratio[:, None], V, None if tail is None else tail * ratio)
        x0 = _warm_start_x0(init, mean, scale, binary, dev)
    precond = Precond(gram, n_rows, cinv, cmask_t, n_obj, binary=binary, eig=eig, ws=ws)
    if P == 1 and binary and precond.chol is not None and dev.type == "cpu":
        # one large set: the numpy loop keeps its block in cache (see _lean)
        x, n_iter, conv, passes = lbfgs_one_set(
            Ztr,
            sw,
            ctr,
            cinv,
            n_obj,
            precond,
            tol=tol,
            max_iter=max_iter,
            history=hist,
            x0=x0,
            inv_scale=inv_scale,
        )
    else:
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
    return ChunkFit(
        logp=logp.cpu().numpy(),
        idx_te=idx_te,
        valid_te=valid_te,
        x=x.cpu().numpy(),
        eig=None if precond.V is None else Spectrum(precond.ev, precond.V, precond.tail),
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


def default_chunk_size(X: Tensor, *, one_set: bool = False) -> int:
    """On CPU, 8 sets per chunk, or more (up to 64) when a chunk's rows still fit in 8 MB, so
    that small probes share one lockstep solve; with ``one_set`` (binary problems with a Cholesky
    preconditioner, which :mod:`~curriculens.probes._lean` solves) one set per chunk once a set
    passes 2 MB, so that its block stays in cache through the Gram and every pass (W1, 3200 x 768
    per set, one thread: 28 ms per set against 38 ms in chunks of 8). On CUDA, as many as fit in
    a quarter of the free memory, at about four copies of each set's block (gathered rows, Gram,
    factor, temporaries)."""
    if X.device.type != "cuda":
        per_set = max(X.shape[1] * X.shape[2] * 4, 1)
        if one_set and per_set >= 2 * SMALL_BLOCK:
            return 1
        return max(8, min(64, (8 << 20) // per_set))
    free, _total = torch.cuda.mem_get_info(X.device)
    per_set = 4 * X.shape[1] * X.shape[2] * 4 + 3 * X.shape[2] ** 2 * 4
    return max(1, int(free // 4 // max(per_set, 1)))


def chunk_bounds(P, chunk_size, n_jobs=1):
    """Contiguous chunks of at most ``chunk_size`` sets, as even as possible, and a multiple of
    ``n_jobs`` in number, so no worker idles through a last, lone chunk.

    >>> chunk_bounds(26, 8, 2)
    [(0, 6), (6, 13), (13, 20), (20, 26)]
    >>> chunk_bounds(5, 8)
    [(0, 5)]
    """
    if P == 0:
        return []
    n_jobs = max(1, min(n_jobs, P))
    n = n_jobs * math.ceil(P / (n_jobs * max(chunk_size, 1)))
    n = min(n, P)
    edges = [round(i * P / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def run_chunks(fn, chunks, n_jobs, device_type):
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
