"""Plots of a run's results: behavior curves, probe heatmaps, the curriculum timeline, lead/lag
and order consistency (also importable as ``curriculens.plots``; examples in docs/plots.md).

Each function takes a DataFrame (the results table of :func:`curriculens.load_table`, or a
derived table: :func:`curriculens.curriculum`, ``leadlag_frame``, ``consistency_frame`` of
:mod:`curriculens.analysis.derived`) and an optional ``ax``, and returns the
``matplotlib.figure.Figure``. The analysis objects the report uses (``SkillEmergence`` lists,
``LeadLag`` lists, a ``Consistency``) are taken as well. Saving belongs to the report or the
caller. Every figure names the criterion its emergence marks come from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.scale import SymmetricalLogTransform

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import (
    SkillEmergence,
    behavior_curve,
    probe_matrix,
)
from curriculens.analysis.table import skill_info
from curriculens.reporting.formatting import format_tokens, layer_name

#: the most curves a behavior panel names in its legend (a larger family shows its count)
LEGEND_MAX = 12
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
    """Log x axis of training tokens; step 0 (0 tokens) sits on a short linear stretch at the
    left (symmetric log with its linear range up to the first positive checkpoint)."""
    th = _linthresh(tokens)
    ax.set_xscale("symlog", linthresh=th)
    ax.set_xlim(left=0)
    ax.set_xlabel("training tokens")
    _token_ticks(ax, tokens, th)


def _token_ticks(ax, tokens: Sequence[float], th: float) -> None:
    """Ticks of a symmetric-log token axis with linear range ``th``: 0, then at most about four
    labelled decades from ``th`` on, so wide spans ("10M100M1B10B") and a decade just past 0
    ("010k") do not collide."""
    lo = math.ceil(math.log10(th))
    hi = math.floor(math.log10(max([th, *tokens])))
    step = max(1, math.ceil((hi - lo + 1) / 4))
    ticks = [0.0] + [10.0**k for k in range(hi, lo - 1, -step)][::-1]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda t, _: "0" if t == 0 else format_tokens(t))
    )


def _linthresh(tokens: Sequence[float]) -> float:
    positive = [t for t in tokens if t > 0]
    return float(min(positive)) if positive else 1.0


def token_edges(tokens: Sequence[float]) -> np.ndarray:
    """Cell edges around checkpoint ``tokens`` on the report's token axis: midpoints in the
    axis's own (symmetric log) coordinates, so each heatmap cell is centred on its checkpoint;
    the outer edges sit half a gap out (never below 0).

    >>> token_edges([0, 100, 10_000]).round(1).tolist()
    [0.0, 50.0, 1000.0, 100000.0]
    """
    t = np.asarray(sorted(tokens), dtype=float)
    tr = SymmetricalLogTransform(10, _linthresh(t), 1.0)
    x = tr.transform(t)
    if len(x) == 1:
        mids = np.array([x[0] - 0.5, x[0] + 0.5])
    else:
        inner = (x[1:] + x[:-1]) / 2
        mids = np.concatenate([[x[0] - (inner[0] - x[0])], inner, [x[-1] + (x[-1] - inner[-1])]])
    return np.maximum(tr.inverted().transform(mids), 0.0)


def emergences(table) -> list[SkillEmergence]:
    """:class:`SkillEmergence` objects from :func:`curriculens.curriculum`'s DataFrame (NaN and
    ``<NA>`` read as None); a sequence of them is returned as a list."""
    if not isinstance(table, pd.DataFrame):
        return list(table)
    out = []
    for rec in table.to_dict("records"):
        rec = {k: (None if _missing(v) else v) for k, v in rec.items()}
        for k in ("behavior_final", "probe_step0", "probe_final", "selectivity_final"):
            rec[k] = math.nan if rec.get(k) is None else float(rec[k])
        rec["components"] = tuple(rec.get("components") or ())
        if rec.get("probe_layer") is not None:
            rec["probe_layer"] = int(rec["probe_layer"])
        out.append(SkillEmergence(**rec))
    return out


def _missing(v) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):  # a tuple or list
        return False


def _families(df: pd.DataFrame, skills: Sequence[str], emergence) -> dict[str, list[str]]:
    fam = {e.skill: e.family for e in emergence}
    info = skill_info(df, [s for s in skills if s not in fam])
    fam |= {s: info.get(s, {}).get("family", "") for s in skills if s not in fam}
    out: dict[str, list[str]] = {}
    for s in skills:
        out.setdefault(fam.get(s) or "other", []).append(s)
    return out


def behavior_panels(
    df: pd.DataFrame, skills: Sequence[str] | None = None, emergence=()
) -> dict[str, list[str]]:
    """The panels of :func:`plot_behavior`: ``{title: skills}``, one per family, a family of
    more than :data:`LEGEND_MAX` skills split into panels of at most that many ("family (2/5)"),
    so every panel names its curves in a legend.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"skill": ["a", "b"], "kind": "behavior", "tokens": 0, "value": 0.0})
    >>> list(behavior_panels(df, ["a", "b"]))
    ['other']
    """
    skills = list(skills or sorted(df.skill.unique()))
    out = {}
    for family, members in _families(df, skills, emergences(emergence)).items():
        parts = [members[i : i + LEGEND_MAX] for i in range(0, len(members), LEGEND_MAX)]
        for k, part in enumerate(parts, 1):
            out[family if len(parts) == 1 else f"{family} ({k}/{len(parts)})"] = part
    return out


def plot_behavior(
    df: pd.DataFrame,
    skills: Sequence[str] | None = None,
    *,
    emergence: Sequence[SkillEmergence] = (),
    criterion: Criterion | str | None = None,
    ax=None,
    panels: Mapping[str, Sequence[str]] | None = None,
):
    """Primary behavior metric per skill against tokens, one small panel per skill family
    (:func:`behavior_panels`; ``panels`` draws a given ``{title: skills}`` instead, e.g. one
    page of them).

    Panels share the (log) token axis. A circle marks each skill's emergence point under
    ``criterion`` (default ``paper``) and a band of the skill's colour its interval ``(lo, hi]``
    (from ``emergence``); a fixed or stable criterion's threshold is drawn as a line. With one
    ``ax``, every skill is drawn on it.

    >>> fig = plot_behavior(load_table("runs/demo"))  # doctest: +SKIP
    """
    crit = Criterion.of(criterion)
    emergence = emergences(emergence)
    skills = list(skills or sorted(df.skill.unique()))
    groups = dict(panels) if panels is not None else behavior_panels(df, skills, emergence)
    if ax is not None:
        axes = list(np.atleast_1d(ax).ravel())
        fig = axes[0].figure
        panels = (
            list(zip(axes, groups.items(), strict=False))
            if len(axes) > 1
            else [(axes[0], ("", skills))]
        )
    else:
        cols = min(2, len(groups)) or 1  # with legends beside them, 2 fit the page at full size
        rows = max(1, math.ceil(len(groups) / cols))
        fig = Figure(figsize=(4.6 * cols + 0.4, 2.5 * rows + 0.5), layout="constrained")
        grid = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).ravel()
        for a in grid[len(groups) :]:
            a.axis("off")
        panels = list(zip(grid, groups.items(), strict=False))
    marks = {e.skill: e for e in emergence}
    color = {}  # distinct within each panel (a colormap's colours repeat past its length)
    for _, (_, members) in panels:
        cmap = matplotlib.colormaps["tab10" if len(members) <= 10 else "tab20"]
        color |= {s: cmap(i % cmap.N) for i, s in enumerate(members)}
    all_tokens = [float(t) for t in df.tokens.unique()]
    for a, (family, members) in panels:
        _behavior_panel(a, df, family, members, color, marks, all_tokens, crit)
    if ax is None:
        _label_grid(panels, cols)
        band = "its smoothed criterion's interval" if crit.smooth else "its interval"
        fig.suptitle(
            f"Behavior over training by family (circle: emergence, band: {band}; "
            f"criterion {crit.name})",
            fontsize=10,
        )
    else:
        panels[0][0].set_ylabel("behavior score (primary metric)")
        panels[0][0].set_title(f"Behavior over training (criterion {crit.name})", fontsize=10)
    return fig


def _behavior_panel(a, df, family, members, color, marks, all_tokens, crit: Criterion) -> None:
    """One family's curves on ``a``: each skill's emergence circle and interval band, the
    criterion's threshold, the token axis, the family title and (few skills) the legend."""
    for skill in members:
        curve = behavior_curve(df, skill)
        if curve.empty:
            continue
        c = color[skill]
        base = family.split(" (")[0]  # "hendrycksTest (2/5)": names lose "hendrycksTest-"
        name = skill.removeprefix(f"{base}-") if base and skill != base else skill
        a.plot(curve.index, curve.values, marker=".", color=c, label=name, lw=1.5)
        e = marks.get(skill)
        if e is not None and e.behavior_state == "emerged":
            lo = e.behavior_lo if e.behavior_lo is not None else 0.0
            hi = e.behavior_hi if e.behavior_hi is not None else max(all_tokens)
            a.axvspan(lo, hi, color=c, alpha=0.12, lw=0)
        t = None if e is None else e.behavior_tokens
        if t is not None and t in curve.index:
            a.plot([t], [curve.loc[t]], marker="o", ms=8, mfc="none", color=c, mew=2,
                   clip_on=False)  # whole at 1.0, on the frame's edge  # fmt: skip
    if crit.method in ("fixed", "stable") and crit.chance is None:
        a.axhline(crit.threshold, color="grey", ls="--", lw=1, label=f"threshold {crit.threshold}")
    _token_axis(a, all_tokens)
    a.set_ylim(-0.02, 1.02)
    if family:
        a.set_title(family + (f" ({len(members)})" if len(members) > LEGEND_MAX else ""),
                    fontsize=9)  # fmt: skip
    if len(members) <= LEGEND_MAX:  # more names than that would not fit beside the panel
        # beside the panel, so no curve, band or threshold line runs through it
        a.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                 borderaxespad=0.0, handlelength=1.5)  # fmt: skip


