"""The curriculum report of a run: a Markdown summary and a self-contained HTML page with figures.

It opens with one sentence for each of the three questions (when do skills emerge, in what order,
do representations lead), each with its evidence, then shows the curriculum table (emergence with
intervals under one named criterion), behavior curves, probe heatmaps, the timeline,
representation-vs-behavior lead/lag (the table and the figure show the same verdicts), the
composite check and, for several runs (seeds), the order-consistency matrix. Each figure follows
its table with a caption naming the criterion; figures are written as SVG, PDF and 300-dpi PNG
under ``RUN/figures/`` (:mod:`curriculens.reporting.figures`), and the PNGs are embedded in the
HTML as data URIs, so the page travels alone. The run's JSON closes the page, collapsed.
Every name shown is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import re
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from curriculens.analysis.consistency import (
    composite_check,
    rank_consistency,
    registry_components,
)
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import SkillEmergence, skill_emergence
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.leadlag import DEFAULT_CRITERION, lead_lag
from curriculens.analysis.table import Selection, load_table, selecting, skill_info
from curriculens.errors import ConfigError
from curriculens.reporting import trajectories as tj
from curriculens.reporting.figures import ReportFigure, build_figures, place, save_figures
from curriculens.reporting.formatting import (
    format_emergence,
    format_lead_interval,
    format_tokens,
    layer_name,
)
from curriculens.reporting.probes import baselines_table, meaning, probe_baselines


def _tok(t: float | None) -> str:
    return format_tokens(t)


def _behavior(e: SkillEmergence) -> str:
    return format_emergence(e.behavior_state, e.behavior_tokens, e.behavior_lo, e.behavior_hi)


def _unmeasurable(df, skill: str, kinds: tuple[str, ...]) -> str | None:
    """The text 'not measurable (REASON at step N)' when the skill's last checkpoint has no
    value of ``kinds`` (NaN weights or activations), else None: a final value is never carried
    over from an earlier checkpoint."""
    if "reason" not in df.columns:
        return None
    mine = df[(df.skill == skill) & df.kind.isin(kinds)]
    if mine.empty:
        return None
    last = mine[mine.tokens == mine.tokens.max()]
    if last.value.notna().any():
        return None
    reasons = last.reason.dropna()
    reason = str(reasons.iloc[0]).rstrip(".") if len(reasons) else "no value"
    if mine.value.isna().all():
        return f"not measurable ({reason})"
    return f"not measurable ({reason} at step {int(last.step.max())})"


def _probe_cell(e: SkillEmergence, gone: str | None) -> str:
    """'step-0 → final', with the final (or the whole cell) 'not measurable' when it is."""
    if gone is not None and e.probe_step0 != e.probe_step0:  # NaN at the first checkpoint too
        return gone
    return f"{e.probe_step0:.2f} → " + (gone or f"{e.probe_final:.2f}")


def _curriculum_table(emergence: list[SkillEmergence], crit: Criterion, df=None) -> list[list[str]]:
    rows = [
        [
            "#",
            "skill",
            "family",
            "metric",
            "final",
            f"behavior emerges ({crit.name}) (95% interval]",
            "probe selectivity emerges",
            "best layer",
            "probe first → final",
            "selectivity",
            "lead/lag",
        ]
    ]
    for i, e in enumerate(emergence, 1):
        probe = "–" if e.probe_state is None else format_emergence(e.probe_state, e.probe_tokens)
        gone_b = None if df is None else _unmeasurable(df, e.skill, ("behavior",))
        gone_p = None if df is None else _unmeasurable(df, e.skill, ("probe",))
        no_probe = e.probe_state is None or gone_p is not None
        rows.append(
            [
                str(i) if e.emerged else "–",
                e.skill,
                e.family + (f" ({'+'.join(e.components)})" if e.components else ""),
                e.metric,
                gone_b or f"{e.behavior_final:.2f}",
                _behavior(e),
                probe,
                "–" if no_probe else layer_name(e.probe_layer),
                "–" if e.probe_state is None else _probe_cell(e, gone_p),
                "–" if no_probe else f"{e.selectivity_final:+.2f}",
                e.leadlag or "–",
            ]
        )
    return rows


def _lead_table(results) -> list[list[str]]:
    rows = [
        [
            "skill",
            "best layer",
            "behavior emerges",
            "probe selectivity emerges",
            "lead (log10 tokens) (95% interval)",
            "p (Holm)",
            "verdict",
        ]
    ]
    for r in results:
        lead = "–" if r.lead_log10 is None else f"{r.lead_log10:+.2f}"
        interval = format_lead_interval(r.lo, r.hi)
        rows.append(
            [
                r.skill,
                layer_name(r.layer),
                format_emergence(r.behavior_state, r.behavior_tokens),
                format_emergence(r.probe_state, r.probe_tokens),
                lead + (f" {interval}" if interval else ""),
                "–" if r.p_holm is None else f"{r.p_holm:.3f}",
                r.verdict,
            ]
        )
    return rows


def analyze(
    run: str | Path,
    *,
    criterion: Criterion | str | None = None,
    probe_criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    **overrides,
) -> dict:
    """Everything the report shows, as plain objects (also usable on its own).

    Args:
        run: Run directory.
        criterion: Behavior emergence criterion (default ``paper``).
        probe_criterion: Criterion of lead/lag, applied to both of its curves (default
            ``paper-relative``).
        n_boot: Bootstrap resamples of the intervals and the lead/lag tests.
        seed: Seed of the resampling.
        **overrides: Fields that replace the behavior criterion's (``threshold=0.5``).
    """
    run = Path(run)
    df = load_table(run)
    runs = sorted(df.run.unique())
    crit = Criterion.of(criterion, **overrides)
    probe_crit = Criterion.of(probe_criterion if probe_criterion is not None else DEFAULT_CRITERION)
    emergence = skill_emergence(
        run, criterion=crit, probe_criterion=probe_crit, n_boot=n_boot, seed=seed
    )
    cis = behavior_emergence(run, criterion=crit, n_boot=n_boot, seed=seed)
    points = {r: {s: ci.point for s, ci in v.items()} for r, v in cis.items()}
    comps = registry_components(df.skill.unique(), df)
    composites = {r: composite_check(p, comps) for r, p in points.items()} if comps else {}
    leads = []
    if (df.kind == "control").any():
        leads = lead_lag(run, criterion=probe_crit, n_boot=n_boot, seed=seed)
    consistency = rank_consistency(points, seed=seed) if len(runs) > 1 else None
    baselines = _probe_baselines(run, df, {r.skill: r.layer for r in leads})
    return dict(
        trajectories=tj.trajectory_prediction(run),
        baselines=baselines,
        df=df,
        runs=runs,
        criterion=crit,
        probe_criterion=probe_crit,
        emergence=emergence,
        cis=cis,
        points=points,
        composites=composites,
        leads=leads,
        consistency=consistency,
        n_boot=n_boot,
    )


def _pairs(cc) -> str:
    """The pair count of a composite check, with the pairs where neither emerged."""
    return (
        f"{cc.pairs_held} of {cc.pairs} (composite, component) pairs in that order"
        f" ({cc.pairs_censored} with neither emerged, counted as in order)"
    )


def answers(a: dict) -> list[str]:
    """One sentence per question (when, in what order, do representations lead), with evidence."""
    return [_when(a), _order(a), _leads(a)]


def _when(a: dict) -> str:
    em: list[SkillEmergence] = a["emergence"]
    crit: Criterion = a["criterion"]
    emerged = [e for e in em if e.behavior_state == "emerged"]
    at_init = [e for e in em if e.behavior_state == "present_at_init"]
    never = [e for e in em if e.behavior_state == "not_emerged"]
    pooled = f" (curves averaged over {len(a['runs'])} runs)" if len(a["runs"]) > 1 else ""
    last = format_tokens(float(a["df"].tokens.max()))
    parts = [
        f"When do skills emerge? {len(emerged)} of {len(em)} skills emerged in behavior{pooled}"
    ]
    if emerged:
        first, final = emerged[0], emerged[-1]
        parts[0] += (
            f", from {first.skill} at {_behavior(first)} to {final.skill} at {_behavior(final)}"
        )
    if at_init:
        parts.append(
            f"{_names(at_init)} already met the criterion at the first checkpoint (present at init)"
        )
    if never:
        shown_never = never
        if len(never) > _LIST_MAX:  # the table lists them all; here, the closest ones
            shown_never = sorted(never, key=lambda e: -np.nan_to_num(e.behavior_final, nan=-1))
            shown_never = shown_never[:_LIST_MAX]
        parts.append(
            f"not emerged by {last}"
            + (
                f" ({len(never)} skills; the {_LIST_MAX} highest at the end)"
                if shown_never is not never
                else ""
            )  # fmt: skip
            + ": "
            + ", ".join(f"{e.skill} (final {e.metric} {e.behavior_final:.2f})" for e in shown_never)
        )
    shown = {e.skill for e in em}
    dropped = sorted(set(a["df"][a["df"].kind == "behavior"].skill) - shown)
    if dropped:
        parts.append(f"dropped by the criterion (score never above 0): {', '.join(dropped)}")
    return "; ".join(parts) + f". Criterion {crit.label()}."


#: the most not-emerged skills the first answer names (the table lists every one)
_LIST_MAX = 8


def _names(em: list[SkillEmergence]) -> str:
    """The skills' names; past :data:`_LIST_MAX`, the first ones and how many more."""
    names = [e.skill for e in em]
    if len(names) <= _LIST_MAX:
        return ", ".join(names)
    return f"{', '.join(names[:_LIST_MAX])} and {len(names) - _LIST_MAX} more"


