"""The curriculum map of one run: per skill, when behavior emerges, whether its representation
leads, and the order.

Reads only the results table. Behavior emergence uses one criterion (default ``paper``, see
:mod:`curriculens.analysis.criterion`) on each skill's primary metric, the same curve and
criterion that ``curriculens emergence RUN`` and the report use; the probe columns come from
:func:`~curriculens.analysis.leadlag.lead_lag` (probe selectivity under its criterion). A skill
that never emerges is censored and listed last, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from curriculens.analysis.bootstrap import attach_groups, items_table
from curriculens.analysis.chance import with_chance
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curves import Curve, behavior_metric, curve_of, pool, probe_curve, select
from curriculens.analysis.emergence import emergence_interval
from curriculens.analysis.leadlag import lead_lag
from curriculens.analysis.table import load_table, read_meta, read_rows, skill_info
from curriculens.errors import ConfigError

__all__ = [
    "SkillEmergence",
    "behavior_curve",
    "curriculum",
    "load_table",
    "probe_matrix",
    "skill_emergence",
]


def behavior_curve(df: pd.DataFrame, skill: str, metric: str | None = None) -> pd.Series:
    """The skill's behavior score per checkpoint (mean over runs), indexed by tokens (ascending)."""
    rows = df[(df.skill == skill) & (df.kind == "behavior")].to_dict("records")
    metric = metric or behavior_metric(skill, rows, skill_info(df, [skill]).get(skill))
    sel = df[(df.skill == skill) & (df.kind == "behavior") & (df.metric == metric)]
    return sel.groupby("tokens")["value"].mean().sort_index()


def probe_matrix(df: pd.DataFrame, skill: str, kind: str = "probe") -> pd.DataFrame:
    """Probe accuracy, rows = layer (TransformerLens block index, -1 the embedding), columns =
    tokens (``kind="control"`` for control tasks)."""
    sel = df[(df.skill == skill) & (df.kind == kind) & (df.metric == f"{kind}_acc")]
    # dropna=False: a checkpoint that could not be measured stays as a NaN column, so nothing
    # from an earlier checkpoint stands in for its value
    return sel.pivot_table(
        index="layer", columns="tokens", values="value", dropna=False
    ).sort_index()


@dataclass(frozen=True, kw_only=True)
class SkillEmergence:
    """Emergence summary of one skill.

    Attributes:
        skill, family, components: The skill and its metadata as swept.
        metric: The behavior metric read (the skill's primary metric).
        criterion: Name of the behavior criterion.
        behavior_state: ``emerged``, ``present_at_init`` or ``not_emerged`` (default: from
            ``behavior_tokens``).
        behavior_tokens: Emergence point (None when not emerged).
        behavior_lo, behavior_hi: Its interval ``(lo, hi]`` (see
            :class:`~curriculens.analysis.emergence.EmergenceCI`; None: open end).
        behavior_final: Score at the last checkpoint.
        probe_state, probe_tokens: Emergence of probe selectivity at the best layer under the
            lead/lag criterion (None: the skill has no probe and control rows).
        probe_layer: Best layer, the TransformerLens block index (-1: the embedding; None
            without probes).
        probe_step0, probe_final: Probe accuracy at that layer, first and last checkpoint.
        selectivity_final: Probe - control accuracy at that layer, last checkpoint.
        leadlag: The lead/lag verdict (None without probes).
        probe_criterion: Name of the criterion lead/lag reads both of its curves with (the
            probe columns and the verdict); ``criterion`` names the behavior columns'.
        behavior_raw_lo, behavior_raw_hi: The crossing interval of the raw (unsmoothed) behavior
            curve under the same criterion, the one that holds the true crossing at the
            documented coverage (see :class:`~curriculens.analysis.emergence.EmergenceCI`).
    """

    skill: str
    family: str
    components: tuple[str, ...]
    metric: str
    behavior_tokens: float | None
    behavior_final: float
    criterion: str = "paper"
    behavior_state: str = ""
    behavior_lo: float | None = None
    behavior_hi: float | None = None
    probe_state: str | None = None
    probe_tokens: float | None = None
    probe_layer: int | None = None
    probe_step0: float = math.nan
    probe_final: float = math.nan
    selectivity_final: float = math.nan
    leadlag: str | None = None
    probe_criterion: str | None = None
    behavior_raw_lo: float | None = None
    behavior_raw_hi: float | None = None

    def __post_init__(self) -> None:
        if not self.behavior_state:  # built by hand: a point is an emergence
            state = "not_emerged" if self.behavior_tokens is None else "emerged"
            object.__setattr__(self, "behavior_state", state)

    @property
    def emerged(self) -> bool:
        """Met the criterion within the run (including at its first checkpoint)."""
        return self.behavior_state != "not_emerged"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["components"] = list(self.components)
        return d


