"""The ``curriculens`` entry point: one parser, one error handler, commands loaded on demand.

Every error curriculens raises on purpose is printed as one line,
``curriculens CMD: error: ...``, on stderr with exit code 2 (1 when the environment, e.g. a full
disk, stopped it: :class:`~curriculens.errors.EnvironmentProblem`); tracebacks are reserved for
bugs.
Only the module of the command being run is imported, so ``--help`` and ``--version`` are fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

from curriculens import __version__
from curriculens.errors import CurriculensError, CurriculensWarning, MixedResultsNote

#: command -> (module defining ``add_parser``, one-line help shown by ``curriculens --help``)
COMMANDS = {
    "demo": ("curriculens.cli.demo", "train a tiny model on the toy world, sweep it, report"),
    "sweep": ("curriculens.cli.sweep", "measure every checkpoint of a series into a run"),
    "report": ("curriculens.cli.report", "write the HTML/Markdown curriculum report of a run"),
    "export": ("curriculens.cli.export", "write a run's tidy table as CSV or Parquet"),
    "audit": ("curriculens.cli.audit", "check every probe's split for leaks"),
    "emergence": ("curriculens.cli.emergence", "emergence points and order consistency"),
    "predict": ("curriculens.cli.predict", "predict composite curves from their components"),
    "skills": ("curriculens.cli.skills", "list, show and validate skills"),
    "optimize": ("curriculens.cli.optimize", "propose (and verify) a data-mix change"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser (``only=None``), or one command's parser plus one-line stubs for the
    others (``only=""``: stubs only, enough for ``curriculens --help``)."""
    p = argparse.ArgumentParser(
        prog="curriculens",
        description="Map the implicit curriculum of language-model pretraining.",
    )
    p.add_argument("--version", action="version", version=f"curriculens {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=help_)
    _no_abbreviations(p)
    return p


def _no_abbreviations(p: argparse.ArgumentParser) -> None:
    """No hidden aliases: ``--boot`` is not ``--bootstrap``; a flag is spelled in full."""
    p.allow_abbrev = False
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sp in a.choices.values():
                _no_abbreviations(sp)


#: commands that read a store and never load a model (importing transformers costs them a second)
_NO_MODELS = ("report", "audit")


def _quiet_third_party() -> None:
    """Hide transformers' per-file save/load bars; curriculens shows its own progress."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        return
    hf_logging.disable_progress_bar()


def _one_line_warnings(command: str) -> None:
    """Print warnings as ``curriculens CMD: warning: ...``, without the source line."""
    import warnings

    def formatwarning(message, category, filename, lineno, line=None) -> str:
        return f"curriculens {command}: warning: {message}\n"

    warnings.formatwarning = formatwarning


@contextmanager
def _notes(command: str):
    """Print curriculens' warnings once each, as ``curriculens CMD: note: ...`` (which rows a
    command read) or ``curriculens CMD: warning: ...``; other warnings pass through."""
    shown: set[str] = set()
    with warnings.catch_warnings():
        other = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, CurriculensWarning):
                return other(message, category, filename, lineno, file, line)
            if str(message) not in shown:
                shown.add(str(message))
                what = "note" if issubclass(category, MixedResultsNote) else "warning"
                print(f"curriculens {command}: {what}: {message}", file=sys.stderr)

        warnings.simplefilter("always", CurriculensWarning)
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else "")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    if args.command not in _NO_MODELS:
        _quiet_third_party()
    import warnings

    default_format = warnings.formatwarning
    _one_line_warnings(args.command)
    try:
        with _notes(args.command):
            return int(args.func(args) or 0)
    except CurriculensError as e:
        print(f"curriculens {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; finished units are kept in the store", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = default_format


if __name__ == "__main__":
    sys.exit(main())