def _groups(em: list[SkillEmergence]) -> list[list[SkillEmergence]]:
    out: list[list[SkillEmergence]] = []
    for e in (e for e in em if e.emerged):
        if out and out[-1][0].behavior_tokens == e.behavior_tokens:
            out[-1].append(e)
        else:
            out.append([e])
    return out


def _order(a: dict) -> str:
    groups = _groups(a["emergence"])
    if not groups:
        return "In what order? No skill emerged, so there is no order to report."
    chain = " → ".join(f"{_names(g)} ({_tok(g[0].behavior_tokens)})" for g in groups)
    steps = list(zip(groups, groups[1:], strict=False))
    separated = [
        (g, h)
        for g, h in steps
        if all(e.behavior_hi is not None for e in g)
        and all(e.behavior_lo is not None for e in h)
        and max(e.behavior_hi for e in g) <= min(e.behavior_lo for e in h)
    ]
    text = f"In what order? {chain}"
    if steps and len(separated) == len(steps):
        text += (
            f"; each of the {len(steps)} steps between consecutive groups is separated by "
            "intervals that do not overlap"
        )
    elif steps:
        swap = [f"{g[-1].skill} ↔ {h[0].skill}" for g, h in steps if (g, h) not in separated]
        text += (
            f"; {len(separated)} of the {len(steps)} steps between consecutive groups are "
            f"separated by intervals that do not overlap; the others could swap "
            f"({', '.join(swap)})"
        )
    c = a["consistency"]
    if c is not None:
        rhos = [p.spearman for p in c.pairs if p.spearman is not None]
        both = [p.spearman_both for p in c.pairs if p.spearman_both is not None]
        if rhos:
            text += (
                f"; across the {len(a['runs'])} runs the orders agree with Spearman rho "
                f"{min(rhos):.2f} to {max(rhos):.2f} (censored skills tied last)"
            )
        if both:
            text += f", {min(both):.2f} to {max(both):.2f} over the skills both runs learned"
    return text + "."


