"""A report's two pages, ``report.md`` and a self-contained ``report.html``, from its opening
sentences, its :class:`~curriculens.reporting.sections.Section` s, the figures placed after
them and the run's JSON (shown last, collapsed in the HTML). Every name shown is escaped."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from curriculens.atomic import write_text
from curriculens.errors import EnvironmentProblem
from curriculens.params import flag
from curriculens.reporting.figures import ReportFigure
from curriculens.reporting.sections import Section, md_text

__all__ = ["html_page", "markdown_page", "run_meta", "writable_dest", "write_pages"]

Placed = Mapping[str, Sequence[ReportFigure]]

#: the run files whose JSON closes the report, in order
RUN_FILES = ("demo.json", "train_summary.json", "train_config.json", "sweep_config.json")


def writable_dest(dest: Path) -> Path:
    """``dest``, created, after writing and removing a probe file there.

    A folder that cannot be created or written (read-only storage, no permission, a full disk)
    is an :class:`~curriculens.errors.EnvironmentProblem` (exit 1): the storage, not the
    request, is at fault, and it is found before anything is computed.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe = dest / ".report-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise EnvironmentProblem(
            f"Cannot write the report into {str(dest)!r} ({e.strerror or e}); pass "
            f"{flag('out')} DIR on writable storage with free space."
        ) from None
    return dest


def run_meta(run: Path) -> dict:
    """The run's configuration and training summary (:data:`RUN_FILES`), loss curve left out."""
    meta = {}
    for name in RUN_FILES:
        p = run / name
        if p.exists():
            try:
                d = json.loads(p.read_text())
            except (OSError, UnicodeDecodeError, ValueError) as e:  # shown, never fatal
                d = {"unreadable": f"{name} could not be read ({e}); the store holds the run"}
            if isinstance(d, dict):
                d.pop("loss_curve", None)
            meta[name.removesuffix(".json")] = d
    return meta


def _numbered(sections: Sequence[Section], placed: Placed) -> dict[str, int]:
    """Figure numbers in order of appearance."""
    names = [f.name for s in sections for f in placed.get(s.title, [])]
    return {n: i for i, n in enumerate(names, 1)}


def markdown_page(
    name: str, summary: Sequence[str], sections: Sequence[Section], placed: Placed, meta: dict
) -> str:
    """``report.md``: the title, the opening sentences as a list, the sections, the run JSON."""
    md = [f"# Curriculum report: {md_text(name)}", "", *[f"- {md_text(s)}" for s in summary]]
    number = _numbered(sections, placed)
    for s in sections:
        md += s.markdown(placed.get(s.title, []), number)
    if meta:
        md += ["", "## Run", "", "```json", json.dumps(meta, indent=1), "```"]
    return "\n".join(md) + "\n"


def html_page(
    name: str, summary: Sequence[str], sections: Sequence[Section], placed: Placed, meta: dict
) -> str:
    """``report.html``: the Markdown page's content, figures embedded, run JSON collapsed."""
    esc = html.escape
    body = [
        f"<h1>Curriculum report: {esc(name)}</h1>",
        "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in summary) + "</ul>",
    ]
    number = _numbered(sections, placed)
    body += [s.html(placed.get(s.title, []), number) for s in sections]
    if meta:
        body.append(
            "<h2>Run</h2><details><summary>Run configuration and training summary (JSON)"
            f"</summary><pre>{esc(json.dumps(meta, indent=1))}</pre></details>"
        )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Curriculum report: {esc(name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
.table{{overflow-x:auto;margin-bottom:1em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 5px}}
img{{max-width:100%;height:auto}}
figure{{margin:1em 0 2em}}figcaption{{font-size:14px;max-width:900px}}
pre{{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}}</style>
</head><body>{"".join(body)}</body></html>"""


def write_pages(
    dest: Path,
    name: str,
    summary: Sequence[str],
    sections: Sequence[Section],
    placed: Placed,
    meta: dict,
) -> Path:
    """Write ``dest/report.md`` and ``dest/report.html``; return the HTML path."""
    write_text(dest / "report.md", markdown_page(name, summary, sections, placed, meta))
    return write_text(dest / "report.html", html_page(name, summary, sections, placed, meta))
