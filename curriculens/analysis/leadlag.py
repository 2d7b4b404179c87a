"""Does the representation come before the behavior? Lead/lag with verdicts a reviewer accepts.

Like is compared with like: for each skill, the continuous behavior curve (the target's
probability above chance for continuation skills, choice accuracy above chance for choice skills;
:func:`~curriculens.analysis.curves.continuous_behavior`) against probe selectivity (probe minus
control-task accuracy on the same held-out items) at the best layer. Both are 0 where nothing is
there, and both are read with the same :class:`~curriculens.analysis.criterion.Criterion`
(default ``paper-relative``: half of the curve's smoothed maximum).

A curve counts only if it is there at all: with resamples, its smoothed final value minus ``z``
bootstrap standard errors must be above 0 at the one-sided ``alpha`` level (``alpha / L`` for the
best of L layers, as the best layer is picked on that value), else it is ``not_emerged``; so a
flat, noisy selectivity never "emerges" early by chance.

Verdicts, per skill:

- ``present_at_init``: either curve already meets the criterion at the first checkpoint
  (left-censored: no lead can be measured);
- ``not_emerged``: either curve never meets it (right-censored);
- ``leads`` / ``lags``: the representation crosses at an earlier / later checkpoint than the
  behavior, in at least ``1 - alpha`` of the bootstrap resamples after Holm correction across the
  skills of the run (two-sided);
- ``equivalent``: both cross within one checkpoint gap of each other (a two one-sided test,
  margin: the smallest gap between consecutive checkpoints in log10 tokens), Holm-corrected;
- ``inconclusive``: none of these (or no resamples: neither items nor counts).

Resamples draw behavior items and probe items (probe and control jointly: the same held-out
items) with replacement, jointly across checkpoints; several runs of one store (seeds) are pooled
by averaging their curves and resampling each seed's items on their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from curriculens.analysis.criterion import Criterion, Crossing
from curriculens.analysis.curves import (
    Curve,
    best_layer,
    continuous_behavior,
    pool,
    selectivity_curves,
)
from curriculens.analysis.importers import load_rows
from curriculens.analysis.table import read_rows, skill_info
from curriculens.errors import ConfigError
from curriculens.store import Store

VERDICTS = ("leads", "lags", "equivalent", "inconclusive", "present_at_init", "not_emerged")
DEFAULT_CRITERION = "paper-relative"


@dataclass(frozen=True, kw_only=True)
class LeadLag:
    """Lead of a skill's representation (probe selectivity) over its behavior.

    Attributes:
        run: Run (model) name; several pooled runs are joined with ``+``.
        skill: Skill name.
        layer: Best layer (highest final selectivity): the TransformerLens block index, -1 for
            the embedding.
        hook: Hook of the best layer.
        criterion: Name of the criterion both curves are read with.
        behavior_metric: What the behavior curve is (``target probability above chance 0.05``).
        behavior_state, probe_state: ``emerged``, ``present_at_init`` or ``not_emerged``.
        behavior_tokens, probe_tokens: Emergence points (None when not emerged).
        lead_log10: ``log10(behavior tokens) - log10(probe tokens)``; > 0: the representation
            came first. None unless both emerged.
        lo, hi: Interval of the lead in log10 tokens: the bootstrap range widened by each
            crossing's checkpoint bracket (open ends; None: unbounded or not measured).
        margin_log10: Equivalence margin, one checkpoint gap in log10 tokens.
        p_lead, p_lag: Bootstrap p-values of "no lead" and "no lag" (one-sided).
        p_holm: Two-sided p of a lead or lag, Holm-corrected across the run's skills.
        p_equivalent: TOST p of "the crossings differ by a checkpoint gap or more" (the larger
            of the two one-sided p-values).
        p_equivalent_holm: The same, Holm-corrected across the run's skills.
        verdict: One of :data:`VERDICTS` (see the module docstring).
        n_boot: Resamples behind the p-values (0: none).
        resampling: ``items``, ``binomial`` or ``none``.
        runs: The runs pooled.
        layers: Selectivity emergence point per layer (None: not emerged).
        first_layer: Layer whose selectivity emerges first (lowest among ties), or None.
    """

    run: str
    skill: str
    layer: int
    hook: str
    criterion: str
    behavior_metric: str
    behavior_state: str
    probe_state: str
    behavior_tokens: float | None
    probe_tokens: float | None
    lead_log10: float | None
    lo: float | None
    hi: float | None
    margin_log10: float | None
    p_lead: float | None
    p_lag: float | None
    p_holm: float | None
    p_equivalent: float | None
    p_equivalent_holm: float | None
    verdict: str
    n_boot: int = 0
    resampling: str = "none"
    runs: tuple[str, ...] = ()
    layers: dict[int, float | None] = field(default_factory=dict)
    first_layer: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["runs"] = list(self.runs)
        return d

    def to_json(self) -> dict:
        """The keys of ``curriculens emergence --leadlag --json`` (log10 tokens)."""
        return {
            "verdict": self.verdict,
            "lead_log10_tokens": self.lead_log10,
            "lo": self.lo,
            "hi": self.hi,
            "behavior_state": self.behavior_state,
            "probe_state": self.probe_state,
            "behavior_tokens": self.behavior_tokens,
            "probe_tokens": self.probe_tokens,
            "layer": self.layer,
            "p_holm": self.p_holm,
            "p_equivalent_holm": self.p_equivalent_holm,
            "margin_log10": self.margin_log10,
        }


@dataclass(kw_only=True)
class _Measured:
    """One skill before the Holm correction."""

    skill: str
    key: tuple[int, str]
    layers: dict[int, float | None]
    behavior: Curve
    b: Crossing
    s: Crossing
    lead: float | None
    lo: float | None
    hi: float | None
    margin: float | None
    p_lead: float | None = None
    p_lag: float | None = None
    p_eq: float | None = None
    n_boot: int = 0
    resampling: str = "none"


def lead_lag(
    source,
    *,
    run: str | Sequence[str] | None = None,
    skills: Sequence[str] | None = None,
    criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    **overrides,
) -> list[LeadLag]:
    """Lead/lag of probe selectivity vs behavior emergence for every skill of a run.

    Args:
        source: A :class:`Store`, a run directory, a ``.sqlite`` file, a tidy CSV with probe
            and control curves (``kind``, ``layer``, ``n`` columns), a results table (with an
            ``items`` column for resamples), or store rows.
        run: A run, or runs to pool (seeds); default: every run of the source, pooled.
        skills: Skills to analyse (default: every skill with behavior, probe and control rows).
        criterion: A :class:`Criterion` or preset name (default ``paper-relative``).
        n_boot: Bootstrap resamples (0: states and points only; verdicts stay inconclusive).
        seed: Seed of the resampling.
        alpha: Level of the tests and 1 - coverage of the intervals.
        **overrides: Criterion fields that replace the preset's (``threshold=0.05`` adds a
            floor).

    Returns:
        One :class:`LeadLag` per skill, sorted by skill.

    >>> results = lead_lag("runs/demo", n_boot=500)  # doctest: +SKIP
    >>> from curriculens.reporting.formatting import format_lead_lag
    >>> print(format_lead_lag(results))  # doctest: +SKIP
    """
    crit = Criterion.of(criterion if criterion is not None else DEFAULT_CRITERION, **overrides)
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha={alpha!r} must be in (0, 1), e.g. 0.05.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ConfigError(f"n_boot={n_boot!r} must be an int >= 0 (bootstrap resamples).")
    rows, meta_source = _rows(source)
    runs = sorted({r["run"] for r in rows})
    chosen = runs if run is None else [run] if isinstance(run, str) else list(run)
    unknown = sorted(set(chosen) - set(runs))
    if unknown or not chosen:
        raise ConfigError(f"run={run!r} is not in the source; it holds runs {runs}.")
    rows = [r for r in rows if r["run"] in set(chosen)]
    have = _analysable(rows, chosen)
    if skills is None:
        skills = have
    missing = sorted(set(skills) - set(have))
    if missing:
        raise ConfigError(
            f"Skill(s) {missing} lack behavior, probe or control rows in run(s) {chosen}; "
            f"available: {have}."
        )
    info = skill_info(meta_source, skills)
    by_run = {rn: [r for r in rows if r["run"] == rn] for rn in chosen}
    measured = [
        _measure(skill, by_run, info.get(skill), crit, n_boot, seed + i, alpha)
        for i, skill in enumerate(skills)
    ]
    return _verdicts(measured, crit, chosen, alpha)


def _rows(source) -> tuple[list[dict], object]:
    """Rows with per-item outcomes, and what to read the skill snapshot from."""
    if isinstance(source, Store):
        return read_rows(source, items=True), source
    if isinstance(source, pd.DataFrame):  # a table from load_table (its snapshot in attrs)
        return source.to_dict("records"), source
    if isinstance(source, list | tuple):
        return list(source), None
    p = Path(source)
    if p.suffix.lower() == ".csv":
        return load_rows(p), None
    return load_rows(p), p


def _analysable(rows: Sequence[Mapping], runs: Sequence[str]) -> list[str]:
    """Skills with behavior, probe and control rows in every run."""
    out = []
    for skill in sorted({r["skill"] for r in rows}):
        kinds = {(r["run"], r["kind"]) for r in rows if r["skill"] == skill}
        if all({(rn, k) for k in ("behavior", "probe", "control")} <= kinds for rn in runs):
            out.append(skill)
    return out


def _measure(skill, by_run, info, crit: Criterion, n_boot, seed, alpha) -> _Measured:
    behaviors, selectivities = [], []
    for rn, rs in by_run.items():
        curve = continuous_behavior(rs, skill, info)
        if curve is None:
            raise ConfigError(
                f"Skill {skill!r} of run {rn!r} has no behavior metric to read; its metrics "
                f"are {sorted({r['metric'] for r in rs if r['skill'] == skill})}."
            )
        behaviors.append(curve)
        selectivities.append(selectivity_curves(rs, skill))
    keys = sorted(set.intersection(*(set(s) for s in selectivities)))
    if not keys:
        raise ConfigError(
            f"Skill {skill!r} has no layer with both a probe and a control curve on the same "
            "checkpoints; selectivity (probe - control) cannot be measured."
        )
    behavior = pool(behaviors)
    sel = {k: pool([s[k] for s in selectivities]) for k in keys}
    key = best_layer(sel)
    probe = sel[key]
    rng = np.random.default_rng(seed)
    b_t, b_v, b_now, b_boot = _read(crit, behavior, rng, n_boot)
    s_t, s_v, s_now, s_boot = _read(crit, probe, rng, n_boot)
    b = _gate(crit, b_t, b_v, b_now, b_boot, alpha)
    s = _gate(crit, s_t, s_v, s_now, s_boot, alpha / len(sel))  # the best of len(sel) layers
    layers = {}
    for k, c in sel.items():
        p = crit.locate(c.tokens, c.values)
        layers[k[0]] = p.point if p.state != "not_emerged" else None
    margin = _margin(np.concatenate([b_t, s_t]))
    m = _Measured(
        skill=skill,
        key=key,
        layers=layers,
        behavior=behavior,
        b=b,
        s=s,
        lead=_lead(b.point, s.point) if b.state == s.state == "emerged" else None,
        lo=None,
        hi=None,
        margin=margin,
    )
    lo, hi = _bounds(b, s)
    if b_boot is not None and s_boot is not None:
        bc = crit.locate_sorted(b_t, b_boot)
        sc = crit.locate_sorted(s_t, s_boot)
        leads = np.array([_lead_censored(x, y) for x, y in zip(bc, sc, strict=True)])
        lows = np.array([_bounds(x, y)[0] for x, y in zip(bc, sc, strict=True)])
        highs = np.array([_bounds(x, y)[1] for x, y in zip(bc, sc, strict=True)])
        lo = min(lo, _quantile(lows, alpha / 2))
        hi = max(hi, _quantile(highs, 1 - alpha / 2))
        m.p_lead = _p(~(leads > 0))  # NaN (both censored alike) supports neither direction
        m.p_lag = _p(~(leads < 0))
        if margin is not None:  # two one-sided tests; NaN counts against both
            bound = margin * (1 - 1e-9)
            m.p_eq = max(_p(~(leads > -bound)), _p(~(leads < bound)))
        m.n_boot = n_boot
        m.resampling = _resampling(behavior, probe)
    if m.lead is not None or b.state != "not_emerged" or s.state != "not_emerged":
        m.lo, m.hi = _finite(lo), _finite(hi)
    return m


def _read(crit: Criterion, curve: Curve, rng, n_boot: int):
    """Kept tokens, the kept values, the curve's crossing, and its resamples (or None)."""
    order, t = crit.prepare(curve.tokens, curve.values)
    values = np.asarray(curve.values, float)[order]
    now = crit.locate_sorted(t, values[None, :])[0]
    boot = None
    if n_boot and len(t):
        draws = curve.resample(rng, n_boot)
        boot = None if draws is None else draws[:, order]
    return t, values, now, boot


