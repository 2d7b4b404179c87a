"""Plots of a run's results table: behavior curves, probe heatmaps, the curriculum timeline and
lead/lag.

Each function takes the table (a DataFrame from :func:`curriculens.analysis.curriculum.load_table`)
or the analysis results, and an optional ``ax``, and returns the figure. Saving belongs to the
report or the CLI. Every figure names the criterion its emergence marks come from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import (
    SkillEmergence,
    behavior_curve,
    probe_matrix,
)
from curriculens.reporting.formatting import format_tokens, layer_name

#: one colour per lead/lag verdict, shared by the figure and its legend
VERDICT_COLORS = {
    "leads": "C2",
    "lags": "C3",
    "equivalent": "C0",
    "inconclusive": "0.45",
    "present_at_init": "C4",
    "not_emerged": "0.7",
}


def _token_axis(ax, tokens: Sequence[float]) -> None:
    """Symmetric-log x axis so step 0 (0 tokens) shows beside log-spaced checkpoints."""
    positive = [t for t in tokens if t > 0]
    ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel("training tokens")


def plot_behavior(
    df: pd.DataFrame,
    skills: Sequence[str] | None = None,
    *,
    emergence: Sequence[SkillEmergence] = (),
    criterion: Criterion | str | None = None,
    ax=None,
):
    """Primary behavior metric per skill against tokens, with emergence marks.

    Marks sit at each skill's emergence point under ``criterion`` (default ``paper``); a fixed or
    stable criterion's threshold is drawn as a line.

    >>> fig = plot_behavior(load_table("runs/demo"))  # doctest: +SKIP
    """
    crit = Criterion.of(criterion)
    fig, ax = _fig_ax(ax, (7.5, 4.2))
    skills = list(skills or sorted(df.skill.unique()))
    marks = {e.skill: e.behavior_tokens for e in emergence}
    cmap = matplotlib.colormaps["tab10" if len(skills) <= 10 else "tab20"]
    all_tokens: list[float] = []
    for i, skill in enumerate(skills):
        curve = behavior_curve(df, skill)
        if curve.empty:
            continue
        all_tokens += list(curve.index)
        ax.plot(curve.index, curve.values, marker=".", color=cmap(i), label=skill, lw=1.5)
        t = marks.get(skill)
        if t is not None and t in curve.index:
            ax.plot([t], [curve.loc[t]], marker="o", ms=9, mfc="none", color=cmap(i), mew=2)
    if crit.method in ("fixed", "stable") and crit.chance is None:
        ax.axhline(crit.threshold, color="grey", ls="--", lw=1, label=f"threshold {crit.threshold}")
    _token_axis(ax, all_tokens)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("behavior score (primary metric)")
    ax.set_title(f"Behavior over training (circles: emergence, criterion {crit.name})")
    ax.legend(fontsize=7, ncol=2, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def plot_probe_heatmaps(df: pd.DataFrame, skills: Sequence[str] | None = None, *, ax=None):
    """Layer × checkpoint probe accuracy, one panel per skill (shared colour scale 0..1)."""
    skills = list(skills or sorted(df.skill.unique()))
    mats = [(s, probe_matrix(df, s)) for s in skills]
    mats = [(s, m) for s, m in mats if not m.empty]
    if ax is not None:
        axes = np.atleast_1d(ax).ravel()
        fig = axes[0].figure
    else:
        cols = min(3, max(1, len(mats)))
        rows = max(1, math.ceil(len(mats) / cols))  # no probed skill: one empty panel
        fig = Figure(figsize=(4.2 * cols, 2.3 * rows + 0.6), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        axes = axes.ravel()
    im = None
    for a, (skill, m) in zip(axes, mats, strict=False):
        im = a.imshow(
            m.values,
            aspect="auto",
            origin="lower",
            vmin=0,
            vmax=1,
            cmap="viridis",
            interpolation="nearest",
        )
        a.set_title(skill, fontsize=9)
        a.set_yticks(range(len(m.index)))
        a.set_yticklabels([layer_name(layer) for layer in m.index], fontsize=7)
        tick = np.linspace(0, len(m.columns) - 1, min(5, len(m.columns))).round().astype(int)
        a.set_xticks(tick)
        a.set_xticklabels([format_tokens(m.columns[i]) for i in tick], fontsize=7)
    for a in axes[len(mats) :]:
        a.axis("off")
    if im is not None:
        fig.colorbar(im, ax=list(axes[: len(mats)]), shrink=0.8, label="held-out probe accuracy")
    fig.suptitle("Probe accuracy by layer (rows) and checkpoint tokens (columns)", fontsize=10)
    return fig


def plot_timeline(emergence: Sequence[SkillEmergence], *, ax=None):
    """Emergence per skill: behavior (circle, with its interval as a bar) and probe selectivity
    (triangle). At init: '<' at the left edge; not emerged: faded '>' at the right edge."""
    fig, ax = _fig_ax(ax, (7.5, 0.45 * max(4, len(emergence)) + 1))
    known = [
        t
        for e in emergence
        for t in (e.behavior_tokens, e.probe_tokens, e.behavior_lo, e.behavior_hi)
        if t
    ]
    left = min(known) / 2 if known else 0.5
    right = max(known) * 2 if known else 1.0
    seen: set[str] = set()

    def label(name: str) -> str | None:
        if name in seen:
            return None
        seen.add(name)
        return name

    for y, e in enumerate(emergence):
        if e.emerged:
            lo = e.behavior_lo if e.behavior_lo is not None else left
            hi = e.behavior_hi if e.behavior_hi is not None else right
            ax.plot(
                [lo, hi], [y - 0.15] * 2, color="C0", lw=5, alpha=0.3, solid_capstyle="butt",
                label=label("behavior interval"),
            )  # fmt: skip
        for state, t, marker, color, dy, name in (
            (e.behavior_state, e.behavior_tokens, "o", "C0", -0.15, "behavior"),
            (e.probe_state, e.probe_tokens, "^", "C1", 0.15, "probe selectivity"),
        ):
            if state is None:
                continue
            if state == "not_emerged":
                ax.plot([right], [y + dy], marker=">", color=color, alpha=0.4, ls="none")
            elif state == "present_at_init":
                ax.plot([left], [y + dy], marker="<", color=color, ms=8, ls="none",
                        label=label(f"{name} at init"))  # fmt: skip
            else:
                ax.plot([t], [y + dy], marker=marker, color=color, ms=8, ls="none",
                        label=label(name))  # fmt: skip
    ax.set_yticks(range(len(emergence)))
    ax.set_yticklabels([e.skill for e in emergence], fontsize=8)
    ax.invert_yaxis()
    _token_axis(ax, known or [1.0])
    crit = emergence[0].criterion if emergence else "paper"
    ax.set_title(f"Curriculum: emergence order (behavior: {crit}; faded '>' = not emerged)")
    if seen:
        ax.legend(fontsize=8, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def _fig_ax(ax, size):
    if ax is None:
        fig = Figure(figsize=size)
        ax = fig.subplots()
        return fig, ax
    return ax.figure, ax


def plot_lead_lag(results, *, ax=None):
    """Lead of probe selectivity over behavior per skill (log10 tokens), coloured by verdict.

    Each row shows the lead with its interval (an open end reaches the axis edge) and, at the
    right, the verdict, the same words as the report's table. Censored rows (present at init, not
    emerged) show their one known bound, or a grey cross at 0.

    Args:
        results: :class:`~curriculens.analysis.leadlag.LeadLag` items, one per skill.
    """
    results = list(results)
    fig, ax = _fig_ax(ax, (7.5, 0.45 * max(4, len(results)) + 1.2))
    bounds = [x for r in results for x in (r.lead_log10, r.lo, r.hi) if x is not None]
    span = max([1.0] + [abs(x) for x in bounds]) * 1.15
    labelled: set[str] = set()
    for y, r in enumerate(results):
        color = VERDICT_COLORS.get(r.verdict, "black")
        lo = -span if r.lo is None else r.lo
        hi = span if r.hi is None else r.hi
        if r.lo is not None or r.hi is not None:
            ax.plot([lo, hi], [y, y], color=color, lw=3, alpha=0.5, solid_capstyle="butt")
        if r.lead_log10 is not None:
            ax.plot([r.lead_log10], [y], marker="o", color=color, ms=7, ls="none",
                    label=r.verdict if r.verdict not in labelled else None)  # fmt: skip
        else:
            ax.plot([0], [y], marker="x", color=color, ls="none",
                    label=r.verdict if r.verdict not in labelled else None)  # fmt: skip
        labelled.add(r.verdict)
        ax.text(1.01, y, r.verdict, transform=ax.get_yaxis_transform(), va="center",
                fontsize=8, color=color)  # fmt: skip
    ax.axvline(0, color="black", lw=1)
    ax.set_xlim(-span, span)
    ax.set_yticks(range(len(results)))
    ax.set_yticklabels([r.skill for r in results], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("probe-selectivity lead over behavior (log10 tokens; > 0: probe first)")
    crit = results[0].criterion if results else ""
    ax.set_title(f"Representation vs behavior (criterion {crit} on both curves)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_consistency(consistency, *, ax=None):
    """Spearman rank agreement of skill orders between runs, as a matrix."""
    pairs = consistency.pairs
    names = sorted({p.a for p in pairs} | {p.b for p in pairs})
    m = np.eye(len(names))
    for p in pairs:
        i, j = names.index(p.a), names.index(p.b)
        m[i, j] = m[j, i] = np.nan if p.spearman is None else p.spearman
    fig, ax = _fig_ax(ax, (1.2 * len(names) + 2.5, 1.0 * len(names) + 1.5))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                "–" if np.isnan(m[i, j]) else f"{m[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=9,
            )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_title(f"Order consistency (Spearman, {consistency.task_set} tasks)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig
