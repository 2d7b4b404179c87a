"""Does the representation come before the behavior? Lead/lag with verdicts a reviewer accepts.

Like is compared with like: for each skill, the continuous behavior curve (the target's
probability above chance for continuation skills, choice accuracy above chance for choice skills;
:func:`~curriculens.analysis.curves.continuous_behavior`) against probe selectivity (probe minus
control-task accuracy on the same held-out items) at the best layer. Both are 0 where nothing is
there, and both are read with the same :class:`~curriculens.analysis.criterion.Criterion`
(default ``paper-relative``: half of the curve's smoothed maximum).

A curve counts only if it rises at all: under the default (rise-based) criterion its rise from
the first checkpoint to its maximum must be at least ``min_rise`` and, with resamples, more than
``z`` bootstrap standard errors at the one-sided ``alpha`` level (``alpha / L`` for the best of L
layers, as the best layer is picked on its final value), else it is ``not_emerged``; so a flat,
noisy selectivity never "emerges" early by chance, and a flat behavior never is
``present_at_init``. A probe already partly decodable at init is read from its init level, so
a rise that coincides with behavior's is not a lead.

Verdicts, per skill:

- ``present_at_init``: either curve already meets the criterion at the first checkpoint
  (left-censored: no lead can be measured);
- ``not_emerged``: either curve never meets it (right-censored);
- ``leads`` / ``lags``: the representation crosses at an earlier / later checkpoint than the
  behavior, in at least ``1 - alpha`` of the bootstrap resamples after Holm correction across the
  skills of the run (two-sided);
- ``equivalent``: both cross within ``margin_log10`` of each other (a two one-sided test on the
  bootstrap: each of "lead < -margin" and "lead > margin" rejected at ``alpha``), Holm-corrected;
  the default margin is one checkpoint gap (the median gap between consecutive checkpoints in
  log10 tokens, so a few dense early checkpoints do not shrink it; crossings one typical
  checkpoint apart count as within it);
- ``inconclusive``: none of these (or no resamples: neither items nor counts).

A flag, ``lexical``, says whether the probe could be reading the words alone: its lexical
baseline (a probe on the mean of the prompt's input embeddings, on the same split, stored at
every checkpoint: :mod:`curriculens.probes.lexical`), as accuracy above the test set's chance,
reaches the level at which the probe's selectivity meets the criterion no later than one
checkpoint after the probe does (:func:`lexical_crossing`). A ``leads`` verdict with the flag
is a lead of the words, not of a computed representation; the one-line answer repeats it.

Resamples draw held-out groups, then items within each drawn group (the cluster bootstrap of
:mod:`curriculens.analysis.bootstrap`; groups from the run's items table, items alone where none
is known), behavior and probe on their own, probe and control jointly (the same held-out items),
jointly across checkpoints; several runs of one store (seeds), and repeated group splits
(``split`` index), are pooled by averaging their curves and resampling each on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from curriculens.analysis.bootstrap import attach_groups, items_table, n_groups, noise_gate
from curriculens.analysis.criterion import Criterion, Crossing
from curriculens.analysis.curves import (
    Curve,
    best_layer,
    continuous_behavior,
    curve_of,
    pool,
    select,
    selectivity_curves,
)
from curriculens.analysis.importers import load_rows
from curriculens.analysis.table import read_rows, skill_info
from curriculens.errors import ConfigError
from curriculens.probes.lexical import LEXICAL_HOOK, LEXICAL_METRIC
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
        criterion: Name of the criterion both curves are read with (one criterion per
            comparison: ``behavior_criterion`` and ``probe_criterion`` repeat it by column).
        behavior_metric: What the behavior curve is (``target probability above chance 0.05``).
        behavior_state, probe_state: ``emerged``, ``present_at_init`` or ``not_emerged``.
        behavior_tokens, probe_tokens: Emergence points (None when not emerged).
        lead_log10: ``log10(behavior tokens) - log10(probe tokens)``; > 0: the representation
            came first. None unless both emerged.
        lo, hi: Interval of the lead in log10 tokens: the bootstrap range widened by each
            crossing's checkpoint bracket (open ends; None: unbounded or not measured).
        margin_log10: Equivalence margin in log10 tokens (default: one checkpoint gap).
        p_lead, p_lag: Bootstrap p-values of "no lead" and "no lag" (one-sided).
        p_holm: Two-sided p of a lead or lag, Holm-corrected across the run's skills.
        p_equivalent: TOST p of "the crossings differ by a checkpoint gap or more" (the larger
            of the two one-sided p-values).
        p_equivalent_holm: The same, Holm-corrected across the run's skills.
        verdict: One of :data:`VERDICTS` (see the module docstring).
        n_boot: Resamples behind the p-values (0: none).
        resampling: ``groups`` (cluster bootstrap), ``items``, ``binomial`` or ``none``.
        behavior_groups, probe_groups: Distinct groups the resamples draw (None: by item).
        runs: The runs pooled.
        layers: Selectivity emergence point per layer (None: not emerged).
        first_layer: Layer whose selectivity emerges first (lowest among ties), or None.
        lexical: True when the skill's lexical baseline reaches the probe's crossing level no
            later than one checkpoint after the probe (the probe may read the words alone);
            None when the run stored no lexical baseline (see :func:`lexical_crossing`).
        lexical_tokens: Where the lexical baseline reaches that level (None: never, or not
            measured).
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
    behavior_criterion: str = ""
    probe_criterion: str = ""
    behavior_groups: int | None = None
    probe_groups: int | None = None
    lexical: bool | None = None
    lexical_tokens: float | None = None

    @property
    def label(self) -> str:
        """The verdict with its flag, as the one-line answer shows it: ``leads (lexical)``."""
        return f"{self.verdict} (lexical)" if self.lexical else self.verdict

    def __post_init__(self) -> None:
        for col in ("behavior_criterion", "probe_criterion"):
            if not getattr(self, col):
                object.__setattr__(self, col, self.criterion)

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
            "behavior_criterion": self.behavior_criterion,
            "probe_criterion": self.probe_criterion,
            "resampling": self.resampling,
            "lexical": self.lexical,
            "lexical_tokens": self.lexical_tokens,
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
    groups: tuple[int | None, int | None] = (None, None)
    lexical: tuple[bool | None, float | None] = (None, None)


def lead_lag(
    source,
    *,
    run: str | Sequence[str] | None = None,
    skills: Sequence[str] | None = None,
    criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    margin_log10: float | None = None,
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
        margin_log10: Equivalence margin in log10 tokens (default: one checkpoint gap, the
            median gap between consecutive checkpoints).
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
    if margin_log10 is not None and not (
        isinstance(margin_log10, int | float) and math.isfinite(margin_log10) and margin_log10 > 0
    ):
        raise ConfigError(
            f"margin_log10={margin_log10!r} must be a number > 0 (log10 tokens; e.g. 0.18 for "
            "a factor of 1.5), or None for one checkpoint gap."
        )
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
        _measure(skill, by_run, info.get(skill), crit, n_boot, seed + i, alpha, margin_log10)
        for i, skill in enumerate(skills)
    ]
    return _verdicts(measured, crit, chosen, alpha)


def _rows(source) -> tuple[list[dict], object]:
    """Rows with per-item outcomes, and what to read the skill snapshot from."""
    if isinstance(source, Store):
        return attach_groups(read_rows(source, items=True), items_table(source)), source
    if isinstance(source, pd.DataFrame):  # a table from load_table (its snapshot in attrs)
        return attach_groups(source.to_dict("records"), items_table(source)), source
    if isinstance(source, list | tuple):
        return list(source), None
    p = Path(source)
    if p.suffix.lower() == ".csv":
        return load_rows(p), None
    return attach_groups(load_rows(p), items_table(p)), p


def _analysable(rows: Sequence[Mapping], runs: Sequence[str]) -> list[str]:
    """Skills with behavior, probe and control rows in every run."""
    out = []
    for skill in sorted({r["skill"] for r in rows}):
        kinds = {(r["run"], r["kind"]) for r in rows if r["skill"] == skill}
        if all({(rn, k) for k in ("behavior", "probe", "control")} <= kinds for rn in runs):
            out.append(skill)
    return out


def _measure(skill, by_run, info, crit: Criterion, n_boot, seed, alpha, margin_log10) -> _Measured:
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
    b = noise_gate(crit, b_t, b_v, b_now, b_boot, alpha)
    s = noise_gate(crit, s_t, s_v, s_now, s_boot, alpha / len(sel))  # the best of len(sel) layers
    layers = {}
    for k, c in sel.items():
        p = crit.locate(c.tokens, c.values)
        layers[k[0]] = p.point if p.state != "not_emerged" else None
    margin = margin_log10 or _margin(np.concatenate([b_t, s_t]))
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
        leads, lows, highs = _boot_leads(crit, b_t, b_boot, s_t, s_boot)
        lo = min(lo, _quantile(lows, alpha / 2))
        hi = max(hi, _quantile(highs, 1 - alpha / 2))
        m.p_lead = _p(~(leads > 0))  # NaN (both censored alike) supports neither direction
        m.p_lag = _p(~(leads < 0))
        if margin is not None:  # two one-sided tests; NaN counts against both
            bound = margin * (1 + 1e-9)  # a difference of exactly the margin is within it
            m.p_eq = max(_p(~(leads >= -bound)), _p(~(leads <= bound)))
        m.n_boot = n_boot
        m.resampling = _resampling(behavior, probe)
        m.groups = (_n_groups(behavior), _n_groups(probe))
    if m.lead is not None or b.state != "not_emerged" or s.state != "not_emerged":
        m.lo, m.hi = _finite(lo), _finite(hi)
    lexical = [lexical_curve(rs, skill) for rs in by_run.values()]
    if all(c is not None for c in lexical) and all(
        np.array_equal(c.tokens, lexical[0].tokens) for c in lexical
    ):
        m.lexical = lexical_crossing(crit, probe, s, pool(lexical))
    return m


def lexical_curve(rows: Sequence[Mapping], skill: str) -> Curve | None:
    """The skill's lexical baseline as accuracy above the test set's chance (``lexical_acc -
    chance``, both stored by the sweep), or None when the run stored no lexical rows."""
    mine = select([r for r in rows if r["skill"] == skill], kind="baseline", metric=LEXICAL_METRIC)
    mine = [r for r in mine if r.get("hook") == LEXICAL_HOOK]
    if not mine:
        return None
    chance = [
        r["value"]
        for r in rows
        if r["skill"] == skill and r["kind"] == "baseline" and r["metric"] == "chance"
    ]
    chance = [float(v) for v in chance if v is not None and np.isfinite(v)]
    if not chance:
        return None
    c = curve_of(mine, metric="lexical accuracy above chance")
    base = float(np.median(chance))  # one test set: the same at every checkpoint and hook
    items = None if c.items is None else c.items - base
    return Curve(
        tokens=c.tokens, values=c.values - base, items=items, groups=c.groups, metric=c.metric
    )


def lexical_crossing(
    crit: Criterion, probe: Curve, crossing: Crossing, lexical: Curve
) -> tuple[bool, float | None]:
    """``(flag, tokens)``: whether the lexical baseline reaches the probe's crossing level no
    later than one checkpoint after the probe's crossing, and where it reaches it.

    The level is the one the criterion sets on the probe's curve (for a rise-based ``relative``
    criterion, its init level plus ``fraction`` of its rise; for ``fixed``, the threshold; else
    the probe's value where it crossed), read on the same kept checkpoints and smoothing. A probe
    that never emerges is never flagged.
    """
    order, t = crit.prepare(probe.tokens, probe.values)
    if crossing.state not in ("emerged", "present_at_init") or not len(t):
        return False, None
    vp = crit.transform(np.asarray(probe.values, float)[order][None, :])[0]
    k = crossing.index if crossing.index >= 0 else int(np.searchsorted(t, crossing.point))
    level = _level(crit, vp, k)
    at = {float(x): float(v) for x, v in zip(lexical.tokens, lexical.values, strict=True)}
    raw = np.array([at.get(float(x), np.nan) for x in t])
    if not np.isfinite(raw).any():
        return False, None
    filled = pd.Series(raw).interpolate(limit_direction="both").to_numpy()
    vl = crit.transform(filled[None, :])[0]
    hit = np.flatnonzero(np.isfinite(vl) & (vl >= level - 1e-12))
    if not hit.size:
        return False, None
    j = int(hit[0])
    return bool(j <= k + 1), float(t[j])


def _level(crit: Criterion, v: np.ndarray, k: int) -> float:
    """The value a smoothed curve ``v`` must reach to meet the criterion (its crossing at ``k``)."""
    if crit.method == "relative":
        ref = float(crit.reference(v[None, :])[0])
        if crit.rise_from == "init":
            v0 = max(float(v[0]), 0.0)
            level = v0 + crit.fraction * (ref - v0)
        else:
            level = crit.fraction * ref
        return max(level, crit.threshold) if crit.threshold is not None else level
    if crit.method in ("fixed", "stable") and crit.threshold is not None:
        return float(crit.threshold)
    return float(v[min(max(k, 0), len(v) - 1)])


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


def _boot_leads(crit: Criterion, b_t, b_boot, s_t, s_boot):
    """Per resample: the lead (log10; a curve that never emerges sits at +inf, NaN when both
    never do), and the smallest and largest lead the two checkpoint brackets allow."""
    b_lo, b_hi, b_never = crit.brackets(b_t, b_boot)
    s_lo, s_hi, s_never = crit.brackets(s_t, s_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = lambda x: np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), -np.inf)  # noqa: E731
        b_pt = np.where(b_never, np.inf, lg(b_hi))  # the crossing checkpoint (t[0] at init)
        s_pt = np.where(s_never, np.inf, lg(s_hi))
        leads = np.where(b_never & s_never, np.nan, b_pt - s_pt)
        lows = lg(b_lo) - np.where(s_never, np.inf, lg(s_hi))
        highs = np.where(b_never, np.inf, lg(b_hi)) - lg(s_lo)
    lows = np.where(np.isnan(lows), -np.inf, lows)
    highs = np.where(np.isnan(highs), np.inf, highs)
    return leads, lows, highs


def _n_groups(curve: Curve) -> int | None:
    if curve.parts:
        found = [_n_groups(c) for _, c in curve.parts]
        return None if None in found else max(found)
    return n_groups(curve.groups)


def _log(x: float | None, empty: float) -> float:
    if x is None:
        return empty
    return math.log10(x) if x > 0 else -math.inf


def _lead(b: float | None, s: float | None) -> float | None:
    if b is None or s is None or b <= 0 or s <= 0:
        return None
    return math.log10(b) - math.log10(s)


def _bounds(b: Crossing, s: Crossing) -> tuple[float, float]:
    """Smallest and largest lead the two checkpoint brackets allow."""
    lo = _log(b.lower, -math.inf) - _log(s.upper, math.inf)
    hi = _log(b.upper, math.inf) - _log(s.lower, -math.inf)
    return (-math.inf if math.isnan(lo) else lo), (math.inf if math.isnan(hi) else hi)


def _margin(tokens: np.ndarray) -> float | None:
    t = np.unique(tokens[tokens > 0])
    if len(t) < 2:
        return None
    return float(np.median(np.diff(np.log10(t))))


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
    for k in ("none", "binomial", "items"):
        if k in kinds:
            return k
    return "groups"


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
                behavior_criterion=crit.name,
                probe_criterion=crit.name,
                behavior_groups=m.groups[0],
                probe_groups=m.groups[1],
                lexical=m.lexical[0],
                lexical_tokens=m.lexical[1],
            )
        )
    return out