def _leads(a: dict) -> str:
    leads = a["leads"]
    if not leads:
        return "Do representations lead? Not measured: the run has no probe and control rows."
    by: dict[str, list] = {}
    for r in leads:
        by.setdefault(r.verdict, []).append(r)

    def names(v: str, lead: bool = False) -> str:
        rs = by.get(v, [])
        if not rs:
            return "none"
        return ", ".join(
            r.skill + (f" {r.lead_log10:+.2f}" if lead and r.lead_log10 is not None else "")
            for r in rs
        )

    tested = sum(r.p_holm is not None for r in leads)
    n = len(leads)
    return (
        f"Do representations lead? Probe selectivity leads behavior in {len(by.get('leads', []))} "
        f"of {n} skills ({names('leads', True)}) and lags in {len(by.get('lags', []))} "
        f"({names('lags', True)}), Holm-corrected over the {tested} skills where both curves "
        f"emerged; {len(by.get('equivalent', []))} equivalent within one checkpoint gap "
        f"({names('equivalent')}), {len(by.get('inconclusive', []))} inconclusive "
        f"({names('inconclusive')}); {len(by.get('present_at_init', []))} already at the first "
        f"checkpoint, so no lead is measurable ({names('present_at_init')}); "
        f"{len(by.get('not_emerged', []))} with a curve that never emerged "
        f"({names('not_emerged')}). Behavior's continuous metric against probe selectivity, "
        f"both read with criterion {a['probe_criterion'].label()}."
    )


