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
import tempfile
from collections.abc import Mapping
from pathlib import Path

from curriculens.analysis.consistency import rank_consistency
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import skill_emergence
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.importers import load_curves, write_store
from curriculens.analysis.table import SKILLS_META_KEY, load_table
from curriculens.reporting import writer
from curriculens.reporting.figures import save_figures
from curriculens.reporting.plots import plot_behavior, plot_consistency, plot_timeline
from curriculens.store import Store

#: The first columns of the report's curriculum table that behavior alone fills.
_BEHAVIOR_COLUMNS = 6
#: The answer to "do representations lead?" for curves without activations.
NO_PROBES = (
    "Do representations lead? Not measured: these are imported behavior curves, and no "
    "activations were measured, so this report has no probes, no probe selectivity and no "
    "lead/lag. Sweep the checkpoints themselves (`curriculens sweep`) to measure them."
)


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
    dest = writer.writable_dest(Path(out))
    curves = load_curves(path, **dict(load_options or {}))
    families = task_families(curves["task"])
    snapshot = {
        t: {"family": f, "primary_metric": "score", "chance": 0.0, "components": []}
        for t, f in families.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        with Store(tmp) as s:
            write_store(curves, s, source="import")
            s.set_meta(SKILLS_META_KEY, snapshot)
        df = load_table(tmp)
        cis = behavior_emergence(tmp, criterion=crit, n_boot=n_boot, seed=seed)
    models = sorted(df.run.unique())
    per_model = {}
    for m in models:
        mine = df[df.run == m].reset_index(drop=True)
        mine.attrs = dict(df.attrs)
        em = skill_emergence(mine, criterion=crit, n_boot=n_boot, seed=seed)
        per_model[m] = dict(df=mine, runs=[m], criterion=crit, emergence=em, consistency=None)
    points = {m: {t: ci.point for t, ci in v.items()} for m, v in cis.items()}
    consistency = rank_consistency(points, seed=seed) if len(models) > 1 else None
    name = Path(path).name or str(path)

    summary, sections, figs, placed_names = [], [], {}, {}
    notes = (
        f"Behavior emergence: criterion {crit.label()}, on each task's imported score. An "
        "interval (a, b] holds the crossing: the checkpoint bracket (previous checkpoint, "
        f"crossing checkpoint], widened by {n_boot} resamples where the curves give per-item "
        "outcomes or counts; 'at init' means met at the first checkpoint, 'not emerged' that it "
        "never was."
    )
    slugs = {m: _slug(m) for m in models}
    if len(set(slugs.values())) < len(models):  # same name under two owners
        slugs = {m: _slug(m.replace("/", "-")) for m in models}
    for m, a in per_model.items():
        who = f"{m}: " if len(models) > 1 else ""
        summary += [who + writer._when(a), who + writer._order(a)]
        emerged = sum(e.behavior_state == "emerged" for e in a["emergence"])
        if crit.name == "paper" and emerged < len(a["emergence"]) / 4:
            summary.append(
                f"{who}{emerged} of {len(a['emergence'])} tasks reach the paper criterion's "
                "fixed floor of 0.8; to read each curve against its own range, pass "
                "--criterion paper-relative (half of its smoothed maximum)."
            )
        title = f"Curriculum: {m}"
        table = writer._curriculum_table(a["emergence"], crit, a["df"])
        sections.append((title, [r[:_BEHAVIOR_COLUMNS] for r in table], notes))
        slug = slugs[m]
        skills = [e.skill for e in a["emergence"]]
        figs[f"timeline-{slug}"] = (
            plot_timeline(a["emergence"]),
            f"{m}: emergence order per task (circle, with its interval as a bar); '<' at the "
            "left: met at the first checkpoint; faded '>' at the right: not emerged. Criterion "
            f"{crit.label()}.",
        )
        figs[f"behavior-{slug}"] = (
            plot_behavior(a["df"], skills, emergence=a["emergence"], criterion=crit),
            f"{m}: imported score per checkpoint, one panel per task family (shared log token "
            f"axis); circles mark emergence and shaded bands its interval. Criterion "
            f"{crit.label()}.",
        )
        placed_names[title] = [f"timeline-{slug}", f"behavior-{slug}"]
    if consistency is not None:
        rhos = [p.spearman for p in consistency.pairs if p.spearman is not None]
        both = [p.spearman_both for p in consistency.pairs if p.spearman_both is not None]
        summary.append(
            f"Do the {len(models)} models learn in the same order? "
            + (f"Spearman rho {min(rhos):.2f} to {max(rhos):.2f}" if rhos else "not measurable")
            + " over the shared tasks (censored tasks tied last)"
            + (f", {min(both):.2f} to {max(both):.2f} over the tasks both learned" if both else "")
            + "."
        )
        all_skills = sorted({t for v in cis.values() for t in v})
        a = dict(consistency=consistency, runs=models, criterion=crit, cis=cis)
        sections += writer.consistency_sections(a, all_skills)
        figs["consistency"] = (
            plot_consistency(consistency),
            "Spearman rank agreement of the task emergence orders between models "
            f"(criterion {crit.label()}; censored tasks tied last).",
        )
        placed_names["Order consistency across runs"] = ["consistency"]
    summary.append(NO_PROBES)
    sections.append(
        (
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
    )
    saved = {f.name: f for f in save_figures(figs, dest / "figures")}
    placed = {t: [saved[n] for n in names] for t, names in placed_names.items()}
    meta = {
        "import": {
            "source": str(path),
            "models": models,
            "tasks": len(families),
            "checkpoints": {m: int(a["df"].tokens.nunique()) for m, a in per_model.items()},
            "criterion": crit.label(),
        }
    }
    writer._write_md(dest, summary, sections, placed, meta, name=name)
    html_path = dest / "report.html"
    html_path.write_text(writer._html(name, summary, sections, placed, meta))
    return html_path


def _slug(name: str) -> str:
    """A file-name-safe form of a model name (``EleutherAI/pythia-160m`` → ``pythia-160m``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name).rsplit("/", 1)[-1]).strip("-") or "model"