def _gate(crit: Criterion, t, values, now: Crossing, boot, level: float) -> Crossing:
    """``not_emerged`` unless the smoothed final value is above 0 at one-sided ``level``.

    The bound is the value minus ``z`` bootstrap standard errors (a normal interval: at the
    small levels used here it keeps its level, where the percentile of a few hundred resamples
    does not).
    """
    if boot is None or now.state == "not_emerged":
        return now
    final = crit.transform(values[None, :])[0, -1]
    se = float(np.std(crit.transform(boot)[:, -1], ddof=1))
    if final - NormalDist().inv_cdf(1 - level) * se > 0:
        return now
    return Crossing("not_emerged", None, float(t[-1]), None, -1)


def _log(x: float | None, empty: float) -> float:
    if x is None:
        return empty
    return math.log10(x) if x > 0 else -math.inf


def _lead(b: float | None, s: float | None) -> float | None:
    if b is None or s is None or b <= 0 or s <= 0:
        return None
    return math.log10(b) - math.log10(s)


def _lead_censored(b: Crossing, s: Crossing) -> float:
    """Lead in one resample: a curve that never emerges sits at +inf (NaN when both do)."""
    bt = math.inf if b.state == "not_emerged" else _log(b.point, math.inf)
    st = math.inf if s.state == "not_emerged" else _log(s.point, math.inf)
    if math.isinf(bt) and math.isinf(st) and bt == st:
        return math.nan
    return bt - st


