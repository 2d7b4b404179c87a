"""The ``curriculens emergence`` command: emergence states, points and intervals per model and
task, their cross-model rank agreement, and (for runs and probe CSVs) lead/lag.

``add_parser(subparsers)`` registers the subcommand on the main CLI's subparsers.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

from curriculens import params
from curriculens.cli._args import (
    add_bootstrap_flag,
    add_criterion_flags,
    add_import_flags,
    add_json_flag,
    add_seed_flag,
    add_selection_flags,
    criterion_from_args,
    input_selection,
    leadlag_criterion_from_args,
    leadlag_reads_rise,
    read_options,
)
from curriculens.errors import ConfigError

_HELP = "Emergence points per model and task, and how consistent their order is across models."
_EPILOG = """\
INPUT is a run directory or .sqlite store, an lm-evaluation-harness results directory (one
JSON file per checkpoint; step from the file name or revision), or a tidy CSV (model,
checkpoint, tokens or tokens_b, task, score or accuracy; optional kind, layer, n). Each point is
'emerged' with an interval (previous checkpoint, crossing checkpoint] widened by the bootstrap,
'at init' (met at the first checkpoint) or 'not emerged'. Beside the criterion's interval
(smoothed when it smooths) stands the raw one: the same criterion on the unsmoothed curve and
the same resamples, the interval that holds the observed crossing. Censored tasks tie at the
bottom of each ranking; each pair also reports the tasks both models learned, a null that keeps
each model's censoring, and a task-bootstrap interval.

examples:
  curriculens emergence trajectories.csv --criterion paper --json
  curriculens emergence olmo_1b_7b.csv --revision-tokens main=4051e9 --duplicates last
  curriculens emergence runs/demo --leadlag
  curriculens emergence runs/demo --leadlag --margin 0.3 --min-rise 0.2
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
    params.add(p, "tasks", default="common")
    add_import_flags(
        p,
        tokens_help="tokens per step to read 'stepN' names (lm-eval default 2,097,152)",
    )
    add_bootstrap_flag(
        p,
        help="resamples: item bootstrap of intervals (stores; CSVs with n), the consistency "
        "null and ci, lead/lag tests (default 1000; 0: checkpoint brackets only)",
    )
    params.add(
        p,
        "leadlag",
        action="store_true",
        help="also lead/lag of probe selectivity vs behavior per skill (a run, or a CSV with "
        "probe and control rows)",
    )
    params.add(p, "margin_log10", default=None, metavar="LOG10")
    add_selection_flags(p.add_argument_group("stores only (run directory or .sqlite)"))
    add_seed_flag(p)
    add_json_flag(
        p,
        help="print one JSON object {criterion, emergence, intervals (state, lo, hi, raw_lo, "
        "raw_hi, resampling, n_boot), intervals_note, resampling, pairs, tasks, dropped} (+ "
        "leadlag_criterion, leadlag)",
    )
    p.set_defaults(func=run_emergence)
    return p


def run_emergence(args: argparse.Namespace) -> int:
    """Handler of ``curriculens emergence``: prints the result; returns the exit code."""
    from curriculens.analysis.emergence_summary import emergence_summary

    for name, given in (("leadlag_criterion", hasattr(args, "leadlag_criterion")),
                        ("margin_log10", args.margin_log10 is not None)):  # fmt: skip
        if given and not args.leadlag:
            raise ConfigError(
                f"{params.flag(name)} applies to lead/lag; add {params.flag('leadlag')}."
            )
    rise = args.leadlag and leadlag_reads_rise(args)
    summary = emergence_summary(
        args.input,
        criterion=criterion_from_args(args, rise_elsewhere=rise),
        tasks=args.tasks,
        n_boot=args.n_boot,
        seed=args.seed,
        leadlag=leadlag_criterion_from_args(args) if args.leadlag else None,
        margin_log10=args.margin_log10,
        select=input_selection(args),
        **read_options(args),
    )
    if args.json:
        print(json.dumps(summary.to_json(), sort_keys=False))
    else:
        print(render(summary))
    return 0


def emergence_order(cis: dict) -> list[str]:
    """Tasks in order of emergence: by the median over models of each task's point (present at
    init at its first checkpoint, not emerged after every emerged task), then by name.

    >>> from types import SimpleNamespace as C
    >>> late, early = C(state="emerged", point=5e6), C(state="emerged", point=1e6)
    >>> emergence_order({"m": {"a": C(state="not_emerged", point=None), "b": late, "c": early}})
    ['c', 'b', 'a']
    """
    import math
    import statistics

    def at(ci) -> float:
        if ci is None or ci.state == "not_emerged" or ci.point is None:
            return math.inf
        return float(ci.point)

    tasks = set().union(*(set(v) for v in cis.values()))
    key = {t: statistics.median(at(per.get(t)) for per in cis.values()) for t in tasks}
    return sorted(tasks, key=lambda t: (key[t], t))


