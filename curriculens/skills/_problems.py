"""Problem collection shared by the skill-file readers (JSONL and BLiMP).

Every problem is one line, ``FILE:LINE: field: what is wrong — how to fix it``.
"""

from __future__ import annotations

import json
from pathlib import Path

from curriculens.errors import did_you_mean

HEADER_KEY = "curriculens_skill"


class Problems:
    def __init__(self, path: str):
        self.path = path
        self.items: list[str] = []

    def add(self, line: int, fld: str, what: str, fix: str, path: str | None = None) -> None:
        self.items.append(f"{path or self.path}:{line}: {fld}: {what} — {fix}")


def hint(name: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = did_you_mean(name, choices)
    return f" (did you mean {close.split('mean ', 1)[1][:-1]}?)" if close else ""


def type_name(value) -> str:
    return {
        bool: "a boolean",
        int: "an int",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def read_lines(path: Path, problems: Problems) -> list[tuple[int, str]] | None:
    """The file's lines as ``(line number, text)``; None after a file-level problem."""
    if not path.exists():
        problems.add(0, "file", "no such file", "check the path")
        return None
    if path.is_dir():
        problems.add(0, "file", "is a directory", "give the path of one .jsonl file")
        return None
    raw = path.read_bytes()
    if not raw.strip():
        problems.add(
            0,
            "file",
            "the file is empty",
            f'write a header line {{"{HEADER_KEY}": {{...}}}} and one example per line',
        )
        return None
    lines = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as err:
            problems.add(
                number,
                "encoding",
                f"byte 0x{chunk[err.start]:02x} at column {err.start + 1} is not UTF-8",
                "re-save the file as UTF-8",
            )
            continue
        lines.append((number, text.removeprefix("\ufeff").rstrip("\r")))
    return lines


def parse_object(number: int, text: str, problems: Problems, path: str | None = None):
    try:
        obj = json.loads(text)
    except RecursionError:
        problems.add(
            number,
            "json",
            "nested too deeply to read",
            "flatten the line: a skill file needs at most a few levels of nesting",
            path,
        )
        return None
    except json.JSONDecodeError as err:
        problems.add(
            number,
            "json",
            f"not valid JSON ({err.msg} at column {err.colno})",
            "write one JSON object per line, e.g. "
            '{"prompt": "The capital of France is", "target": "Paris", "label": 0}',
            path,
        )
        return None
    if not isinstance(obj, dict):
        problems.add(
            number,
            "json",
            f"a JSON {type_name(obj).split()[-1]} is not an object",
            "wrap the line in {...} with prompt/target/label fields",
            path,
        )
        return None
    return obj
