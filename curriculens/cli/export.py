"""``curriculens export RUN``: the tidy table of a run as CSV or Parquet, with its metadata."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from curriculens.cli._args import add_output_flags, add_selection_flags, selection_of


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``curriculens export`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "export",
        help="write a run's tidy table to CSV or Parquet (+ metadata JSON)",
        description=(
            "Export the tidy results table of RUN, sorted deterministically, with the run's "
            "metadata (configs, skill versions, library versions) in FILE.meta.json beside it. "
            "The current results by default: the run's current configuration and each skill's "
            "current version; --config KEY or --all for others."
        ),
    )
    p.add_argument("run", help="run directory holding results.sqlite")
    p.add_argument(
        "--what",
        choices=("scores", "items"),
        default="scores",
        help="scores: the tidy results table (default); items: each skill's probe items with "
        "columns skill, item, prompt, group, label, split, control_label",
    )
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("-o", "--output", help="output file (default RUN/results.<format>)")
    add_selection_flags(p)
    add_output_flags(p, json_help="print the written paths as JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Export a run's table; returns the exit code."""
    from curriculens.analysis.table import export_items, export_table
    from curriculens.errors import ConfigError, StoreError

    src = Path(args.run)
    if not (src / "results.sqlite").exists() and src.suffix not in (".sqlite", ".db"):
        raise StoreError(
            f"No results store at {str(src / 'results.sqlite')!r}; run `curriculens sweep` "
            "into that directory first."
        )
    stem = "results" if args.what == "scores" else "items"
    out = Path(args.output) if args.output else src / f"{stem}.{args.format}"
    if args.what == "items" and (args.config is not None or args.all):
        raise ConfigError("--config/--all select score rows; drop them with --what items.")
    try:
        if args.what == "scores":
            table, meta = export_table(src, out, fmt=args.format, select=selection_of(args))
        else:
            table, meta = export_items(src, out, fmt=args.format)
    except OSError as e:
        raise ConfigError(
            f"Cannot write {str(out)!r} ({e.strerror or e}); pass -o PATH on writable storage."
        ) from None
    if args.json:
        print(json.dumps({"table": str(table), "metadata": str(meta)}))
    elif not args.quiet:
        print(f"table: {table}\nmetadata: {meta}")
    return 0
