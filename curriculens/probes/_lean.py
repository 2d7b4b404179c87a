"""The lockstep L-BFGS of :mod:`curriculens.probes._lbfgs` for one activation set, in numpy.

A chunk of one large activation set (on CPU, binary problems, a Cholesky preconditioner) is solved
here instead: the same iterations, line search and stopping rule on ``[m, ·]`` arrays (``m`` the
set's label × C problems) rather than ``[P, L, G, K, ·]`` tensors. Solving one set at a time keeps
its training block in the last-level cache for every pass (a 3200 × 768 block is 9.8 MB), where
lockstep chunks of eight sets stream 78 MB from memory per read; and numpy's per-call overhead on
these small arrays is a fraction of torch's, which matters once the loop is per set.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import softplus

from curriculens.probes import _lapack
from curriculens.probes._kernels import times_block, times_rows
from curriculens.probes._precond import Precond


def _einsum_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("md,md->m", a, b)


#: Row-wise dot products ``[m, k] x [m, k] -> [m]``: ``np.vecdot`` (a ufunc, ~0.7 µs a call) on
#: numpy >= 2, einsum (~1.5 µs) on the numpy 1.26 the project still allows.
row_dot = getattr(np, "vecdot", _einsum_dot)
_dot = row_dot


class BinaryProblems:
    """``f = (Σ sw·logloss + cinv/2·‖W‖²) / n_obj`` of ``m`` binary problems on one block."""

    def __init__(self, Z, col, sw, target, cinv, n_obj, shift=None):
        self.Z = Z  # [n, d] centered rows
        self.col = col  # [d] or [m, d] feature scales folded into the weights
        self.shift = shift  # None or [m, d]: each problem's mean minus the block's
        self.sw = torch.from_numpy(sw)  # [m, n]
        self.target = torch.from_numpy(target)  # [m, n] 0/1
        self.neg_sign = 1.0 - 2.0 * self.target
        self.cinv = cinv  # [m]
        self.inv_n = 1.0 / n_obj  # [m]
        self.d = Z.shape[1]

    def margins(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``(Z - shift)·(W·col) + b`` ``[m, n]``: one read of the block (only ``rows``)."""
        if rows is not None and rows.size == x.shape[0]:
            rows = None
        if rows is None:
            return self._margins(x, slice(None))
        z = np.zeros((x.shape[0], self.Z.shape[0]), np.float32)
        if rows.size:
            z[rows] = self._margins(x, rows)
        return z

    def _margins(self, x, sel):
        d = self.d
        col = self.col if self.col.ndim == 1 else self.col[sel]
        Wc = x[sel, :d] * col
        b = x[sel, d:]
        if self.shift is not None:
            b = b - _dot(Wc, self.shift[sel])[:, None]
        z = times_rows(Wc, self.Z)
        z += b
        return z

    def loss(self, z: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective ``[m]`` and row-weighted residuals ``[m, n]``, from margins alone (torch's
        elementwise kernels on views: numpy's ``logaddexp`` took 8x longer)."""
        zt = torch.from_numpy(z)
        nll = (softplus(self.neg_sign * zt) * self.sw).sum(1).numpy()
        R = ((torch.sigmoid(zt) - self.target) * self.sw).numpy()
        W = x[:, : self.d]
        f = (nll + 0.5 * self.cinv * _dot(W, W)) * self.inv_n
        return f.astype(np.float32), R

    def grad(self, R: np.ndarray, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Gradient ``[m, d+1]`` from residuals: one read of the block (only ``rows``)."""
        d = self.d
        g = np.zeros_like(x)
        sel = slice(None) if rows is None else rows
        Rs = R[sel]
        zr = times_block(Rs, self.Z)
        g[sel, d] = Rs.sum(1)
        if self.shift is not None:
            zr -= g[sel, d][:, None] * self.shift[sel]
        col = self.col if self.col.ndim == 1 else self.col[sel]
        g[sel, :d] = zr * col + self.cinv[sel, None] * x[sel, :d]
        return g * self.inv_n[:, None]


class _CholeskyBound:
    """``H0⁻¹`` of a binary :class:`Precond` with a Cholesky factor, applied to ``[m, d+1]``
    arrays without torch's per-call overhead: the factor's two triangular solves on the weights,
    ``1 / (¼ n)`` on the intercept, times ``n_obj`` (as ``Precond.__call__`` does)."""

    def __init__(self, precond: Precond, L: int, Gr: int):
        self.chol = precond.chol[0]  # [d, d] lower factor, column-major
        self.chol_np = self.chol.numpy() if _lapack.AVAILABLE else None
        self.b_scale = float(precond.b_scale.reshape(-1)[0])
        n_obj = precond.n_obj.reshape(L)
        self.n_obj = np.repeat(n_obj.numpy(), Gr).astype(np.float32)[:, None]  # [m, 1]

    def __call__(self, q: np.ndarray) -> np.ndarray:
        d = q.shape[1] - 1
        out = np.empty_like(q)
        if self.chol_np is not None and q.shape[0] == 1:
            w = np.ascontiguousarray(q[0, :d])
            _lapack.potrs_lower_vec(self.chol_np, w)
            out[0, :d] = w
        else:
            w = torch.from_numpy(np.ascontiguousarray(q[:, :d]))
            out[:, :d] = torch.cholesky_solve(w.T, self.chol).T.numpy()
        out[:, d] = q[:, d] * self.b_scale
        return out * self.n_obj


def lbfgs_one_set(
    Z: Tensor,
    sw: Tensor,
    codes: Tensor,
    cinv: Tensor,
    n_obj: Tensor,
    precond: Precond,
    *,
    tol: float,
    max_iter: int,
    history: int,
    x0: Tensor | None = None,
    inv_scale: Tensor,
):
    """:func:`~curriculens.probes._lbfgs.lbfgs` for one set of binary problems (P = 1, K = 1).

    Z: [1, n, d] centered rows; sw, codes: [1, L, n]; cinv, n_obj: [1, L, G] and [1, L];
    inv_scale: [1, d]. Returns ``x [1, L, G, 1, d+1]``, iterations, converged, passes, as ``lbfgs``.
    """
    _, L, Gr = cinv.shape
    d = Z.shape[2]
    m = L * Gr
    Zn = Z[0].numpy()
    swn = np.repeat(sw[0].numpy(), Gr, axis=0)  # [m, n], problem = (label, C)
    target = np.repeat(codes[0].clamp_min(0).numpy().astype(np.float32), Gr, axis=0)
    pb = BinaryProblems(
        Zn,
        inv_scale[0].numpy(),
        swn,
        target,
        cinv[0].reshape(m).numpy().astype(np.float32),
        np.repeat(n_obj[0].numpy(), Gr).astype(np.float32),
    )
    shape = (1, L, Gr, 1, d + 1)
    h0_inv = _CholeskyBound(precond, L, Gr)
    x, n_iter, converged, reads, _z = lbfgs_loop(
        pb,
        h0_inv,
        None if x0 is None else x0.reshape(m, d + 1).numpy(),
        tol=tol,
        max_iter=max_iter,
        history=history,
    )
    passes = np.array([(reads + 1) // 2], np.int64)
    return (
        torch.from_numpy(x).view(shape),
        torch.from_numpy(n_iter).view(1, L, Gr),
        torch.from_numpy(converged).view(1, L, Gr),
        passes,
    )


def lbfgs_loop(pb: BinaryProblems, h0_inv, x0, *, tol, max_iter, history):
    """The iterations of :func:`~curriculens.probes._lbfgs.lbfgs` on the ``m`` problems of
    ``pb``: two-loop recursion with ``h0_inv`` as the initial inverse Hessian, Armijo
    backtracking on the margins, and the same stopping rule. Returns the weights ``[m, d+1]``,
    iterations ``[m]``, converged ``[m]``, reads of the block, and the final margins ``[m, n]``.
    """
    m, n = pb.sw.shape
    if x0 is None:  # zero weights and intercepts: the margins are zero without a read
        x = np.zeros((m, pb.d + 1), np.float32)
        z = np.zeros((m, n), np.float32)
        reads = 1
    else:
        x = np.array(x0, np.float32)
        z = pb.margins(x)
        reads = 2
    f, R = pb.loss(z, x)
    g = pb.grad(R, x)
    n_iter = np.zeros(m, np.int64)
    done = np.abs(g).max(1) <= tol
    S: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    RHO: list[np.ndarray] = []
    for _ in range(max_iter):
        if done.all():
            break
        # two-loop recursion with the preconditioner as the initial inverse Hessian
        q = g.copy()
        alpha = []
        for s_i, y_i, r_i in zip(reversed(S), reversed(Y), reversed(RHO), strict=True):
            a = r_i * _dot(s_i, q)
            q -= a[:, None] * y_i
            alpha.append(a)
        r = h0_inv(q)
        for (s_i, y_i, r_i), a in zip(zip(S, Y, RHO, strict=True), reversed(alpha), strict=True):
            beta = r_i * _dot(y_i, r)
            r += s_i * (a - beta)[:, None]
        direction = -r
        gd = _dot(g, direction)
        bad_dir = gd >= 0
        if bad_dir.any():
            fallback = -h0_inv(g)
            direction = np.where(bad_dir[:, None], fallback, direction)
            gd = _dot(g, direction)
        moving = ~done
        rows = np.flatnonzero(moving)
        reads += 1
        zd = pb.margins(direction, None if moving.all() else rows)
        # Armijo backtracking on the margins: every trial step is elementwise
        step = moving.astype(np.float32)
        need = moving.copy()
        f_new, R_new = f, R
        for ls in range(21):
            x_new = x + step[:, None] * direction
            z_new = z + step[:, None] * zd
            f_try, R_try = pb.loss(z_new, x_new)
            if ls == 0 and need.all():  # every problem tries its first step: nothing to keep
                f_new, R_new = f_try, R_try
            else:
                f_new = np.where(need, f_try, f_new)
                R_new = np.where(need[:, None], R_try, R_new)
            ok = (f_new <= f + 1e-4 * step * gd) | (step == 0)
            if ok.all():
                break
            need = ~ok
            step = np.where(ok, step, step * 0.5 if ls < 19 else 0.0).astype(np.float32)
        moved = step > 0
        g_new = g
        if moved.any():
            reads += 1
            g_new = np.where(
                moved[:, None], pb.grad(R_new, x_new, None if moved.all() else moved), g
            )
        s_new = x_new - x
        y_new = g_new - g
        sy = _dot(s_new, y_new)
        rho = np.where(sy > 1e-12, 1.0 / np.maximum(sy, 1e-12), 0.0).astype(np.float32)
        S.append(s_new)
        Y.append(y_new)
        RHO.append(rho)
        if len(S) > history:
            S.pop(0)
            Y.pop(0)
            RHO.pop(0)
        n_iter += moving
        stalled = (step == 0) & moving
        x, z, f, R, g = x_new, z_new, f_new, R_new, g_new
        done = done | (np.abs(g).max(1) <= tol) | stalled
    converged = np.abs(g).max(1) <= tol
    return x, n_iter, converged, reads, z
