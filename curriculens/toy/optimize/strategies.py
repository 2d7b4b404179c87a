"""Mixture proposals: turn a run's curriculum map into new corpus weights, with a reason per source.

Two strategies: ``upweight`` raises late or never-emerging skills in proportion to their delay;
``staged`` front-loads the components of composite skills, then shifts weight to the composites.
Total training tokens stay fixed: only the shares change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import SkillEmergence, load_table, skill_emergence
from curriculens.errors import ConfigError, CurriculensError, did_you_mean
from curriculens.params import flag
from curriculens.reporting.formatting import format_tokens
from curriculens.toy.corpus import DEFAULT_MIXTURE

STRATEGIES = ("upweight", "staged")


@dataclass(frozen=True, kw_only=True)
class Phase:
    """One stage of a schedule: from ``start`` to ``end`` (fractions of the token budget)."""

    start: float
    end: float
    mixture: dict[str, float]

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "mixture": dict(self.mixture)}


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """A proposed data mix and why.

    Attributes:
        strategy: ``upweight`` or ``staged``.
        baseline: Source -> weight of the run (sums to 1).
        proposed: Source -> share of all training tokens under the proposal (sums to 1; for a
            staged schedule, the token-weighted mean over phases).
        reasons: Source -> one sentence on why its weight changed (or did not).
        targets: Sources the proposal means to speed up.
        phases: The schedule; one phase covering [0, 1] for ``upweight``.
        baseline_source: Where ``baseline`` came from (``train_config.json`` or the default).
        notes: Caveats worth printing.
    """

    strategy: str
    baseline: dict[str, float]
    proposed: dict[str, float]
    reasons: dict[str, str]
    targets: tuple[str, ...]
    phases: tuple[Phase, ...]
    baseline_source: str = "given"
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "baseline": _rounded(self.baseline),
            "proposed": _rounded(self.proposed),
            "reasons": dict(self.reasons),
            "targets": list(self.targets),
            "phases": [p.to_dict() for p in self.phases],
            "baseline_source": self.baseline_source,
            "budget": "total training tokens unchanged (same steps x batch); only shares move",
            "notes": list(self.notes),
        }


def _rounded(m: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in m.items()}


def _normalize(m: Mapping[str, float]) -> dict[str, float]:
    total = sum(m.values())
    if not total > 0:
        raise ConfigError("mixture weights sum to 0; give at least one positive weight.")
    return {k: float(v) / total for k, v in m.items()}


def _pct(w: float) -> str:
    return f"{100 * w:.1f}%"


def _tok(t: float | None) -> str:
    return format_tokens(t, missing="never")


def delay_fraction(e: SkillEmergence, typical: float, total: float) -> float:
    """How late a skill emerged: 0 (by the ``typical`` point) .. 1 (at the end or never).

    Measured on a log-token scale between the typical (median) emergence of the map and its last
    checkpoint, since emergence in pretraining is spread over orders of magnitude of tokens.
    Skills that emerged by the median are not late: their delay is 0.

    >>> e = SkillEmergence(skill="a", family="", components=(), metric="m", behavior_final=0.9,
    ...     behavior_tokens=1e4, probe_final=0.9, probe_step0=0.5, probe_tokens=None,
    ...     probe_layer=0, selectivity_final=0.1)
    >>> round(delay_fraction(e, 1e2, 1e6), 2)
    0.5
    """
    if e.behavior_tokens is None:
        return 1.0
    lo = math.log(max(typical, 1.0))
    hi = math.log(max(total, typical * 1.0001, 1.0001))
    t = math.log(max(e.behavior_tokens, 1.0))
    return min(1.0, max(0.0, (t - lo) / (hi - lo))) if hi > lo else 0.0


def _check_inputs(
    emergences: Sequence[SkillEmergence], baseline: Mapping[str, float]
) -> dict[str, float]:
    if not emergences:
        raise CurriculensError(
            "The curriculum map is empty (no skill has behavior rows); sweep the run first."
        )
    base = _normalize(dict(baseline))
    if not set(base) & {e.skill for e in emergences}:
        raise ConfigError(
            f"No skill of the map ({', '.join(e.skill for e in emergences)}) is a source of the "
            f"mixture ({', '.join(base)}); map skills to sources with {flag('source_map')}."
        )
    return base


def propose_upweight(
    emergences: Sequence[SkillEmergence],
    baseline: Mapping[str, float],
    *,
    total_tokens: float,
    strength: float = 2.0,
    max_share: float = 0.4,
) -> Proposal:
    """Up-weight late and never-emerging skills in proportion to their delay.

    Each source's weight is multiplied by ``1 + strength * delay`` (:func:`delay_fraction`:
    0 up to the map's median emergence, 1 at its last checkpoint; censored skills get the full
    ``1 + strength``), capped at ``max_share`` of the mix, then the
    mix is renormalized. Early skills keep multiplier 1, so their share shrinks: the token
    budget is fixed and the tokens have to come from somewhere. Sources the map does not cover
    keep their relative weight.

    Args:
        emergences: The curriculum map
            (:func:`curriculens.analysis.curriculum.skill_emergence`).
        baseline: Source -> weight of the run.
        total_tokens: Tokens at the map's last checkpoint.
        strength: Extra multiplier for a maximally delayed skill.
        max_share: Largest share any one source may get.

    >>> p = propose_upweight(maps, {"a": 0.5, "b": 0.5}, total_tokens=1e6)  # doctest: +SKIP
    """
    if not strength > 0:
        raise ConfigError(f"strength={strength!r}; expected a number > 0 (e.g. 2.0).")
    if not 0 < max_share <= 1:
        raise ConfigError(f"max_share={max_share!r}; expected a share in (0, 1].")
    base = _check_inputs(emergences, baseline)
    by_skill = {e.skill: e for e in emergences if e.skill in base}
    emerged = [e.behavior_tokens for e in by_skill.values() if e.behavior_tokens]
    typical = float(np.median(emerged)) if emerged else 1.0
    delay = {s: delay_fraction(e, typical, total_tokens) for s, e in by_skill.items()}
    mult = {s: 1.0 + strength * delay.get(s, 0.0) for s in base}
    raw = {s: base[s] * mult[s] for s in base}
    proposed = _cap(_normalize(raw), max_share)
    reasons, targets = {}, []
    for s in base:
        e = by_skill.get(s)
        change = f"{_pct(base[s])} -> {_pct(proposed[s])}"
        if e is None:
            reasons[s] = f"{change}: not in the curriculum map; kept its relative weight."
        elif e.behavior_tokens is None:
            targets.append(s)
            reasons[s] = (
                f"{change}: never emerged (final {e.behavior_final:.2f}); weight x{mult[s]:.2f}, "
                "the full up-weight."
            )
        elif delay[s] > 0.0:
            if proposed[s] > base[s]:
                targets.append(s)
            reasons[s] = (
                f"{change}: emerged late, at {_tok(e.behavior_tokens)} tokens (median "
                f"{_tok(typical)}), delay {delay[s]:.2f}; weight x{mult[s]:.2f}"
                + ("" if proposed[s] > base[s] else ", still down after renormalizing")
                + "."
            )
        else:
            reasons[s] = (
                f"{change}: emerged early ({_tok(e.behavior_tokens)} tokens, by the median "
                f"{_tok(typical)}); weight kept, share lowered to pay for the late skills."
            )
        if proposed[s] >= max_share - 1e-9 and raw[s] / sum(raw.values()) > max_share:
            reasons[s] += f" Capped at {_pct(max_share)} of the mix."
    targets.sort(key=lambda s: -(proposed[s] - base[s]))
    return Proposal(
        strategy="upweight",
        baseline=base,
        proposed=proposed,
        reasons=reasons,
        targets=tuple(targets),
        phases=(Phase(start=0.0, end=1.0, mixture=proposed),),
    )


def _cap(m: dict[str, float], max_share: float) -> dict[str, float]:
    """Cap shares at ``max_share``, handing the excess to the others in proportion."""
    if max_share * len(m) < 1:
        return m
    m = dict(m)
    for _ in range(len(m)):
        over = {k for k, v in m.items() if v > max_share + 1e-12}
        if not over:
            break
        excess = sum(m[k] - max_share for k in over)
        rest = {k: v for k, v in m.items() if v < max_share - 1e-12}
        for k in over:
            m[k] = max_share
        tot = sum(rest.values())
        for k, v in rest.items():
            m[k] = v + excess * v / tot
    return m


def propose_staged(
    emergences: Sequence[SkillEmergence],
    baseline: Mapping[str, float],
    *,
    total_tokens: float,
    boost: float = 2.0,
    hold: float = 0.25,
    split: float | None = None,
) -> Proposal:
    """A prerequisite-aware staged curriculum: components first, then composites.

    Phase 1 multiplies the weight of every component of a composite skill by ``boost`` and the
    composites by ``hold``; phase 2 does the reverse (composites x ``boost``, components back to
    their baseline weight). Each phase is renormalized. Phase 1 lasts ``split`` of the token
    budget; by default the share of the map's budget by which the components had emerged,
    clipped to 0.2..0.5 (0.3 when none emerged).

    Args:
        emergences: The curriculum map.
        baseline: Source -> weight of the run.
        total_tokens: Tokens at the map's last checkpoint.
        boost: Multiplier of the favoured group in each phase.
        hold: Multiplier of composites in phase 1.
        split: Token fraction of phase 1, or None to derive it from the map.
    """
    if not boost > 1:
        raise ConfigError(f"boost={boost!r}; expected a multiplier > 1 (e.g. 2.0).")
    if not 0 <= hold < 1:
        raise ConfigError(f"hold={hold!r}; expected a multiplier in [0, 1) (e.g. 0.25).")
    base = _check_inputs(emergences, baseline)
    composites = {
        e.skill: tuple(c for c in e.components if c in base)
        for e in emergences
        if e.skill in base and e.components
    }
    composites = {k: v for k, v in composites.items() if v}
    if not composites:
        raise CurriculensError(
            "The staged strategy needs a composite skill with components in the mixture; this "
            f"map has none. Use {flag('strategy')} upweight."
        )
    components = sorted({c for cs in composites.values() for c in cs} - set(composites))
    by_skill = {e.skill: e for e in emergences}
    if split is None:
        ts = [by_skill[c].behavior_tokens for c in components if c in by_skill]
        ts = [t for t in ts if t is not None]
        split = min(0.5, max(0.2, max(ts) / total_tokens)) if ts and total_tokens > 0 else 0.3
        split_why = "when the components had emerged in the map" if ts else "default"
    else:
        split_why = "given"
    if not 0 < split < 1:
        raise ConfigError(f"split={split!r}; expected a token fraction in (0, 1).")
    m1 = {
        s: w * (boost if s in components else hold if s in composites else 1.0)
        for s, w in base.items()
    }
    m2 = {s: w * (boost if s in composites else 1.0) for s, w in base.items()}
    m1, m2 = _normalize(m1), _normalize(m2)
    proposed = {s: split * m1[s] + (1 - split) * m2[s] for s in base}
    reasons = {}
    for s in base:
        span = f"phase 1 {_pct(m1[s])}, phase 2 {_pct(m2[s])} (overall {_pct(base[s])} -> "
        span += f"{_pct(proposed[s])})"
        if s in composites:
            reasons[s] = (
                f"{span}: composite of {' + '.join(composites[s])}; held back until its "
                "components are learnt, then up-weighted."
            )
        elif s in components:
            users = sorted(k for k, v in composites.items() if s in v)
            reasons[s] = f"{span}: component of {', '.join(users)}; front-loaded in phase 1."
        else:
            reasons[s] = f"{span}: not part of a composite; relative weight kept."
    return Proposal(
        strategy="staged",
        baseline=base,
        proposed=proposed,
        reasons=reasons,
        targets=tuple(sorted(composites)),
        phases=(
            Phase(start=0.0, end=round(split, 4), mixture=m1),
            Phase(start=round(split, 4), end=1.0, mixture=m2),
        ),
        notes=(f"phase 1 covers {split:.0%} of the tokens ({split_why}).",),
    )


def run_baseline(run: str | Path) -> tuple[dict[str, float], str, dict | None]:
    """The run's corpus mixture and where it came from, plus its train config when saved.

    Falls back to ``DEFAULT_MIXTURE`` when the run has no ``train_config.json`` (e.g. a sweep of
    checkpoints trained elsewhere).
    """
    path = Path(run) / "train_config.json"
    if path.exists():
        try:
            cfg = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"{str(path)!r} is not valid JSON ({e}).") from None
        if cfg.get("mixture"):
            return _normalize(dict(cfg["mixture"])), "train_config.json", cfg
        return _normalize(DEFAULT_MIXTURE), "DEFAULT_MIXTURE (train_config.json has none)", cfg
    return _normalize(DEFAULT_MIXTURE), "DEFAULT_MIXTURE (run has no train_config.json)", None


def propose(
    run: str | Path,
    *,
    strategy: str = "upweight",
    criterion: Criterion | str | None = None,
    **options,
) -> Proposal:
    """Read a run's curriculum map and propose a new mixture.

    Args:
        run: Run directory with ``results.sqlite`` (and ideally ``train_config.json``).
        strategy: ``upweight`` or ``staged``.
        criterion: Emergence criterion of the map (default ``paper``; see ``curriculum``).
        **options: Options of :func:`propose_upweight` or :func:`propose_staged`.

    >>> p = propose("runs/demo", strategy="upweight")  # doctest: +SKIP
    >>> p.proposed["copy_plural"] > p.baseline["copy_plural"]  # doctest: +SKIP
    True
    """
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"Unknown strategy {strategy!r}.{did_you_mean(strategy, STRATEGIES)} "
            f"Strategies: {', '.join(STRATEGIES)}."
        )
    run = Path(run)
    if not run.is_dir():
        raise ConfigError(f"Run directory {str(run)!r} does not exist; give a run directory.")
    df = load_table(run)
    total = float(df.tokens.max())
    maps = skill_emergence(df, criterion=criterion, n_boot=0)
    baseline, source, _ = run_baseline(run)
    fn = propose_upweight if strategy == "upweight" else propose_staged
    p = fn(maps, baseline, total_tokens=total, **options)
    notes = [f"emergence points: criterion {Criterion.of(criterion).label()}.", *p.notes]
    if source != "train_config.json":
        notes.append(f"baseline mixture: {source}.")
    missing = sorted({e.skill for e in maps} - set(baseline))
    if missing:
        notes.append(f"skills without a corpus source, not reweighted: {', '.join(missing)}.")
    return Proposal(
        strategy=p.strategy,
        baseline=p.baseline,
        proposed=p.proposed,
        reasons=p.reasons,
        targets=p.targets,
        phases=p.phases,
        baseline_source=source,
        notes=tuple(notes),
    )


def map_to_sources(
    proposal: Proposal,
    source_map: Mapping[str, str],
    weights: Mapping[str, float] | None = None,
) -> dict:
    """The proposal as plain mixture weights over the user's own data sources.

    Each user source gets the ratio of proposed to baseline share of the skills mapped to it;
    its weight (``weights``, or the summed baseline shares of its skills) is multiplied by that
    ratio and the mix renormalized. Sources with no mapped skill keep their weight.

    Args:
        proposal: A :class:`Proposal`.
        source_map: Skill -> user data source (e.g. ``{"copy": "code", "facts": "wiki"}``).
        weights: The user's current source weights, or None.

    Returns:
        ``{"baseline": {source: w}, "proposed": {source: w}, "factor": {source: x}}``.

    >>> map_to_sources(p, {"copy": "code"}, {"code": 0.2, "web": 0.8})  # doctest: +SKIP
    """
    unknown = sorted(set(source_map) - set(proposal.baseline))
    if unknown:
        raise ConfigError(
            f"source map names skill(s) {unknown} that are not in the mixture; skills are "
            f"{', '.join(proposal.baseline)}."
        )
    groups: dict[str, list[str]] = {}
    for skill, src in source_map.items():
        groups.setdefault(str(src), []).append(skill)
    if weights is None:
        weights = {g: sum(proposal.baseline[s] for s in ks) for g, ks in groups.items()}
    base = _normalize(dict(weights))
    factor = {}
    for g in base:
        ks = groups.get(g, [])
        b = sum(proposal.baseline[s] for s in ks)
        factor[g] = sum(proposal.proposed[s] for s in ks) / b if ks and b > 0 else 1.0
    proposed = _normalize({g: base[g] * factor[g] for g in base})
    return {
        "baseline": _rounded(base),
        "proposed": _rounded(proposed),
        "factor": {g: round(f, 4) for g, f in factor.items()},
        "skills": {g: sorted(groups.get(g, [])) for g in base},
    }
