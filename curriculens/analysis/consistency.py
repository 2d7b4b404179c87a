"""Is the curriculum shared? Rank agreement of emergence orders across models, and composites.

Implements the ordering-consistency test of the Implicit Curriculum paper (Liu et al., 2026):
emergence = first tokens where the smoothed score reaches 0.8; tasks ranked by emergence with
censored tasks tied at the bottom; Spearman and Kendall correlation of the average ranks.

Censoring can carry most of that number (tasks neither model learns tie at the bottom of both
rankings), so each pair also reports what it is made of: the correlation over the tasks both
models learned (``n_both``, ``spearman_both``, ``kendall_both``), a permutation null that keeps
each model's censoring pattern and shuffles the order of its learned tasks (``null``), and a
task-bootstrap interval of the censored rho (``ci``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from curriculens.analysis.emergence import emergence_table
from curriculens.analysis.table import skill_info
from curriculens.errors import ConfigError

TASK_SETS = ("common", "pairwise")

Emergence = Mapping[str, Mapping[str, float | None]]  # {model: {task: tokens or None}}


def paper_emergence(
    curves, *, threshold: float = 0.8, smooth: float = 1.0
) -> dict[str, dict[str, float | None]]:  # the ``paper`` preset of analysis.criterion
    """The paper's emergence points: tokens > 0, sorted, smoothed (sigma=1, reflect), >= 0.8.

    Args:
        curves: Long-format table with columns ``model, tokens, task, score``.
        threshold: Smoothed score that counts as emerged.
        smooth: Gaussian sigma in checkpoints.

    Returns:
        ``{model: {task: tokens or None}}`` (None: never reached, censored).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"model": "m", "task": "t", "tokens": [0, 1, 2, 3, 4],
    ...                    "score": [1.0, 0.0, 0.0, 1.0, 1.0]})
    >>> paper_emergence(df)
    {'m': {'t': 4.0}}
    """
    return emergence_table(curves, "paper", threshold=threshold, smooth=smooth)


def censored_ranks(points: Sequence[float | None]) -> np.ndarray:
    """Average ranks of emergence points (1 = earliest), censored (None) tied at the bottom.

    >>> censored_ranks([3.0, None, 1.0, None]).tolist()
    [2.0, 3.5, 1.0, 3.5]
    """
    from scipy.stats import rankdata  # scipy.stats loads in a second: only when ranks are asked

    x = np.array([math.inf if p is None else float(p) for p in points], dtype=float)
    return rankdata(x, method="average")


@dataclass(frozen=True, kw_only=True)
class PairConsistency:
    """Rank agreement of two models' emergence orders over ``tasks``.

    Attributes:
        a: First model.
        b: Second model.
        n: Number of tasks ranked.
        spearman: Spearman rho of the average ranks, censored tasks tied at the bottom (the
            paper's number; None when undefined, e.g. a constant order).
        kendall: Kendall tau-b of the same ranks (None when undefined).
        tasks: The tasks ranked, sorted.
        n_both: Tasks that emerged in both models (present at init counts: its point is known).
        spearman_both: Spearman rho over those tasks alone (None when undefined).
        kendall_both: Kendall tau-b over those tasks alone (None when undefined).
        null: Censored rho under a permutation null that keeps each model's censoring pattern
            (which tasks never emerge) and shuffles the emergence points among its learned
            tasks: ``{"mean", "lo", "hi"}`` (2.5% and 97.5% quantiles), or None.
        ci: Task-bootstrap 95% interval ``(lo, hi)`` of the censored rho, or None.
        n_resamples: Permutations and bootstrap resamples behind ``null`` and ``ci``.
    """

    a: str
    b: str
    n: int
    spearman: float | None
    kendall: float | None
    tasks: tuple[str, ...] = field(repr=False)
    n_both: int = 0
    spearman_both: float | None = None
    kendall_both: float | None = None
    null: dict[str, float] | None = None
    ci: tuple[float, float] | None = None
    n_resamples: int = 0

    def to_json(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "spearman": self.spearman,
            "kendall": self.kendall,
            "n_both": self.n_both,
            "spearman_both": self.spearman_both,
            "kendall_both": self.kendall_both,
            "null": self.null,
            "ci": None if self.ci is None else list(self.ci),
        }


@dataclass(frozen=True, kw_only=True)
class Consistency:
    """Pairwise rank agreement of emergence orders.

    Attributes:
        task_set: ``common`` (every pair ranked over the tasks all models share) or
            ``pairwise`` (each pair over the tasks the two share).
        pairs: One :class:`PairConsistency` per pair of models, in model order.
        common_tasks: Tasks that every model has.
    """

    task_set: str
    pairs: tuple[PairConsistency, ...]
    common_tasks: tuple[str, ...]


def rank_consistency(
    emergence: Emergence,
    *,
    tasks: str = "common",
    n_resamples: int = 1000,
    seed: int = 0,
) -> Consistency:
    """Spearman and Kendall agreement of every pair of models' emergence orders.

    Tasks are ranked by emergence tokens with average ranks; censored tasks are tied at the
    bottom (``scipy.stats.rankdata`` with censored = +inf), and the correlations are computed
    on those ranks. Each pair also gets the agreement over the tasks both models learned, a
    censoring-preserving permutation null and a task-bootstrap interval (see
    :class:`PairConsistency`).

    Args:
        emergence: ``{model: {task: tokens or None}}``.
        tasks: ``common``: rank every pair over the tasks all models share (the default);
            ``pairwise``: rank each pair over the tasks both of them have.
        n_resamples: Permutations of the null and task-bootstrap resamples (0: neither).
        seed: Seed of both.

    >>> em = {"a": {"x": 1.0, "y": 2.0, "z": None}, "b": {"x": 1.0, "y": 5.0, "z": None}}
    >>> rank_consistency(em).pairs[0].spearman
    1.0
    """
    if tasks not in TASK_SETS:
        raise ConfigError(
            f"tasks={tasks!r} is not a task set; expected one of {TASK_SETS} ('common': tasks "
            "all models share; 'pairwise': tasks each pair shares)."
        )
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 0:
        raise ConfigError(f"n_resamples={n_resamples!r} must be an int >= 0.")
    models = list(emergence)
    if len(models) < 2:
        raise ConfigError(
            f"Rank consistency needs at least 2 models; got {len(models)} ({models}). Give an "
            "input with curves of two or more models."
        )
    common = sorted(set.intersection(*(set(emergence[m]) for m in models)))
    pairs = []
    for a, b in itertools.combinations(models, 2):
        shared = common if tasks == "common" else sorted(set(emergence[a]) & set(emergence[b]))
        pairs.append(_pair(a, b, emergence[a], emergence[b], shared, n_resamples, seed))
    return Consistency(task_set=tasks, pairs=tuple(pairs), common_tasks=tuple(common))


def _pair(a: str, b: str, ea, eb, shared: Sequence[str], n_res: int, seed: int):
    xa = np.array([_inf(ea[t]) for t in shared], float)
    xb = np.array([_inf(eb[t]) for t in shared], float)
    rho, tau = _correlations(xa, xb)
    both = np.isfinite(xa) & np.isfinite(xb)
    rho_both, tau_both = _correlations(xa[both], xb[both])
    null = ci = None
    if n_res and len(shared) >= 2:
        rng = np.random.default_rng(seed)
        null_rho = _null(xa, xb, rng, n_res)
        if np.isfinite(null_rho).any():
            lo, hi = np.nanquantile(null_rho, [0.025, 0.975])
            null = {"mean": float(np.nanmean(null_rho)), "lo": float(lo), "hi": float(hi)}
        idx = rng.integers(0, len(shared), size=(n_res, len(shared)))
        boot = _rho_rows(xa[idx], xb[idx])
        if np.isfinite(boot).any():
            ci = tuple(float(q) for q in np.nanquantile(boot, [0.025, 0.975]))
    return PairConsistency(
        a=a,
        b=b,
        n=len(shared),
        spearman=rho,
        kendall=tau,
        tasks=tuple(shared),
        n_both=int(both.sum()),
        spearman_both=rho_both,
        kendall_both=tau_both,
        null=null,
        ci=ci,
        n_resamples=n_res if (null or ci) else 0,
    )


def _correlations(xa: np.ndarray, xb: np.ndarray) -> tuple[float | None, float | None]:
    """Spearman and Kendall of average ranks (censored = +inf tie last); None if undefined."""
    from scipy.stats import kendalltau, rankdata, spearmanr

    ra, rb = rankdata(xa), rankdata(xb)
    if len(xa) < 2 or np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return None, None
    return _finite(spearmanr(ra, rb)[0]), _finite(kendalltau(ra, rb)[0])


def _null(xa: np.ndarray, xb: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """Censored rho with each model's learned points shuffled among its learned tasks."""
    out = []
    for x in (xa, xb):
        learned = np.flatnonzero(np.isfinite(x))
        rows = np.tile(x, (n, 1))
        if learned.size > 1:
            perm = np.argsort(rng.random((n, learned.size)), axis=1)
            rows[:, learned] = x[learned][perm]
        out.append(rows)
    return _rho_rows(*out)


def _rho_rows(xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair of ``[resample, task]`` arrays (NaN where undefined)."""
    from scipy.stats import rankdata

    ra = rankdata(xa, axis=1)
    rb = rankdata(xb, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(axis=1) / den, np.nan)


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, kw_only=True)
class CompositeCheck:
    """Do composites emerge no earlier than all of their components?

    Attributes:
        share: Share of checked composites that emerge no earlier than every component
            (None when no composite could be checked).
        n: Number of composites checked (composite and all components present).
        exceptions: ``(composite, component, composite tokens, component tokens)`` for each
            component that emerged later than its composite (None = censored).
        skipped: Composites left out because they or a component lack an emergence entry.
        pairs: Number of (composite, component) pairs checked.
        pairs_held: Pairs whose composite emerged no earlier than the component. A composite
            that never emerged holds against every component; a component that never emerged
            fails against an emerged composite.
        pairs_censored: Pairs in which neither emerged; they count as held (both censored at
            the end of training, so no order is seen) and are shown apart.
    """

    share: float | None
    n: int
    exceptions: tuple[tuple[str, str, float | None, float | None], ...]
    skipped: tuple[str, ...]
    pairs: int = 0
    pairs_held: int = 0
    pairs_censored: int = 0


def composite_check(
    points: Mapping[str, float | None], components: Mapping[str, Sequence[str]]
) -> CompositeCheck:
    """Test that each composite emerges no earlier than all of its components (one model).

    A censored composite counts as emerging last; a censored component with an emerged composite
    is an exception (the composite came first).

    Args:
        points: ``{task: tokens or None}`` for one model.
        components: ``{composite: [component, ...]}``.

    The same test is also counted per (composite, component) pair (``pairs``, ``pairs_held``,
    ``pairs_censored``).

    >>> check = composite_check({"ab": 5.0, "a": 1.0, "b": None}, {"ab": ["a", "b"]})
    >>> check.exceptions, check.pairs_held, check.pairs
    ((('ab', 'b', 5.0, None),), 1, 2)
    """
    n = held = pairs = censored = 0
    exceptions, skipped = [], []
    for comp, parts in sorted(components.items()):
        if comp not in points or not parts or any(p not in points for p in parts):
            skipped.append(comp)
            continue
        n += 1
        late = [p for p in parts if _inf(points[p]) > _inf(points[comp])]
        held += not late
        pairs += len(parts)
        censored += sum(points[comp] is None and points[p] is None for p in parts)
        exceptions += [(comp, p, points[comp], points[p]) for p in late]
    return CompositeCheck(
        share=held / n if n else None,
        n=n,
        exceptions=tuple(exceptions),
        skipped=tuple(skipped),
        pairs=pairs,
        pairs_held=pairs - len(exceptions),
        pairs_censored=censored,
    )


def registry_components(
    tasks: Sequence[str], skills: Mapping | None = None
) -> dict[str, tuple[str, ...]]:
    """Components of the composite skills among ``tasks`` (unknown names skipped).

    ``skills`` is a run's skill snapshot (or a store / run directory / table holding one); tasks
    it lacks are looked up in the registry (see :func:`curriculens.analysis.table.skill_info`).

    >>> registry_components(["nonexistent_task"])
    {}
    """
    info = skill_info(skills, tasks)
    return {t: tuple(info[t]["components"]) for t in tasks if info.get(t, {}).get("components")}


# operations in the Implicit Curriculum paper's compositional task names -> its elemental tasks.
# Only unambiguous matches: 'first', 'last' and 'reverse' act on characters in the composites and
# have no exact elemental counterpart (first_letter / token_reversal differ), so composites using
# them are left out rather than guessed.
ELEMENTAL_OPERATIONS = {
    "upper": "simple_icl_uppercase",
    "lower": "simple_icl_lowercase",
    "gerund": "simple_icl_present_to_gerund",
    "plural": "simple_icl_singular_to_plural",
    "translate_eng_fr": "simple_icl_translate_eng_fr",
    "translate_fr_eng": "simple_icl_translate_fr_eng",
    "translate_sp_eng": "simple_icl_translate_sp_eng",
}


# The paper's own parse (its prediction code): every operation maps to an elemental task, the
# character-level 'first', 'last' and 'reverse' included. Trajectory prediction
# (analysis.predict) reads composites this way, as the paper scores them.
PAPER_OPERATIONS = {
    **ELEMENTAL_OPERATIONS,
    "translate_eng_sp": "simple_icl_translate_eng_sp",
    "reverse": "token_reversal",
    "first": "simple_icl_first_letter",
    "last": "simple_icl_last_letter",
}


def elemental_components(
    tasks: Sequence[str], operations: Mapping[str, str] = ELEMENTAL_OPERATIONS
) -> dict[str, tuple[str, ...]]:
    """Components of the paper's ``compositional_*`` tasks, parsed from their names.

    ``compositional_gerund_upper`` needs ``simple_icl_present_to_gerund`` and
    ``simple_icl_uppercase``. Composites with an operation outside
    :data:`ELEMENTAL_OPERATIONS` (``first``, ``last``, ``reverse``) are left out. Names kept
    with ':' (``compositional:gerund_upper``, ``simple_icl:uppercase``) are read the same way,
    and each component is named as ``tasks`` spells it. ``operations=PAPER_OPERATIONS`` parses
    every composite as the paper's prediction code does (``reverse`` -> ``token_reversal``,
    ``first`` -> ``simple_icl_first_letter``, ``last`` -> ``simple_icl_last_letter``).

    >>> elemental_components(["compositional_gerund_upper", "compositional_upper_last"])
    {'compositional_gerund_upper': ('simple_icl_present_to_gerund', 'simple_icl_uppercase')}
    """
    ops = sorted(operations, key=len, reverse=True)  # longest first: translate_*
    spelled = {t.replace(":", "_"): t for t in tasks}
    out = {}
    for t in tasks:
        norm = t.replace(":", "_")
        if not norm.startswith("compositional_"):
            continue
        rest, parts = norm[len("compositional_") :], []
        while rest:
            op = next((o for o in ops if rest == o or rest.startswith(o + "_")), None)
            if op is None:
                parts = []
                break
            part = operations[op]
            parts.append(spelled.get(part, part))
            rest = rest[len(op) + 1 :]
        if parts:
            out[t] = tuple(parts)
    return out


def _inf(p: float | None) -> float:
    return math.inf if p is None else float(p)