def _probe_baselines(run: Path, df, layers: dict[str, int]) -> list:
    """Each probed skill's final probe beside its baselines and its audit verdict."""
    from curriculens.analysis.audit import audit_run
    from curriculens.errors import StoreError

    skills = list(dict.fromkeys(df.loc[df.kind == "probe", "skill"]))
    try:
        audit = {k: r.verdict for k, r in audit_run(run, skills=skills).items()} if skills else {}
    except StoreError:  # a run swept before probe items were stored
        audit = {}
    info = skill_info(df, skills)
    texts = {s: info.get(s, {}).get("probe", "") for s in skills}
    return probe_baselines(df, texts, audit, layers)


def write_report(
    run: str | Path,
    *,
    criterion: Criterion | str | None = None,
    probe_criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    out: str | Path | None = None,
    select: Selection | None = None,
    **overrides,
) -> Path:
    """Write ``report.html``, ``report.md`` and ``figures/*.{svg,pdf,png}`` into ``out``
    (default: the run directory); return the HTML path.

    The report shows the run's current results (``select`` picks another configuration, see
    :mod:`curriculens.analysis.table`). ``run`` may also be imported curves, an lm-eval results
    folder or a tidy CSV: their report (behavior only, per model) needs ``out``
    (:func:`curriculens.reporting.imported.write_curves_report`).

    Args: as :func:`analyze`.

    >>> write_report("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/report.html')
    """
    run = Path(run)
    if select is not None and select.all:
        raise ConfigError(
            "The report pools the runs of a store, so it shows one configuration at a time; "
            "pass --config KEY (Selection(config=KEY)) instead of --all."
        )
    from curriculens.reporting.imported import is_curves_input, write_curves_report

    if is_curves_input(run):
        if out is None or select is not None or probe_criterion is not None:
            raise ConfigError(
                f"{str(run)!r} holds imported curves (lm-eval results or a CSV), not a run: "
                "pass --out DIR for the report (nothing is written into the input), and no "
                "--config or --leadlag-criterion (imported curves have no configurations or "
                "probes)."
            )
        return write_curves_report(
            run, out=out, criterion=criterion, n_boot=n_boot, seed=seed, **overrides
        )
    kw = dict(criterion=criterion, probe_criterion=probe_criterion, n_boot=n_boot, seed=seed)
    with selecting(select) if select is not None else nullcontext():
        return _write_report(run, Path(out) if out is not None else run, **kw, **overrides)


