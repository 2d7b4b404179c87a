"""The ``curriculens emergence`` command: emergence states, points and intervals per model and
task, their cross-model rank agreement, and (for runs and probe CSVs) lead/lag.

``add_parser(subparsers)`` registers the subcommand on the main CLI's subparsers.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

from curriculens.analysis.consistency import (
    TASK_SETS,
    composite_check,
    elemental_components,
    rank_consistency,
    registry_components,
)
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.emergence import behavior_emergence, emergence_intervals
from curriculens.analysis.leadlag import DEFAULT_CRITERION, lead_lag
from curriculens.analysis.long_format import parse_revision_tokens
from curriculens.analysis.table import selecting
from curriculens.checkpoints import PYTHIA_TOKENS_PER_STEP
from curriculens.cli._args import (
    add_criterion_flags,
    add_import_flags,
    add_selection_flags,
    criterion_from_args,
    input_selection,
    is_store,
    load_input_curves,
    nonneg_int,
    parse_columns,
)
from curriculens.errors import ConfigError
from curriculens.reporting.formatting import format_emergence, format_lead_lag, format_tokens

_HELP = "Emergence points per model and task, and how consistent their order is across models."
_EPILOG = """\
INPUT is a run directory or .sqlite store, an lm-evaluation-harness results directory (one
JSON file per checkpoint; step from the file name or revision), or a tidy CSV (model,
checkpoint, tokens or tokens_b, task, score or accuracy; optional kind, layer, n). Each point is
'emerged' with an interval (previous checkpoint, crossing checkpoint] widened by the bootstrap,
'at init' (met at the first checkpoint) or 'not emerged'. Censored tasks tie at the bottom of
each ranking; each pair also reports the tasks both models learned, a null that keeps each
model's censoring, and a task-bootstrap interval.

