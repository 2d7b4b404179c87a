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
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from threadpoolctl import threadpool_limits
from torch import Tensor

from curriculens.errors import ProbeError
from curriculens.probes import _lapack

__all__ = [
    "BatchProbeResult",
    "carve_validation",
    "fit_logistic_batch",
]

_EPS_PROB = 1e-15


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
# Input handling
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


@dataclass(frozen=True, kw_only=True)
class _Prepared:
    X: Tensor  # [P, N, d] on device, float32 (non-finite probes zeroed)
    y: np.ndarray  # [P, L, N] int64, -1 = missing
    train: np.ndarray  # [P, N] bool (valid & train)
    test: np.ndarray  # [P, N] bool (valid & ~train)
    failure: list[list[str | None]]


_NONFINITE = (
    "X[{p}] has NaN or inf values; expected finite activations. Check for fp16 overflow or "
    "upcast before probing."
)


def _prepare(X, y, train, mask, device, *, check_finite=True) -> _Prepared:
    """Validate shapes and labels; record why any problem cannot be fit. With ``check_finite``
    sets with NaN/inf anywhere are zeroed and failed here (one read of all of X); the logistic
    engine instead checks the rows it uses as it standardizes them (see :class:`_Block`)."""
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
                failure[p][lab] = _NONFINITE.format(p=p)
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
    return _Prepared(X=X, y=y, train=tr, test=te, failure=failure)


def _encode(y, rows, failure):
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


# ----------------------------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------------------------


_SMALL_BLOCK = 1 << 20  # bytes of one activation set below which lockstep kernels stay batched


class _Scratch:
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


class _ScratchPool:
    """One :class:`_Scratch` per concurrently running chunk, kept for one fit call."""

    def __init__(self) -> None:
        self._free: queue.SimpleQueue[_Scratch] = queue.SimpleQueue()

    @contextmanager
    def lease(self) -> Iterator[_Scratch]:
        try:
            ws = self._free.get_nowait()
        except queue.Empty:
            ws = _Scratch()
        try:
            yield ws
        finally:
            self._free.put(ws)


def _empty(ws: _Scratch | None, name: str, shape, dtype=torch.float32, device=None) -> Tensor:
    """A work tensor: from the scratch buffers on CPU, else freshly allocated."""
    if ws is None or (device is not None and torch.device(device).type != "cpu"):
        return torch.empty(shape, dtype=dtype, device=device)
    return ws.get(name, tuple(shape), dtype)


def _batched(Z: Tensor, act) -> bool:
    """Whether to run one bmm over every set rather than a loop over the sets still moving.

    On GPU always. On CPU when nothing is skipped, or when the sets are small: there a Python
    loop costs more than the skipped work (30 sets of 300 × 128: loop 1.4-1.8 ms, bmm
    0.6-0.8 ms for both products). For large sets (3200 × 768) bmm and the loop cost the same
    per set, so the loop wins by skipping the sets that have converged.
    """
    if Z.device.type != "cpu" or act is None:
        return True
    return Z.shape[1] * Z.shape[2] * Z.element_size() <= _SMALL_BLOCK or bool(act.all())


def _rows_matmul(W: Float[Tensor, "probe m d"], Z: Float[Tensor, "probe n d"], act=None) -> Tensor:
    """``W @ Zᵀ`` per probe: ``[P, m, n]``; when looping, only the rows marked in ``act [P, m]``
    are computed (the others are left zero)."""
    if _batched(Z, act):
        return torch.bmm(W, Z.transpose(1, 2))
    P = Z.shape[0]
    out = torch.zeros(P, W.shape[1], Z.shape[1], dtype=Z.dtype)
    for p in range(P):
        rows = None if act is None else act[p]
        if rows is None or rows.all():
            torch.mm(W[p], Z[p].T, out=out[p])
        elif rows.any():  # only the problems still moving: small-M sgemm is FLOP-bound
            idx = torch.from_numpy(np.flatnonzero(rows))
            out[p, idx] = W[p, idx] @ Z[p].T
    return out


