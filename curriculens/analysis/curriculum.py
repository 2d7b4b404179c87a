"""The curriculum map of one run: per skill, when behavior and the best probe emerge, and the order.

Reads only the results table. Emergence is the first checkpoint whose score is at or above a
threshold and at or above a fraction of the final value (``relative``); a curve that never gets
there is censored and listed last.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from curriculens.analysis.emergence import emergence_point
from curriculens.analysis.table import load_table, skill_info

__all__ = ["SkillEmergence", "behavior_curve", "curriculum", "load_table", "probe_matrix"]


def _primary_metric(skill: str, df: pd.DataFrame) -> str:
    info = skill_info(df, [skill]).get(skill)
    if info is not None:
        return info["primary_metric"]
    # imported curves without metadata: take the skill's first behavior metric
    return str(df[(df.skill == skill) & (df.kind == "behavior")].metric.iloc[0])


def behavior_curve(df: pd.DataFrame, skill: str, metric: str | None = None) -> pd.Series:
    """The skill's behavior score per checkpoint, indexed by tokens (ascending)."""
    metric = metric or _primary_metric(skill, df)
    sel = df[(df.skill == skill) & (df.kind == "behavior") & (df.metric == metric)]
    return sel.groupby("tokens")["value"].mean().sort_index()


def probe_matrix(df: pd.DataFrame, skill: str, kind: str = "probe") -> pd.DataFrame:
    """Probe accuracy, rows = layer, columns = tokens (``kind="control"`` for control tasks)."""
    sel = df[(df.skill == skill) & (df.kind == kind) & (df.metric == "acc")]
    # dropna=False: a checkpoint that could not be measured stays as a NaN column, so nothing
    # from an earlier checkpoint stands in for its value
    return sel.pivot_table(
        index="layer", columns="tokens", values="value", dropna=False
    ).sort_index()


def _probe_emergence(
    best: pd.Series, threshold: float, fraction: float, min_gain: float
) -> float | None:
    """Probe emergence measured above the step-0 score, not above chance.

    Labels that a random-init model already decodes (token identity, bag-of-digits carry bits)
    would otherwise 'emerge' at step 0 and fake a representation lead. The curve is rescaled to
    its gain over step 0; emergence is where the gain reaches ``fraction`` of its maximum and the
    accuracy is at least ``threshold``. No gain of ``min_gain`` or more means censored.
    """
    if best.empty:
        return None
    v = best.values
    gain = v - v[0]
    if not np.isfinite(gain).any() or np.nanmax(gain) < min_gain:
        return None
    ok = (gain >= fraction * np.nanmax(gain)) & (v >= threshold)
    hits = np.flatnonzero(ok)
    return float(best.index[hits[0]]) if hits.size else None


@dataclass(frozen=True, kw_only=True)
class SkillEmergence:
    """Emergence summary of one skill (tokens are None when censored)."""

    skill: str
    family: str
    components: tuple[str, ...]
    metric: str
    behavior_final: float
    behavior_tokens: float | None
    probe_final: float
    probe_step0: float
    probe_tokens: float | None
    probe_layer: int
    selectivity_final: float

    @property
    def emerged(self) -> bool:
        return self.behavior_tokens is not None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["components"] = list(self.components)
        return d


def curriculum(
    source,
    *,
    threshold: float = 0.8,
    fraction: float = 0.9,
    probe_threshold: float = 0.8,
    min_gain: float = 0.05,
) -> list[SkillEmergence]:
    """Emergence of every skill in a run, sorted by behavior emergence (censored last).

    Args:
        source: Run directory, store, or results DataFrame.
        threshold: Behavior level that counts as emerged (primary metric).
        fraction: Share of the final value that must also be reached.
        probe_threshold: Probe accuracy that counts as decodable.
        min_gain: Least gain of the best probe over its step-0 score for a probe emergence to be
            measured at all; below it the label counts as decodable at init (censored).
    """
    df = load_table(source)
    info = skill_info(df, df.skill.unique())
    out = []
    for skill in sorted(df.skill.unique()):
        beh = behavior_curve(df, skill)
        if beh.empty:
            continue
        metric = _primary_metric(skill, df)
        b_tok = emergence_point(
            beh.index, beh.values, method="relative", threshold=threshold, fraction=fraction
        )
        probes = probe_matrix(df, skill)
        best = probes.max(axis=0) if not probes.empty else pd.Series(dtype=float)
        p_tok = _probe_emergence(best, probe_threshold, fraction, min_gain)
        controls = probe_matrix(df, skill, "control")
        if not probes.empty and probes[probes.columns[-1]].notna().any():
            last = probes.columns[-1]
            layer = int(probes[last].idxmax())
            sel_final = (
                float(probes[last].max() - controls[last].get(layer, np.nan))
                if not controls.empty
                else float("nan")
            )
        else:
            layer, sel_final = -1, float("nan")
        meta = info.get(skill, {})
        family, comps = meta.get("family", ""), tuple(meta.get("components", ()))
        out.append(
            SkillEmergence(
                skill=skill,
                family=family,
                components=comps,
                metric=metric,
                behavior_final=float(beh.iloc[-1]),
                behavior_tokens=b_tok,
                probe_final=float(best.iloc[-1]) if not best.empty else float("nan"),
                probe_step0=float(best.iloc[0]) if not best.empty else float("nan"),
                probe_tokens=p_tok,
                probe_layer=layer,
                selectivity_final=sel_final,
            )
        )
    out.sort(key=lambda e: (e.behavior_tokens is None, e.behavior_tokens or 0, e.skill))
    return out