def _label_grid(panels, cols: int) -> None:
    """Tick labels under the bottom panel of each column, the y label on the first column."""
    for k, (a, _) in enumerate(panels):
        if k + cols >= len(panels):  # nothing drawn below it
            a.xaxis.set_tick_params(labelbottom=True)
        else:
            a.set_xlabel("")
        if not a.get_subplotspec().is_first_col():
            a.set_ylabel("")
        else:
            a.set_ylabel("behavior (primary metric)")


def plot_probe_heatmaps(
    df: pd.DataFrame,
    skills: Sequence[str] | None = None,
    *,
    emergence: Sequence[SkillEmergence] = (),
    ax=None,
):
    """Per skill, probe accuracy (left) and selectivity, probe − control accuracy (right), by
    layer (rows) against a true token axis (log x; each cell spans its checkpoint).

    A white dashed line marks behavior emergence and a star the emergence of probe selectivity at
    the best layer (from ``emergence``). Without control rows the selectivity panel is left out.
    ``ax``: an array of axes, two per skill with controls (one without).
    """
    emergence = emergences(emergence)
    skills = list(skills or sorted(df.skill.unique()))
    mats = [(s, probe_matrix(df, s), probe_matrix(df, s, "control")) for s in skills]
    mats = [(s, p, c) for s, p, c in mats if not p.empty]
    with_sel = any(not c.empty for _, _, c in mats)
    per = 2 if with_sel else 1
    if ax is not None:
        axes = np.atleast_1d(ax).ravel()
        fig = axes[0].figure
    else:
        # up to 4 skills: one pair a row, so the page shows each heatmap at full size
        pairs = 1 if len(mats) <= 4 else 2
        rows = max(1, math.ceil(len(mats) / pairs))  # no probed skill: one empty panel
        fig = Figure(figsize=(3.3 * pairs * per + 1.2, 1.9 * rows + 0.8), layout="constrained")
        axes = fig.subplots(rows, pairs * per, squeeze=False, sharex=True).ravel()
    marks = {e.skill: e for e in emergence}
    im = sel_im = None
    for i, (skill, m, ctrl) in enumerate(mats):
        panels = [(axes[per * i], m, "probe accuracy", "viridis", (0, 1))]
        if with_sel:
            sel = (
                (m - ctrl.reindex(index=m.index, columns=m.columns))
                if not ctrl.empty
                else m * np.nan
            )
            panels.append((axes[per * i + 1], sel, "selectivity", "RdBu_r", (-1, 1)))
        for a, mat, what, cmap, limits in panels:
            mesh = _heatmap(a, skill, mat, what, cmap, limits, marks.get(skill))
            if what == "selectivity":
                sel_im = mesh
            else:
                im = mesh
    for a in axes[per * len(mats) :]:
        a.axis("off")
    n_cols = axes[0].get_subplotspec().get_gridspec().ncols if ax is None else 0
    for k, a in enumerate(axes[: per * len(mats)]):
        if ax is not None or k + n_cols >= per * len(mats):  # nothing drawn below it
            a.xaxis.set_tick_params(labelbottom=True)
            a.set_xlabel("training tokens", fontsize=7)
    shown = list(axes[: per * len(mats)])
    # constrained layout puts the later colour bar nearer the panels: left to right, probe then
    # selectivity, as in each pair
    if sel_im is not None:
        fig.colorbar(sel_im, ax=shown, shrink=0.6, label="selectivity (probe − control)")
    if im is not None:
        fig.colorbar(im, ax=shown, shrink=0.6, label="held-out probe accuracy")
    e0 = next(iter(marks.values()), None)
    b_crit = f" ({e0.criterion})" if e0 is not None else ""
    p_crit = f" ({e0.probe_criterion})" if e0 is not None and e0.probe_criterion else ""
    fig.suptitle(
        "Probe accuracy and selectivity by layer and training tokens "
        f"(dashed: behavior emerges{b_crit}; star: selectivity emerges{p_crit})",
        fontsize=9,
    )
    return fig