def _bounds(b: Crossing, s: Crossing) -> tuple[float, float]:
    """Smallest and largest lead the two checkpoint brackets allow."""
    lo = _log(b.lower, -math.inf) - _log(s.upper, math.inf)
    hi = _log(b.upper, math.inf) - _log(s.lower, -math.inf)
    return (-math.inf if math.isnan(lo) else lo), (math.inf if math.isnan(hi) else hi)


def _margin(tokens: np.ndarray) -> float | None:
    t = np.unique(tokens[tokens > 0])
    if len(t) < 2:
        return None
    return float(np.diff(np.log10(t)).min())


def _quantile(x: np.ndarray, q: float) -> float:
    x = x[~np.isnan(x)]
    if not x.size:
        return math.nan
    return float(np.quantile(x, q, method="inverted_cdf"))


def _p(against: np.ndarray) -> float:
    """Bootstrap p-value: share of resamples against the claim, with the +1 correction."""
    return float((1 + np.sum(against)) / (1 + len(against)))


def _resampling(*curves: Curve) -> str:
    kinds = {c.resampling for c in curves}
    return "items" if kinds == {"items"} else "binomial" if "none" not in kinds else "none"


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and is not counted).

    >>> holm([0.01, 0.04, None, 0.03])
    [0.03, 0.06, None, 0.06]
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    order = sorted(idx, key=lambda i: pvalues[i])
    m = len(order)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = round(running, 12)
    return out