def _cols_matmul(R: Float[Tensor, "probe m n"], Z: Float[Tensor, "probe n d"], act=None) -> Tensor:
    """``R @ Z`` per probe: ``[P, m, d]`` (when looping, only the rows marked in ``act [P, m]``)."""
    if _batched(Z, act):
        return torch.bmm(R, Z)
    P = Z.shape[0]
    out = torch.zeros(P, R.shape[1], Z.shape[2], dtype=Z.dtype)
    for p in range(P):
        rows = None if act is None else act[p]
        if rows is None or rows.all():
            torch.mm(R[p], Z[p], out=out[p])
        elif rows.any():
            idx = torch.from_numpy(np.flatnonzero(rows))
            out[p, idx] = R[p, idx] @ Z[p]
    return out


def _gram(
    Z: Float[Tensor, "probe n d"], *, tf32: bool = False, ws: _Scratch | None = None
) -> Float[Tensor, "probe d d"]:
    """``ZᵀZ`` per probe. On CPU numpy detects ``A.T @ A`` and calls syrk (about 2× torch.mm)."""
    if Z.device.type == "cuda" and tf32:
        prev = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            return torch.bmm(Z.transpose(1, 2), Z)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = prev
    if Z.device.type != "cpu":
        return torch.bmm(Z.transpose(1, 2), Z)
    Zn = Z.numpy()
    out = _empty(ws, "gram", (Zn.shape[0], Zn.shape[2], Zn.shape[2]))
    G = out.numpy()
    with np.errstate(over="ignore", invalid="ignore"):  # overflow fails that set, later
        for p in range(Zn.shape[0]):
            np.matmul(Zn[p].T, Zn[p], out=G[p])
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
    Z = _empty(ws, name, (P, n_max, d), X.dtype, X.device)
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


class _Block(NamedTuple):
    """A standardized block of rows per activation set (see :func:`_standardize_gram`)."""

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


def _standardize_gram(
    X, rows, *, with_gram=True, precond_only=False, ws=None, scale_rows=True
) -> _Block:
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
    return _Block(Z, gram, idx, valid, mean, scale, trace, bad.cpu().numpy())


def _apply_standardize(X, rows, mean, scale, ws=None):
    """Rows ``rows`` standardized with a fit's ``mean`` and ``scale``: ``Z, idx, valid`` as in
    :class:`_Block`, and the sets whose rows are not finite (zeroed)."""
    Z, idx, valid = _gather_rows(X, rows, ws, "eval")
    Z.sub_(mean[:, None, :]).div_(scale[:, None, :])
    _zero_padding(Z, valid.sum(1))
    bad = _nonfinite_sets(Z, Z.sum(1))
    return Z, idx, valid, bad.cpu().numpy()


# ----------------------------------------------------------------------------------------------
# Logistic solver
# ----------------------------------------------------------------------------------------------


_EIG_MAX_D = 256  # up to this width the preconditioner is always an eigenbasis


