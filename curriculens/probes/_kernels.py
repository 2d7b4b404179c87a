"""Per-set products of the probe engine: one bmm, or a loop over the sets still moving."""

from __future__ import annotations

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
