"""The report's figures: each built from the analysis, captioned with what it shows and the
criterion its marks come from, and saved as SVG, PDF and a 300-dpi PNG under ``RUN/figures/``.

The writer places each figure after the table it illustrates (:data:`AFTER`).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from curriculens.atomic import atomic_path, write_failed
from curriculens.reporting.plots import (
    plot_behavior,
    plot_consistency,
    plot_lead_lag,
    plot_probe_heatmaps,
    plot_timeline,
)
from curriculens.reporting.trajectories import TITLE as TRAJECTORIES
from curriculens.reporting.trajectories import plot_trajectories

if TYPE_CHECKING:
    from curriculens.reporting.run_analysis import RunAnalysis

#: the formats every figure is saved in; the PNG is the one the HTML embeds
FORMATS = ("svg", "pdf", "png")
#: Resolution of the copy embedded in report.html (the saved PNG is :data:`DPI`).
EMBED_DPI = 110
#: resolution of the saved PNG
DPI = 300

#: the section title each figure follows (the first present; else the first section)
AFTER = {
    "timeline": ("Curriculum",),
    "behavior": ("Curriculum",),
    "probes": ("Probes beside their baselines", "Curriculum"),
    "leadlag": ("Representation vs behavior",),
    "consistency": ("Order consistency across runs",),
    "trajectories": (TRAJECTORIES,),
}


@dataclass(frozen=True)
class ReportFigure:
    """One saved figure.

    Attributes:
        name: File stem under ``figures/`` (``behavior`` → ``behavior.svg|pdf|png``).
        caption: What the figure shows and the criterion its emergence marks use.
        png: A screen-resolution PNG's bytes (embedded in the HTML; the file on disk is 300 dpi).
        width_in: The figure's width in inches (the HTML shows it at about 96 px per inch).
    """

    name: str
    caption: str
    png: bytes
    width_in: float


def build_figures(a: RunAnalysis) -> dict:
    """The report's figures from a run's :class:`~curriculens.reporting.run_analysis.RunAnalysis`,
    as ``{name: (Figure, caption)}``."""
    df, emergence, crit = a.df, a.emergence, a.criterion
    probe_crit = a.probe_criterion
    skills = [e.skill for e in emergence]
    figs = {
        "timeline": (
            plot_timeline(emergence),
            "Emergence order: per skill, where behavior emerges (circle, with the criterion's "
            "interval as a wide bar and, where it differs, the raw crossing interval as a thin "
            "one: the same criterion on the unsmoothed curve) and where probe selectivity "
            "emerges (triangle); '<' at the left: met at the first checkpoint; faded '>' at the "
            "right: not emerged. Behavior criterion "
            f"{crit.label()}. Probe selectivity criterion {probe_crit.label()}.",
        ),
        "behavior": (
            plot_behavior(df, skills, emergence=emergence, criterion=crit),
            "Behavior over training, one panel per skill family (shared log token axis): the "
            "primary metric per checkpoint; circles mark emergence and shaded bands the "
            "criterion's interval (the raw crossing interval is in the curriculum table). "
            f"Criterion {crit.label()}.",
        ),
        "probes": (
            plot_probe_heatmaps(df, skills, emergence=emergence),
            "Held-out probe accuracy (left of each pair) and selectivity, probe minus control "
            "accuracy (right), per layer against training tokens (log axis; each cell spans its "
            f"checkpoint). Dashed line: behavior emerges (criterion {crit.label()}); star: "
            f"selectivity emerges at the best layer (criterion {probe_crit.label()}).",
        ),
    }
    if a.leads:
        figs["leadlag"] = (
            plot_lead_lag(a.leads),
            "Lead of probe selectivity over behavior per skill, in log10 tokens (> 0: the probe "
            "came first), with its 95% interval and the verdict of the table above. Both curves "
            f"read with criterion {probe_crit.label()}.",
        )
    if a.consistency is not None:
        figs["consistency"] = (
            plot_consistency(a.consistency),
            "Spearman rank agreement of the skill emergence orders between runs (criterion "
            f"{crit.label()}). Above the diagonal: rho over every skill, never-emerged skills "
            "tied last, with its permutation null (mean [95% range]: the rho expected from "
            "which skills each run never learned alone); below: rho over the skills both runs "
            "learned (n of them).",
        )
    if a.trajectories is not None:
        figs["trajectories"] = (
            plot_trajectories(a.trajectories),
            "Composite curves (black) against their predictions from task vectors (fv: the "
            "components' curves weighted by the composite vector's projection on theirs; "
            "fv_discovered: every elemental's curve, weighted by a non-negative projection) "
            "and from the product of the components' curves, per run; each method's r2 under "
            "the panel's title. The score axis is [0, 1]: a prediction beyond it is drawn at "
            "the edge, marked with a triangle pointing out of the frame. fv "
            "methods are calibrated, and read the hook, chosen leaving the composite out.",
        )
    return figs


def file_stems(names: list[str]) -> dict[str, str]:
    """A file-name-safe stem per name (a model's figures are ``timeline-STEM.svg``...), distinct
    even on case-insensitive file systems: names that reduce to one stem (``pythia 160m`` and
    ``pythia-160m``; ``EleutherAI/pythia-160m`` and ``other/pythia-160m``) keep their owner, then
    get a short hash of the full name, so no model's figures overwrite another's.

    >>> file_stems(["EleutherAI/pythia-160m"])
    {'EleutherAI/pythia-160m': 'pythia-160m'}
    >>> s = file_stems(["pythia 160m", "pythia-160m"]); len(set(s.values()))
    2
    """
    stems = {n: _stem(str(n).rsplit("/", 1)[-1]) for n in names}
    for rule in (lambda n: _stem(str(n).replace("/", "-")), _hashed):
        counts = Counter(v.lower() for v in stems.values())
        clash = [n for n in names if counts[stems[n].lower()] > 1]
        if not clash:
            break
        stems.update({n: rule(n) for n in clash})
    return stems


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80] or "model"


def _hashed(name: str) -> str:
    digest = hashlib.sha256(str(name).encode()).hexdigest()[:6]
    return f"{_stem(str(name).replace('/', '-'))}-{digest}"


def save_figures(figs: dict, fig_dir: Path) -> list[ReportFigure]:
    """Save each figure as ``fig_dir/NAME.svg``, ``.pdf`` and a 300-dpi ``.png``."""
    out = []
    for name, (fig, caption) in figs.items():
        box = _laid_out(fig)
        for fmt in FORMATS:
            path = fig_dir / f"{name}.{fmt}"
            try:
                with atomic_path(path) as tmp:  # whole files only, even on a full disk
                    dpi = DPI if fmt == "png" else "figure"
                    fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=box)
            except OSError as e:
                raise write_failed(path, e) from None
        # the page embeds a screen copy; the 300-dpi file beside it is the one to paste
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=EMBED_DPI, bbox_inches=box)
        out.append(ReportFigure(name, caption, buf.getvalue(), float(fig.get_figwidth())))
    return out


def _laid_out(fig) -> Bbox:
    """Lay ``fig`` out once and return its tight box (padded as ``bbox_inches="tight"`` pads).

    Its layout engine is then switched off, so each of the four saves draws the figure once,
    where ``"tight"`` with constrained layout would lay it out and draw it twice per save.
    """
    dpi, fig.dpi = fig.dpi, DPI  # measured at the saved PNG's resolution, as savefig would
    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # runs the layout engine; nothing is rasterised
    box = fig.get_tightbbox(canvas.get_renderer())
    fig.set_layout_engine("none")
    fig.dpi = dpi
    return box.padded(matplotlib.rcParams["savefig.pad_inches"])


def place(figures: list[ReportFigure], titles: list[str]) -> dict[str, list[ReportFigure]]:
    """Which figures follow which section title (:data:`AFTER`), in figure order."""
    placed: dict[str, list[ReportFigure]] = {}
    for f in figures:
        title = next((t for t in AFTER.get(f.name, ()) if t in titles), titles[0])
        placed.setdefault(title, []).append(f)
    return placed