examples:
  curriculens emergence trajectories.csv --criterion paper --json
  curriculens emergence olmo_1b_7b.csv --revision-tokens main=4051e9 --duplicates last
  curriculens emergence runs/demo --leadlag
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``emergence`` on an argparse subparsers object; returns the new parser.

    The handler is set with ``set_defaults(func=run_emergence)``; it returns an exit code.

    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> _ = add_emergence_parser(sub)
    >>> p.parse_args(["emergence", "x.csv"]).criterion
    'paper'
    """
    p = subparsers.add_parser(
        "emergence",
        help=_HELP,
        description=_HELP,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="store / run dir, lm-eval dir, or tidy CSV")
    add_criterion_flags(p, leadlag=argparse.SUPPRESS)
    p.add_argument(
        "--tasks",
        choices=TASK_SETS,
        default="common",
        help="rank pairs over tasks all models share (common) or each pair shares (pairwise)",
    )
    add_import_flags(
        p,
        tokens_help=f"tokens per step to read 'stepN' names (lm-eval default "
        f"{PYTHIA_TOKENS_PER_STEP:,})",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="resamples: item bootstrap of intervals (stores; CSVs with n), the consistency "
        "null and ci, lead/lag tests (default 1000; 0: checkpoint brackets only)",
    )
    p.add_argument(
        "--leadlag",
        action="store_true",
        help="also lead/lag of probe selectivity vs behavior per skill (a run, or a CSV with "
        "probe and control rows)",
    )
    add_selection_flags(p.add_argument_group("stores only (run directory or .sqlite)"))
    p.add_argument("--seed", type=nonneg_int, default=0, help="bootstrap seed (0)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object {criterion, emergence, intervals, pairs, tasks, dropped} "
        "(+ leadlag)",
    )
    p.set_defaults(func=run_emergence)
    return p


def run_emergence(args: argparse.Namespace) -> int:
    """Handler of ``curriculens emergence``: prints the result; returns the exit code."""
    selection = input_selection(args)
    try:
        with selecting(selection):
            result = _compute(args)
    except (OSError, ValueError) as e:  # unreadable or malformed input files
        raise ConfigError(str(e)) from e
    if args.json:
        print(json.dumps(result["json"], sort_keys=False))
    else:
        print(_render(result))
    return 0


def _compute(args: argparse.Namespace) -> dict:
    crit = criterion_from_args(args)
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap {args.bootstrap} must be >= 0 (0: brackets only).")
    store = is_store(args.input)
    curves = load_input_curves(args)
    if store:
        cis = behavior_emergence(
            args.input, metric=args.metric, criterion=crit, n_boot=args.bootstrap, seed=args.seed
        )
        cis = _drop_flat(cis) if crit.drop_flat else cis
    else:
        cis = emergence_intervals(curves, crit, n_boot=args.bootstrap, seed=args.seed)
    if not cis or not any(cis.values()):
        raise ConfigError(
            f"No checkpoints left in {args.input!r} under criterion {crit.name} (0-token "
            "checkpoints are dropped); pass --keep-zero-tokens, or check the token column."
        )
    em = {m: {t: ci.point for t, ci in per.items()} for m, per in cis.items()}
    dropped = sorted(set(curves["task"]) - {t for per in cis.values() for t in per})
    pairs, common = [], sorted(set.intersection(*(set(v) for v in em.values())))
    if len(em) >= 2:
        cons = rank_consistency(em, tasks=args.tasks, n_resamples=args.bootstrap, seed=args.seed)
        pairs = [p.to_json() for p in cons.pairs]
    snapshot = str(Path(args.input)) if store else None
    composites = {
        m: composite_check(
            pts, registry_components(list(pts), snapshot) | elemental_components(list(pts))
        )
        for m, pts in em.items()
    }
    out = {
        "criterion": crit.to_dict() | {"description": crit.describe()},
        "emergence": {m: {t: _num(v) for t, v in pts.items()} for m, pts in em.items()},
        "intervals": {m: {t: ci.to_json() for t, ci in per.items()} for m, per in cis.items()},
        "pairs": pairs,
        "tasks": args.tasks,
        "dropped": dropped,
    }
    leadlag = None
    if hasattr(args, "leadlag_criterion") and not args.leadlag:
        raise ConfigError("--leadlag-criterion applies to lead/lag; add --leadlag.")
    if args.leadlag:
        leadlag = _leadlag(args, store, list(em))
        out["leadlag_criterion"] = leadlag[0].to_dict() | {"description": leadlag[0].describe()}
        out["leadlag"] = {
            m: {r.skill: r.to_json() for r in results} for m, results in leadlag[1].items()
        }
    return {
        "json": out,
        "criterion": crit,
        "cis": cis,
        "dropped": dropped,
        "common": common,
        "composites": composites,
        "leadlag": leadlag,
    }


def _leadlag(args, store: bool, models: list[str]) -> tuple[Criterion, dict]:
    if not store and Path(args.input).suffix.lower() != ".csv":
        raise ConfigError(
            f"--leadlag needs probe and control curves: a curriculens run, or a tidy CSV with "
            f"kind, layer (and n) columns; {args.input!r} is an lm-eval directory."
        )
    crit = Criterion.preset(getattr(args, "leadlag_criterion", DEFAULT_CRITERION))
    source = args.input
    if not store:  # the CSV's rows, read with the same options as its behavior curves
        from curriculens.analysis.importers import load_rows

        source = load_rows(
            args.input,
            columns=parse_columns(args.columns),
            tokens_per_step=args.tokens_per_step,
            keep_names=args.keep_names,
            duplicates=args.duplicates,
            revision_tokens=parse_revision_tokens(args.revision_tokens),
        )
        if not any(r["kind"] == "control" for r in source):
            raise ConfigError(
                f"--leadlag needs probe and control curves; {args.input!r} has no rows with "
                "kind=probe and kind=control (columns kind, layer, n)."
            )
    results = {
        m: lead_lag(source, run=m, criterion=crit, n_boot=args.bootstrap, seed=args.seed)
        for m in models
    }
    return crit, results


def _drop_flat(cis: dict) -> dict:
    tasks = {t for per in cis.values() for t in per}
    flat = {t for t in tasks if all(per[t].flat for per in cis.values() if t in per)}
    return {m: {t: c for t, c in per.items() if t not in flat} for m, per in cis.items()}


def _num(v: float | None):
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def _render(result: dict) -> str:
    cis = result["cis"]
    crit: Criterion = result["criterion"]
    models = list(cis)
    tasks = sorted(set().union(*(set(v) for v in cis.values())))
    lines = [
        f"Emergence (tokens) under criterion {crit.label()}",
        "'(a, b]': the crossing lies after a and at or before b (checkpoint bracket widened by "
        "the bootstrap); 'at init': met at the first checkpoint; 'not emerged': never met.",
        "",
    ]
    cells = {
        (m, t): format_emergence(ci.state, ci.point, ci.lo, ci.hi)
        for m, per in cis.items()
        for t, ci in per.items()
    }
    width = max([len("task")] + [len(t) for t in tasks])
    cols = [max([len(m)] + [len(cells.get((m, t), "")) for t in tasks]) for m in models]
    lines.append(
        "  ".join(["task".ljust(width)] + [m.rjust(c) for m, c in zip(models, cols, strict=True)])
    )
    for t in tasks:
        row = [cells.get((m, t), "").rjust(c) for m, c in zip(models, cols, strict=True)]
        lines.append("  ".join([t.ljust(width)] + row))
    if result["dropped"]:
        lines += [
            "",
            "Dropped by the criterion (never above 0 in any model): "
            + ", ".join(result["dropped"]),
        ]
    lines += ["", "States:"]
    for m in models:
        states = [ci.state for ci in cis[m].values()]
        lines.append(
            f"  {m}: {states.count('emerged')} emerged, {states.count('present_at_init')} at init, "
            f"{states.count('not_emerged')} not emerged (of {len(states)})"
        )
    pairs = result["json"]["pairs"]
    if pairs:
        which = result["json"]["tasks"]
        note = (
            f"the {len(result['common'])} tasks all models share"
            if which == "common"
            else "the tasks each pair shares"
        )
        lines += ["", f"Rank consistency over {note} (task set: {which}; not emerged tie last):"]
        for p in pairs:
            lines.append(
                f"  {p['a']} vs {p['b']}: n={p['n']}  spearman={_fmt_r(p['spearman'])}  "
                f"kendall={_fmt_r(p['kendall'])}"
            )
            lines.append(
                f"    tasks learned by both (emerged or at init): n_both={p['n_both']}  "
                f"spearman_both={_fmt_r(p['spearman_both'])}  "
                f"kendall_both={_fmt_r(p['kendall_both'])}"
            )
            if p["null"] is not None:
                lines.append(
                    f"    null keeping each model's censoring: spearman {p['null']['mean']:.3f} "
                    f"[{p['null']['lo']:.3f}, {p['null']['hi']:.3f}];  task-bootstrap 95% ci "
                    + ("n/a" if p["ci"] is None else f"[{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]")
                )
    else:
        lines += ["", "Rank consistency needs two or more models; the input has one."]
    for m, chk in result["composites"].items():
        if chk.n:
            lines.append(
                f"Composites of {m}: {chk.share:.0%} of {chk.n} emerge no earlier than all "
                f"their components; pairs: {chk.pairs_held} of {chk.pairs} in order "
                f"({chk.pairs_censored} with neither emerged, counted as in order)"
                + "".join(
                    f"\n  exception: {c} ({_fmt_tokens(tc)}) before {p} ({_fmt_tokens(tp)})"
                    for c, p, tc, tp in chk.exceptions
                )
            )
    if result["leadlag"] is not None:
        _, per_model = result["leadlag"]
        lines += ["", "Representation vs behavior (lead > 0: probe selectivity emerges first):"]
        for m, results in per_model.items():
            lines.append(f"  {m}:")
            lines.append(format_lead_lag(results) if results else "  no probe and control rows")
    return "\n".join(lines)


def _fmt_tokens(v) -> str:
    return format_tokens(v, missing="-")


def _fmt_r(r: float | None) -> str:
    return "n/a" if r is None or math.isnan(r) else f"{r:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    """``curriculens emergence ...`` through the one entry point (argv starts with the command)."""
    from curriculens.cli.main import main as cli_main

    return cli_main(argv)


add_emergence_parser = add_parser  # the name earlier versions exported
