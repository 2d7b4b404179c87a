"""The 'Recovered vs designed order' section of a demo run's report.

A run made by ``curriculens demo`` keeps the curriculum its world was built to produce
(``design.json``: each source's designed wave, entry point, weight, and each composite's
components) and the comparison of the recovered order with it (``demo.json``, key ``design``:
Spearman's rho, the disagreeing pairs, composites after their components), both written by the
demo before the report. This module reads those two files as plain JSON, so reporting never
imports the toy world; a run without them gets no section.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from curriculens.reporting.formatting import format_tokens
from curriculens.reporting.sections import Section

__all__ = ["design_sections", "design_summary"]

#: the files a demo run keeps its design and its comparison in
DESIGN_FILE, DEMO_FILE = "design.json", "demo.json"
#: disagreeing pairs named per run in the table (the count is always given)
PAIRS_SHOWN = 6


def _read(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _comparisons(run: Path) -> list[dict]:
    demo = _read(Path(run) / DEMO_FILE) or {}
    rows = demo.get("design")
    return [c for c in rows if isinstance(c, dict)] if isinstance(rows, list) else []


def _rho(c: dict) -> str:
    rho = c.get("spearman")
    return "n/a" if rho is None or (isinstance(rho, float) and math.isnan(rho)) else f"{rho:.2f}"


def _later(c: dict) -> tuple[int, int]:
    decided = [p for p in c.get("composite_pairs", []) if p[2] is not None]
    return sum(bool(p[2]) for p in decided), len(decided)


def design_summary(run: str | Path) -> list[str]:
    """One opening sentence for a demo run: rho per run against the designed order ([] else).

    >>> design_summary("runs/not-a-demo")
    []
    """
    comps = _comparisons(Path(run))
    if not comps:
        return []
    per = ", ".join(f"{c.get('run') or 'run'} {_rho(c)}" for c in comps)
    later = [_later(c) for c in comps]
    k, n = sum(a for a, _ in later), sum(b for _, b in later)
    return [
        f"Against the order the toy world was designed to produce (raw curves): Spearman {per}; "
        f"composites cross strictly after their components in {k} of {n} pairs "
        "(see 'Recovered vs designed order')."
    ]


def design_sections(run: str | Path) -> list[Section]:
    """The comparison per run and the design itself, when ``run`` is a demo run ([] else)."""
    run = Path(run)
    comps = _comparisons(run)
    if not comps:
        return []
    rows = [
        ["run", "Spearman", "emerged", "elementals: distinct crossings (few-shot)",
         "composite after component", "disagreeing pairs (designed earlier, crossed later)"]
    ]  # fmt: skip
    for c in comps:
        k, n = _later(c)
        distinct = c.get("distinct_elementals", "?")
        fewshot = c.get("distinct_fewshot_elementals", "?")
        pairs = c.get("disagreeing", [])
        shown = "; ".join(f"{a} after {b}" for a, b in pairs[:PAIRS_SHOWN])
        more = f"; +{len(pairs) - PAIRS_SHOWN}" if len(pairs) > PAIRS_SHOWN else ""
        rows.append(
            [
                c.get("run") or "run",
                _rho(c),
                f"{c.get('n_emerged', '?')} of {c.get('n_skills', '?')}",
                f"{distinct} ({fewshot})",
                f"{k} of {n}",
                f"{len(pairs)}" + (f": {shown}{more}" if pairs else ""),
            ]
        )
    out = [
        Section(
            "Recovered vs designed order",
            rows,
            "The toy world stages its skills through the data (each source enters the corpus "
            "at a designed step), so the order it should produce is known. Each run's "
            "crossings are read on raw curves (the paper criterion, unsmoothed) and ranked "
            "against the designed waves (Spearman's rho over the skills that emerged; skills "
            "of one wave are designed to tie). A pair disagrees when the skill designed "
            "earlier crosses strictly later.",
        )
    ]
    design = _read(run / DESIGN_FILE)
    if design and isinstance(design.get("sources"), list):
        out.append(_design_table(design, comps))
    return out


def _design_table(design: dict, comps: list[dict]) -> Section:
    parts = design.get("components", {})
    runs = [c.get("run") or "run" for c in comps]
    rows = [["skill", "designed wave", "enters (share of training)", "weight", "needs", *runs]]
    for s in sorted(design["sources"], key=lambda s: (s["wave"], s["enters"], s["name"])):
        name = s["name"]
        crossed = [c.get("crossings", {}).get(name) for c in comps]
        rows.append(
            [
                name,
                str(s["wave"]),
                f"{s['enters']:.0%}",
                f"{s['weight']:g}",
                " + ".join(parts.get(name, [])) or "–",
                *["not emerged" if t is None else format_tokens(t) for t in crossed],
            ]
        )
    return Section(
        "The designed curriculum",
        rows,
        "Each source of the demo's corpus with its designed wave, the share of training at "
        "which it enters, its mixture weight once in, the components a composite needs, and "
        "each run's raw crossing (tokens).",
    )
