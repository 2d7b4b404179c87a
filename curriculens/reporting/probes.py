"""Every probe number beside its baselines, and one line per skill on what the number means.

For each probed skill, at the layer where its final probe is best: held-out probe accuracy, the
control task (one random class per group; the mean ± SD over the sweep's control draws), chance
(the test set's majority class), the majority class of the training set, the same probe at the
first checkpoint (random init, when the series starts there), the embedding-layer probe, the
lexical baseline (a probe on the prompt's mean input embeddings) with its ``lexical`` flag, the
online MDL compression when the sweep measured it, and the audit's verdict on the split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from curriculens.reporting.formatting import format_tokens, layer_name
from curriculens.store_schema import LEXICAL_HOOK, LEXICAL_METRIC

__all__ = ["ProbeBaselines", "probe_baselines", "baselines_table", "meaning"]

#: How far above a baseline a probe must be before the report calls it better.
MARGIN = 0.05
#: The stored layer of the embedding (``hook_embed``).
EMBED_LAYER = -1


@dataclass(frozen=True, kw_only=True)
class ProbeBaselines:
    """One skill's final probe and its baselines (means over runs), at its best layer."""

    skill: str
    layer: int
    acc: float
    control: float
    majority: float
    first: float
    first_tokens: int
    embed: float
    mdl: float | None
    audit: str
    probe: str
    control_sd: float = float("nan")
    control_draws: int = 0
    chance: float = float("nan")
    lexical_acc: float = float("nan")
    lexical: bool | None = None

    @property
    def selectivity(self) -> float:
        return self.acc - self.control


def probe_baselines(
    df: pd.DataFrame,
    skill_text: dict[str, str],
    audit: dict[str, str],
    layers: dict[str, int] | None = None,
    lexical: dict[str, bool | None] | None = None,
) -> list[ProbeBaselines]:
    """The baselines of every probed skill in a results table (see :mod:`analysis.table`).

    Each skill is read at ``layers[skill]`` when given (the report passes lead/lag's best
    layer, so every table names the same one), else at its best final probe accuracy.
    ``lexical``: each skill's lead/lag ``lexical`` flag (the report passes lead/lag's).
    """
    df = df.copy(deep=False)
    df.attrs = {}  # the skill snapshot: pandas would deep-copy it on every selection below
    out = []
    for skill in dict.fromkeys(df.loc[df.kind == "probe", "skill"]):
        mine = df[df.skill == skill]
        acc = _by_layer(mine, "probe", "probe_acc")
        if acc.empty:
            continue
        last, first = acc.columns.max(), acc.columns.min()
        layer = int((layers or {}).get(skill, acc[last].idxmax()))
        control = _by_layer(mine, "control", "control_acc")
        majority = _by_layer(mine, "baseline", "majority")
        sd = _by_layer(mine, "baseline", "control_sd")
        chance = _by_layer(mine, "baseline", "chance")
        mdl = _by_layer(mine, "probe", "mdl_compression")
        draws = _draws(mine, layer, last)
        lex = mine[
            (mine.kind == "baseline") & (mine.metric == LEXICAL_METRIC) & (mine.tokens == last)
        ]
        if "hook" in lex.columns:
            lex = lex[lex.hook == LEXICAL_HOOK]
        out.append(
            ProbeBaselines(
                skill=skill,
                layer=layer,
                acc=float(acc.at[layer, last]),
                control=_at(control, layer, last),
                majority=_at(majority, layer, last),
                first=float(acc.at[layer, first]),
                first_tokens=int(first),
                embed=_at(acc, EMBED_LAYER, last),  # NaN when the embedding was not probed
                mdl=None if mdl.empty else _at(mdl, layer, last),
                audit=audit.get(skill, "not audited"),
                probe=skill_text.get(skill, ""),
                control_sd=_at(sd, layer, last),
                control_draws=draws,
                chance=_at(chance, layer, last),
                lexical_acc=float(lex.value.mean()) if len(lex) else float("nan"),
                lexical=(lexical or {}).get(skill),
            )
        )
    return out


