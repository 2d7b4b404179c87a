"""The sections of a curriculum report, each rendered as a Markdown and an HTML fragment.

Both reports are made of them: the report of a run (:mod:`curriculens.reporting.writer`) and the
report of imported curves (:mod:`curriculens.reporting.imported`). A report opens with one
sentence per question (:mod:`curriculens.reporting.answers`), then shows a list of
:class:`Section` s, each a table with its note and the figures placed after it.
Every builder here reads a :class:`~curriculens.reporting.run_analysis.RunAnalysis` (or the
pieces named in its signature); :mod:`curriculens.reporting.page` puts the fragments on a page.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from curriculens.analysis.consistency import (
    CompositeCheck,
    Consistency,
    registry_components,
)
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import SkillEmergence
from curriculens.analysis.emergence import EmergenceCI
from curriculens.reporting import trajectories as tj
from curriculens.reporting.figures import ReportFigure
from curriculens.reporting.formatting import (
    format_emergence,
    format_interval,
    format_lead_interval,
    format_tokens,
    layer_name,
)
from curriculens.reporting.probes import baselines_table, meaning
from curriculens.reporting.run_analysis import RunAnalysis

#: the most not-emerged skills the first answer names (the table lists every one)
LIST_MAX = 8
#: The first columns of the curriculum table that behavior alone fills (imported curves).
BEHAVIOR_COLUMNS = 7


@dataclass(frozen=True)
class Section:
    """One titled table of a report, with the note printed above it.

    Attributes:
        title: The section's heading (figures are placed after a title, see
            :func:`curriculens.reporting.figures.place`).
        rows: The table, header row first; every cell a string.
        note: What the table shows and how it was read ('' for none).
    """

    title: str
    rows: list[list[str]]
    note: str = ""

    def markdown(self, figures: Sequence[ReportFigure], number: Mapping[str, int]) -> list[str]:
        """The section's Markdown lines: heading, note, table, then its figures."""
        md = ["", f"## {md_text(self.title)}", ""] + ([md_text(self.note), ""] if self.note else [])
        head = self.rows[0]
        md += ["| " + " | ".join(map(md_text, head)) + " |", "|" + "---|" * len(head)]
        md += ["| " + " | ".join(map(md_text, r)) + " |" for r in self.rows[1:]]
        for f in figures:
            md += [
                "",
                f"![Figure {number[f.name]}: {f.name}](figures/{f.name}.png)",
                "",
                f"*Figure {number[f.name]}.* {md_text(f.caption)} "
                f"([SVG](figures/{f.name}.svg), [PDF](figures/{f.name}.pdf))",
            ]
        return md

    def html(self, figures: Sequence[ReportFigure], number: Mapping[str, int]) -> str:
        """The section's HTML: heading, note, table, then its figures (PNGs embedded)."""
        esc = html.escape
        head = f"<h2>{esc(self.title)}</h2>" + (f"<p>{esc(self.note)}</p>" if self.note else "")
        table = (
            '<div class="table"><table><tr>'
            + "".join(f"<th>{esc(c)}</th>" for c in self.rows[0])
            + "</tr>"
            + "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in self.rows[1:]
            )
            + "</table></div>"
        )
        return head + table + "".join(html_figure(f, number[f.name]) for f in figures)


def md_text(text: str) -> str:
    """Text for Markdown: HTML in names is shown, never rendered (and ``|`` keeps tables)."""
    # only '<' before a letter, '/', '!' or '?' opens a tag, and '&' before a name and ';' an
    # entity: those are escaped; '<=', '>=' and 'a & b' stay readable
    text = re.sub(r"&(?=#?\w+;)", "&amp;", str(text))
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text).replace("|", "\\|")


def html_figure(f: ReportFigure, number: int) -> str:
    """A figure for the HTML page: its screen PNG embedded, its caption and file links."""
    esc = html.escape
    return (
        f'<figure id="figure-{esc(f.name)}"><img alt="Figure {number}: {esc(f.name)}" '
        f'width="{round(f.width_in * 96)}" '
        f'src="data:image/png;base64,{base64.b64encode(f.png).decode()}"/>'
        f"<figcaption><b>Figure {number}.</b> {esc(f.caption)} "
        f'(<a href="figures/{esc(f.name)}.svg">SVG</a>, '
        f'<a href="figures/{esc(f.name)}.pdf">PDF</a>)</figcaption></figure>'
    )


# ---------------------------------------------------------------- emergence cells and notes


def _behavior(e: SkillEmergence) -> str:
    return format_emergence(e.behavior_state, e.behavior_tokens, e.behavior_lo, e.behavior_hi)


def _raw(e: SkillEmergence) -> str:
    """The raw crossing interval of a skill's behavior (see :func:`interval_note`)."""
    return format_interval(e.behavior_raw_lo, e.behavior_raw_hi)


def behavior_and_raw(e: SkillEmergence) -> str:
    """The criterion's point and interval, and the raw crossing interval where it differs."""
    text = _behavior(e)
    if (e.behavior_raw_lo, e.behavior_raw_hi) != (e.behavior_lo, e.behavior_hi):
        text += f" (raw crossing {_raw(e)})"
    return text


def resampling_of(cis: Mapping[str, Mapping[str, EmergenceCI]]) -> str:
    """The resampling kinds behind ``{run: {skill: interval}}``, comma-separated."""
    kinds = sorted({ci.resampling for per in cis.values() for ci in per.values()})
    return ", ".join(kinds) or "none"


def interval_note(crit: Criterion, n_boot: int, resampling: str) -> str:
    """Which interval is which: the criterion's (smoothed) interval holds its point, the raw
    one the observed crossing; with the resamples behind both and their kind."""
    how = {
        "groups": "the cluster bootstrap (held-out groups, then items within them)",
        "items": "the item bootstrap",
        "binomial": "binomial resamples of each checkpoint's count",
        "none": "no resamples: checkpoint brackets only",
    }
    kinds = "; ".join(how.get(k.strip(), k) for k in resampling.split(","))
    text = (
        f"Behavior emergence: criterion {crit.label()}. Its interval (a, b] is the checkpoint "
        "bracket (previous checkpoint, crossing checkpoint] widened by "
        f"{n_boot} resamples ({kinds}); 'at init' means met at the first checkpoint (no earlier "
        "bound), 'not emerged' that it never was (no later bound)."
    )
    if not crit.smooth:
        return text + " The criterion does not smooth, so this interval is the raw crossing's."
    return text + (
        " Two intervals stand side by side: the smoothed criterion's interval holds its "
        "reported point, which smoothing moves late for sharp rises; 'raw crossing' reads the "
        "same criterion on the unsmoothed curve with the same resamples: the interval that "
        "holds the observed crossing."
    )


def margin_text(leads: Sequence, margin_log10: float | None) -> str:
    """'one checkpoint gap (0.18 log10 tokens)' (the default), or the margin asked for."""
    used = next((r.margin_log10 for r in leads if r.margin_log10 is not None), None)
    if margin_log10 is not None:
        return f"±{margin_log10:.2f} log10 tokens (the margin asked for)"
    if used is None:
        return "one checkpoint gap"
    return f"one checkpoint gap ({used:.2f} log10 tokens)"


# ---------------------------------------------------------------- the curriculum table


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


def curriculum_table(a: RunAnalysis) -> list[list[str]]:
    """One row per skill in emergence order: behavior (the criterion's point and interval,
    and the raw crossing interval), probe and lead/lag columns, each header naming its
    criterion."""
    name = a.criterion.name
    smoothed = "smoothed, " if a.criterion.smooth else ""
    probe = f" ({a.probe_criterion.name})" if a.probe_criterion is not None else ""
    rows = [
        [
            "#",
            "skill",
            "family",
            "metric",
            "final",
            f"behavior emerges ({name}, {smoothed}95% interval]",
            f"raw crossing ({name}, raw curve, 95% interval]",
            f"probe selectivity emerges{probe}",
            "best layer",
            "probe first → final",
            "selectivity",
            f"lead/lag{probe}",
        ]
    ]
    for i, e in enumerate(a.emergence, 1):
        probe = "–" if e.probe_state is None else format_emergence(e.probe_state, e.probe_tokens)
        gone_b = _unmeasurable(a.df, e.skill, ("behavior",))
        gone_p = _unmeasurable(a.df, e.skill, ("probe",))
        no_probe = e.probe_state is None or gone_p is not None
        rows.append(
            [
                str(i) if e.emerged else "–",
                e.skill,
                e.family + (f" ({'+'.join(e.components)})" if e.components else ""),
                e.metric,
                gone_b or f"{e.behavior_final:.2f}",
                _behavior(e),
                _raw(e),
                probe,
                "–" if no_probe else layer_name(e.probe_layer),
                "–" if e.probe_state is None else _probe_cell(e, gone_p),
                "–" if no_probe else f"{e.selectivity_final:+.2f}",
                e.leadlag or "–",
            ]
        )
    return rows


def curriculum_section(
    a: RunAnalysis, *, title: str = "Curriculum", note: str, behavior_only: bool = False
) -> Section:
    """The curriculum table under ``title``; ``behavior_only`` keeps the columns behavior
    alone fills (:data:`BEHAVIOR_COLUMNS`)."""
    rows = curriculum_table(a)
    if behavior_only:
        rows = [r[:BEHAVIOR_COLUMNS] for r in rows]
    return Section(title, rows, note)


# ---------------------------------------------------------------- probes and lead/lag


def baselines_sections(a: RunAnalysis) -> list[Section]:
    """'Probes beside their baselines' and 'What each probe number means' (none without
    probes)."""
    if not a.baselines:
        return []
    return [
        Section(
            "Probes beside their baselines",
            baselines_table(a.baselines),
            "Final checkpoint, best layer. Probes are trained and tested on disjoint groups "
            "(no test prompt or entity is seen in training); chance = the share of the test "
            "set's majority class; control = the same probe on one random class per group, "
            "mean ± SD over its draws (number of draws in brackets; selectivity = probe − "
            "mean control); majority = the most common training class; first checkpoint = "
            "the same layer before (most of) training; embeddings = the embedding layer; "
            "lexical baseline = a probe on the mean of the prompt's input embeddings, "
            "flagged lexical when it reaches the probe's crossing level within one "
            "checkpoint of the probe (or before). audit: see `curriculens audit`.",
        ),
        Section(
            "What each probe number means",
            [["skill", "reading"], *[[b.skill, meaning(b)] for b in a.baselines]],
            "",
        ),
    ]


def lead_table(results) -> list[list[str]]:
    """One row per skill: both emergence points (each header naming its criterion), the lead
    with its interval, p and verdict."""
    r0 = results[0] if results else None
    b_crit = f", {r0.behavior_criterion}" if r0 is not None else ""
    p_crit = f" ({r0.probe_criterion})" if r0 is not None else ""
    rows = [
        [
            "skill",
            "behavior metric",
            "best layer",
            f"behavior emerges (continuous metric{b_crit})",
            f"probe selectivity emerges{p_crit}",
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
                r.behavior_metric,
                layer_name(r.layer),
                format_emergence(r.behavior_state, r.behavior_tokens),
                format_emergence(r.probe_state, r.probe_tokens),
                lead + (f" {interval}" if interval else ""),
                "–" if r.p_holm is None else f"{r.p_holm:.3f}",
                r.label,
            ]
        )
    return rows


def lead_lag_sections(a: RunAnalysis) -> list[Section]:
    """'Representation vs behavior': the lead/lag table (none without probes)."""
    if not a.leads:
        return []
    r0 = a.leads[0]
    crit = a.probe_criterion
    rise = (
        f"it rises by at least {crit.min_rise:g} from its first checkpoint and its lasting "
        "rise is beyond bootstrap noise"
        if crit.method in ("relative", "sigmoid")
        else "its final value is above 0 beyond bootstrap noise"
    )
    note = (
        f"Both curves are read with one criterion, {crit.label()}. Behavior: "
        "the skill's continuous metric (target probability above chance for "
        "continuation skills, choice accuracy above chance for choice skills), so its points "
        f"may differ from the curriculum table's ({a.criterion.name} on the primary metric); "
        "probe: selectivity (probe − control accuracy on the same held-out items) at the best "
        f"layer. A curve counts only if {rise}. Lead > 0: the probe came first. leads/lags: "
        f"the crossings differ in ≥ 95% of {r0.n_boot} resamples ({r0.resampling}) after Holm "
        f"correction; equivalent: within {margin_text(a.leads, a.margin_log10)} of each "
        "other, two one-sided tests; present_at_init / not_emerged: a curve is censored, so no "
        "lead is measured. The figure shows the same verdicts."
    )
    return [Section("Representation vs behavior", lead_table(a.leads), note)]


# ---------------------------------------------------------------- composites


def _pairs(cc: CompositeCheck) -> str:
    """The pair count of a composite check, with the pairs where neither emerged."""
    return (
        f"{cc.pairs_held} of {cc.pairs} (composite, component) pairs in that order"
        f" ({cc.pairs_censored} with neither emerged, counted as in order)"
    )


def _pair_order(tc: float | None, tp: float | None) -> str:
    """How a composite's emergence stands against one component's (None: not emerged)."""
    if tc is None and tp is None:
        return "neither emerged"
    if tc is None:
        return "composite not emerged"
    if tp is None or tp > tc:
        return "exception: component later"
    return "same checkpoint" if tp == tc else "composite later"


def composite_sections(a: RunAnalysis) -> list[Section]:
    """'Composites vs components (RUN)' per run: the share in order, then every (composite,
    component) pair with both emergence points and their order, exceptions first."""
    comps = registry_components(a.df.skill.unique(), a.df) if a.composites else {}
    out = []
    for r, cc in a.composites.items():
        points = a.points.get(r, {})
        pairs = [
            (c, p, points[c], points[p])
            for c, parts in sorted(comps.items())
            for p in parts
            if c in points and p in points
        ]
        pairs.sort(key=lambda x: not _pair_order(x[2], x[3]).startswith("exception"))
        name = a.criterion.name
        rows = [["composite", "component", f"composite emerges ({name})",
                 f"component emerges ({name})", "order"]]  # fmt: skip
        rows += [
            [c, p, format_tokens(tc), format_tokens(tp), _pair_order(tc, tp)]
            for c, p, tc, tp in pairs
        ]
        share = "n/a" if cc.share is None else f"{cc.share:.0%}"
        out.append(
            Section(
                f"Composites vs components ({r})",
                rows,
                f"{share} of {cc.n} composites emerge no earlier than all of their components "
                f"(criterion {a.criterion.name}), {_pairs(cc)}; each pair below, exceptions "
                f"(a component that came later) first: {len(cc.exceptions)}."
                + (f" Skipped: {', '.join(cc.skipped)}." if cc.skipped else ""),
            )
        )
    return out


def trajectory_sections(a: RunAnalysis) -> list[Section]:
    """The composite trajectories from task vectors (none without them)."""
    p = a.trajectories
    if p is None:
        return []
    out = [Section(tj.TITLE, tj.trajectory_table(p), tj.trajectory_note(p))]
    decoys = tj.decoy_table(p)
    if len(decoys) > 1:
        out.append(Section(tj.DECOY_TITLE, decoys, tj.decoy_note(p)))
    return out


# ---------------------------------------------------------------- several runs


def consistency_sections(
    consistency: Consistency | None,
    runs: Sequence[str],
    cis: Mapping[str, Mapping[str, EmergenceCI]],
    criterion: Criterion,
    skills: Sequence[str],
) -> list[Section]:
    """The 'Emergence per run' and 'Order consistency across runs' sections (none for one
    run): each run's emergence of ``skills`` and the rank agreement of every pair of runs."""
    if consistency is None:
        return []
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
        for p in consistency.pairs
    ]
    raw = bool(criterion.smooth)
    em_rows = [["skill", *[c for r in runs for c in ([r, f"{r} raw crossing"] if raw else [r])]]]
    for s in skills:
        row = [s]
        for r in runs:
            ci = cis.get(r, {}).get(s)
            row.append("–" if ci is None else format_emergence(ci.state, ci.point, ci.lo, ci.hi))
            if raw:
                row.append("–" if ci is None else format_interval(ci.raw_lo, ci.raw_hi))
        em_rows.append(row)
    em_note = f"Each run on its own, criterion {criterion.name}" + (
        "; RUN: the smoothed criterion's point and interval, RUN raw crossing: the same "
        "criterion on the raw curve (the interval that holds the observed crossing)."
        if raw
        else "."
    )
    return [
        Section(f"Emergence per run ({criterion.name})", em_rows, em_note),
        Section(
            "Order consistency across runs",
            rows,
            f"Task set: {consistency.task_set} ({len(consistency.common_tasks)} skills common "
            "to all runs); censored skills tie at the bottom. 'both emerged': skills with an "
            "emergence point in both runs; null: rho when each run keeps which skills never "
            "emerged and the order of the others is shuffled; ci: skills resampled.",
        ),
    ]


def _r(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"
