"""Minimum description length probing (Voita & Titov 2020), online code, on the fused engine.

The data are sent in blocks. The first block is sent with a uniform code. Every later block is
sent with a probe trained on all the earlier blocks. All blocks are fit in one fused solve: each
block is one "activation set", a view of the same activations with its own train mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int

from curriculens.errors import ProbeError
from curriculens.probes.fused import fit_logistic_batch

__all__ = ["MDLResult", "VOITA_FRACTIONS", "mdl_online_codelength"]

#: Block boundaries of Voita & Titov (2020), in percent of the data.
VOITA_FRACTIONS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25.0, 50.0, 100.0)


@dataclass(frozen=True, kw_only=True)
class MDLResult:
    """Online codelength of a label set given the activations.

    Attributes:
        codelength_bits: Total online codelength in bits.
        uniform_bits: Codelength of the uniform code, ``n · log2(K)``.
        compression: ``uniform_bits / codelength_bits`` (1 = nothing learned).
        block_bits: Bits spent on each block, the first one uniform.
        boundaries: Row counts at the block ends.
    """

    codelength_bits: float
    uniform_bits: float
    compression: float
    block_bits: np.ndarray
    boundaries: np.ndarray


def mdl_online_codelength(
    X: Float[np.ndarray, "n d"],
    y: Int[np.ndarray, " n"],
    *,
    fractions: Sequence[float] = VOITA_FRACTIONS,
    C: float = 1.0,
    seed: int = 0,
    device: str | None = None,
    order: np.ndarray | None = None,
) -> MDLResult:
    """Online MDL codelength of ``y`` given ``X`` with L2 logistic probes, one fused solve.

    A block that cannot be fit yet (too few rows, a single class so far) is sent with the
    uniform code, like the first block.

    Args:
        X: Activations ``[n, d]``.
        y: Integer labels ``[n]``.
        fractions: Increasing block ends in percent of the rows; the last must be 100.
        C: Inverse L2 strength of every block's probe.
        seed: Seed of the row order.
        device: Torch device of the solve.
        order: The order rows are sent in (a permutation of ``range(n)``), instead of a seeded
            shuffle. Send whole groups together so no block is coded by a probe that saw the
            same entity (the sweep orders rows by group).

    Returns:
        An :class:`MDLResult`.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 8)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    >>> mdl_online_codelength(X, y).compression > 3
    True
    """
    X = np.asarray(X, np.float32)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ProbeError(
            f"expected X [n, d] and y [n]; received X {X.shape}, y {y.shape}. "
            "Pass one activation set and its labels."
        )
    fr = np.asarray(list(fractions), np.float64)
    if fr.size < 2 or np.any(np.diff(fr) <= 0) or fr[-1] != 100.0 or fr[0] <= 0:
        raise ProbeError(
            f"fractions must increase from above 0 to exactly 100; received {list(fractions)}."
        )
    n = X.shape[0]
    classes, codes = np.unique(y, return_inverse=True)
    k = max(classes.size, 2)
    if order is None:
        order = np.random.default_rng(seed).permutation(n)
    elif sorted(np.asarray(order).tolist()) != list(range(n)):
        raise ProbeError(f"order must be a permutation of range({n}); received {order!r}.")
    Xo, yo = X[order], codes[order]
    ends = np.unique(np.maximum(np.round(fr / 100.0 * n).astype(np.int64), 1))
    ends[-1] = n
    B = ends.size - 1  # blocks sent with a trained probe
    block_bits = np.zeros(ends.size)
    block_bits[0] = ends[0] * math.log2(k)
    if B > 0:
        rows = np.arange(n)
        train = rows[None, :] < ends[:-1, None]
        mask = rows[None, :] < ends[1:, None]
        Xt = torch.from_numpy(Xo).expand(B, n, X.shape[1])  # views, no copies
        res = fit_logistic_batch(
            Xt, np.broadcast_to(yo, (B, n)), train=train, mask=mask, Cs=(C,), device=device
        )
        for b in range(B):
            size = ends[b + 1] - ends[b]
            if res.failure[b][0] is None:
                block_bits[b + 1] = res.xent[b, 0] * res.n_test[b, 0] / math.log(2)
            else:
                block_bits[b + 1] = size * math.log2(k)
    total = float(block_bits.sum())
    uniform = n * math.log2(k)
    return MDLResult(
        codelength_bits=total,
        uniform_bits=uniform,
        compression=uniform / total if total > 0 else float("inf"),
        block_bits=block_bits,
        boundaries=ends,
    )