#: Columns of :func:`curriculum`'s DataFrame, in order (the fields of :class:`SkillEmergence`).
CURRICULUM_COLUMNS = (
    "skill", "family", "components", "metric", "criterion", "behavior_state", "behavior_tokens",
    "behavior_lo", "behavior_hi", "behavior_final", "probe_state", "probe_tokens", "probe_layer",
    "probe_step0", "probe_final", "selectivity_final", "leadlag", "probe_criterion",
    "behavior_raw_lo", "behavior_raw_hi",
)  # fmt: skip


def curriculum(source, **kwargs) -> pd.DataFrame:
    """The curriculum map of a run as a DataFrame: one row per skill, sorted by behavior
    emergence (not emerged last).

    Columns (:data:`CURRICULUM_COLUMNS`, described in :class:`SkillEmergence`): skill, family,
    components (a tuple), metric, criterion, behavior_state (``emerged``, ``present_at_init``,
    ``not_emerged``), behavior_tokens and its interval behavior_lo, behavior_hi (NaN: no value
    or an open end), behavior_final, probe_state, probe_tokens, probe_layer (TransformerLens
    block index, -1 the embedding; ``<NA>`` without probes), probe_step0, probe_final,
    selectivity_final, leadlag, probe_criterion (the criterion of the probe columns and the
    verdict) and behavior_raw_lo, behavior_raw_hi (the raw curve's crossing interval). The same
    objects as a list: :func:`skill_emergence`.

    Args:
        source, **kwargs: As :func:`skill_emergence` (``criterion``, ``probe_criterion``,
            ``n_boot``, ``seed``, criterion fields).

    >>> cur = curriculum("runs/demo")  # doctest: +SKIP
    >>> cur[cur.behavior_state == "emerged"][["skill", "behavior_tokens"]]  # doctest: +SKIP
    """
    found = skill_emergence(source, **kwargs)
    df = pd.DataFrame([asdict(e) for e in found], columns=list(CURRICULUM_COLUMNS))
    df["probe_layer"] = df["probe_layer"].astype("Int64")
    for col in (
        "behavior_tokens", "behavior_lo", "behavior_hi", "behavior_raw_lo", "behavior_raw_hi",
        "probe_tokens",
    ):  # fmt: skip
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def skill_emergence(
    source,
    *,
    criterion: Criterion | str | None = None,
    probe_criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    margin_log10: float | None = None,
    **overrides,
) -> list[SkillEmergence]:
    """Emergence of every skill in a run, sorted by behavior emergence (not emerged last), as
    :class:`SkillEmergence` objects (:func:`curriculum` gives them as a DataFrame).

    Several runs in one store (seeds) are pooled: their curves are averaged per checkpoint. A
    criterion that drops flat curves (``paper-relative``) leaves out skills whose score never
    rose above 0, as ``curriculens emergence`` does; every other skill is listed.

    Args:
        source: Run directory, store, ``.sqlite`` file or results DataFrame (a DataFrame without
            per-item outcomes gives checkpoint brackets only and untested lead/lag verdicts).
        criterion: Behavior criterion (default ``paper``).
        probe_criterion: Criterion of lead/lag (default ``paper-relative``).
        n_boot: Bootstrap resamples for the intervals and the lead/lag tests.
        seed: Seed of the resampling.
        margin_log10: Equivalence margin of lead/lag in log10 tokens (default: one checkpoint
            gap).
        **overrides: Fields that replace the behavior criterion's (``threshold=0.5``).

    >>> for e in skill_emergence("runs/demo"):  # doctest: +SKIP
    ...     print(e.skill, e.behavior_state, e.behavior_tokens, e.leadlag)
    """
    crit = Criterion.of(criterion, **overrides)
    if isinstance(source, pd.DataFrame):
        rows, meta = source.to_dict("records"), source
    else:
        rows, meta = read_rows(source, items=n_boot > 0), read_meta(source).get("skills") or {}
        if n_boot > 0:
            rows = attach_groups(rows, items_table(source))
    if not rows:
        raise ConfigError(f"The results at {str(source)!r} have no rows yet; run a sweep first.")
    skills = sorted({r["skill"] for r in rows if r["kind"] == "behavior"})
    info = skill_info(meta, skills)
    runs = sorted({r["run"] for r in rows})
    leads = {}
    if any(r["kind"] == "control" for r in rows):
        table = pd.DataFrame(rows)
        table.attrs["skills"] = skill_info(meta, sorted(table.skill.unique()))
        leads = {
            r.skill: r
            for r in lead_lag(
                table,
                criterion=probe_criterion,
                n_boot=n_boot,
                seed=seed,
                margin_log10=margin_log10,
            )
        }
    out = []
    for skill in skills:
        mine = select(rows, skill=skill)
        metric = behavior_metric(skill, mine, info.get(skill))
        beh = _pooled(select(mine, kind="behavior", metric=metric), runs)
        chance = info.get(skill, {}).get("chance")
        ci = emergence_interval(beh, with_chance(crit, chance), n_boot=n_boot, seed=seed)
        if ci.flat:  # the criterion drops curves that never rose above 0 (paper-relative)
            continue
        meta_s = info.get(skill, {})
        ll = leads.get(skill)
        probe = _probe_numbers(mine, runs, ll)
        out.append(
            SkillEmergence(
                skill=skill,
                family=meta_s.get("family", ""),
                components=tuple(meta_s.get("components", ())),
                metric=str(metric),
                criterion=crit.name,
                behavior_state=ci.state,
                behavior_tokens=ci.point,
                behavior_lo=ci.lo,
                behavior_hi=ci.hi,
                behavior_raw_lo=ci.raw_lo,
                behavior_raw_hi=ci.raw_hi,
                behavior_final=_final(beh.values),
                probe_state=None if ll is None else ll.probe_state,
                probe_tokens=None if ll is None else ll.probe_tokens,
                leadlag=None if ll is None else ll.verdict,
                probe_criterion=None if ll is None else ll.criterion,
                **probe,
            )
        )
    out.sort(key=lambda e: (e.behavior_tokens is None, e.behavior_tokens or 0, e.skill))
    return out