def writable_dest(dest: Path) -> Path:
    """``dest``, created; an error naming the fix when the report cannot be written there."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe = dest / ".report-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(
            f"Cannot write the report into {str(dest)!r} ({e.strerror or e}); pass --out DIR "
            "on writable storage."
        ) from None
    return dest


def _write_report(run: Path, dest: Path, **kw) -> Path:
    writable_dest(dest)
    a = analyze(run, **kw)
    df, emergence, crit = a["df"], a["emergence"], a["criterion"]
    skills = [e.skill for e in emergence]
    figures = save_figures(build_figures(a), dest / "figures")

    summary = answers(a)
    if a["baselines"]:
        summary.append(
            "Probes are split by group (no test prompt or entity seen in training) and every "
            "probe number stands beside its control, majority, first-checkpoint and embedding "
            "baselines (see 'Probes beside their baselines')."
        )
    notes = (
        f"Behavior emergence: criterion {crit.label()}. An interval (a, b] holds the crossing: "
        f"the checkpoint bracket (previous checkpoint, crossing checkpoint] widened by "
        f"{a['n_boot']} item-bootstrap resamples; 'at init' means met at the first checkpoint "
        "(no earlier bound), 'not emerged' that it never was (no later bound)."
    )
    sections: list[tuple[str, list[list[str]], str]] = [
        ("Curriculum", _curriculum_table(emergence, crit, df), notes),
    ]
    if a["baselines"]:
        sections.append(
            (
                "Probes beside their baselines",
                baselines_table(a["baselines"]),
                "Final checkpoint, best layer. Probes are trained and tested on disjoint groups "
                "(no test prompt or entity is seen in training); control = the same probe on "
                "one random class per group; majority = the most common training class; first "
                "checkpoint = the same layer before (most of) training; embeddings = the "
                "embedding layer. audit: see `curriculens audit`.",
            )
        )
        sections.append(
            (
                "What each probe number means",
                [["skill", "reading"], *[[b.skill, meaning(b)] for b in a["baselines"]]],
                "",
            )
        )
    if a["leads"]:
        r0 = a["leads"][0]
        margin = "–" if r0.margin_log10 is None else f"{r0.margin_log10:.2f}"
        sections.append(
            (
                "Representation vs behavior",
                _lead_table(a["leads"]),
                f"Both curves are read with criterion {a['probe_criterion'].label()}. Behavior: "
                "the skill's continuous metric (target probability above chance for "
                "continuation skills, choice accuracy above chance for choice skills); probe: "
                "selectivity (probe − control accuracy on the same held-out items) at the best "
                "layer. A curve counts only if its final value is above 0 beyond bootstrap "
                "noise. Lead > 0: the probe came first. leads/lags: the crossings differ in "
                f"≥ 95% of {r0.n_boot} resamples after Holm correction; equivalent: within one "
                f"checkpoint gap ({margin} log10 tokens, two one-sided tests); present_at_init / "
                "not_emerged: a curve is censored, so no lead is measured. The figure shows the "
                "same verdicts.",
            )
        )
    for r, cc in a["composites"].items():
        rows = [["composite", "late component", "composite emerges", "component emerges"]]
        rows += [[c, p, _tok(tc), _tok(tp)] for c, p, tc, tp in cc.exceptions]
        share = "n/a" if cc.share is None else f"{cc.share:.0%}"
        sections.append(
            (
                f"Composites vs components ({r})",
                rows,
                f"{share} of {cc.n} composites emerge no earlier than all of their components "
                f"(criterion {crit.name}), {_pairs(cc)}; listed below are the exceptions "
                "(components that came later)."
                + (f" Skipped: {', '.join(cc.skipped)}." if cc.skipped else ""),
            )
        )
    if a.get("trajectories") is not None:
        p = a["trajectories"]
        sections.append((tj.TITLE, tj.trajectory_table(p), tj.trajectory_note(p)))
    sections += consistency_sections(a, skills)
    meta = _run_meta(run)
    placed = place(figures, [t for t, _, _ in sections])
    _write_md(dest, summary, sections, placed, meta, name=run.name)
    out = dest / "report.html"
    out.write_text(_html(run.name, summary, sections, placed, meta))
    return out


def consistency_sections(a: dict, skills: list[str]) -> list[tuple[str, list[list[str]], str]]:
    """The 'Emergence per run' and 'Order consistency across runs' sections (none for one
    run): each run's emergence of ``skills`` and the rank agreement of every pair of runs."""
    c = a["consistency"]
    if c is None:
        return []
    runs, crit = a["runs"], a["criterion"]
    rows = [
        ["run A", "run B", "skills", "Spearman", "Kendall", "both emerged", "Spearman (both)",
         "null mean [95%]", "95% ci"]
    ]  # fmt: skip
    rows += [
        [
            p.a,
            p.b,
            str(p.n),
            _r(p.spearman),
            _r(p.kendall),
            str(p.n_both),
            _r(p.spearman_both),
            "–"
            if p.null is None
            else f"{p.null['mean']:.3f} [{p.null['lo']:.3f}, {p.null['hi']:.3f}]",
            "–" if p.ci is None else f"[{p.ci[0]:.3f}, {p.ci[1]:.3f}]",
        ]
        for p in c.pairs
    ]
    em_rows = [["skill", *runs]]
    em_rows += [
        [
            s,
            *[
                format_emergence(ci.state, ci.point, ci.lo, ci.hi)
                if (ci := a["cis"].get(r, {}).get(s)) is not None
                else "–"
                for r in runs
            ],
        ]
        for s in skills
    ]
    return [
        (f"Emergence per run ({crit.name})", em_rows, ""),
        (
            "Order consistency across runs",
            rows,
            f"Task set: {c.task_set} ({len(c.common_tasks)} skills common to all runs); "
            "censored skills tie at the bottom. 'both emerged': skills with an emergence "
            "point in both runs; null: rho when each run keeps which skills never emerged "
            "and the order of the others is shuffled; ci: skills resampled.",
        ),
    ]


