"""The curriculum report of imported behavior curves: lm-evaluation-harness result folders and
tidy CSVs, not only curriculens runs.

Imported curves hold behavior only (one score per model, checkpoint and task), so the report has
what behavior can give, per model: when each task emerges (with its interval, under one named
criterion), the order, the behavior curves and the timeline, and, for several models, each
model's emergence side by side and the agreement of their orders. It says plainly that probes,
selectivity and lead/lag are absent because no activations were measured. Curves are never
averaged across models.

>>> write_curves_report("../shared/data/pythia-evals", out="r")  # doctest: +SKIP
PosixPath('r/report.html')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from curriculens.analysis.consistency import Consistency, rank_consistency
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import skill_emergence
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.importers import curves_table, load_curves
from curriculens.params import flag
from curriculens.reporting.answers import order_answer, when_answer
from curriculens.reporting.figures import save_figures
from curriculens.reporting.page import writable_dest, write_pages
from curriculens.reporting.plots import (
    LEGEND_MAX,
    behavior_panels,
    plot_behavior,
    plot_consistency,
    plot_timeline,
    timeline_span,
)
from curriculens.reporting.run_analysis import RunAnalysis
from curriculens.reporting.sections import (
    Section,
    consistency_sections,
    curriculum_section,
    interval_note,
    resampling_of,
)

#: The answer to "do representations lead?" for curves without activations.
NO_PROBES = (
    "Do representations lead? Not measured: these are imported behavior curves, and no "
    "activations were measured, so this report has no probes, no probe selectivity and no "
    "lead/lag. Sweep the checkpoints themselves (`curriculens sweep`) to measure them."
)
#: The last section: what imported curves cannot show.
NOT_MEASURED = Section(
    "Not measured",
    [
        ["measurement", "in this report"],
        ["behavior curves, emergence, order", "yes (imported scores)"],
        ["probes and probe selectivity", "absent: no activations were measured"],
        ["representation vs behavior (lead/lag)", "absent: it needs probes"],
        ["probes beside their baselines, audit", "absent: it needs probes"],
    ],
    "This report was built from imported curves, which hold behavior only.",
)


#: Tasks per timeline figure: at 0.45 in a task, a page stays under 3,000 px at 300 dpi.
TIMELINE_PAGE = 18
#: Behavior panels per figure: three rows of two stay under 3,000 px at 300 dpi.
BEHAVIOR_PAGE = 6
#: What a curriculens run directory holds (an lm-eval folder holds none of them).
_RUN_FILES = ("results.sqlite", "checkpoints", "sweep_config.json", "train_summary.json")


def is_curves_input(path: str | Path) -> bool:
    """Whether ``path`` holds imported curves: a ``.csv`` file, a ``.json`` result file, or a
    folder with lm-eval ``.json`` files and no ``results.sqlite`` (a curriculens run)."""
    p = Path(path)
    if p.is_file():
        return p.suffix.lower() in (".csv", ".json")
    if not p.is_dir() or any((p / name).exists() for name in _RUN_FILES):
        return False  # a run (perhaps not swept yet): its own error names what is missing
    return next(p.rglob("*.json"), None) is not None


def task_families(tasks) -> dict[str, str]:
    """A family per imported task: the name before its first '-' or '_' when other tasks share
    it (``hendrycksTest-anatomy`` → ``hendrycksTest``, ``arc_easy`` → ``arc``), else ``other``.

    >>> task_families(["arc_easy", "arc_challenge", "piqa", "lambada_openai"])["piqa"]
    'other'
    """
    tasks = sorted(set(map(str, tasks)))
    prefix = {t: re.split(r"[-_]", t, maxsplit=1)[0] for t in tasks}
    count: dict[str, int] = {}
    for p in prefix.values():
        count[p] = count.get(p, 0) + 1
    return {t: prefix[t] if count[prefix[t]] > 1 else "other" for t in tasks}


def write_curves_report(
    path: str | Path,
    *,
    out: str | Path,
    criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    load_options: Mapping | None = None,
    **overrides,
) -> Path:
    """Write ``report.html``, ``report.md`` and ``figures/`` of imported curves into ``out``.

    Args:
        path: An lm-eval results folder (or file) or a tidy CSV (see
            :func:`curriculens.analysis.importers.load_curves`).
        out: Folder for the report (the input is data, and nothing is written into it).
        criterion: Behavior emergence criterion (default ``paper``).
        n_boot: Resamples behind the intervals (curves without per-item outcomes or counts give
            checkpoint brackets).
        seed: Seed of the resampling.
        load_options: Options of the importer (``metric``, ``revision_tokens``, ``duplicates``
            ...).
        **overrides: Fields that replace the criterion's.

    Returns:
        The path of ``report.html``.
    """
    crit = Criterion.of(criterion, **overrides)
    dest = writable_dest(Path(out))
    df = curves_frame(path, load_options)
    cis = behavior_emergence(df, criterion=crit, n_boot=n_boot, seed=seed)
    per_model = model_analyses(df, crit, n_boot=n_boot, seed=seed)
    models = list(per_model)
    points = {m: {t: ci.point for t, ci in v.items()} for m, v in cis.items()}
    consistency = rank_consistency(points, seed=seed) if len(models) > 1 else None

    summary, sections, figs, placed_names = [], [], {}, {}
    slugs = _slugs(models)
    for m, a in per_model.items():
        summary += _model_summary(m, a, several=len(models) > 1)
        title = f"Curriculum: {m}"
        note = (
            interval_note(crit, n_boot, resampling_of(cis)) + " Scores: each task's imported score."
        )
        sections.append(curriculum_section(a, title=title, note=note, behavior_only=True))
        mine = _model_figures(m, slugs[m], a)
        figs.update(mine)
        placed_names[title] = list(mine)
    if consistency is not None:
        summary.append(_models_agree(consistency, len(models)))
        all_skills = sorted({t for v in cis.values() for t in v})
        sections += consistency_sections(consistency, models, cis, crit, all_skills)
        figs["consistency"] = (
            plot_consistency(consistency),
            "Spearman rank agreement of the task emergence orders between models (criterion "
            f"{crit.label()}). Above the diagonal: rho over every task, never-emerged tasks "
            "tied last, with its permutation null (mean [95% range]: the rho expected from "
            "which tasks each model never learned alone); below: rho over the tasks both "
            "models learned (n of them).",
        )
        placed_names["Order consistency across runs"] = ["consistency"]
    summary.append(NO_PROBES)
    sections.append(NOT_MEASURED)
    saved = {f.name: f for f in save_figures(figs, dest / "figures")}
    placed = {t: [saved[n] for n in names] for t, names in placed_names.items()}
    name = Path(path).name or str(path)
    return write_pages(dest, name, summary, sections, placed, _meta(path, df, per_model, crit))


def curves_frame(path: str | Path, load_options: Mapping | None = None) -> pd.DataFrame:
    """The imported curves at ``path`` as the tidy results table a run's store gives (run =
    model, skill = task), each task with its family (:func:`task_families`) in the snapshot."""
    curves = load_curves(path, **dict(load_options or {}))
    snapshot = {
        t: {"family": f, "primary_metric": "score", "chance": 0.0, "components": []}
        for t, f in task_families(curves["task"]).items()
    }
    return curves_table(curves, skills=snapshot, source="import")


def model_analyses(
    df: pd.DataFrame, crit: Criterion, *, n_boot: int, seed: int
) -> dict[str, RunAnalysis]:
    """One :class:`RunAnalysis` per model (behavior only), in model order: curves are never
    averaged across models."""
    out = {}
    for m in sorted(df.run.unique()):
        mine = df[df.run == m].reset_index(drop=True)
        mine.attrs = dict(df.attrs)
        em = skill_emergence(mine, criterion=crit, n_boot=n_boot, seed=seed)
        out[m] = RunAnalysis(df=mine, runs=[m], criterion=crit, emergence=em, n_boot=n_boot)
    return out


def _model_summary(m: str, a: RunAnalysis, *, several: bool) -> list[str]:
    """A model's answers to 'when' and 'in what order', and a hint when the paper criterion's
    fixed floor leaves most tasks not emerged."""
    who = f"{m}: " if several else ""
    out = [who + when_answer(a), who + order_answer(a)]
    emerged = sum(e.behavior_state == "emerged" for e in a.emergence)
    if a.criterion.name == "paper" and emerged < len(a.emergence) / 4:
        out.append(
            f"{who}{emerged} of {len(a.emergence)} tasks reach the paper criterion's "
            "fixed floor of 0.8; to read each curve against its own range, pass "
            f"{flag('criterion')} paper-relative (half of its smoothed maximum)."
        )
    return out


def _model_figures(m: str, slug: str, a: RunAnalysis) -> dict:
    """A model's timeline (in pages of :data:`TIMELINE_PAGE` tasks, on one token axis) and
    behavior curves, as ``{name: (Figure, caption)}``."""
    crit, skills = a.criterion, [e.skill for e in a.emergence]
    pages = [a.emergence[i : i + TIMELINE_PAGE] for i in range(0, len(a.emergence), TIMELINE_PAGE)]
    span = timeline_span(a.emergence)
    figs = {}
    for k, part in enumerate(pages or [[]], 1):
        name, what = f"timeline-{slug}", ""
        if len(pages) > 1:
            name += f"-{k}"
            what = (
                f" (part {k} of {len(pages)}: tasks {TIMELINE_PAGE * (k - 1) + 1}–"
                f"{TIMELINE_PAGE * (k - 1) + len(part)} in emergence order; one token axis)"
            )
        figs[name] = (
            plot_timeline(part, span=span),
            f"{m}: emergence order per task{what} (circle, with its interval as a bar); '<' at "
            "the left: met at the first checkpoint; faded '>' at the right: not emerged. "
            f"Criterion {crit.label()}.",
        )
    panels = list(behavior_panels(a.df, skills, a.emergence).items())
    pages = [dict(panels[i : i + BEHAVIOR_PAGE]) for i in range(0, len(panels), BEHAVIOR_PAGE)]
    for k, page in enumerate(pages, 1):
        name, what = f"behavior-{slug}", ""
        if len(pages) > 1:
            name += f"-{k}"
            what = f" (part {k} of {len(pages)}: {', '.join(page)})"
        figs[name] = (
            plot_behavior(a.df, skills, emergence=a.emergence, criterion=crit, panels=page),
            f"{m}: imported score per checkpoint, one panel per task family{what} (shared log "
            "token axis; a family of more than "
            f"{LEGEND_MAX} tasks is split over panels); circles mark emergence and shaded bands "
            f"its interval. Criterion {crit.label()}.",
        )
    return figs


def _models_agree(consistency: Consistency, n_models: int) -> str:
    """'Do the N models learn in the same order?', answered by the rank agreement."""
    rhos = [p.spearman for p in consistency.pairs if p.spearman is not None]
    both = [p.spearman_both for p in consistency.pairs if p.spearman_both is not None]
    return (
        f"Do the {n_models} models learn in the same order? "
        + (f"Spearman rho {min(rhos):.2f} to {max(rhos):.2f}" if rhos else "not measurable")
        + " over the shared tasks (censored tasks tied last)"
        + (f", {min(both):.2f} to {max(both):.2f} over the tasks both learned" if both else "")
        + "."
    )


def _meta(
    path: str | Path, df: pd.DataFrame, per_model: Mapping[str, RunAnalysis], crit: Criterion
) -> dict:
    """What the report was built from, shown last."""
    return {
        "import": {
            "source": str(path),
            "models": list(per_model),
            "tasks": len(df.attrs["skills"]),
            "checkpoints": {m: int(a.df.tokens.nunique()) for m, a in per_model.items()},
            "criterion": crit.label(),
        }
    }


def _slugs(models: list[str]) -> dict[str, str]:
    """A file-name-safe, distinct name per model for its figures."""
    from curriculens.reporting.figures import file_stems

    return file_stems(models)  # distinct even where two names reduce to one (issue 29)
