"""Write ``docs/cli.md`` from the parsers: every command, its arguments and its flags.

``python -m curriculens.cli.docs`` rewrites the file; ``--check`` exits 1 when it is stale (a
test runs the same comparison). Nothing here is typed by hand, so the page cannot drift from the
flags the commands accept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from curriculens.cli.main import COMMANDS, build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

_HEAD = """\
# Command-line reference

Generated from the parsers by `python -m curriculens.cli.docs`; do not edit by hand (a test
fails when this page is stale). Each flag has one meaning across every command, and each
concept one flag: `-o/--out` is every output, `--steps` only checkpoint steps (training length
is `--train-steps`), `--model` only a Hugging Face repo, `--bootstrap N` resamples (an integer
in 0..100000), `--seed` the random seed of everything a command draws. Values are checked
against one table (`curriculens/params.py`) before any training, loading or writing.
"""


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in p._actions:  # argparse keeps its subparsers only here
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _what(a: argparse.Action) -> str:
    if a.choices is not None and not isinstance(a, argparse._SubParsersAction):
        return "{" + ",".join(map(str, a.choices)) + "}"
    if a.nargs == 0:
        return ""
    if a.metavar is not None:
        return str(a.metavar)
    return a.dest.upper()


def _default(a: argparse.Action) -> str:
    d = a.default
    if a.nargs == 0 or d is None or d is False or d == argparse.SUPPRESS or d in ("", [], ()):
        return ""
    return f"`{a.default}`"


def _command(name: str, p: argparse.ArgumentParser, help_: str) -> list[str]:
    lines = [f"## `curriculens {name}`", "", _cell(p.description or help_), ""]
    positionals = [
        a
        for a in p._actions
        if not a.option_strings and not isinstance(a, argparse._SubParsersAction)
    ]
    options = [a for a in p._actions if a.option_strings and a.dest != "help"]
    if positionals:
        lines += ["| argument | meaning |", "|---|---|"]
        lines += [f"| `{_what(a)}` | {_cell(a.help or '')} |" for a in positionals]
        lines.append("")
    if options:
        lines += ["| flag | value | default | meaning |", "|---|---|---|---|"]
        for a in options:
            flags = ", ".join(f"`{f}`" for f in a.option_strings)
            what = _what(a)
            what = f"`{what}`" if what else ""
            lines.append(f"| {flags} | {what} | {_default(a)} | {_cell(a.help or '')} |")
        lines.append("")
    return lines


def render() -> str:
    """The text of ``docs/cli.md``."""
    subs = _subparsers(build_parser())
    lines = [_HEAD]
    for name, (_, help_) in COMMANDS.items():
        p = subs[name]
        nested = _subparsers(p)
        if nested:
            lines += [f"## `curriculens {name}`", "", _cell(p.description or help_), ""]
            for sub, sp in nested.items():
                lines += ["#" + line if line.startswith("## ") else line
                          for line in _command(f"{name} {sub}", sp, "")]  # fmt: skip
        else:
            lines += _command(name, p, help_)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/cli.md (``--check``: exit 1 when it differs from the parsers)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is stale; run `python -m curriculens.cli.docs`.", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
