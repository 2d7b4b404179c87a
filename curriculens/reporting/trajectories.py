"""The report's composite trajectories: each composite's curve beside its predictions from task
vectors (``fv``, ``fv_discovered``) and from its components' curves (the product), for runs
whose sweep stored task vectors (:mod:`curriculens.analysis.fv`)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from curriculens.analysis.fv import FV_METHODS, predict_trajectories
from curriculens.analysis.importers import read_store
from curriculens.analysis.predict import Prediction, composite_components
from curriculens.analysis.table import read_vectors
from curriculens.reporting.formatting import format_tokens, layer_name
from curriculens.store import Store

#: the section the figure follows
TITLE = "Composite trajectories from task vectors"
#: the section after it: every method against the same method on decoy sets of elementals
DECOY_TITLE = "Composites against decoy components"
#: line style per method in the figure
STYLES = {"fv": ("C0", "-"), "fv_discovered": ("C2", "-."), "product": ("C3", ":")}


def trajectory_prediction(run: str | Path | Store) -> Prediction | None:
    """Every composite's predictions (baselines, fv, fv_discovered), or None when the run (a
    run directory or an open store) holds no task vectors or no composite that can be scored."""
    vectors = read_vectors(run)
    if not vectors:
        return None
    curves = read_store(run)
    tasks = sorted(curves["task"].astype(str).unique())
    skills = run if isinstance(run, Store) else str(run)
    prediction = predict_trajectories(curves, composite_components(tasks, skills), vectors)
    if not any(m in c.r2 for c in prediction.composites for m in FV_METHODS):
        return None
    return prediction


def trajectory_table(p: Prediction) -> list[list[str]]:
    """Per (run, composite): r2 and r2_pearson of each method, and the hook fv read."""
    head = ["run", "composite", "n", *[f"r2 {m}" for m in p.methods]]
    head += [f"r2_pearson {m}" for m in p.methods] + ["fv hook"]
    rows = [head]
    for c in p.composites:
        hook = c.hooks.get("fv")
        rows.append(
            [
                c.model,
                c.name,
                str(len(c.tokens)),
                *[_f(c.r2.get(m)) for m in p.methods],
                *[_f(c.r2_pearson.get(m)) for m in p.methods],
                layer_name(hook) if hook else "–",
            ]
        )
    for how in ("mean", "median"):
        rows.append(
            [
                how,
                "",
                "",
                *[_f(v) for v in p.mean("r2", how=how).values()],
                *[_f(v) for v in p.mean("r2_pearson", how=how).values()],
                "",
            ]
        )
    return rows


def trajectory_note(p: Prediction) -> str:
    """The section's note: what each method is, and whether the vectors beat the product."""
    m = p.mean("r2_pearson")
    scored = [k for k in FV_METHODS if m.get(k) is not None and m.get("product") is not None]
    verdict = "; ".join(
        f"{k} {'beats' if m[k] > m['product'] else 'does not beat'} the product "
        f"(mean r2_pearson {m[k]:.3f} against {m['product']:.3f})"
        for k in scored
    )
    return (
        "Each composite's own curve (unsmoothed, checkpoints with tokens > 0) against "
        "predictions from its components' curves (product, min, mean; not calibrated) and from "
        "task vectors: fv weights the components' curves by the composite vector's projection "
        "on theirs, fv_discovered weights every elemental's curve by a non-negative projection "
        "on all of them; both pass through a linear calibration, and read the hook, chosen on "
        "the other composites only (leave one composite out). r2 = 1 - SS_res/SS_tot; "
        "r2_pearson = squared Pearson r (blind to the calibration). "
        + (verdict + "." if verdict else "")
    )


