"""``curriculens report RUN``: (re)write the HTML/Markdown curriculum report of a run."""

from __future__ import annotations

import argparse
import json

from curriculens.cli._args import (
    add_criterion_flags,
    add_output_flags,
    add_selection_flags,
    criterion_from_args,
    selection_of,
)
from curriculens.errors import ConfigError


def add_parser(sub) -> argparse.ArgumentParser:
    r = sub.add_parser(
        "report",
        help="write the HTML/Markdown curriculum report of a run",
        description="Write report.html, report.md and figures/ of RUN's current results (its "
        "current configuration and each skill's current version; --config KEY for another "
        "one). Behavior emergence uses --criterion (default paper); lead/lag reads both of its "
        "curves with --leadlag-criterion (default paper-relative).",
    )
    r.add_argument("run", help="run directory holding results.sqlite")
    add_criterion_flags(r, leadlag=True)
    r.add_argument("-o", "--out", help="folder for the report (default: RUN; for read-only runs)")
    add_selection_flags(r, all_rows=False)
    r.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="resamples of the intervals and lead/lag tests (default 1000)",
    )
    r.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    add_output_flags(r, json_help="print the report paths as JSON")
    r.set_defaults(func=run)
    return r


def run(args: argparse.Namespace) -> int:
    from curriculens.reporting.writer import write_report

    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap {args.bootstrap} must be >= 0 (0: brackets only).")
    path = write_report(
        args.run,
        criterion=criterion_from_args(args),
        probe_criterion=args.leadlag_criterion,
        n_boot=args.bootstrap,
        seed=args.seed,
        out=args.out,
        select=selection_of(args),
    )
    if args.json:
        print(json.dumps({"html": str(path), "markdown": str(path.with_suffix(".md"))}))
    else:
        print(f"report: {path}")
        print(f"summary: {path.with_suffix('.md')}")
    return 0
