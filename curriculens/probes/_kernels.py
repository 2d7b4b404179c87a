"""Per-set products of the probe engine: one bmm, or a loop over the sets still moving; and the
products of many problems with one block on oneDNN's kernels."""

from __future__ import annotations

import functools

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

SMALL_BLOCK = 1 << 20  # bytes of one activation set below which lockstep kernels stay batched


def _batched(Z: Tensor, act) -> bool:
    """Whether to run one bmm over every set rather than a loop over the sets still moving.

    On GPU always. On CPU when nothing is skipped, or when the sets are small: there a Python
    loop costs more than the skipped work (30 sets of 300 × 128: loop 1.4-1.8 ms, bmm
    0.6-0.8 ms for both products). For large sets (3200 × 768) bmm and the loop cost the same
    per set, so the loop wins by skipping the sets that have converged.
    """
    if Z.device.type != "cpu" or act is None:
        return True
    return Z.shape[1] * Z.shape[2] * Z.element_size() <= SMALL_BLOCK or bool(act.all())


def rows_matmul(W: Float[Tensor, "probe m d"], Z: Float[Tensor, "probe n d"], act=None) -> Tensor:
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


def cols_matmul(R: Float[Tensor, "probe m n"], Z: Float[Tensor, "probe n d"], act=None) -> Tensor:
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


# ----------------------------------------------------------------------------------------------
# Products of many problems' weights with one block, on oneDNN's float32 kernels
# ----------------------------------------------------------------------------------------------

#: From this many rows of weights (problems) on, :func:`times_rows` and :func:`times_block` use
#: oneDNN. Measured on the 2-core box (AVX-512, one thread, a 4000 x 768 block, best of 9):
#: margins / gradients of 2 problems 0.69 / 0.71 ms with numpy (OpenBLAS runs its AVX2 kernels
#: on this CPU) against 0.36 / 0.14 ms, of 8 problems 0.84 / 0.76 against 0.53 / 0.27 ms, of 35
#: problems 3.35 / 3.01 against 1.61 / 1.75 ms; for one problem the two are on par (0.14 ms).
ONEDNN_MIN_ROWS = 2