class _Precond:
    """Applies ``H0⁻¹`` of the Böhning bound to gradients ``[P, L, G, K, d+1]``.

    ``H0`` is built from one of: the exact Gram (``gram``; a Cholesky inverse when every problem
    shares one C, else an eigendecomposition that serves every C), or a spectral factorization
    ``eig = (ev, V, tail)`` of the bound, given in its units: the top eigenpairs ``ev [P, r]``,
    ``V [P, d, r]`` and one eigenvalue ``tail [P]`` standing in for the rest of the spectrum
    (zero when ``r = d``). The low-rank form comes from a randomized Nyström sketch
    (:func:`_nystrom`) or from a C grid's factorization reused for the refit.
    """

    def __init__(self, gram, n_rows, cinv, cmask, n_obj, *, binary=False, eig=None, ws=None):
        P, L, Gr = cinv.shape
        self.binary = binary
        self.cmask = cmask[:, :, None, :, None].float()  # [P, L, 1, K, 1]
        self.k = cmask.sum(-1)[:, :, None, None, None].float()  # [P, L, 1, 1, 1]
        self.cinv = cinv  # [P, L, G]
        self.n_obj = n_obj[:, :, None, None, None]  # [P, L, 1, 1, 1]
        # binary (one sigmoid logit): H0 = ¼ G; K-class softmax: ½ (I - 11ᵀ/K) ⊗ G
        self.bound = 0.25 if binary else 0.5
        self.b_scale = 1.0 / (self.bound * n_rows.float()[:, None, None, None])  # intercept
        self.chol = None
        self.tail = None
        if eig is not None:  # a spectral factorization of the bound (Nyström sketch or C grid)
            self.ev, self.V, self.tail = eig
            return
        h = gram.float().mul_(self.bound)  # in place: the Gram is not needed afterwards
        uniform = bool((cinv == cinv.reshape(P, -1)[:, :1, None]).all())
        # Small d: an eigenbasis costs little and lets the bound follow the curvature (see
        # _lbfgs), which pays on the near-separable probes of small models.
        if uniform and gram.shape[-1] > _EIG_MAX_D:
            # float32 Cholesky, applied by two triangular solves: measured on the 2-core box
            # for d = 768, factor plus 10 applies took 12 ms per set against 20-30 ms with an
            # explicit inverse (torch or LAPACK potri). A probe whose float32 factorization
            # fails is redone in float64 with a small jitter.
            h.diagonal(dim1=1, dim2=2).add_(cinv.reshape(P, -1)[:, :1])
            chol, bad = _cholesky(h, ws)
            if bool(bad.any()):
                eye = torch.eye(gram.shape[-1], dtype=torch.float64, device=gram.device)
                chol[bad] = torch.linalg.cholesky(h[bad].double() + 1e-6 * eye).float()
            self.chol = chol
            self.V = None
        else:
            ev, V = _eigh(h)
            self.ev = ev.clamp_min(0.0)
            self.V = V
            self.tail = None  # a full basis: no remainder

    def _solve(self, w0, c, sets=slice(None)):
        """``(H0 + c)⁻¹ w0`` for rows ``w0 [p, m, d]`` and shifts ``c [p, m, 1]`` of the activation
        sets ``sets``: by the Cholesky factor, or in the eigenbasis, where a sketch's remainder
        ``I - VVᵀ`` gets the stand-in eigenvalue ``tail``."""
        if self.chol is not None:
            chol = self.chol[sets]
            if w0.shape[1] == 1 and w0.device.type == "cpu" and _lapack.AVAILABLE:
                x = w0.clone(memory_format=torch.contiguous_format)  # strsv works in place
                for q in range(x.shape[0]):
                    _lapack.potrs_lower_vec(chol[q].numpy(), x[q, 0].numpy())
                return x
            return torch.cholesky_solve(w0.mT, chol).mT  # reads the lower triangle
        V, ev = self.V[sets], self.ev[sets][:, None, :]
        coef = torch.bmm(w0, V)
        if self.tail is None:
            return torch.bmm(coef / (ev + c), V.mT)
        dt = self.tail[sets][:, None, None] + c
        return w0 / dt + torch.bmm(coef * (1.0 / (ev + c) - 1.0 / dt), V.mT)

    @property
    def can_rescale(self) -> bool:
        """Whether a curvature scale is free to apply: an exact eigenbasis, not a Cholesky
        factor or a sketch (rescaling a sketch's stand-in tail eigenvalue doubled its passes at
        d = 2048, 61 -> 111 per set)."""
        return self.chol is None and self.tail is None

    def __call__(
        self, g: Tensor, act: np.ndarray | None = None, scale: Tensor | None = None
    ) -> Tensor:
        """``(s·H0)⁻¹ g`` with per-problem curvature scales ``scale [P, L, G]`` (default 1; only
        when :attr:`can_rescale`). Sets outside ``act`` may be skipped (left zero) or computed
        anyway."""
        P, L, Gr, K, D = g.shape
        d = D - 1
        if self.binary:
            gm, g0 = torch.zeros_like(g), g
        else:
            gm = (g * self.cmask).sum(3, keepdim=True) / self.k
            g0 = (g - gm) * self.cmask
        w0 = g0[..., :d].reshape(P, L * Gr * K, d)
        c = self.cinv[:, :, :, None].expand(P, L, Gr, K).reshape(P, L * Gr * K, 1)
        sc = None
        if scale is not None and self.can_rescale:
            # (s·H0 + I/C)⁻¹ = (H0 + I/(sC))⁻¹ / s: a scaled bound is a shifted one
            sc = scale[:, :, :, None].expand(P, L, Gr, K).reshape(P, L * Gr * K, 1)
            c = c / sc
        if g.device.type != "cpu" or act is None or act.all() or d * d * 4 <= _SMALL_BLOCK:
            sol = self._solve(w0, c)
        else:  # per-set loop over the sets still moving (no copies of the d×d factors)
            sol = torch.zeros_like(w0)
            for p in np.flatnonzero(act):
                one = slice(p, p + 1)
                sol[one] = self._solve(w0[one], c[one], one)
        if sc is not None:
            sol = sol / sc
        out = torch.empty_like(g)
        cinv = self.cinv[:, :, :, None, None]
        if self.binary:
            out[..., :d] = sol.reshape(P, L, Gr, K, d)
        else:
            out[..., :d] = sol.reshape(P, L, Gr, K, d) + gm[..., :d] * self.cmask / cinv
        out[..., d:] = g0[..., d:] * self.b_scale[:, :, :, :, None]
        return out * self.n_obj


