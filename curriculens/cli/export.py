"""``curriculens export RUN``: the tidy table of a run as CSV or Parquet, with its metadata; or
one of its derived tables (emergence, lead/lag, order consistency)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from curriculens import params
from curriculens.cli._args import (
    add_bootstrap_flag,
    add_out_flag,
    add_output_flags,
    add_selection_flags,
    selection_of,
)

#: The derived tables (``curriculens.analysis.derived.DERIVED``; named here so that building
#: the parser imports no analysis code).
DERIVED = ("emergence", "leadlag", "consistency")


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
        choices=("scores", "items", *DERIVED),
        default="scores",
        help="scores: the tidy results table (default; probe_acc, control_acc and a "
        "selectivity row per probe accuracy; layer = TransformerLens block, -1 the embedding, "
        "empty for behavior); items: each skill's probe items with "
        "columns skill, item, prompt, group, label, split, control_label; emergence: each "
        "skill's state, point and interval; leadlag: probe-vs-behavior lead per skill; "
        "consistency: agreement of the emergence orders of each pair of runs in the store",
    )
    params.add(
        p,
        "criterion",
        default=None,
        help="emergence criterion of --what emergence|leadlag|consistency (default: paper; "
        "paper-relative for leadlag)",
    )
    add_bootstrap_flag(
        p,
        default=None,
        help="bootstrap resamples behind the intervals of a derived table (default 1000)",
    )
    params.add(
        p,
        "margin_log10",
        default=None,
        metavar="LOG10",
        help="equivalence margin of --what leadlag in log10 tokens (default: one checkpoint gap)",
    )
    params.add(
        p,
        "min_rise",
        default=None,
        metavar="X",
        help="smallest rise that counts as emergence, for a derived table whose criterion reads "
        "a rise (paper-relative; leadlag's default)",
    )
    p.add_argument("--format", choices=params.FORMATS, default="csv", help="file format (csv)")
    add_out_flag(p, help="output file (default RUN/results.<format>)")
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
    stem = {"scores": "results"}.get(args.what, args.what)
    out = Path(args.out) if args.out else src / f"{stem}.{args.format}"
    if args.what == "items" and (args.config is not None or args.all):
        raise ConfigError("--config/--all select score rows; drop them with --what items.")
    derived = args.what in DERIVED
    if not derived and (
        args.criterion is not None or args.n_boot is not None or args.min_rise is not None
    ):
        raise ConfigError(
            f"--criterion/--bootstrap/--min-rise apply to --what {'|'.join(DERIVED)}; drop them "
            f"with --what {args.what}."
        )
    if args.margin_log10 is not None and args.what != "leadlag":
        raise ConfigError(
            f"--margin is the equivalence margin of lead/lag; it applies to --what leadlag, not "
            f"--what {args.what}."
        )
    try:
        if derived:
            table, meta = _export_derived(args, src, out)
        elif args.what == "scores":
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


def _export_derived(args: argparse.Namespace, src: Path, out: Path) -> tuple[Path, Path]:
    """Write one derived table (and its criterion and selection as metadata JSON)."""
    from curriculens.analysis.criterion import Criterion
    from curriculens.analysis.derived import derived_frame
    from curriculens.analysis.leadlag import DEFAULT_CRITERION
    from curriculens.analysis.table import selecting, write_frame

    options: dict = {"n_boot": 1000 if args.n_boot is None else args.n_boot}
    name = args.criterion or (DEFAULT_CRITERION if args.what == "leadlag" else "paper")
    crit = Criterion.preset(name)
    if args.min_rise is not None:
        crit = crit.with_fields(min_rise=args.min_rise)  # an error for a criterion without a rise
    if args.margin_log10 is not None:
        options["margin_log10"] = args.margin_log10
    with selecting(selection_of(args)):
        frame = derived_frame(args.what, src, criterion=crit, **options)
    options["criterion"] = crit.name
    write_frame(frame, out, args.format)
    meta = out.with_name(out.name + ".meta.json")
    meta.write_text(
        json.dumps(
            {
                "table": args.what,
                "run": str(src),
                "rows": len(frame),
                "options": options,
                "selection": {"config": args.config, "all": bool(args.all)},
            },
            indent=2,
        )
    )
    return out, meta
