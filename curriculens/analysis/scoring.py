"""How a predicted composite curve is scored: today's ``raw`` scoring and the paper's, named.

``raw`` (curriculens' own): the composite and its components are compared at the checkpoints
with tokens > 0 where all of them were evaluated, unsmoothed; ``r2`` is 1 - SS_res / SS_tot and
``r2_pearson`` the squared Pearson r, each None where it is undefined (a constant curve).

``paper`` (the Implicit Curriculum paper's code, ``scripts/trajectory_analysis/
predict_compositional_from_components.py`` of github.com/KaiserWhoLearns/ElementalTask, run
with its defaults):

* each curve keeps its own checkpoints with tokens > 0; the composite's and its components'
  curves are linearly interpolated (``np.interp``) onto the union of their token grids;
* every curve on that grid is Gaussian-smoothed, sigma = 1 checkpoint, ``reflect`` edges
  (``scipy.ndimage.gaussian_filter1d``'s default), before any prediction is formed;
* R² is the squared Pearson r of prediction and smoothed composite; a composite whose smoothed
  curve is constant scores 0 (the paper's ``evaluate_prediction``), a constant prediction has
  no score (scipy returns NaN there and the paper's means skip it);
* the function-vector script (``predict_with_fv_decomposition.py``) leaves out composites whose
  name contains ``reverse`` or ``last`` (its ``--exclude_pattern`` default); the baseline script
  does not. Here the exclusion applies to the function-vector methods only
  (:data:`PAPER_EXCLUDE`), so the baselines are scored over every composite as the baseline
  script scores them.

Under ``paper`` scoring :attr:`CompositePrediction.r2_pearson` holds the paper's R² and ``r2``
the coefficient of determination on the same smoothed curves.

The decoy null (:class:`DecoyNull`) stands beside each score: the same method applied to every
set of elementals of the composite's size that is not its declared components, on the same
checkpoints, and where the declared set ranks among them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curriculens.errors import ConfigError

#: the scorings :func:`~curriculens.analysis.predict.predict_baselines` knows, in report order
SCORINGS = ("raw", "paper")
#: the paper's Gaussian smoothing (checkpoints), on the composite and on every component
PAPER_SIGMA = 1.0
#: substrings of composite names the paper's FV script leaves out by default
PAPER_EXCLUDE = ("reverse", "last")
#: most decoy sets scored per composite; beyond it a seeded sample of this many is drawn
MAX_DECOYS = 5000


def check_scoring(scoring: str) -> str:
    """``scoring`` when it is one of :data:`SCORINGS`, else a :class:`ConfigError`."""
    if scoring not in SCORINGS:
        raise ConfigError(f"scoring={scoring!r}; expected one of {', '.join(SCORINGS)}.")
    return scoring


def paper_excluded(name: str, patterns: Sequence[str] = PAPER_EXCLUDE) -> str | None:
    """The pattern that leaves composite ``name`` out of the paper's FV script, or None.

    >>> paper_excluded("compositional_upper_reverse"), paper_excluded("compositional_plural_upper")
    ('reverse', None)
    """
    return next((p for p in patterns if p in name), None)


def smooth(y: np.ndarray, sigma: float = PAPER_SIGMA) -> np.ndarray:
    """Gaussian smoothing along the last axis (``reflect`` edges); sigma <= 0 returns ``y``."""
    from scipy.ndimage import gaussian_filter1d

    y = np.asarray(y, float)
    return y if sigma <= 0 else gaussian_filter1d(y, sigma=sigma, axis=-1)


def union_grid(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The sorted union of the curves' token grids (each curve ``(tokens, score)``).

    >>> union_grid([(np.array([1.0, 3.0]), np.zeros(2)), (np.array([2.0, 3.0]), np.zeros(2))])
    array([1., 2., 3.])
    """
    return np.unique(np.concatenate([np.asarray(t, float) for t, _ in curves]))


def on_grid(curve: tuple[np.ndarray, np.ndarray], grid: np.ndarray, sigma=PAPER_SIGMA):
    """A curve ``(tokens, score)`` (tokens ascending) interpolated onto ``grid``, then smoothed.

    >>> on_grid((np.array([1.0, 3.0]), np.array([0.0, 1.0])), np.array([1.0, 2.0, 3.0]), 0)
    array([0. , 0.5, 1. ])
    """
    t, y = curve
    return smooth(np.interp(grid, np.asarray(t, float), np.asarray(y, float)), sigma)


