"""Emergence points of score curves: when a skill's score first crosses a criterion.

A curve is a score per checkpoint (tokens seen). A curve that never meets its criterion is
censored (``None``), not dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from curriculens.errors import ConfigError

METHODS = ("fixed", "relative")


def smooth_curve(values: Sequence[float], sigma: float | None) -> np.ndarray:
    """Gaussian-smooth a curve over checkpoints (``sigma`` in checkpoints, reflected edges).

    >>> smooth_curve([0.0, 1.0, 0.0], None).tolist()
    [0.0, 1.0, 0.0]
    """
    v = np.asarray(values, dtype=float)
    if not sigma:
        return v
    return gaussian_filter1d(v, sigma=float(sigma), mode="reflect")


def emergence_point(
    tokens: Sequence[float],
    values: Sequence[float],
    *,
    method: str = "fixed",
    threshold: float = 0.8,
    fraction: float = 0.9,
    smooth: float | None = None,
) -> float | None:
    """Tokens at which a curve first meets the emergence criterion, or None (censored).

    Args:
        tokens: Tokens seen at each checkpoint, ascending.
        values: Score at each checkpoint.
        method: ``fixed`` (first value >= threshold) or ``relative`` (first value >= threshold
            and >= ``fraction`` of the final value).
        threshold: Absolute level.
        fraction: Share of the final value that ``relative`` also asks for.
        smooth: Gaussian sigma in checkpoints, or None.

    >>> emergence_point([1, 2, 3, 4], [0.1, 0.5, 0.85, 0.9])
    3.0
    >>> emergence_point([1, 2, 3], [0.1, 0.2, 0.3]) is None
    True
    """
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is not one of {METHODS}.")
    t = np.asarray(tokens, dtype=float)
    v = smooth_curve(values, smooth)
    if t.shape != v.shape:
        raise ConfigError(f"tokens {t.shape} and values {v.shape} differ in length.")
    ok = v >= threshold
    if method == "relative" and len(v):
        ok &= v >= fraction * v[-1]
    hits = np.flatnonzero(ok)
    return float(t[hits[0]]) if hits.size else None