def _by_layer(df: pd.DataFrame, kind: str, metric: str) -> pd.DataFrame:
    sel = df[(df.kind == kind) & (df.metric == metric)]
    return sel.pivot_table(index="layer", columns="tokens", values="value", aggfunc="mean")


def _draws(df: pd.DataFrame, layer: int, tokens) -> int:
    """Control draws behind the control at ``(layer, tokens)`` (the ``n`` of its SD row)."""
    if "n" not in df.columns:
        return 0
    sel = df[
        (df.kind == "baseline")
        & (df.metric == "control_sd")
        & (df.layer == layer)
        & (df.tokens == tokens)
    ]
    return int(sel.n.min()) if len(sel) and sel.n.notna().all() else 0


def _at(table: pd.DataFrame, layer: int, tokens) -> float:
    try:
        return float(table.at[layer, tokens])
    except KeyError:
        return float("nan")


def baselines_table(rows: list[ProbeBaselines]) -> list[list[str]]:
    """Header plus one row per skill, as strings."""
    head = [
        "skill",
        "best layer",
        "probe",
        "chance",
        "control (mean ± SD)",
        "selectivity",
        "majority",
        "first checkpoint",
        "embeddings",
        "lexical baseline",
        "MDL compression",
        "audit",
    ]
    body = [
        [
            r.skill,
            layer_name(r.layer),
            f"{r.acc:.2f}",
            _f(r.chance),
            _control(r),
            _f(r.selectivity, sign=True),
            _f(r.majority),
            f"{r.first:.2f} ({format_tokens(r.first_tokens)})",
            _f(r.embed),
            _f(r.lexical_acc) + (" lexical" if r.lexical else ""),
            "–" if r.mdl is None else _f(r.mdl),
            r.audit,
        ]
        for r in rows
    ]
    return [head, *body]


def _control(r: ProbeBaselines) -> str:
    """``0.50 ± 0.09 (30)``: the mean control, the SD over its draws and their number."""
    if not np.isfinite(r.control_sd):
        return _f(r.control)
    n = f" ({r.control_draws})" if r.control_draws else ""
    return f"{r.control:.2f} ± {r.control_sd:.2f}{n}"


def _f(x: float, sign: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:+.2f}" if sign else f"{x:.2f}"


def meaning(r: ProbeBaselines) -> str:
    """One line: what this skill's probe number means, judged against its baselines."""
    base = max(v for v in (r.control, r.majority, r.chance) if np.isfinite(v))
    at = f"At layer {layer_name(r.layer)}, {r.acc:.2f} held out"
    if np.isfinite(r.chance):
        at += f" (chance {r.chance:.2f})"
    if r.audit == "leaky":
        verdict = "the split leaks (see the audit), so this number may be memorisation"
    elif r.acc < base + MARGIN:
        verdict = (
            f"no better than its control ({_f(r.control)}) or majority ({_f(r.majority)}): "
            "this probe shows nothing"
        )
    elif r.lexical:
        verdict = (
            f"a probe on the prompt's mean input embeddings (no attention, no MLP) reaches "
            f"{_f(r.lexical_acc)} and keeps up with it over training (lexical): the words alone "
            "may carry this label"
        )
    elif r.first >= r.acc - MARGIN and r.first_tokens == 0:
        verdict = (
            f"already {r.first:.2f} at random init: the label is linearly present without "
            "training (mixing of the input tokens), so this curve says nothing about learning"
        )
    elif r.first >= r.acc - MARGIN:
        verdict = f"already {r.first:.2f} at the first checkpoint: no rise inside this series"
    elif np.isfinite(r.embed) and r.embed >= r.acc - MARGIN:
        verdict = (
            f"as high from the embeddings ({r.embed:.2f}): a lexical signal, not a computed one"
        )
    else:
        verdict = (
            f"above its control ({_f(r.control)}), majority ({_f(r.majority)}), first checkpoint "
            f"({r.first:.2f})"
            + (f" and embeddings ({r.embed:.2f})" if np.isfinite(r.embed) else "")
            + ": learned, and held at this layer"
        )
    what = f" Probed: {r.probe}" if r.probe else ""
    return f"{at}; {verdict}.{what}"