def _r(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _md(text: str) -> str:
    """Text for Markdown: HTML in names is shown, never rendered (and ``|`` keeps tables)."""
    # only '<' before a letter, '/', '!' or '?' opens a tag, and '&' before a name and ';' an
    # entity: those are escaped; '<=', '>=' and 'a & b' stay readable
    text = re.sub(r"&(?=#?\w+;)", "&amp;", str(text))
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text).replace("|", "\\|")


def _numbered(sections, placed) -> dict[str, int]:
    """Figure numbers in order of appearance."""
    names = [f.name for title, _, _ in sections for f in placed.get(title, [])]
    return {n: i for i, n in enumerate(names, 1)}


def _write_md(dest: Path, summary, sections, placed, meta, *, name: str) -> None:
    md = [f"# Curriculum report: {_md(name)}", "", *[f"- {_md(s)}" for s in summary]]
    number = _numbered(sections, placed)
    for title, rows, note in sections:
        md += ["", f"## {_md(title)}", ""] + ([_md(note), ""] if note else [])
        md += ["| " + " | ".join(map(_md, rows[0])) + " |", "|" + "---|" * len(rows[0])]
        md += ["| " + " | ".join(map(_md, r)) + " |" for r in rows[1:]]
        for f in placed.get(title, []):
            md += [
                "",
                f"![Figure {number[f.name]}: {f.name}](figures/{f.name}.png)",
                "",
                f"*Figure {number[f.name]}.* {_md(f.caption)} "
                f"([SVG](figures/{f.name}.svg), [PDF](figures/{f.name}.pdf))",
            ]
    if meta:
        md += ["", "## Run", "", "```json", json.dumps(meta, indent=1), "```"]
    (dest / "report.md").write_text("\n".join(md) + "\n")


def _html(name: str, summary, sections, placed, meta) -> str:
    esc = html.escape
    body = [
        f"<h1>Curriculum report: {esc(name)}</h1>",
        "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in summary) + "</ul>",
    ]
    number = _numbered(sections, placed)
    for title, rows, note in sections:
        body.append(f"<h2>{esc(title)}</h2>" + (f"<p>{esc(note)}</p>" if note else ""))
        body.append(
            "<table><tr>"
            + "".join(f"<th>{esc(c)}</th>" for c in rows[0])
            + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            + "</table>"
        )
        body += [_html_figure(f, number[f.name]) for f in placed.get(title, [])]
    if meta:
        body.append(
            "<h2>Run</h2><details><summary>Run configuration and training summary (JSON)"
            f"</summary><pre>{esc(json.dumps(meta, indent=1))}</pre></details>"
        )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Curriculum report: {esc(name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:14px;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:3px 8px}}img{{max-width:100%;height:auto}}
figure{{margin:1em 0 2em}}figcaption{{font-size:14px;max-width:900px}}
pre{{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}}</style>
</head><body>{"".join(body)}</body></html>"""


def _html_figure(f: ReportFigure, number: int) -> str:
    esc = html.escape
    return (
        f'<figure id="figure-{esc(f.name)}"><img alt="Figure {number}: {esc(f.name)}" '
        f'width="{round(f.width_in * 96)}" '
        f'src="data:image/png;base64,{base64.b64encode(f.png).decode()}"/>'
        f"<figcaption><b>Figure {number}.</b> {esc(f.caption)} "
        f'(<a href="figures/{esc(f.name)}.svg">SVG</a>, '
        f'<a href="figures/{esc(f.name)}.pdf">PDF</a>)</figcaption></figure>'
    )


def _run_meta(run: Path) -> dict:
    meta = {}
    for name in ("demo.json", "train_summary.json", "train_config.json", "sweep_config.json"):
        p = run / name
        if p.exists():
            d = json.loads(p.read_text())
            d.pop("loss_curve", None)
            meta[name.removesuffix(".json")] = d
    return meta
