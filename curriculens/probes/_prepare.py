"""Input handling of the fused probe engines: validation, label codes, standardization, Gram.

Also the scratch buffers that one worker reuses from chunk to chunk (shared with the ridge engine).
"""

from __future__ import annotations

import math
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from curriculens.errors import ProbeError
from curriculens.probes._kernels import gram as block_gram


@dataclass(frozen=True, kw_only=True)
class Prepared:
    X: Tensor  # [P, N, d] on device, float32 (non-finite probes zeroed)
    y: np.ndarray  # [P, L, N] int64, -1 = missing
    train: np.ndarray  # [P, N] bool (valid & train)
    test: np.ndarray  # [P, N] bool (valid & ~train)
    failure: list[list[str | None]]


NONFINITE = (
    "X[{p}] has NaN or inf values; expected finite activations. Check for fp16 overflow or "
    "upcast before probing."
)


def prepare(X, y, train, mask, device, *, check_finite=True) -> Prepared:
    """Validate shapes and labels; record why any problem cannot be fit. With ``check_finite``
    sets with NaN/inf anywhere are zeroed and failed here (one read of all of X); the logistic
    engine instead checks the rows it uses as it standardizes them (see :class:`Block`)."""
    if isinstance(X, np.ndarray):
        X = torch.from_numpy(np.ascontiguousarray(X))
    if not isinstance(X, Tensor):
        X = torch.as_tensor(np.asarray(X))
    if X.ndim != 3:
        raise ProbeError(
            f"X must have shape [probe, n, d]; received {tuple(X.shape)}. "
            "Stack activation sets (pad shorter ones and pass mask=) or add a leading axis."
        )
    P, N, d = X.shape
    if P == 0 or N == 0 or d == 0:
        raise ProbeError(
            f"X has an empty axis: shape {tuple(X.shape)} as [probe, n, d]. Pass at least one "
            "activation set with rows and features."
        )
    dev = torch.device(device) if device is not None else X.device
    X = X.to(device=dev, dtype=torch.float32)
    y = np.asarray(y.cpu() if isinstance(y, Tensor) else y)
    if y.ndim == 2:
        y = y[:, None, :]
    if y.ndim != 3 or y.shape[0] != P or y.shape[2] != N:
        raise ProbeError(
            f"labels must have shape [probe, n] or [probe, label, n] matching X {tuple(X.shape)}; "
            f"received {y.shape}. Pad every label set to n and mark padding with mask= or -1."
        )
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == y // 1):
            y = y.astype(np.int64)
        else:
            raise ProbeError(
                f"labels must be integer class ids; received dtype {y.dtype}. "
                "Encode classes as ints (e.g. np.unique(labels, return_inverse=True))."
            )
    y = y.astype(np.int64)

    def _mask(m, name, default):
        if m is None:
            return np.full((P, N), default, bool)
        m = np.asarray(m.cpu() if isinstance(m, Tensor) else m, bool)
        if m.shape != (P, N):
            raise ProbeError(
                f"{name} must have shape {(P, N)} like X[:, :, 0]; received {m.shape}."
            )
        return m

    valid = _mask(mask, "mask", True)
    tr = _mask(train, "train", True) & valid
    te = valid & ~_mask(train, "train", True)
    # a sum is one streaming read; any NaN/inf (or overflow-scale garbage) makes it non-finite
    finite = np.ones(P, bool)
    if check_finite:
        finite = np.array([bool(torch.isfinite(X[p].sum())) for p in range(P)], bool)
    if not finite.all():
        X = X.clone()
        X[torch.from_numpy(~finite).to(dev)] = 0.0
    L = y.shape[1]
    failure: list[list[str | None]] = [[None] * L for _ in range(P)]
    for p in range(P):
        for lab in range(L):
            yl = y[p, lab]
            n_tr = int((tr[p] & (yl >= 0)).sum())
            n_te = int((te[p] & (yl >= 0)).sum())
            if not finite[p]:
                failure[p][lab] = NONFINITE.format(p=p)
            elif n_tr < 2 or (n_te < 1 and train is not None):
                failure[p][lab] = (
                    f"too few examples for the split: {n_tr} train and {n_te} held-out rows; "
                    "expected at least 2 train and 1 held-out. Use more items or another split."
                )
            else:
                classes = np.unique(yl[tr[p] & (yl >= 0)])
                if classes.size < 2:
                    failure[p][lab] = (
                        f"single-class training labels (all {int(classes[0])}); a probe needs at "
                        "least two classes. Check the skill's labels or the split."
                    )
    return Prepared(X=X, y=y, train=tr, test=te, failure=failure)


def encode(y, rows, failure):
    """Per (p, l): class list from training rows and codes for all rows (-1 = unknown/missing)."""
    P, L, N = y.shape
    codes = np.full((P, L, N), -1, np.int64)
    classes: list[list[np.ndarray]] = [[np.zeros(0, np.int64)] * L for _ in range(P)]
    for p in range(P):
        for lab in range(L):
            if failure[p][lab] is not None:
                continue
            yl = y[p, lab]
            cl = np.unique(yl[rows[p] & (yl >= 0)])
            pos = np.clip(np.searchsorted(cl, yl), 0, cl.size - 1)
            codes[p, lab] = np.where((cl[pos] == yl) & (yl >= 0), pos, -1)
            classes[p][lab] = cl
    return codes, classes


class Scratch:
    """Named CPU buffers that one worker reuses from chunk to chunk.

    A fresh multi-megabyte tensor is mapped from the OS and page-faulted on first touch. On the
    2-core box, gathering a 3200 × 768 block into a fresh tensor took 7.7-9.4 ms, and into a
    reused one 1.2-1.3 ms; on W1 the fresh blocks (rows, Gram, factor) cost more than the
    Cholesky. Only the work tensors of a chunk come from here, never anything it returns.
    """

    def __init__(self) -> None:
        self._bufs: dict[str, Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=torch.float32) -> Tensor:
        numel = math.prod(shape)
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = self._bufs[name] = torch.empty(numel, dtype=dtype)
        return buf[:numel].view(shape)


class ScratchPool:
    """One :class:`Scratch` per concurrently running chunk, kept for one fit call."""

    def __init__(self) -> None:
        self._free: queue.SimpleQueue[Scratch] = queue.SimpleQueue()

    @contextmanager
    def lease(self) -> Iterator[Scratch]:
        try:
            ws = self._free.get_nowait()
        except queue.Empty:
            ws = Scratch()
        try:
            yield ws
        finally:
            self._free.put(ws)


def work_tensor(ws: Scratch | None, name: str, shape, dtype=torch.float32, device=None) -> Tensor:
    """A work tensor: from the scratch buffers on CPU, else freshly allocated."""
    if ws is None or (device is not None and torch.device(device).type != "cpu"):
        return torch.empty(shape, dtype=dtype, device=device)
    return ws.get(name, tuple(shape), dtype)


def _gram(
    Z: Float[Tensor, "probe n d"], *, tf32: bool = False, ws: Scratch | None = None
) -> Float[Tensor, "probe d d"]:
    """``ZᵀZ`` per probe. On CPU by :func:`~curriculens.probes._kernels.gram` (oneDNN blocks, or
    numpy's syrk, about 2× torch.mm)."""
    if Z.device.type == "cuda" and tf32:
        prev = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            return torch.bmm(Z.transpose(1, 2), Z)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = prev
    if Z.device.type != "cpu":
        return torch.bmm(Z.transpose(1, 2), Z)
    P, n, d = Z.shape
    out = work_tensor(ws, "gram", (P, d, d))
    zt = work_tensor(ws, "gram_rows_t", (d, n))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow fails that set, later
        for p in range(P):
            block_gram(Z[p], out[p], zt)
    return out


def _gather_rows(X, rows, ws=None, name="rows"):
    """Gather ``rows`` per probe into a zero-padded block ``[P, n_max, d]`` (scratch ``name``)."""
    P, N, d = X.shape
    counts = rows.sum(axis=1)
    n_max = max(int(counts.max()) if P else 0, 1)
    idx = np.zeros((P, n_max), np.int64)
    valid = np.zeros((P, n_max), bool)
    for p in range(P):
        r = np.flatnonzero(rows[p])
        idx[p, : r.size] = r
        valid[p, : r.size] = True
    Z = work_tensor(ws, name, (P, n_max, d), X.dtype, X.device)
    for p in range(P):  # index_select copies whole rows: ~3x faster than gather on CPU
        k = int(counts[p])
        if k:
            torch.index_select(X[p], 0, torch.from_numpy(idx[p, :k]).to(X.device), out=Z[p, :k])
    _zero_padding(Z, counts)  # only padding rows: the rest was overwritten by the copy
    return Z, idx, valid


def _zero_padding(Z: Tensor, counts: np.ndarray) -> None:
    """Zero the rows of each set past its ``counts[p]`` valid ones (cheaper than a mask pass)."""
    for p in np.flatnonzero(counts < Z.shape[1]):
        Z[p, int(counts[p]) :] = 0.0


