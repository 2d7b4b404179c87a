"""The sentences a report opens with, one per question: when skills emerge
(:func:`when_answer`), in what order (:func:`order_answer`) and whether representations lead
behavior (:func:`leads_answer`), each with its evidence.
"""

from __future__ import annotations

import numpy as np

from curriculens.analysis.consistency import Consistency
from curriculens.analysis.curriculum import SkillEmergence
from curriculens.reporting.formatting import format_tokens
from curriculens.reporting.run_analysis import RunAnalysis
from curriculens.reporting.sections import LIST_MAX, behavior_and_raw, margin_text


def answers(a: RunAnalysis) -> list[str]:
    """One sentence per question (when, in what order, do representations lead), with evidence."""
    return [when_answer(a), order_answer(a), leads_answer(a)]


def when_answer(a: RunAnalysis) -> str:
    """'When do skills emerge?': how many emerged, from which to which, and the others."""
    em, crit = a.emergence, a.criterion
    emerged = [e for e in em if e.behavior_state == "emerged"]
    at_init = [e for e in em if e.behavior_state == "present_at_init"]
    never = [e for e in em if e.behavior_state == "not_emerged"]
    pooled = f" (curves averaged over {len(a.runs)} runs)" if len(a.runs) > 1 else ""
    parts = [
        f"When do skills emerge? {len(emerged)} of {len(em)} skills emerged in behavior{pooled}"
    ]
    if emerged:
        first, final = emerged[0], emerged[-1]
        parts[0] += (
            f", from {first.skill} at {behavior_and_raw(first)} to {final.skill} at "
            f"{behavior_and_raw(final)}"
        )
    if at_init:
        parts.append(
            f"{_names(at_init)} already met the criterion at the first checkpoint (present at init)"
        )
    if never:
        parts.append(_not_emerged(never, format_tokens(float(a.df.tokens.max()))))
    shown = {e.skill for e in em}
    dropped = sorted(set(a.df[a.df.kind == "behavior"].skill) - shown)
    if dropped:
        parts.append(f"dropped by the criterion (score never above 0): {', '.join(dropped)}")
    return "; ".join(parts) + f". Criterion {crit.label()}."


def _not_emerged(never: list[SkillEmergence], last: str) -> str:
    """The skills that never emerged with their final scores; past :data:`LIST_MAX`, the
    closest ones (the table lists them all)."""
    shown, more = never, ""
    if len(never) > LIST_MAX:
        shown = sorted(never, key=lambda e: -np.nan_to_num(e.behavior_final, nan=-1))[:LIST_MAX]
        more = f" ({len(never)} skills; the {LIST_MAX} highest at the end)"
    return (
        f"not emerged by {last}"
        + more
        + ": "
        + ", ".join(f"{e.skill} (final {e.metric} {e.behavior_final:.2f})" for e in shown)
    )


def _names(em: list[SkillEmergence]) -> str:
    """The skills' names; past :data:`LIST_MAX`, the first ones and how many more."""
    names = [e.skill for e in em]
    if len(names) <= LIST_MAX:
        return ", ".join(names)
    return f"{', '.join(names[:LIST_MAX])} and {len(names) - LIST_MAX} more"


def _groups(em: list[SkillEmergence]) -> list[list[SkillEmergence]]:
    out: list[list[SkillEmergence]] = []
    for e in (e for e in em if e.emerged):
        if out and out[-1][0].behavior_tokens == e.behavior_tokens:
            out[-1].append(e)
        else:
            out.append([e])
    return out


def order_answer(a: RunAnalysis) -> str:
    """'In what order?': the groups of skills in emergence order, which steps between them
    intervals separate, and (several runs) how well the runs' orders agree."""
    groups = _groups(a.emergence)
    if not groups:
        return "In what order? No skill emerged, so there is no order to report."
    chain = " → ".join(f"{_names(g)} ({format_tokens(g[0].behavior_tokens)})" for g in groups)
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
    return text + _agreement(a.consistency, len(a.runs)) + "."


def _agreement(c: Consistency | None, n_runs: int) -> str:
    """'; across the N runs the orders agree with Spearman rho ...' ('' for one run)."""
    if c is None:
        return ""
    text = ""
    rhos = [p.spearman for p in c.pairs if p.spearman is not None]
    both = [p.spearman_both for p in c.pairs if p.spearman_both is not None]
    if rhos:
        text += (
            f"; across the {n_runs} runs the orders agree with Spearman rho "
            f"{min(rhos):.2f} to {max(rhos):.2f} (censored skills tied last)"
        )
    if both:
        text += f", {min(both):.2f} to {max(both):.2f} over the skills both runs learned"
    return text


def leads_answer(a: RunAnalysis) -> str:
    """'Do representations lead?': the lead/lag verdicts, counted and named."""
    leads = a.leads
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
            r.skill
            + (f" {r.lead_log10:+.2f}" if lead and r.lead_log10 is not None else "")
            + (" (lexical)" if getattr(r, "lexical", None) else "")
            for r in rs
        )

    tested = sum(r.p_holm is not None for r in leads)
    n = len(leads)
    return (
        f"Do representations lead? Probe selectivity leads behavior in {len(by.get('leads', []))} "
        f"of {n} skills ({names('leads', True)}) and lags in {len(by.get('lags', []))} "
        f"({names('lags', True)}), Holm-corrected over the {tested} skills where both curves "
        f"emerged; {len(by.get('equivalent', []))} equivalent within "
        f"{margin_text(leads, a.margin_log10)} ({names('equivalent')}), "
        f"{len(by.get('inconclusive', []))} inconclusive "
        f"({names('inconclusive')}); {len(by.get('present_at_init', []))} already at the first "
        f"checkpoint, so no lead is measurable ({names('present_at_init')}); "
        f"{len(by.get('not_emerged', []))} with a curve that never emerged "
        f"({names('not_emerged')}). Behavior's continuous metric against probe selectivity, "
        f"both read with criterion {a.probe_criterion.label()}."
    )