def _heatmap(a, skill: str, mat: pd.DataFrame, what: str, cmap: str, limits, e):
    """One skill's layer-by-checkpoint matrix on ``a`` (true token edges, log x), with behavior
    emergence as a dashed line and, on the selectivity panel, a star where it emerges."""
    vmin, vmax = limits
    y = np.arange(len(mat.index) + 1) - 0.5
    mesh = a.pcolormesh(
        token_edges(mat.columns), y, mat.values, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat"
    )
    th = _linthresh(mat.columns)
    a.set_xscale("symlog", linthresh=th)
    a.set_xlim(token_edges(mat.columns)[[0, -1]])
    _token_ticks(a, [float(t) for t in mat.columns], th)
    a.tick_params(labelsize=7)
    a.set_yticks(range(len(mat.index)))
    a.set_yticklabels([layer_name(layer) for layer in mat.index], fontsize=7)
    a.set_title(f"{skill}: {what}", fontsize=8)
    if e is not None and e.behavior_state == "emerged" and e.behavior_tokens:
        line = "black" if what == "selectivity" else "white"
        a.axvline(e.behavior_tokens, color=line, ls="--", lw=1.2)
    if (
        what == "selectivity"
        and e is not None
        and e.probe_state == "emerged"
        and e.probe_tokens
        and e.probe_layer in list(mat.index)
    ):
        a.plot([e.probe_tokens], [list(mat.index).index(e.probe_layer)], marker="*",
               ms=11, color="gold", mec="black", ls="none")  # fmt: skip
    return mesh


