"""``curriculens report RUN``: (re)write the HTML/Markdown curriculum report of a run."""

from __future__ import annotations

import argparse
import json

from curriculens.cli._args import add_output_flags, add_selection_flags, selection_of


def add_parser(sub) -> argparse.ArgumentParser:
    r = sub.add_parser(
        "report",
        help="write the HTML/Markdown curriculum report of a run",
        description=(
            "Write report.html, report.md and figures/ of RUN's current results (its current "
            "configuration and each skill's current version; --config KEY for another one)."
        ),
    )
    r.add_argument("run", help="run directory holding results.sqlite")
    r.add_argument("--threshold", type=float, default=0.8, help="emergence threshold (0.8)")
    r.add_argument("--fraction", type=float, default=0.9, help="fraction of final score (0.9)")
    r.add_argument("-o", "--out", help="folder for the report (default: RUN; for read-only runs)")
    add_selection_flags(r, all_rows=False)
    add_output_flags(r, json_help="print the report paths as JSON")
    r.set_defaults(func=run)
    return r


def run(args: argparse.Namespace) -> int:
    from curriculens.reporting.writer import write_report

    path = write_report(
        args.run,
        threshold=args.threshold,
        fraction=args.fraction,
        out=args.out,
        select=selection_of(args),
    )
    if args.json:
        print(json.dumps({"html": str(path), "markdown": str(path.with_suffix(".md"))}))
    else:
        print(f"report: {path}")
        print(f"summary: {path.with_suffix('.md')}")
    return 0
