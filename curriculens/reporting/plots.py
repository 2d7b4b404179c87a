"""Plots of a run's results table: behavior curves, probe heatmaps and the curriculum timeline.

Each function takes the table (a DataFrame from :func:`curriculens.analysis.curriculum.load_table`)
and an optional ``ax``, and returns the figure. Saving belongs to the report or the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from curriculens.analysis.curriculum import (
    SkillEmergence,
    behavior_curve,
    probe_matrix,
)
from curriculens.reporting.formatting import format_tokens, layer_name


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
    threshold: float | None = 0.8,
    ax=None,
):
    """Primary behavior metric per skill against tokens, with emergence marks.

    >>> fig = plot_behavior(load_table("runs/demo"))  # doctest: +SKIP
    """
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
        if t is not None:
            ax.plot([t], [curve.loc[t]], marker="o", ms=9, mfc="none", color=cmap(i), mew=2)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"threshold {threshold}")
    _token_axis(ax, all_tokens)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("behavior score (primary metric)")
    ax.set_title("Behavior over training (circles: emergence)")
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


def plot_timeline(
    emergence: Sequence[SkillEmergence],
    *,
    intervals: dict[str, tuple[float | None, float | None]] | None = None,
    ax=None,
):
    """Emergence tokens per skill: behavior (circle, with its bootstrap interval as a bar) and
    best probe above step 0 (triangle); censored: faded '>' at the right edge."""
    fig, ax = _fig_ax(ax, (7.5, 0.45 * max(4, len(emergence)) + 1))
    intervals = intervals or {}
    known = [t for e in emergence for t in (e.behavior_tokens, e.probe_tokens) if t]
    right = max(known) * 2 if known else 1.0
    seen: set[str] = set()
    for y, e in enumerate(emergence):
        lo, hi = intervals.get(e.skill, (None, None))
        if e.behavior_tokens is not None and lo is not None:
            ax.plot(
                [lo, hi if hi is not None else right],
                [y - 0.15] * 2,
                color="C0",
                lw=5,
                alpha=0.3,
                solid_capstyle="butt",
                label="behavior 95% interval" if "iv" not in seen else None,
            )
            seen.add("iv")
    for y, e in enumerate(emergence):
        for t, marker, color, label in (
            (e.behavior_tokens, "o", "C0", "behavior"),
            (e.probe_tokens, "^", "C1", "probe (above step 0)"),
        ):
            dy = -0.15 if marker == "o" else 0.15
            if t is None:
                ax.plot([right], [y + dy], marker=">", color=color, alpha=0.4)
            else:
                ax.plot(
                    [t],
                    [y + dy],
                    marker=marker,
                    color=color,
                    ms=8,
                    ls="none",
                    label=label if label not in seen else None,
                )
                seen.add(label)
    ax.set_yticks(range(len(emergence)))
    ax.set_yticklabels([e.skill for e in emergence], fontsize=8)
    ax.invert_yaxis()
    _token_axis(ax, known or [1.0])
    ax.set_title("Curriculum: emergence order (faded '>' = not emerged in this run)")
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
    """Representation lead over behavior per skill, in log10 tokens, with bootstrap intervals.

    Args:
        results: :class:`~curriculens.analysis.leadlag.LeadLag` items (one representation each
            or several; each gets its own marker).
    """
    fig, ax = _fig_ax(ax, (7.5, 0.45 * max(4, len({r.skill for r in results})) + 1))
    skills = sorted({r.skill for r in results})
    reps = sorted({r.representation for r in results})
    markers = dict(zip(reps, "os^D", strict=False))
    labelled: set[str] = set()
    for j, rep in enumerate(reps):
        for r in (r for r in results if r.representation == rep):
            y = skills.index(r.skill) + (j - (len(reps) - 1) / 2) * 0.2
            if r.lead_log10 is None:
                ax.plot([0], [y], marker="x", color="grey", alpha=0.5)
                continue
            lo = r.lo_log10 if r.lo_log10 is not None else r.lead_log10
            hi = r.hi_log10 if r.hi_log10 is not None else r.lead_log10
            ax.errorbar(
                [r.lead_log10],
                [y],
                xerr=[[r.lead_log10 - lo], [hi - r.lead_log10]],
                fmt=markers[rep],
                color=f"C{j}",
                capsize=3,
                label=rep if rep not in labelled else None,
            )
            labelled.add(rep)
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(range(len(skills)))
    ax.set_yticklabels(skills, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("representation lead over behavior (log10 tokens; > 0: probe first)")
    ax.set_title("Representation vs behavior (x: not measurable, a curve never rose)")
    if labelled:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
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