def _cholesky(h: Float[Tensor, "probe d d"], ws: _Scratch | None) -> tuple[Tensor, Tensor]:
    """Lower Cholesky factors of ``h`` (left intact), column-major per matrix as
    ``cholesky_solve`` reads them without a copy, and a mask of the sets whose float32
    factorization failed.

    On CPU by GIL-free LAPACK (:mod:`curriculens.probes._lapack`) on a scratch copy; only the
    lower triangle is the factor (the rest keeps ``h``; the triangular solves never read it).
    """
    if h.device.type != "cpu" or not _lapack.AVAILABLE:
        chol, info = torch.linalg.cholesky_ex(h)
        return chol, info != 0
    # h is symmetric, so a plain copy viewed column-major is h again
    chol = _empty(ws, "chol", h.shape).copy_(h).mT
    bad = torch.tensor([_lapack.potrf_lower(chol[p].numpy()) != 0 for p in range(h.shape[0])])
    return chol, bad


def _eigh(h: Float[Tensor, "probe d d"]) -> tuple[Tensor, Tensor]:
    """Eigenvalues ``[P, d]`` and eigenvectors (columns) ``[P, d, d]`` of each symmetric ``h``.

    On CPU by GIL-free LAPACK ``ssyevd`` (:mod:`curriculens.probes._lapack`) into fresh arrays
    (the refit keeps them after the chunk's scratch has moved on). SciPy's own wrapper of the
    same routine holds the GIL, which stalled the other worker thread: W1-full with 2 workers
    took 4.1-4.7 s with it against 3.5-3.8 s with ``torch.linalg.eigh``.
    """
    if h.device.type != "cpu" or not _lapack.AVAILABLE:
        return torch.linalg.eigh(h)
    V = h.numpy().copy()
    ev = np.empty(h.shape[:2], np.float32)
    for p in range(V.shape[0]):
        if _lapack.syevd(V[p], ev[p]) != 0:  # did not converge: torch's driver, in float64
            w, v = torch.linalg.eigh(h[p].double())
            ev[p], V[p] = w.float().numpy(), v.float().mT.numpy()
    return torch.from_numpy(ev), torch.from_numpy(V).mT


