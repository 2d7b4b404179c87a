"""Preconditioners of the logistic solver: the Böhning bound by Cholesky, eigenbasis or Nyström."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from curriculens.probes import _lapack
from curriculens.probes._kernels import SMALL_BLOCK
from curriculens.probes._prepare import Scratch, work_tensor


class Spectrum(NamedTuple):
    """A spectral factorization of the bound: top eigenpairs and a stand-in for the rest."""

    ev: Tensor  # [P, r] eigenvalues
    V: Tensor  # [P, d, r] eigenvectors (columns)
    tail: Tensor | None  # [P] eigenvalue of the remainder; None for a full basis (r = d)


EIG_MAX_D = 256  # up to this width the preconditioner is always an eigenbasis


class Precond:
    """Applies ``H0⁻¹`` of the Böhning bound to gradients ``[P, L, G, K, d+1]``.

    ``H0`` is built from one of: the exact Gram (``gram``; a Cholesky inverse when every problem
    shares one C, else an eigendecomposition that serves every C), or a spectral factorization
    ``eig = (ev, V, tail)`` of the bound, given in its units: the top eigenpairs ``ev [P, r]``,
    ``V [P, d, r]`` and one eigenvalue ``tail [P]`` standing in for the rest of the spectrum
    (zero when ``r = d``). The low-rank form comes from a randomized Nyström sketch
    (:func:`nystrom`) or from a C grid's factorization reused for the refit.
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
        # _lbfgs.lbfgs), which pays on the near-separable probes of small models.
        if uniform and gram.shape[-1] > EIG_MAX_D:
            # float32 Cholesky, applied by two triangular solves: measured on the 2-core box
            # for d = 768, factor plus 10 applies took 12 ms per set against 20-30 ms with an
            # explicit inverse (torch or LAPACK potri). A probe whose float32 factorization
            # fails is redone in float64 with a small jitter.
            h.diagonal(dim1=1, dim2=2).add_(cinv.reshape(P, -1)[:, :1])
            chol, bad = cholesky_lower(h, ws)
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
        if g.device.type != "cpu" or act is None or act.all() or d * d * 4 <= SMALL_BLOCK:
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


def cholesky_lower(h: Float[Tensor, "probe d d"], ws: Scratch | None) -> tuple[Tensor, Tensor]:
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
    chol = work_tensor(ws, "chol", h.shape).copy_(h).mT
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


def nystrom(Z, trace, rank, seed, inv_scale=None):
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
