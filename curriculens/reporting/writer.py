"""The curriculum report of a run: a Markdown summary and a self-contained HTML page with figures.

It opens with one sentence for each of the three questions (when do skills emerge, in what order,
do representations lead), each with its evidence, then shows the curriculum table (emergence with
intervals under one named criterion), for a demo run its recovered vs designed order
(:mod:`curriculens.reporting.design`), behavior curves, probe heatmaps, the timeline,
representation-vs-behavior lead/lag (the table and the figure show the same verdicts), the
composite check and, for several runs (seeds), the order-consistency matrix. Each figure follows
its table with a caption naming the criterion; figures are written as SVG, PDF and 300-dpi PNG
under ``RUN/figures/`` (:mod:`curriculens.reporting.figures`), and the PNGs are embedded in the
HTML as data URIs, so the page travels alone. The run's JSON closes the page, collapsed.
Every name shown is HTML-escaped.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.table import Selection, selecting
from curriculens.errors import ConfigError
from curriculens.params import flag
from curriculens.reporting import cache as report_cache
from curriculens.reporting.answers import answers
from curriculens.reporting.design import design_sections, design_summary
from curriculens.reporting.figures import build_figures, place, save_figures
from curriculens.reporting.imported import is_curves_input, write_curves_report
from curriculens.reporting.page import run_meta, writable_dest, write_pages
from curriculens.reporting.run_analysis import RunAnalysis, analyze
from curriculens.reporting.sections import (
    Section,
    baselines_sections,
    composite_sections,
    consistency_sections,
    curriculum_section,
    interval_note,
    lead_lag_sections,
    resampling_of,
    trajectory_sections,
)

__all__ = ["RunAnalysis", "analyze", "answers", "report_sections", "summary", "write_report"]


def write_report(
    run: str | Path,
    *,
    criterion: Criterion | str | None = None,
    probe_criterion: Criterion | str | None = None,
    margin_log10: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    out: str | Path | None = None,
    select: Selection | None = None,
    cache: bool = True,
    **overrides,
) -> Path:
    """Write ``report.html``, ``report.md`` and ``figures/*.{svg,pdf,png}`` into ``out``
    (default: the run directory); return the HTML path.

    The report shows the run's current results (``select`` picks another configuration, see
    :mod:`curriculens.analysis.table`). ``run`` may also be imported curves, an lm-eval results
    folder or a tidy CSV: their report (behavior only, per model) needs ``out``
    (:func:`curriculens.reporting.imported.write_curves_report`).

    Args: as :func:`analyze`, and ``cache``: read the report back from
    ``DEST/.curriculens-cache/`` when nothing it reads has changed since it was last written
    there (:mod:`curriculens.reporting.cache`; the result is the same either way), and keep it
    there for next time.

    >>> write_report("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/report.html')
    """
    run = Path(run)
    if select is not None and select.all:
        raise ConfigError(
            "The report pools the runs of a store, so it shows one configuration at a time; "
            f"pass {flag('config')} KEY (Selection(config=KEY)) instead of {flag('all')}."
        )
    if is_curves_input(run):
        if out is None or select is not None or probe_criterion is not None or margin_log10:
            raise ConfigError(
                f"{str(run)!r} holds imported curves (lm-eval results or a CSV), not a run: "
                f"pass {flag('out')} DIR for the report (nothing is written into the input), and "
                f"no {flag('config')}, {flag('leadlag_criterion')} or {flag('margin_log10')} "
                "(imported curves have no configurations or probes)."
            )
        return write_curves_report(
            run, out=out, criterion=criterion, n_boot=n_boot, seed=seed, **overrides
        )
    kw = dict(criterion=criterion, probe_criterion=probe_criterion, n_boot=n_boot, seed=seed)
    kw["margin_log10"] = margin_log10
    dest = Path(out) if out is not None else run
    key = None
    if cache:
        crit = Criterion.of(criterion, **overrides)
        probe = None if probe_criterion is None else Criterion.of(probe_criterion)
        settings = dict(kw, criterion=repr(crit), probe_criterion=repr(probe), select=repr(select))
        key = report_cache.report_key(run, settings)
    with selecting(select) if select is not None else nullcontext():
        return _write_report(run, dest, key, **kw, **overrides)


def _write_report(run: Path, dest: Path, key: str | None, **kw) -> Path:
    writable_dest(dest)
    hit = None if key is None else report_cache.load(dest, key)
    if hit is not None:
        opening, sections, figures, notes = hit
        report_cache.replay_notes(notes)
    else:
        with report_cache.recording_notes() as notes:
            a = analyze(run, **kw)
        figures = save_figures(build_figures(a), dest / "figures")
        opening, sections = summary(a), report_sections(a)
        if key is not None:
            report_cache.store(dest, key, opening, sections, figures, notes)
    # a demo run: its recovered vs designed order, read from demo.json/design.json each time
    sections = [*sections[:1], *design_sections(run), *sections[1:]]
    opening = [*opening, *design_summary(run)]
    placed = place(figures, [s.title for s in sections])
    return write_pages(dest, run.name, opening, sections, placed, run_meta(run))


def summary(a: RunAnalysis) -> list[str]:
    """The sentences the report opens with: the three answers, and how probes are read."""
    out = answers(a)
    for run, skipped in a.skipped.items():  # never a silent gap in the curves
        labels = ", ".join(f"{d['label']} ({d['reason'][:120]})" for d in skipped)
        out.append(f"Run {run}: {len(skipped)} checkpoint(s) skipped by {flag('skip_bad')}, not "
                   f"measured: {labels}.")  # fmt: skip
    if a.baselines:
        out.append(
            "Probes are split by group (no test prompt or entity seen in training) and every "
            "probe number stands beside chance (the test set's majority class), its control "
            "task (mean and SD over draws), the majority, first-checkpoint and embedding "
            "baselines, and a lexical baseline (a probe on the prompt's mean input embedding; "
            "see 'Probes beside their baselines')."
        )
    return out


def report_sections(a: RunAnalysis) -> list[Section]:
    """The run report's sections, in order: the curriculum, the probes beside their baselines,
    lead/lag, the composites, the composite trajectories and (several runs) consistency."""
    notes = interval_note(a.criterion, a.n_boot, resampling_of(a.cis))
    skills = [e.skill for e in a.emergence]
    return [
        curriculum_section(a, note=notes),
        *baselines_sections(a),
        *lead_lag_sections(a),
        *composite_sections(a),
        *trajectory_sections(a),
        *consistency_sections(a.consistency, a.runs, a.cis, a.criterion, skills),
    ]
