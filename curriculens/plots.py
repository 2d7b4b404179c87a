"""Plots of a run's results table: behavior curves, probe heatmaps and the curriculum timeline.

Each function takes the table (a DataFrame from :func:`curriculens.analysis.curriculum.load_table`)
and an optional ``ax``, and returns the figure. Saving belongs to the report or the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from curriculens.analysis.curriculum import (  # noqa: E402
    SkillEmergence,
    behavior_curve,
    probe_matrix,
)


def _token_axis(ax, tokens: Sequence[float]) -> None:
    """Symmetric-log x axis so step 0 (0 tokens) shows beside log-spaced checkpoints."""
    positive = [t for t in tokens if t > 0]
    ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
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
    cmap = plt.get_cmap("tab10" if len(skills) <= 10 else "tab20")
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
        rows = math.ceil(len(mats) / cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(4.2 * cols, 2.3 * rows + 0.6), squeeze=False, layout="constrained"
        )
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
        a.set_yticklabels(["emb" if layer == 0 else f"L{layer}" for layer in m.index], fontsize=7)
        tick = np.linspace(0, len(m.columns) - 1, min(5, len(m.columns))).round().astype(int)
        a.set_xticks(tick)
        a.set_xticklabels([_fmt_tokens(m.columns[i]) for i in tick], fontsize=7)
    for a in axes[len(mats) :]:
        a.axis("off")
    if im is not None:
        fig.colorbar(im, ax=list(axes[: len(mats)]), shrink=0.8, label="held-out probe accuracy")
    fig.suptitle("Probe accuracy by layer (rows) and checkpoint tokens (columns)", fontsize=10)
    return fig


def plot_timeline(emergence: Sequence[SkillEmergence], *, ax=None):
    """Emergence tokens per skill: behavior (circle) and best probe (triangle); censored: '>'."""
    fig, ax = _fig_ax(ax, (7.5, 0.45 * max(4, len(emergence)) + 1))
    known = [t for e in emergence for t in (e.behavior_tokens, e.probe_tokens) if t]
    right = max(known) * 2 if known else 1.0
    seen: set[str] = set()
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
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def _fmt_tokens(t: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if t >= div:
            return f"{t / div:.3g}{suffix}"
    return f"{t:.0f}"


def _fig_ax(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