def _nystrom(Z, trace, rank, seed, inv_scale=None):
    """Randomized Nyström approximation of each Gram ``ZᵀZ`` (Tropp et al. 2017, stable form).

    Costs two ``[n, d] × [d, r]`` products per activation set instead of the ``n·d²`` Gram and
    the ``d³`` factorization. With ``inv_scale [P, d]``, ``Z`` is centered only and the sketch
    is of the Gram of ``Z · diag(inv_scale)``. Returns the top eigenpairs ``ev [P, r]``,
    ``V [P, d, r]`` and ``tail [P]``, the mean of the remaining eigenvalues (from the exact
    trace), which preconditions the rest.
    """
    P, n, d = Z.shape
    gen = torch.Generator().manual_seed(seed)
    omega = torch.linalg.qr(torch.randn(d, rank, generator=gen, dtype=torch.float64)).Q
    om32 = omega.to(Z.device, torch.float32)
    s = torch.ones(P, d, device=Z.device) if inv_scale is None else inv_scale
    om_s = s[:, :, None] * om32  # [P, d, r]
    if Z.device.type == "cpu":
        Y = torch.stack([Z[p].T @ (Z[p] @ om_s[p]) for p in range(P)])
    else:
        Y = torch.bmm(Z.mT, torch.bmm(Z, om_s))
    Y = (s[:, :, None] * Y).double()
    om = omega.to(Z.device)
    # shift for stability; the floor keeps an all-zero set (a failed probe) factorizable
    nu = (math.sqrt(d) * torch.finfo(torch.float32).eps * torch.linalg.matrix_norm(Y)).clamp_min(
        1e-12
    )
    Yn = Y + nu[:, None, None] * om
    B = om.T @ Yn
    B = 0.5 * (B + B.mT)
    chol, info = torch.linalg.cholesky_ex(B)
    if bool((info != 0).any()):
        eye = torch.eye(rank, dtype=B.dtype, device=B.device)
        chol = torch.linalg.cholesky(
            B + 1e-8 * B.diagonal(dim1=1, dim2=2).amax(1)[:, None, None] * eye
        )
    F = torch.linalg.solve_triangular(chol, Yn.mT, upper=False).mT  # Yn C⁻ᵀ
    U, S, _ = torch.linalg.svd(F, full_matrices=False)
    ev = (S.square() - nu[:, None]).clamp_min(0.0)
    tail = ((trace.double() - ev.sum(1)) / max(d - rank, 1)).clamp_min(0.0)
    return ev.float(), U.float(), tail.float()