@functools.cache
def _onednn_linear():
    """oneDNN's float32 ``A @ Bᵀ`` (``torch.ops.mkldnn._linear_pointwise``, a private op that
    torch's own compiler calls) when it runs here and agrees with a plain product, else None."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        gen = torch.Generator().manual_seed(0)
        a, b = torch.randn(9, 16, generator=gen), torch.randn(20, 16, generator=gen)
        ok = torch.allclose(op(a, b, None, "none", [], ""), a @ b.T, atol=1e-4)
        c = torch.randn(16, 20, generator=gen)  # a transposed view as the weight
        ok = ok and torch.allclose(op(a, c.T, None, "none", [], ""), a @ c, atol=1e-4)
    except (AttributeError, RuntimeError):
        return None
    return op if ok else None


def times_rows(W: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """``W @ Zᵀ`` ``[m, n]`` for weights ``W [m, d]`` and rows ``Z [n, d]`` (float32).

    >>> W, Z = np.ones((9, 3), np.float32), np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> times_rows(W, Z)[0].tolist()
    [3.0, 12.0]
    """
    op = _onednn_linear() if W.shape[0] >= ONEDNN_MIN_ROWS and min(Z.shape) > 0 else None
    if op is None:
        return W @ Z.T
    return op(torch.from_numpy(W), torch.from_numpy(Z), None, "none", [], "").numpy()


def times_block(R: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """``R @ Z`` ``[m, d]`` for row weights ``R [m, n]`` and rows ``Z [n, d]`` (float32).

    >>> R, Z = np.ones((9, 2), np.float32), np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> times_block(R, Z)[0].tolist()
    [3.0, 5.0, 7.0]
    """
    op = _onednn_linear() if R.shape[0] >= ONEDNN_MIN_ROWS and min(Z.shape) > 0 else None
    if op is None:
        return R @ Z
    return op(torch.from_numpy(R), torch.from_numpy(Z).T, None, "none", [], "").numpy()


#: Columns per block of :func:`gram`; from twice this width on, the Gram is blocked on oneDNN.
GRAM_BLOCK = 192


def gram(Z: Float[Tensor, "n d"], out: Float[Tensor, "d d"], zt: Tensor) -> Float[Tensor, "d d"]:
    """``ZᵀZ`` into ``out`` in float32: the upper blocks of ``GRAM_BLOCK`` columns on oneDNN
    from a transposed copy of ``Z`` (in the work buffer ``zt``, ``[d, n]``), mirrored below;
    or numpy's syrk when oneDNN is missing or ``d`` is small.

    numpy's OpenBLAS runs its AVX2 kernels on this AVX-512 CPU: for a 3200 x 768 block, one
    thread, syrk took 17.0 ms, the transposed copy 1.2 ms and the 10 blocks of 192 columns
    10.8 ms (3 blocks of 384: 12.9 ms; one full product, which does twice syrk's work, 17.3 ms).
    Where the BLAS has kernels as wide as oneDNN's the blocks would lose (they do 1.25x syrk's
    work), so the blocks run only on AVX-512 CPUs (:func:`_blocks_pay`).

    >>> Z = torch.randn(50, 400)
    >>> G = gram(Z, torch.empty(400, 400), torch.empty(400, 50))
    >>> bool(torch.allclose(G, Z.T @ Z, atol=1e-3)), bool((G == G.T).all())
    (True, True)
    """
    n, d = Z.shape
    op = _onednn_linear() if d >= 2 * GRAM_BLOCK and n > 0 and _blocks_pay() else None
    if op is None:
        Zn = Z.numpy()
        np.matmul(Zn.T, Zn, out=out.numpy())
        return out
    return _blocked_gram(op, Z, out, zt)


def _blocked_gram(op, Z, out, zt):
    d = Z.shape[1]
    zt.copy_(Z.T)
    nb = max(2, round(d / GRAM_BLOCK))
    e = [round(i * d / nb) for i in range(nb + 1)]
    for i in range(nb):
        for j in range(i, nb):
            blk = op(zt[e[i] : e[i + 1]], zt[e[j] : e[j + 1]], None, "none", [], "")
            out[e[i] : e[i + 1], e[j] : e[j + 1]] = blk
            if j != i:
                out[e[j] : e[j + 1], e[i] : e[i + 1]] = blk.T
    return out


#: OpenBLAS kernel families with AVX-512 (where numpy's syrk is as wide as oneDNN's kernels)
AVX512_BLAS = ("skylakex", "cooperlake", "sapphirerapids")


@functools.cache
def _blocks_pay() -> bool:
    """Whether the blocked oneDNN Gram is used: where torch's CPU kernels are AVX-512 ones
    (``torch.backends.cpu.get_cpu_capability()``) and numpy's BLAS is not known to have
    AVX-512 kernels of its own (OpenBLAS's kernel family, read with threadpoolctl).

    Decided by the machine, not by timing the two in the process: a timed choice could fall
    either way on a loaded machine, and the two Grams round differently, so stored probe scores
    would depend on the load when a sweep started. On the 2-core AVX-512 box (numpy's OpenBLAS
    on its ``Haswell`` AVX2 kernels) the blocks took 10.8 ms against syrk's 17.0 ms (a 3200 x
    768 block, one thread); where the BLAS is as wide, syrk does 0.8x the work and stays.
    """
    if _onednn_linear() is None or torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False
    try:
        from threadpoolctl import threadpool_info

        arch = {
            str(i.get("architecture", "")).lower()
            for i in threadpool_info()
            if "numpy" in str(i.get("filepath", ""))
        }
    except Exception:  # threadpoolctl missing or failing: keep the CPU rule  # noqa: BLE001
        return True
    return not (arch & set(AVX512_BLAS))
