"""Argument types and flags shared by every command, so each concept has one name and one parser."""

from __future__ import annotations

import argparse


def int_at_least(low: int, fault: str, example: str = ""):
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


positive_int = int_at_least(1, "not positive")
nonneg_int = int_at_least(0, "negative", " (e.g. --seed 0)")


def add_output_flags(p: argparse.ArgumentParser, *, json_help: str = "print JSON") -> None:
    """``--quiet`` (no progress bars or chatter) and ``--json`` (machine-readable results)."""
    p.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    p.add_argument("--json", action="store_true", help=json_help)


def add_train_steps(p: argparse.ArgumentParser, *, default: int, help: str) -> None:
    """``--train-steps`` sets training length; ``--steps`` stays as a deprecated alias.

    (``--steps`` selects checkpoints in ``sweep``; one flag name, one meaning.)
    """
    p.add_argument(
        "--train-steps", dest="train_steps", type=positive_int, default=default, help=help
    )
    p.add_argument("--steps", dest="train_steps", type=positive_int, help=argparse.SUPPRESS)


def add_selection_flags(p: argparse.ArgumentParser, *, all_rows: bool = True) -> None:
    """``--config KEY`` (read that configuration of the run) and, where nothing pools rows
    across runs, ``--all`` (every row; configurations and skill versions kept apart)."""
    p.add_argument(
        "--config",
        metavar="KEY",
        help="read this configuration of the run (a key or its prefix) instead of the current one",
    )
    if all_rows:
        p.add_argument(
            "--all",
            action="store_true",
            help="read every row: each configuration and skill version on its own, never averaged",
        )


def selection_of(args: argparse.Namespace):
    """The :class:`~curriculens.analysis.table.Selection` the flags ask for."""
    from curriculens.analysis.table import Selection

    every = bool(getattr(args, "all", False))
    if every and args.config is not None:
        from curriculens.errors import ConfigError

        raise ConfigError("--config and --all exclude each other; give one of them.")
    return Selection(config=args.config, all=every)