def _lbfgs(
    Z,
    sw,
    codes,
    cmask,
    cinv,
    n_obj,
    precond,
    *,
    tol,
    max_iter,
    history,
    binary=False,
    x0=None,
    inv_scale=None,
):
    """Lockstep batched L-BFGS on ``f = (Σ sw·CE + cinv/2·‖W‖²) / n_obj`` for every problem.

    Z: [P, n, d]; sw: [P, L, n]; codes: [P, L, n]; cmask: [P, L, K]; cinv: [P, L, G].
    Returns parameters ``[P, L, G, K, d+1]`` (last column = intercept), iterations, converged.
    With ``binary`` (every problem has two classes) K is 1 and the loss is the sigmoid log-loss.
    With ``inv_scale [P, d]``, ``Z`` is centered only and the features are ``Z · diag(inv_scale)``.
    """
    P, n, d = Z.shape
    L, Gr, K = cinv.shape[1], cinv.shape[2], cmask.shape[2]
    dev = Z.device
    codes_g = codes.clamp_min(0)[:, :, None, None, :].expand(P, L, Gr, 1, n)
    neg_inf = ~cmask[:, :, None, :, None]
    sw_g = sw[:, :, None, :]  # [P, L, 1, n]
    cinv_w = cinv[:, :, :, None, None]
    inv_n = 1.0 / n_obj[:, :, None]  # [P, L, 1]
    k_cls = cmask.sum(-1).float().clamp_min(2.0)[:, :, None]  # [P, L, 1]
    adapt = precond.can_rescale
    scale = torch.ones(P, L, Gr, device=dev) if adapt else None  # of the bound, per problem

    if binary:
        K = 1
        target = codes.clamp_min(0)[:, :, None, None, :].float()  # [P, L, 1, 1, n]
        sign = 2.0 * target - 1.0

    def margins(x, act=None):
        """``Z·W + b`` per problem, ``[P, L, G, K, n]``: one read of the activations."""
        W, b = x[..., :d], x[..., d]
        if col is not None:
            W = W * col
        z = _rows_matmul(W.reshape(P, L * Gr * K, d), Z, act).view(P, L, Gr, K, n)
        return z + b[..., None]

    def loss(z, x):
        """Objective, residuals ``R = ∂CE/∂z`` (row-weighted) and, when the bound adapts, the mean
        curvature relative to it, from margins alone: no read of the activations."""
        W = x[..., :d]
        curv = f_zero  # unused unless adapting
        if binary:
            nll = torch.nn.functional.softplus(-sign * z).squeeze(3)
            prob = torch.sigmoid(z)
            if adapt:  # mean curvature relative to the bound's ¼: 4·p(1-p), averaged over rows
                curv = (4.0 * prob * (1.0 - prob)).squeeze(3).mul_(sw_g).sum(-1) * inv_n
            R = (prob - target) * sw_g[:, :, :, None, :]
        else:
            logp = torch.log_softmax(z.masked_fill(neg_inf, -math.inf), dim=3)
            nll = -logp.gather(3, codes_g).squeeze(3)
            R = logp.exp()
            if adapt:  # mean curvature relative to the bound's ½ on centered directions
                purity = R.square().sum(3)  # [P, L, G, n]
                curv = ((1.0 - purity) * sw_g).sum(-1) * inv_n * 2.0 / (k_cls - 1.0)
            R.scatter_add_(3, codes_g, -torch.ones_like(codes_g, dtype=R.dtype))
            R = R * sw_g[:, :, :, None, :]
        f = ((nll * sw_g).sum(-1) + 0.5 * cinv * W.square().sum((-1, -2))) * inv_n
        return f, R, curv

    def grad(R, x, act=None):
        """Gradient from residuals: one read of the activations."""
        g = torch.empty_like(x)
        zr = _cols_matmul(R.view(P, L * Gr * K, n), Z, act).view(P, L, Gr, K, d)
        g[..., :d] = (zr if col is None else zr * col) + cinv_w * x[..., :d]
        g[..., d] = R.sum(-1)
        return g * inv_n[..., None, None]

    def rows_of(mask):
        """Per-set rows ``[P, L·G·K]`` of the problems in ``mask [P, L, G]`` (for the loop path)."""
        m = mask.cpu().numpy().reshape(P, L * Gr, 1)
        return np.repeat(m, K, axis=2).reshape(P, -1)

    def dot(a, b):
        return (a * b).sum((-1, -2))

    f_zero = torch.zeros(P, L, Gr, device=dev)
    col = None if inv_scale is None else inv_scale[:, None, None, None, :]
    if x0 is None:  # zero weights and intercepts: the margins are zero without a read
        x = torch.zeros(P, L, Gr, K, d + 1, device=dev)
        z = torch.zeros(P, L, Gr, K, n, device=dev)
        reads = np.ones(P, np.int64)
    else:
        x = x0.to(dev).clone()
        z = margins(x)
        reads = np.full(P, 2, np.int64)
    f, R, curv = loss(z, x)
    g = grad(R, x)
    n_iter = torch.zeros(P, L, Gr, dtype=torch.int64, device=dev)
    done = g.abs().amax((-1, -2)) <= tol
    S: list[Tensor] = []
    Y: list[Tensor] = []
    RHO: list[Tensor] = []
    for _ in range(max_iter):
        if bool(done.all()):
            break
        # two-loop recursion
        q = g.clone()
        alpha = []
        for s_i, y_i, r_i in zip(reversed(S), reversed(Y), reversed(RHO), strict=True):
            a = r_i * dot(s_i, q)
            q -= a[..., None, None] * y_i
            alpha.append(a)
        r = precond(q, (~done).flatten(1).any(1).cpu().numpy(), scale)
        for (s_i, y_i, r_i), a in zip(zip(S, Y, RHO, strict=True), reversed(alpha), strict=True):
            beta = r_i * dot(y_i, r)
            r += s_i * (a - beta)[..., None, None]
        direction = -r
        gd = dot(g, direction)
        bad_dir = gd >= 0
        if bool(bad_dir.any()):
            fallback = -precond(g, scale=scale)
            direction = torch.where(bad_dir[..., None, None], fallback, direction)
            gd = dot(g, direction)
        # Armijo backtracking on the margins: one read for Z·direction, then every trial step is
        # elementwise; only activation sets with a problem still moving are read
        moving = ~done
        act = rows_of(moving)
        reads += act.any(1)
        zd = margins(direction, act)
        step = moving.float()
        need = moving
        f_new, R_new, curv_new = f, R, curv
        for _ls in range(21):
            x_new = x + step[..., None, None] * direction
            z_new = z + step[..., None, None] * zd
            f_try, R_try, curv_try = loss(z_new, x_new)
            f_new = torch.where(need, f_try, f_new)
            curv_new = torch.where(need, curv_try, curv_new)
            R_new = torch.where(need[..., None, None], R_try, R_new)
            ok = (f_new <= f + 1e-4 * step * gd) | (step == 0)
            if bool(ok.all()):
                break
            need = ~ok
            step = torch.where(ok, step, step * 0.5 if _ls < 19 else torch.zeros_like(step))
        moved = step > 0
        act = rows_of(moved)
        reads += act.any(1)
        g_new = torch.where(moved[..., None, None], grad(R_new, x_new, act), g)
        s_new = x_new - x
        y_new = g_new - g
        sy = dot(s_new, y_new)
        rho = torch.where(sy > 1e-12, 1.0 / sy.clamp_min(1e-12), torch.zeros_like(sy))
        S.append(s_new)
        Y.append(y_new)
        RHO.append(rho)
        if len(S) > history:
            S.pop(0)
            Y.pop(0)
            RHO.pop(0)
        n_iter += moving.long()
        stalled = (step == 0) & moving
        x, z, f, R, g, curv = x_new, z_new, f_new, R_new, g_new, curv_new
        done = done | (g.abs().amax((-1, -2)) <= tol) | stalled
        if adapt:
            # The Böhning bound overstates the curvature once predictions are confident
            # (p(1-p) ≪ ¼), which makes weakly regularized problems crawl. Rescale it to the
            # measured mean curvature when that moved by more than 2x. Only H0 changes, so the
            # stored (s, y) pairs stay valid. On W1-full this cut passes per set from 33 to 23.
            target_s = curv.clamp(0.02, 1.0)
            ratio = target_s / scale
            change = ((ratio > 2.0) | (ratio < 0.5)) & ~done
            scale = torch.where(change, target_s, scale)
    passes = (reads + 1) // 2  # a pass is two reads of the activations
    converged = g.abs().amax((-1, -2)) <= tol
    return x, n_iter, converged, passes


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
    Ztr, gram, idx_tr, valid_tr, mean, scale, trace, nonfinite_tr = _standardize_gram(
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
        ev, V, tail = _nystrom(Ztr, trace, rank, seed, inv_scale)
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
    precond = _Precond(gram, n_rows, cinv, cmask_t, n_obj, binary=binary, eig=eig, ws=ws)
    x, n_iter, conv, passes = _lbfgs(
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
    Zte, idx_te, valid_te, bad_te = _apply_standardize(X, eval_rows, mean, scale, ws)
    Gr, K = cinv.shape[2], cmask.shape[2]
    W, b = x[..., :-1], x[..., -1]
    logits = _rows_matmul(W.reshape(P, L * Gr * K, -1), Zte).view(P, L, Gr, K, -1)
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


def _auroc(score, pos):
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _metrics(logp, true_codes, k):
    """Score logp [k_all, n] against codes [n] (-1 = unseen): acc, bacc, auroc, xent, correct."""
    lp = logp[:k]
    pred = lp.argmax(0)
    correct = (pred == true_codes).astype(np.float32)
    if correct.size == 0:
        nan = float("nan")
        return nan, nan, nan, nan, correct
    acc = float(correct.mean(dtype=np.float64))
    present = np.unique(true_codes)
    recalls = [float(correct[true_codes == c].mean(dtype=np.float64)) for c in present]
    bacc = float(np.mean(recalls))
    p_true = np.where(
        true_codes >= 0, np.exp(lp[np.clip(true_codes, 0, k - 1), np.arange(lp.shape[1])]), 0.0
    )
    xent = float(-np.log(np.maximum(p_true, _EPS_PROB)).mean())
    auroc = _auroc(lp[1] - lp[0], true_codes == 1) if k == 2 and (true_codes >= 0).all() else np.nan
    return acc, bacc, float(auroc), xent, correct


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
    prep = _prepare(X, y, train, mask, device, check_finite=False)
    Xt, yl, tr, te = prep.X, prep.y, prep.train, prep.test
    P, L, N = yl.shape
    d = Xt.shape[2]
    rank = _preconditioner_rank(precond_rank, d)
    Cs_arr = positive_grid(Cs, "Cs")
    failure = [list(r) for r in prep.failure]
    codes, classes = _encode(yl, tr, failure)
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

    scratch = _ScratchPool()  # work buffers reused by the grid solve and the refit

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
                failure[p] = [f or _NONFINITE.format(p=p) for f in failure[p]]
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
                a, bb, au, xe, cor = _metrics(
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