def decoy_table(p: Prediction, score: str = "r2") -> list[list[str]]:
    """Per (run, composite): the declared components' ``score`` under the product, where it
    ranks among the product of every other set of elementals (decoys; 1: above all of them),
    the decoys' mean and 95th percentile, then the rank of each other method the same way."""
    others = [m for m in p.methods if m != "product" and any(m in c.decoys for c in p.composites)]
    head = ["run", "composite", "components", f"{score} product", "rank (of sets)",
            "decoy mean", "decoy p95", *[f"rank {m}" for m in others]]  # fmt: skip
    rows = [head]
    for c in sorted(p.composites, key=lambda c: (c.model, c.name)):
        d = c.decoys.get("product", {}).get(score)
        if d is None:
            continue
        rows.append(
            [
                c.model,
                c.name,
                " + ".join(c.components),
                _f(getattr(c, score).get("product")),
                _rank(d),
                _f(d.mean),
                _f(d.p95),
                *[_rank(c.decoys.get(m, {}).get(score)) for m in others],
            ]
        )
    return rows


def decoy_note(p: Prediction, score: str = "r2") -> str:
    """How often each method ranks the declared components first, against the decoys' mean."""
    summary = p.decoy_summary(score)
    parts = [
        f"{m}: first for {s['first']} of {s['n']} (declared mean {s['declared_mean']:.3f}, "
        f"decoy mean {s['decoy_mean']:.3f})"
        for m, s in summary.items()
        if s.get("n")
    ]
    return (
        "The decoy null: each method is applied to every other set of elementals of the "
        "composite's size, as if they were its components; a rank of 1 means the declared "
        f"components predict the composite better ({score}) than every decoy set, and the "
        "decoys' mean and 95th percentile show how well an arbitrary pair does. "
        + ("; ".join(parts) + "." if parts else "")
    )


def _rank(d) -> str:
    if d is None or d.rank is None or not d.n:
        return "–"
    tie = f", {d.ties} tied" if d.ties else ""
    return f"{d.rank} (of {d.n + 1}{tie})"


#: panels per row of the trajectory figure (more composites wrap onto further rows)
COLS = 4


def plot_trajectories(p: Prediction) -> Figure:
    """One panel per (run, composite), :data:`COLS` to a row: its curve (black) and each
    prediction, with each method's r2 under the panel's title and one legend for the figure.
    The score axis is [0, 1]: a prediction beyond it is drawn at the edge and marked (a
    triangle pointing out of the frame)."""
    cases = sorted(
        (c for c in p.composites if any(m in c.predicted for m in FV_METHODS)),
        key=lambda c: (c.model, c.name),
    )
    several = len({c.model for c in cases}) > 1
    ncols = max(1, min(COLS, len(cases)))
    nrows = max(1, math.ceil(len(cases) / ncols))
    fig = Figure(figsize=(2.7 * ncols + 0.6, 2.3 * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for ax in axes[len(cases) :]:
        ax.set_visible(False)
    for ax, c in zip(axes, cases, strict=False):
        t = np.asarray(c.tokens, float)
        ax.plot(t, c.actual, color="k", lw=1.8, marker="o", ms=3, label="actual")
        scores = []
        for m, (color, ls) in STYLES.items():
            if m not in c.predicted:
                continue
            y = np.asarray(c.predicted[m], float)
            ax.plot(t, np.clip(y, 0.0, 1.0), color=color, ls=ls, lw=1.3, label=m)
            for out, edge, marker in ((y > 1.0, 1.0, "^"), (y < 0.0, 0.0, "v")):
                if out.any():
                    ax.plot(t[out], np.full(out.sum(), edge), ls="none", marker=marker, ms=4,
                            color=color, clip_on=False)  # fmt: skip
            r2 = c.r2.get(m)
            scores.append(f"{_SHORT.get(m, m)} {'–' if r2 is None else f'{r2:.2f}'}")
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        title = f"{c.name} ({c.model})" if several else c.name
        ax.set_title(f"{title}\nr2: {', '.join(scores)}", fontsize=7.5)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: format_tokens(v)))
    grid = axes.reshape(nrows, ncols)
    for k, ax in enumerate(axes[: len(cases)]):
        if k + ncols >= len(cases):  # the lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("training tokens", fontsize=8)
    for ax in grid[:, 0]:
        ax.set_ylabel("score", fontsize=8)
    if cases:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=len(labels), fontsize=8,
                   frameon=False)  # fmt: skip
    return fig


#: method names as the panels' r2 line shows them
_SHORT = {"fv_discovered": "fv_disc"}


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"