class Block(NamedTuple):
    """A standardized block of rows per activation set (see :func:`standardize_gram`)."""

    Z: Tensor  # [P, n_max, d], padding rows zero
    gram: Tensor | None  # [P, d, d] Gram of the standardized rows
    idx: np.ndarray  # [P, n_max] row indices into X
    valid: np.ndarray  # [P, n_max] which of them are real rows
    mean: Tensor  # [P, d]
    scale: Tensor  # [P, d]
    trace: Tensor  # [P] ‖Z‖² of the standardized rows
    nonfinite: np.ndarray  # [P] sets whose rows hold NaN or inf (zeroed, to be failed)


def _nonfinite_sets(Z: Tensor, stat: Tensor) -> Tensor:
    """Sets whose per-feature ``stat [P, d]`` (a sum over their rows) is not finite; their rows
    are zeroed in place so that the rest of the batch solves. NaN or inf anywhere in a set's rows,
    or values so large that their sums overflow, end up here."""
    bad = ~torch.isfinite(stat).all(1)
    if bool(bad.any()):
        Z[bad] = 0.0
    return bad


def standardize_gram(
    X, rows, *, with_gram=True, precond_only=False, ws=None, scale_rows=True
) -> Block:
    """Standardized training block ``Z [P, n_max, d]`` (padding rows zero) and its Gram ``ZᵀZ``.

    One pass centers in place; the Gram of the centered block gives the variances on its
    diagonal, so scaling costs no extra pass over the Gram: ``G_std = G / (s sᵀ)``. With
    ``precond_only`` (the Gram only preconditions) a CUDA Gram may use TF32. With
    ``scale_rows=False`` the block is only centered and the caller folds ``1/scale`` into its
    weights, which saves a read and a write of the block.

    Sets with non-finite rows are checked here, on the sums this needs anyway, rather than by
    another read of all of X: they come back zeroed and flagged in ``nonfinite``.
    """
    Z, idx, valid = _gather_rows(X, rows, ws, "fit")
    counts = valid.sum(1)
    cnt = torch.from_numpy(np.maximum(counts, 1)).to(X.device, torch.float32)[:, None]
    mean = Z.sum(dim=1) / cnt  # padding rows are zero
    bad = _nonfinite_sets(Z, mean)
    mean = torch.where(bad[:, None], 0.0, mean)
    Z.sub_(mean[:, None, :])
    _zero_padding(Z, counts)
    if with_gram and precond_only and X.device.type == "cuda":
        # TF32 for a Gram that only preconditions; the variances that set the
        # standardization (and so the fitted model) stay exact float32
        var = Z.square().sum(1) / cnt
        gram = _gram(Z, tf32=True)
    elif with_gram:
        gram = _gram(Z, ws=ws).to(X.device)
        var = torch.diagonal(gram, dim1=1, dim2=2) / cnt
    else:
        gram = None
        var = Z.square().sum(1) / cnt  # (vector_norm over dim 1 is ~7x slower here)
    overflow = _nonfinite_sets(Z, var)  # squares beyond float32
    if bool(overflow.any()):
        var = torch.where(overflow[:, None], 0.0, var)
        mean = torch.where(overflow[:, None], 0.0, mean)
        if gram is not None:
            gram[overflow] = 0.0
        bad = bad | overflow
    scale = var.double().sqrt()
    scale = torch.where(
        scale < 1e-6 * scale.amax(1, keepdim=True).clamp_min(1e-30), torch.ones_like(scale), scale
    ).float()
    if scale_rows:
        Z.div_(scale[:, None, :])
    if gram is not None:
        gram.div_(scale[:, :, None] * scale[:, None, :])
    trace = (var / scale.square()).sum(1) * cnt[:, 0]  # ‖Z‖² without another pass
    return Block(Z, gram, idx, valid, mean, scale, trace, bad.cpu().numpy())


def apply_standardize(X, rows, mean, scale, ws=None):
    """Rows ``rows`` standardized with a fit's ``mean`` and ``scale``: ``Z, idx, valid`` as in
    :class:`Block`, and the sets whose rows are not finite (zeroed)."""
    Z, idx, valid = _gather_rows(X, rows, ws, "eval")
    Z.sub_(mean[:, None, :]).div_(scale[:, None, :])
    _zero_padding(Z, valid.sum(1))
    bad = _nonfinite_sets(Z, Z.sum(1))
    return Z, idx, valid, bad.cpu().numpy()


def positive_grid(values, name: str) -> np.ndarray:
    """A regularization grid as a float64 array; raises unless non-empty and all positive.

    >>> positive_grid([0.1, 1], "Cs").tolist()
    [0.1, 1.0]
    """
    grid = np.asarray(list(values), np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.all(grid > 0):
        raise ProbeError(
            f"{name} must be a non-empty list of positive floats; received {list(values)}."
        )
    return grid
