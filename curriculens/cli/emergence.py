"""The ``curriculens emergence`` command: emergence points and their cross-model rank agreement.

``add_emergence_parser(subparsers)`` registers the subcommand on the main CLI's subparsers.
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
from curriculens.analysis.emergence import (
    METHODS,
    RELATIVE_TO,
    Criterion,
    behavior_emergence,
    emergence_table,
)
from curriculens.analysis.importers import load_curves
from curriculens.analysis.leadlag import lead_lag
from curriculens.analysis.table import selecting
from curriculens.checkpoints import PYTHIA_TOKENS_PER_STEP
from curriculens.cli._args import add_selection_flags, selection_of
from curriculens.errors import ConfigError
from curriculens.reporting.formatting import format_lead_lag, format_tokens

_HELP = "Emergence points per model and task, and how consistent their order is across models."
_EPILOG = """\
INPUT is a run directory or .sqlite store, an lm-evaluation-harness results directory (one
JSON file per checkpoint; step from the file name), or a tidy CSV (model, checkpoint, tokens or
tokens_b, task, score or accuracy). Checkpoints with 0 tokens are dropped unless
--keep-zero-tokens. Censored tasks (never emerged) tie at the bottom of each ranking.

example:
  curriculens emergence trajectories.csv --method fixed --threshold 0.8 --smooth 1 --json
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``emergence`` on an argparse subparsers object; returns the new parser.

    The handler is set with ``set_defaults(func=run_emergence)``; it returns an exit code.

    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> _ = add_emergence_parser(sub)
    >>> p.parse_args(["emergence", "x.csv"]).method
    'fixed'
    """
    p = subparsers.add_parser(
        "emergence",
        help=_HELP,
        description=_HELP,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="store / run dir, lm-eval dir, or tidy CSV")
    g = p.add_argument_group("emergence criterion")
    g.add_argument("--method", choices=METHODS, default="fixed", help="default: fixed")
    g.add_argument("--threshold", type=float, default=0.8, help="score level (default 0.8)")
    g.add_argument(
        "--fraction", type=float, default=0.9, help="share of the reference for relative (0.9)"
    )
    g.add_argument("--relative-to", choices=RELATIVE_TO, default="final", dest="relative_to")
    g.add_argument(
        "--smooth", type=float, default=1.0, help="Gaussian sigma in checkpoints, 0 = none (1.0)"
    )
    g.add_argument("--chance", type=float, default=None, help="normalize scores above chance")
    g.add_argument("--window", type=int, default=3, help="checkpoints in a row for stable (3)")
    g.add_argument(
        "--keep-zero-tokens",
        action="store_true",
        help="keep checkpoints with 0 tokens (dropped by default, as in the paper)",
    )
    p.add_argument(
        "--tasks",
        choices=TASK_SETS,
        default="common",
        help="rank pairs over tasks all models share (common) or each pair shares (pairwise)",
    )
    i = p.add_argument_group("input")
    i.add_argument("--metric", default=None, help="lm-eval / store metric (lm-eval: acc)")
    i.add_argument("--pattern", default=None, help="lm-eval: regex capturing the step")
    i.add_argument(
        "--tokens-per-step",
        type=int,
        default=None,
        dest="tokens_per_step",
        help=f"lm-eval: tokens per step (default {PYTHIA_TOKENS_PER_STEP:,}, Pythia)",
    )
    i.add_argument(
        "--columns",
        action="append",
        default=None,
        metavar="CSV=NAME[,CSV=NAME]",
        help="CSV: map columns, e.g. --columns acc_em=score,run_name=model (repeatable)",
    )
    s = p.add_argument_group("stores only (run directory or .sqlite)")
    s.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="N item-bootstrap resamples: 95%% intervals of each emergence point",
    )
    s.add_argument(
        "--leadlag",
        action="store_true",
        help="also lead/lag of probe vs behavior emergence per skill (rise to half its max)",
    )
    add_selection_flags(s)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object {emergence, pairs, tasks} (+ intervals, leadlag if asked)",
    )
    p.set_defaults(func=run_emergence)
    return p


def run_emergence(args: argparse.Namespace) -> int:
    """Handler of ``curriculens emergence``: prints the result; returns the exit code."""
    selection = selection_of(args)
    if (selection.config is not None or selection.all) and not _is_store(args.input):
        raise ConfigError(
            f"--config and --all choose rows of a curriculens store; {args.input!r} is not a "
            "run directory or .sqlite file. Drop them for lm-eval directories and CSVs."
        )
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
    crit = Criterion(
        method=args.method,
        threshold=args.threshold,
        fraction=args.fraction,
        relative_to=args.relative_to,
        chance=args.chance,
        smooth=args.smooth or None,
        window=args.window,
    )
    curves = load_curves(
        args.input,
        metric=args.metric,
        pattern=args.pattern,
        tokens_per_step=args.tokens_per_step,
        columns=_parse_columns(args.columns),
    )
    kw = {k: getattr(crit, k) for k in crit.__dataclass_fields__}
    em = emergence_table(curves, drop_zero_tokens=not args.keep_zero_tokens, **kw)
    if not em:
        raise ConfigError(
            f"No checkpoints left in {args.input!r} after dropping those with 0 tokens; pass "
            "--keep-zero-tokens, or check the token column."
        )
    pairs, common = [], sorted(set.intersection(*(set(v) for v in em.values())))
    if len(em) >= 2:
        cons = rank_consistency(em, tasks=args.tasks)
        pairs = [p.to_json() for p in cons.pairs]
    snapshot = _store_path(args.input) if _is_store(args.input) else None
    composites = {
        m: composite_check(
            pts, registry_components(list(pts), snapshot) | elemental_components(list(pts))
        )
        for m, pts in em.items()
    }
    out = {
        "emergence": {m: {t: _num(v) for t, v in pts.items()} for m, pts in em.items()},
        "pairs": pairs,
        "tasks": args.tasks,
    }
    intervals = leadlag = None
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap {args.bootstrap} must be >= 0 (0: no intervals).")
    if args.tokens_per_step is not None and args.tokens_per_step <= 0:
        raise ConfigError(f"--tokens-per-step {args.tokens_per_step} must be a positive int.")
    if args.bootstrap or args.leadlag:
        store = _store_path(args.input)
        if args.bootstrap:
            cis = behavior_emergence(
                store, metric=args.metric, n_boot=args.bootstrap, seed=args.seed, **kw
            )
            intervals = {
                m: {
                    t: {"lo": _num(c.lo), "hi": _num(c.hi), "censored": c.censored}
                    for t, c in per.items()
                }
                for m, per in cis.items()
            }
            out["intervals"] = intervals
        if args.leadlag:
            leadlag = [
                r for m in em for r in lead_lag(store, run=m, n_boot=args.bootstrap, seed=args.seed)
            ]
            out["leadlag"] = [r.to_dict() for r in leadlag]
    return {
        "json": out,
        "criterion": crit,
        "common": common,
        "composites": composites,
        "intervals": intervals,
        "leadlag": leadlag,
    }


def _is_store(path: str) -> bool:
    p = Path(path)
    return p.suffix in (".sqlite", ".db") or (p.is_dir() and (p / "results.sqlite").exists())


def _store_path(path: str) -> str:
    if _is_store(path):
        return str(Path(path))
    raise ConfigError(
        f"--bootstrap and --leadlag need a curriculens store (per-item outcomes and probe "
        f"rows); {path!r} is not a run directory or .sqlite file. Drop those options for "
        "lm-eval directories and CSVs."
    )


def _parse_columns(items: Sequence[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in (part.strip() for group in items for part in group.split(",")):
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise ConfigError(
                f"--columns {item!r} is not CSV=NAME; write e.g. --columns acc_em=score."
            )
        out[src] = dst
    return out


def _num(v: float | None):
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def _fmt_tokens(v) -> str:
    return format_tokens(v, missing="-")


def _render(result: dict) -> str:
    em = result["json"]["emergence"]
    crit: Criterion = result["criterion"]
    models = list(em)
    tasks = sorted(set().union(*(set(v) for v in em.values())))
    desc = f"method={crit.method}"
    if crit.method != "sigmoid":
        desc += f" threshold={crit.threshold}"
    if crit.method == "relative":
        desc += f" fraction={crit.fraction} of {crit.relative_to}"
    if crit.method == "stable":
        desc += f" window={crit.window}"
    desc += f" smooth={crit.smooth or 0}" + (f" chance={crit.chance}" if crit.chance else "")
    lines = [f"Emergence (tokens; '-' = never, censored)  [{desc}]", ""]
    width = max([len("task")] + [len(t) for t in tasks])
    cols = [max(8, len(m)) for m in models]
    lines.append(
        "  ".join(["task".ljust(width)] + [m.rjust(c) for m, c in zip(models, cols, strict=True)])
    )
    iv = result["intervals"] or {}
    if iv:
        cols = [max(c, 26) for c in cols]
    for t in tasks:
        cells = [
            ("" if t not in em[m] else _fmt_cell(em[m][t], iv.get(m, {}).get(t))).rjust(c)
            for m, c in zip(models, cols, strict=True)
        ]
        lines.append("  ".join([t.ljust(width)] + cells))
    emerged = ", ".join(
        f"{m}: {sum(v is not None for v in em[m].values())}/{len(em[m])}" for m in models
    )
    lines += ["", f"Emerged: {emerged}"]
    pairs = result["json"]["pairs"]
    if pairs:
        which = result["json"]["tasks"]
        note = (
            f"the {len(result['common'])} tasks all models share"
            if which == "common"
            else "the tasks each pair shares"
        )
        lines += ["", f"Rank consistency over {note} (task set: {which}):"]
        for p in pairs:
            lines.append(
                f"  {p['a']} vs {p['b']}: n={p['n']}  spearman={_fmt_r(p['spearman'])}  "
                f"kendall={_fmt_r(p['kendall'])}"
            )
    else:
        lines += ["", "Rank consistency needs two or more models; the input has one."]
    for m, chk in result["composites"].items():
        if chk.n:
            lines.append(
                f"Composites of {m}: {chk.share:.0%} of {chk.n} emerge no earlier than all "
                "their components"
                + "".join(
                    f"\n  exception: {c} ({_fmt_tokens(tc)}) before {p} ({_fmt_tokens(tp)})"
                    for c, p, tc, tp in chk.exceptions
                )
            )
    if result["leadlag"] is not None:
        lines += [
            "",
            "Representation vs behavior (lead > 0: the probe emerges first; log10 tokens):",
        ]
        lines.append(format_lead_lag(result["leadlag"]) if result["leadlag"] else "  no probe rows")
    return "\n".join(lines)


def _fmt_cell(v, ci: dict | None) -> str:
    if ci is None:
        return _fmt_tokens(v)
    return f"{_fmt_tokens(v)} [{_fmt_tokens(ci['lo'])}, {_fmt_tokens(ci['hi'])}]"


def _fmt_r(r: float | None) -> str:
    return "n/a" if r is None or math.isnan(r) else f"{r:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    """``curriculens emergence ...`` through the one entry point (argv starts with the command)."""
    from curriculens.cli.main import main as cli_main

    return cli_main(argv)


add_emergence_parser = add_parser  # the name earlier versions exported
