"""The ``curriculens`` command line: demo, sweep, report, export, emergence, skills, optimize.

Every error curriculens raises on purpose is printed as one line on stderr with exit code 2;
tracebacks are reserved for bugs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from curriculens.errors import CurriculensError


def _int_at_least(low: int, fault: str, example: str = ""):
    """An argparse ``type`` that parses an int ``>= low``, naming the fault and the fix."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer{example}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"{v} is {fault}; give an integer >= {low}")
        return v

    return parse


_positive_int = _int_at_least(1, "not positive")
_nonneg_int = _int_at_least(0, "negative", " (e.g. --seed 0)")


def _cmd_demo(args) -> int:
    from curriculens.toy.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        out=args.out,
        seed=args.seed,
        steps=args.steps,
        force=args.force,
        n_checkpoints=args.checkpoints,
        n_examples=args.examples,
    )
    info = run_demo(cfg, progress=not args.quiet)
    print(
        f"demo finished in {info['total_seconds']:.0f} s (train {info['train_seconds']:.0f} s, "
        f"sweep {info['sweep_seconds']:.0f} s, report {info['report_seconds']:.0f} s)"
    )
    print(f"report: {info['report']}")
    return 0


def _cmd_report(args) -> int:
    from curriculens.reporting.writer import write_report

    path = write_report(args.run, threshold=args.threshold, fraction=args.fraction)
    print(f"report: {path}")
    print(f"summary: {path.with_suffix('.md')}")
    return 0


# subcommands contributed by other modules: (module, function adding the parser)
_PLUGINS = (
    ("curriculens.cli.sweep", "add_sweep_parser"),
    ("curriculens.cli.sweep", "add_export_parser"),
    ("curriculens.cli.emergence", "add_emergence_parser"),
    ("curriculens.cli.skills", "add_skills_parser"),
    ("curriculens.cli.optimize", "add_optimize_parser"),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="curriculens",
        description="Map the implicit curriculum of language-model pretraining.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="train a tiny model on the toy world, sweep it, report")
    d.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    d.add_argument("--seed", type=_nonneg_int, default=0, help="random seed (default 0)")
    d.add_argument(
        "--steps",
        type=_positive_int,
        default=2000,
        help="training steps of 2,048 tokens (default 2000)",
    )
    d.add_argument(
        "--checkpoints",
        type=_positive_int,
        default=16,
        help="log-spaced checkpoints incl. step 0 (default 16)",
    )
    d.add_argument(
        "--examples",
        type=_positive_int,
        default=300,
        help="evaluation examples per skill (default 300)",
    )
    d.add_argument(
        "--seeds",
        type=_positive_int,
        default=1,
        help="independent training runs; >1 adds order consistency (default 1)",
    )
    d.add_argument("--force", action="store_true", help="replace an earlier run in --out")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=_cmd_demo)
    r = sub.add_parser("report", help="write the HTML/Markdown curriculum report of a run")
    r.add_argument("run", help="run directory holding results.sqlite")
    r.add_argument("--threshold", type=float, default=0.8)
    r.add_argument("--fraction", type=float, default=0.9)
    r.set_defaults(func=_cmd_report)
    for module, fn in _PLUGINS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        getattr(mod, fn)(sub)
    return p


def _quiet_third_party() -> None:
    """Hide transformers' per-file save/load bars; curriculens shows its own progress."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        return
    hf_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_third_party()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CurriculensError as e:
        print(f"curriculens {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished units are kept in the store", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