def _pooled(rows: list[dict], runs: list[str]) -> Curve:
    """One curve per run, pooled; runs on different checkpoints are averaged by tokens."""
    per_run = [curve_of([r for r in rows if r["run"] == rn]) for rn in runs]
    per_run = [c for c in per_run if len(c.tokens)]
    try:
        return pool(per_run)
    except ConfigError:
        return curve_of(rows)


def _probe_numbers(rows: list[dict], runs: list[str], ll) -> dict:
    """Probe accuracy (first, last) and final selectivity at lead/lag's best layer."""
    if ll is None:
        return {}
    acc = pool([probe_curve(select(rows, run=rn), ll.skill, ll.layer, ll.hook) for rn in runs])
    ctrl = pool(
        [
            curve_of(
                select(
                    rows, run=rn, kind="control", metric="control_acc", layer=ll.layer, hook=ll.hook
                )
            )
            for rn in runs
        ]
    )
    return {
        "probe_layer": ll.layer,
        "probe_step0": float(acc.values[0]),
        "probe_final": _final(acc.values),
        "selectivity_final": _final(acc.values) - _final(ctrl.values),
    }


def _final(values: np.ndarray) -> float:
    """The value at the last checkpoint: NaN when it was not measurable, never an earlier one."""
    return float(values[-1]) if len(values) else math.nan