def _verdicts(measured: list[_Measured], crit: Criterion, runs, alpha: float) -> list[LeadLag]:
    pending = [m.b.state == m.s.state == "emerged" and m.p_lead is not None for m in measured]
    p_dir = [
        min(1.0, 2 * min(m.p_lead, m.p_lag)) if ok else None
        for m, ok in zip(measured, pending, strict=True)
    ]
    p_eq = [m.p_eq if ok else None for m, ok in zip(measured, pending, strict=True)]
    adj_dir, adj_eq = holm(p_dir), holm(p_eq)
    out = []
    for m, pd_, pe in zip(measured, adj_dir, adj_eq, strict=True):
        states = {m.b.state, m.s.state}
        if "present_at_init" in states:
            verdict = "present_at_init"
        elif "not_emerged" in states:
            verdict = "not_emerged"
        elif pd_ is not None and pd_ < alpha:
            verdict = "leads" if m.p_lead < m.p_lag else "lags"
        elif pe is not None and pe < alpha:
            verdict = "equivalent"
        else:
            verdict = "inconclusive"
        emerged = [lay for lay, t in m.layers.items() if t is not None]
        out.append(
            LeadLag(
                run="+".join(runs),
                skill=m.skill,
                layer=m.key[0],
                hook=m.key[1],
                criterion=crit.name,
                behavior_metric=m.behavior.metric,
                behavior_state=m.b.state,
                probe_state=m.s.state,
                behavior_tokens=m.b.point,
                probe_tokens=m.s.point,
                lead_log10=m.lead,
                lo=m.lo,
                hi=m.hi,
                margin_log10=m.margin,
                p_lead=m.p_lead,
                p_lag=m.p_lag,
                p_holm=pd_,
                p_equivalent=m.p_eq,
                p_equivalent_holm=pe,
                verdict=verdict,
                n_boot=m.n_boot,
                resampling=m.resampling,
                runs=tuple(runs),
                layers=m.layers,
                first_layer=min(emerged, key=lambda lay: (m.layers[lay], lay)) if emerged else None,
            )
        )
    return out
