"""``curriculens report INPUT``: (re)write the HTML/Markdown curriculum report of a run, or of
imported curves (an lm-eval results folder or a tidy CSV; behavior only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from curriculens import params
from curriculens.cli._args import (
    add_bootstrap_flag,
    add_criterion_flags,
    add_import_flags,
    add_out_flag,
    add_output_flags,
    add_seed_flag,
    add_selection_flags,
    criterion_from_args,
    leadlag_criterion_from_args,
    leadlag_reads_rise,
    read_options,
    selection_of,
)
from curriculens.cli._outputs import check_report_dest
from curriculens.errors import ConfigError

#: the flags of add_import_flags, which only imported curves read
_IMPORT_FLAGS = ("metric", "pattern", "tokens_per_step", "columns", "keep_names", "duplicates",
                 "revision_tokens")  # fmt: skip


def add_parser(sub) -> argparse.ArgumentParser:
    r = sub.add_parser(
        "report",
        help="write the HTML/Markdown curriculum report of a run or of imported curves",
        description="Write report.html, report.md and figures/ of RUN's current results (its "
        "current configuration and each skill's current version; --config KEY for another "
        "one). Behavior emergence uses --criterion (default paper); lead/lag reads both of its "
        "curves with --leadlag-criterion (default paper-relative), and calls them equivalent "
        "within --margin (default one checkpoint gap). INPUT may also be imported "
        "curves, an lm-eval results folder or a tidy CSV: their report (needs --out) shows "
        "behavior per model, its emergence and order, and the order consistency of several "
        "models; it has no probes or lead/lag, as no activations were measured.",
    )
    r.add_argument(
        "input", metavar="INPUT", help="run directory holding results.sqlite, an lm-eval "
        "results folder or a tidy CSV",
    )  # fmt: skip
    add_criterion_flags(r, leadlag=argparse.SUPPRESS)
    add_out_flag(
        r, help="folder for the report (default: RUN; for read-only runs; needed for imported "
        "curves)",
    )  # fmt: skip
    add_selection_flags(r, all_rows=False)
    add_bootstrap_flag(r, help="resamples of the intervals and lead/lag tests (default 1000)")
    params.add(r, "margin_log10", default=None, metavar="LOG10")
    add_seed_flag(r)
    params.add(
        r,
        "force",
        action="store_true",
        help="replace a report.html/.md that curriculens did not write",
    )
    add_import_flags(r, tokens_help="lm-eval/CSV: tokens per step (lm-eval default: Pythia's)")
    add_output_flags(
        r,
        json_help="print the report paths as JSON, with the criterion of the behavior columns, "
        "lead/lag's criterion and the margin",
    )
    r.set_defaults(func=run)
    return r


def run(args: argparse.Namespace) -> int:
    from curriculens.reporting.imported import is_curves_input, write_curves_report
    from curriculens.reporting.writer import write_report

    given = [f"--{f.replace('_', '-')}" for f in _IMPORT_FLAGS if getattr(args, f) not in
             (None, False)]  # fmt: skip
    if Path(args.input).exists() and (args.out is not None or not is_curves_input(args.input)):
        check_report_dest(args.out or args.input, reads=args.input, force=args.force)
    if is_curves_input(args.input):
        if args.out is None:
            raise ConfigError(
                f"{args.input!r} holds imported curves, not a run: pass --out DIR for the "
                "report (nothing is written into the input)."
            )
        if (
            args.config is not None
            or hasattr(args, "leadlag_criterion")
            or args.margin_log10 is not None
        ):
            raise ConfigError(
                "--config, --leadlag-criterion and --margin read curriculens runs; imported "
                "curves have no configurations or probes (no lead/lag). Drop them."
            )
        crit, ll_crit = criterion_from_args(args), None
        path = write_curves_report(
            args.input,
            out=args.out,
            criterion=crit,
            n_boot=args.n_boot,
            seed=args.seed,
            load_options=read_options(args),
        )
    else:
        if given:
            raise ConfigError(
                f"{', '.join(given)} read imported curves (lm-eval, CSV); {args.input!r} is a "
                "curriculens run. Drop them."
            )
        crit = criterion_from_args(args, rise_elsewhere=leadlag_reads_rise(args))
        ll_crit = leadlag_criterion_from_args(args)
        path = write_report(
            args.input,
            criterion=crit,
            probe_criterion=ll_crit,
            margin_log10=args.margin_log10,
            n_boot=args.n_boot,
            seed=args.seed,
            out=args.out,
            select=selection_of(args),
        )
    if args.json:
        doc = {"html": str(path), "markdown": str(path.with_suffix(".md"))}
        doc["criterion"] = crit.name  # of the behavior columns
        doc["leadlag_criterion"] = None if ll_crit is None else ll_crit.name  # both its columns
        doc["margin_log10"] = args.margin_log10  # None: one checkpoint gap
        print(json.dumps(doc))
    else:
        print(f"report: {path}")
        print(f"summary: {path.with_suffix('.md')}")
    return 0