def timeline_span(emergence) -> tuple[float, float]:
    """The token range :func:`plot_timeline` draws: half the earliest mark to twice the latest
    (pass it as ``span`` so that the pages of a long timeline share one axis)."""
    known = [
        t
        for e in emergences(emergence)
        for t in (
            e.behavior_tokens, e.probe_tokens, e.behavior_lo, e.behavior_hi, e.behavior_raw_lo,
            e.behavior_raw_hi,
        )
        if t
    ]  # fmt: skip
    return (min(known) / 2, max(known) * 2) if known else (0.5, 1.0)


def plot_timeline(emergence, *, ax=None, span: tuple[float, float] | None = None):
    """Emergence per skill: behavior (circle, with its criterion's interval as a wide bar and
    the raw crossing interval as a thin dark bar under it, where they differ) and probe
    selectivity (triangle). At init: '<' at the left edge; not emerged: faded '>' at the right
    edge. The title names the criterion of each mark.

    Args:
        emergence: :func:`curriculens.curriculum`'s DataFrame (or its ``SkillEmergence`` list).
        span: The token range of the x axis (default :func:`timeline_span` of ``emergence``).
    """
    emergence = emergences(emergence)
    own = ax is None  # lay out only a figure made here, never the caller's
    fig, ax = _fig_ax(ax, (7.5, 0.45 * max(4, len(emergence)) + 1))
    left, right = span if span is not None else timeline_span(emergence)
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
                label=label("behavior: the criterion's interval"),
            )  # fmt: skip
            raw = (e.behavior_raw_lo, e.behavior_raw_hi)
            if raw != (e.behavior_lo, e.behavior_hi) and raw != (None, None):
                ax.plot(
                    [left if raw[0] is None else raw[0], right if raw[1] is None else raw[1]],
                    [y - 0.15] * 2, color="C0", lw=1.5, solid_capstyle="butt",
                    label=label("behavior: raw crossing interval"),
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
    _timeline_axis(ax, left, right)
    crit = emergence[0].criterion if emergence else "paper"
    probe = next((e.probe_criterion for e in emergence if e.probe_criterion), None)
    ax.set_title(
        f"Curriculum: emergence order (behavior: {crit}"
        + (f"; probe selectivity: {probe}" if probe else "")
        + "; faded '>' = not emerged)",
        fontsize=10,
    )
    if seen:  # outside the axes, so no marker or bar hides under it
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if own:
        fig.tight_layout()
    return fig


def _timeline_axis(ax, left: float, right: float) -> None:
    """Log x axis of training tokens over the marks' span (a '<' at ``left``, a '>' at
    ``right``), ticked at 1, 2 and 5 per decade: a span of half a decade keeps readable ticks
    and the whole width, where an axis from 0 squeezed the marks to its right edge."""
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    ax.set_xlabel("training tokens")
    span = math.log10(right / left) if left > 0 else 99.0
    subs = (1.0, 2.0, 5.0) if span < 3 else (1.0,)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda t, _: format_tokens(t)))


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
        results: ``leadlag_frame``'s DataFrame (:mod:`curriculens.analysis.derived`) or
            :class:`~curriculens.analysis.leadlag.LeadLag` items, one per skill.
    """
    results = _lead_rows(results)
    own = ax is None  # lay out only a figure made here, never the caller's
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
        ax.text(1.01, y, getattr(r, "label", r.verdict), transform=ax.get_yaxis_transform(),
                va="center", fontsize=8, color=color)  # fmt: skip
    ax.axvline(0, color="black", lw=1)
    ax.set_xlim(-span, span)
    ax.set_yticks(range(len(results)))
    ax.set_yticklabels([r.skill for r in results], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("probe-selectivity lead over behavior (log10 tokens; > 0: probe first)")
    crit = results[0].criterion if results else ""
    ax.set_title(f"Representation vs behavior (criterion {crit} on both curves)", fontsize=10)
    if own:
        fig.tight_layout()
    return fig


def _lead_rows(results) -> list:
    """Lead/lag rows with the attributes the figure reads, from a DataFrame or LeadLag items."""
    if not isinstance(results, pd.DataFrame):
        return list(results)
    from types import SimpleNamespace

    out = []
    for rec in results.to_dict("records"):
        rec = {k: (None if _missing(v) else v) for k, v in rec.items()}
        rec.setdefault("lead_log10", rec.get("lead_log10_tokens"))
        out.append(SimpleNamespace(**rec))
    return out


def plot_consistency(consistency, *, ax=None):
    """Rank agreement of skill orders between runs, as a matrix of pairs.

    Above the diagonal: the censored Spearman rho over every ranked task (never-emerged tasks
    tied last, the paper's number) with, under it, its permutation null (mean and 95% range:
    the rho expected by chance given which tasks each run never learned). Below it: rho over
    the tasks both runs learned alone, with their count. A rho above its null's range is
    agreement beyond what the censoring alone gives.

    Args:
        consistency: ``consistency_frame``'s DataFrame (:mod:`curriculens.analysis.derived`),
            one row per pair of runs, or a :class:`~curriculens.analysis.consistency.Consistency`.
    """
    pairs, task_set = _consistency_pairs(consistency)
    names = sorted({p.a for p in pairs} | {p.b for p in pairs})
    m = np.full((len(names), len(names)), np.nan)
    text: dict[tuple[int, int], str] = {}
    for p in pairs:
        i, j = sorted((names.index(p.a), names.index(p.b)))
        m[i, j] = np.nan if p.spearman is None else p.spearman
        null = p.null or {}
        line = "–" if p.spearman is None else f"{p.spearman:.2f}"
        if null.get("mean") is not None:
            line += f"\nnull {null['mean']:.2f}\n[{null['lo']:.2f}, {null['hi']:.2f}]"
        text[i, j] = line
        m[j, i] = np.nan if p.spearman_both is None else p.spearman_both
        both = "–" if p.spearman_both is None else f"{p.spearman_both:.2f}"
        text[j, i] = f"{both}\n(n={p.n_both})"
    own = ax is None  # lay out only a figure made here, never the caller's
    k = len(names)
    fig, ax = _fig_ax(ax, (1.3 * k + 2.8, 1.1 * k + 1.8))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu")
    size = 8 if k <= 5 else 6.5
    for (i, j), t in text.items():
        dark = np.isfinite(m[i, j]) and abs(m[i, j]) > 0.6  # white text on the deep colours
        ax.text(j, i, t, ha="center", va="center", fontsize=size, linespacing=1.1,
                color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(k))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_title(
        f"Order consistency (Spearman, {task_set} tasks)\nabove: censored rho, its null mean "
        "[95%]; below: rho over tasks both learned (n)",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="Spearman rho")
    if own:
        fig.tight_layout()
    return fig


def _consistency_pairs(consistency) -> tuple[list, str]:
    """The pairs (with ``a, b, spearman, spearman_both, n_both, null``) and the task set, from a
    :class:`Consistency` or ``consistency_frame``'s DataFrame."""
    if not isinstance(consistency, pd.DataFrame):
        return list(consistency.pairs), consistency.task_set
    from types import SimpleNamespace

    def num(r, k):
        v = r.get(k)
        return None if v is None or _missing(v) else float(v)

    pairs = []
    for r in consistency.to_dict("records"):
        null = {q: num(r, f"null_{q}") for q in ("mean", "lo", "hi")}
        pairs.append(
            SimpleNamespace(
                a=r["a"], b=r["b"], spearman=num(r, "spearman"),
                spearman_both=num(r, "spearman_both"), n_both=int(num(r, "n_both") or 0),
                null=null if null["mean"] is not None else None,
            )
        )  # fmt: skip
    recs = consistency.to_dict("records")
    return pairs, (recs[0].get("tasks", "common") if recs else "common")