def paper_r2(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """The paper's R²: squared Pearson r; 0 for a constant ``actual``; None for a constant (or
    non-finite) prediction, which the paper's means skip.

    >>> paper_r2([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]), paper_r2([0.1, 0.2, 0.4], [1, 1, 1])
    (0.0, None)
    """
    y, p = np.asarray(actual, float), np.asarray(predicted, float)
    if len(y) < 2 or not y.std() > 0:
        return 0.0
    if not np.isfinite(p).all() or np.ptp(p) == 0:
        return None
    r = float(np.corrcoef(y, p)[0, 1])
    return r * r if math.isfinite(r) else None


def r2_rows(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """1 - SS_res / SS_tot of each row of ``predicted [m, t]`` (NaN when ``actual`` is constant)."""
    y = np.asarray(actual, float)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot <= 0:
        return np.full(len(predicted), np.nan)
    return 1.0 - ((predicted - y) ** 2).sum(-1) / ss_tot


def pearson_rows(actual: np.ndarray, predicted: np.ndarray, *, paper: bool) -> np.ndarray:
    """Squared Pearson r of each row of ``predicted [m, t]``; NaN where a curve is constant,
    except that with ``paper`` a constant ``actual`` gives 0 (:func:`paper_r2`)."""
    y = np.asarray(actual, float)
    p = np.asarray(predicted, float)
    if len(y) < 2 or not y.std() > 0:
        return np.zeros(len(p)) if paper else np.full(len(p), np.nan)
    yc = y - y.mean()
    pc = p - p.mean(-1, keepdims=True)
    den = np.sqrt((pc**2).sum(-1) * (yc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (pc @ yc) / den
    r[~(np.ptp(p, axis=-1) > 0)] = np.nan
    return r * r


@dataclass(frozen=True, kw_only=True)
class DecoyNull:
    """Where a composite's declared components rank among decoy sets, for one method and score.

    Attributes:
        score: ``r2`` or ``r2_pearson`` (the paper's R² under ``paper`` scoring).
        rank: 1 + the number of decoy sets that score strictly higher than the declared one
            (None when the declared set has no score).
        ties: Decoy sets that score the same as the declared one (e.g. every set scores 0 on
            a constant composite under ``paper`` scoring).
        n: Decoy sets with a defined score.
        mean: Their mean score (None when n is 0).
        p95: Their 95th percentile (None when n is 0).
        sampled: The decoys are a seeded sample of :data:`MAX_DECOYS` of the sets.
    """

    score: str
    rank: int | None
    ties: int
    n: int
    mean: float | None
    p95: float | None
    sampled: bool = False

    @classmethod
    def of(cls, score: str, declared: float | None, decoys: np.ndarray, sampled=False):
        """The null of ``decoys`` (NaN: undefined, left out) around ``declared`` (None: the
        declared set has no score, and no rank)."""
        d = np.asarray(decoys, float)
        d = d[np.isfinite(d)]
        rank = ties = None
        if declared is not None:
            rank = int((d > declared + 1e-12).sum()) + 1
            ties = int((np.abs(d - declared) <= 1e-12).sum())
        return cls(
            score=score,
            rank=rank,
            ties=ties or 0,
            n=len(d),
            mean=float(d.mean()) if len(d) else None,
            p95=float(np.percentile(d, 95)) if len(d) else None,
            sampled=sampled,
        )

    @property
    def first(self) -> bool:
        """The declared set scores strictly above every decoy."""
        return self.rank == 1 and self.ties == 0 and self.n > 0

    def to_json(self) -> dict:
        return {
            "score": self.score,
            "rank": self.rank,
            "ties": self.ties,
            "of": self.n + 1,
            "mean": self.mean,
            "p95": self.p95,
            "sampled": self.sampled,
        }


def decoy_sets(
    elementals: Sequence[str], parts: Sequence[str], *, limit: int = MAX_DECOYS, seed: int = 0
) -> tuple[list[tuple[str, ...]], bool]:
    """Every set of ``len(parts)`` elementals other than ``parts`` itself (at most ``limit``,
    a seeded sample beyond it); and whether it was sampled.

    >>> decoy_sets(["a", "b", "c"], ["a", "b"])
    ([('a', 'c'), ('b', 'c')], False)
    """
    k, declared = len(set(parts)), frozenset(parts)
    pool = sorted(set(elementals))
    if k > len(pool):
        return [], False
    n_all = math.comb(len(pool), k)
    if n_all - 1 <= limit:
        sets = [c for c in itertools.combinations(pool, k) if frozenset(c) != declared]
        return sets, False
    rng = np.random.default_rng([seed, 2601])
    seen: set[tuple[str, ...]] = set()
    while len(seen) < limit:
        c = tuple(sorted(pool[i] for i in rng.choice(len(pool), k, replace=False)))
        if frozenset(c) != declared:
            seen.add(c)
    return sorted(seen), True