def render(summary) -> str:
    """The text report of an :class:`~curriculens.analysis.emergence_summary.EmergenceSummary`.

    Each model has two columns when the criterion smooths: ``MODEL`` (the criterion's point and
    its interval, which holds the point) and ``MODEL raw`` (the same criterion on the raw curve
    and the same resamples, the interval that holds the observed crossing).
    """
    from curriculens.reporting.formatting import format_emergence, format_interval, format_lead_lag

    cis = summary.intervals
    crit = summary.criterion
    models = list(cis)
    tasks = emergence_order(cis)
    raw = bool(crit.smooth)
    kinds = ", ".join(summary.resampling())
    lines = [
        f"Emergence (tokens) under criterion {crit.label()}",
        "'(a, b]': the crossing lies after a and at or before b (checkpoint bracket widened by "
        f"the bootstrap; resampling: {kinds}); 'at init': met at the first checkpoint; 'not "
        "emerged': never met.",
    ]
    if raw:
        lines.append(
            f"Columns: MODEL = point and interval of criterion {crit.name} (smoothed curve; "
            "the interval holds the point); MODEL raw = the interval of the raw crossing (the "
            "same criterion on the unsmoothed curve and the same resamples; it holds the "
            "observed crossing, which smoothing moves late for sharp rises)."
        )
    else:
        lines.append(f"Criterion {crit.name} does not smooth: the raw interval is the same.")
    lines.append("")
    cells = {}
    for m, per in cis.items():
        for t, ci in per.items():
            cells[(m, t)] = format_emergence(ci.state, ci.point, ci.lo, ci.hi)
            cells[(f"{m} raw", t)] = format_interval(ci.raw_lo, ci.raw_hi)
    columns = [c for m in models for c in ([m, f"{m} raw"] if raw else [m])]
    width = max([len("task")] + [len(t) for t in tasks])
    cols = [max([len(c)] + [len(cells.get((c, t), "")) for t in tasks]) for c in columns]
    lines.append(
        "  ".join(["task".ljust(width)] + [c.rjust(w) for c, w in zip(columns, cols, strict=True)])
    )
    for t in tasks:
        row = [cells.get((c, t), "").rjust(w) for c, w in zip(columns, cols, strict=True)]
        lines.append("  ".join([t.ljust(width)] + row))
    if summary.dropped:
        lines += [
            "",
            "Dropped by the criterion (never above 0 in any model): " + ", ".join(summary.dropped),
        ]
    lines += ["", "States:"]
    for m in models:
        states = [ci.state for ci in cis[m].values()]
        lines.append(
            f"  {m}: {states.count('emerged')} emerged, {states.count('present_at_init')} at init, "
            f"{states.count('not_emerged')} not emerged (of {len(states)})"
        )
    pairs = summary.pairs
    if pairs:
        which = summary.tasks
        note = (
            f"the {len(summary.common)} tasks all models share"
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
    for m, chk in summary.composites.items():
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
    if summary.leadlag is not None:
        per_model = summary.leadlag
        ll = summary.leadlag_criterion
        lines += [
            "",
            "Representation vs behavior (lead > 0: probe selectivity emerges first):",
            f"  columns: behavior = each skill's continuous metric under criterion {ll.name}; "
            f"probe selectivity under criterion {ll.name}. The behavior column reads another "
            f"metric{'' if ll.name == crit.name else ' and criterion'} than the table above "
            f"({crit.name}), so its points may differ from it.",
        ]
        for m, results in per_model.items():
            lines.append(f"  {m}:")
            lines.append(format_lead_lag(results) if results else "  no probe and control rows")
    return "\n".join(lines)


def _fmt_tokens(v) -> str:
    from curriculens.reporting.formatting import format_tokens

    return format_tokens(v, missing="-")


def _fmt_r(r: float | None) -> str:
    return "n/a" if r is None or math.isnan(r) else f"{r:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    """``curriculens emergence ...`` through the one entry point (argv starts with the command)."""
    from curriculens.cli.main import main as cli_main

    return cli_main(argv)


add_emergence_parser = add_parser  # the name earlier versions exported
