"""User skills from files: the curriculens JSONL format and BLiMP minimal-pair files, read as is.

A file becomes a :class:`~curriculens.skills.registry.Skill` whose ``build(rng, n)`` samples its
examples in a seeded way. Every problem is reported as ``FILE:LINE: field: what is wrong — how to
fix it``; a file with any problem never loads (no line is ever dropped silently). The format is
documented in ``docs/skills.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curriculens.errors import SkillFileError
from curriculens.skills import blimp as blimp_format
from curriculens.skills import fewshot
from curriculens.skills._header import Header, check_header
from curriculens.skills._problems import (
    HEADER_KEY,
    Problems,
    hint,
    parse_object,
    read_lines,
    type_name,
)
from curriculens.skills.registry import (
    Example,
    Skill,
    add_skill,
    load_builtin_suites,
)

EXAMPLE_FIELDS = (
    "prompt",
    "target",
    "label",
    "group",
    "read_at",
    "read_after",
    "choices",
    "meta",
    "input",
    "output",
)


# ---------------------------------------------------------------- the builder of a file skill
@dataclass(frozen=True)
class FileExamples:
    """``build(rng, n)`` of a file skill: a seeded sample of the file's examples.

    With ``n <= len(examples)`` it draws ``n`` distinct examples. With ``n > len(examples)`` it
    takes every example ``n // len(examples)`` times and then ``n % len(examples)`` distinct
    ones, all shuffled: the only case where an example repeats.

    Attributes:
        examples: The examples in file order.
        source: The file they came from.
        sha256: Digest of the file's bytes (and of its sidecar, if any).
    """

    examples: tuple[Example, ...]
    source: str = ""
    sha256: str = ""

    @property
    def n_examples(self) -> int:
        return len(self.examples)

    def __call__(self, rng: np.random.Generator, n: int) -> list[Example]:
        count = len(self.examples)
        idx = np.concatenate(
            [np.tile(np.arange(count), n // count), rng.choice(count, n % count, replace=False)]
        )
        return [self.examples[int(i)] for i in rng.permutation(idx)]


# ---------------------------------------------------------------- examples
def _check_example(obj: dict, number: int, header: Header, problems: Problems) -> Example | None:
    before = len(problems.items)
    fmt = header.format
    obj = fewshot.file_example(obj, number, header.template, header.shots, problems)
    _check_fields(obj, number, header, problems)
    prompt = obj.get("prompt", "")
    target = obj.get("target", "")
    _check_texts(obj, prompt, target, fmt, number, problems)
    label = _check_label(obj, number, header, problems)
    read_at, read_after = _check_read_position(obj, prompt, target, fmt, number, problems)
    choices = _check_choices(obj, target, fmt, number, problems)
    if len(problems.items) > before:
        return None
    return Example(
        prompt=prompt,
        target=target,
        label=label,
        read_at=read_at,
        read_after=read_after,
        choices=tuple(choices),
        group=obj.get("group", ""),
    )


def _check_fields(obj: dict, number: int, header: Header, problems: Problems) -> None:
    """Unknown fields, missing required ones, and text fields that are not strings."""
    fmt = header.format
    for key in obj:
        if key not in EXAMPLE_FIELDS:
            close = hint(key, EXAMPLE_FIELDS)
            fix = "rename it" if close else 'move free-form data under "meta", or remove it'
            problems.add(number, key, f"unknown example field{close}", fix)
    required = (
        ("target", "label") if fmt in ("minimal_pair", None) else ("prompt", "target", "label")
    )
    for key in required:
        if key not in obj and not (header.template and key in ("prompt", "target")):
            problems.add(number, key, "missing required field", _FIX_MISSING[key])
    for key in ("prompt", "target", "read_after", "group"):
        if key in obj and not isinstance(obj[key], str):
            problems.add(number, key, f"is {type_name(obj[key])} {obj[key]!r}", "use a JSON string")
        elif key in obj and not _encodable(obj[key]):  # e.g. a lone surrogate "\ud800"
            problems.add(
                number,
                key,
                "holds a lone UTF-16 surrogate (such as \\ud800), which is not text",
                "write the character itself, or its surrogate pair",
            )
    choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
    for i, c in enumerate(choices):
        if isinstance(c, str) and not _encodable(c):
            problems.add(number, "choices", f"[{i}] holds a lone UTF-16 surrogate", "fix it")
    _check_length(obj, number, problems)


#: Longest text a skill example may hold, in characters: far past any model's context
#: (128k tokens is about 500k characters), so a runaway prompt is refused when the file is read,
#: not after minutes of tokenizing (issue 29).
MAX_TEXT_CHARS = 1_000_000


def _check_length(obj: dict, number: int, problems: Problems) -> None:
    texts = [(k, obj.get(k)) for k in ("prompt", "target")]
    choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
    texts += [("choices", c) for c in choices]
    for key, text in texts:
        if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
            problems.add(
                number,
                key,
                f"is {len(text):,} characters long, more than any model's context",
                f"keep texts under {MAX_TEXT_CHARS:,} characters",
            )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _check_texts(obj: dict, prompt, target, fmt: str | None, number: int, problems: Problems):
    """An empty or space-led target; a prompt that is empty, or given for a minimal pair."""
    if isinstance(target, str) and "target" in obj:
        if not target.strip():
            problems.add(number, "target", "is empty", "give the correct continuation")
        elif target != target.lstrip():
            problems.add(
                number,
                "target",
                f"{target!r} starts with whitespace",
                "remove it: the scorer joins prompt and target with one space",
            )
    if isinstance(prompt, str):
        if fmt == "minimal_pair" and prompt:
            problems.add(
                number,
                "prompt",
                "must be empty for a minimal_pair skill",
                'put the good sentence in "target" and the bad one in "choices"',
            )
        elif fmt != "minimal_pair" and "prompt" in obj and not prompt.strip():
            problems.add(number, "prompt", "is empty", "give the text the model reads")


def _check_read_position(obj: dict, prompt, target, fmt: str | None, number: int, problems):
    """``(read_at, read_after)``: an int in range, or an anchor found in the text, not both."""
    read_after = obj.get("read_after", "")
    read_at = obj.get("read_at", -1)
    if "read_at" in obj and (not isinstance(read_at, int) or isinstance(read_at, bool)):
        problems.add(
            number,
            "read_at",
            f"is {type_name(read_at)} {read_at!r}",
            "use an int token index (-1 is the last prompt token)",
        )
    elif "read_at" in obj and "read_after" in obj:
        problems.add(
            number,
            "read_at",
            "given together with read_after",
            "keep one: read_after anchors to a substring, read_at indexes tokens",
        )
    elif isinstance(read_at, int):
        text = prompt if fmt != "minimal_pair" else target
        if isinstance(text, str) and text:
            limit = len(text.encode("utf-8", "surrogatepass")) + 1  # no tokenizer makes more
            if not -limit <= read_at < limit:
                problems.add(
                    number,
                    "read_at",
                    f"{read_at} is out of range for a text of {len(text)} characters",
                    "use a token index such as -1 (the last prompt token) or 0 (the first)",
                )
    if isinstance(read_after, str) and read_after and isinstance(prompt, str):
        text = prompt if fmt != "minimal_pair" else target
        if isinstance(text, str) and read_after not in text:
            where = "prompt" if fmt != "minimal_pair" else "target"
            problems.add(
                number,
                "read_after",
                f"{read_after!r} is not in the {where}",
                f"use a substring of the {where} (the probe reads its last token)",
            )
    return read_at, read_after


def _check_choices(obj: dict, target, fmt: str | None, number: int, problems: Problems) -> list:
    """The wrong alternatives: strings, present exactly for the formats that read them, and
    never the target; ``[]`` when they are not a list of strings."""
    choices = obj.get("choices", [])
    if "choices" in obj and (
        not isinstance(choices, list) or not all(isinstance(c, str) for c in choices)
    ):
        problems.add(
            number,
            "choices",
            f"is {type_name(choices)} {choices!r}",
            'use a list of strings, e.g. ["is"]',
        )
        choices = []
    elif fmt in ("choice", "minimal_pair") and not choices:
        what = "wrong alternatives" if fmt == "choice" else "the bad sentence"
        problems.add(
            number,
            "choices",
            f"missing for format {fmt!r}",
            f'add "choices": [...] with {what}',
        )
    elif fmt == "continuation" and choices:
        problems.add(
            number,
            "choices",
            "given for format 'continuation', which never reads them",
            'remove them, or use "format": "choice" in the header',
        )
    elif isinstance(target, str) and target in choices:
        problems.add(
            number, "choices", f"contains the target {target!r}", "list only wrong alternatives"
        )
    return choices


_FIX_MISSING = {
    "prompt": "add the text the model reads",
    "target": "add the correct continuation (no leading space)",
    "label": "add the probe class: an int index or one of the header's label_names",
}


def _check_label(obj: dict, number: int, header: Header, problems: Problems) -> int:
    if "label" not in obj:
        return 0
    label = obj["label"]
    names = header.label_names
    if names is None:  # the header's label_names are broken (reported there)
        if isinstance(label, bool) or not isinstance(label, (int, str)):
            problems.add(
                number, "label", f"is {type_name(label)} {label!r}", "use an int or a label name"
            )
        return 0
    if isinstance(label, bool) or not isinstance(label, (int, str)):
        problems.add(
            number,
            "label",
            f"is {type_name(label)} {label!r}",
            f"use an int in 0..{len(names) - 1} or one of {', '.join(names)}",
        )
    elif isinstance(label, int) and not 0 <= label < len(names):
        problems.add(
            number,
            "label",
            f"{label} is out of range",
            f"use an int in 0..{len(names) - 1} ({', '.join(names)})",
        )
    elif isinstance(label, str) and label not in names:
        problems.add(
            number,
            "label",
            f"unknown label name {label!r}{hint(label, names)}",
            f"use one of {', '.join(names)}",
        )
    else:
        return label if isinstance(label, int) else names.index(label)
    return 0


# ---------------------------------------------------------------- entry points
def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _is_header(obj) -> bool:
    return isinstance(obj, dict) and HEADER_KEY in obj


def _parse(path: str | Path, *, check_registry: bool = True) -> tuple[Skill | None, list[str]]:
    """Parse a skill file; return the skill (None if any problem) and every problem, in order."""
    skill, problems = _parse_unsorted(path, check_registry=check_registry)
    return skill, sorted(problems, key=_line_of)


def _parse_unsorted(path: str | Path, *, check_registry: bool) -> tuple[Skill | None, list[str]]:
    load_builtin_suites()
    path = Path(path)
    problems = Problems(str(path))
    lines = read_lines(path, problems)
    if lines is None:
        return None, problems.items
    digest = hashlib.sha256(path.read_bytes())
    sidecar = _sidecar_path(path)
    ok, side_meta = _read_sidecar(sidecar, digest, problems)
    found = _find_header(lines, sidecar, side_meta, problems) if ok else None
    if found is None:
        return None, problems.items
    meta, body, header_path = found
    header_line = 1

    # the examples are parsed before the header is checked, so BLiMP defaults can see them
    objs: list[tuple[int, dict]] = []
    for number, text in body:
        if text.strip():
            obj = parse_object(number, text, problems)
            if obj is not None:
                objs.append((number, obj))
    is_pairs = bool(objs) and blimp_format.is_blimp(objs[0][1])
    if is_pairs:
        objs = [(n, o) for n, o in objs if blimp_format.check(o, n, problems) is not None]
    header = check_header(
        meta,
        header_line,
        problems,
        header_path,
        blimp=is_pairs,
        defaults=blimp_format.defaults(path, meta, objs) if is_pairs else {},
        check_registry=check_registry,
    )
    if header.ok and not any(text.strip() for _, text in body):
        problems.add(
            header_line + (0 if header_path else 1),
            "examples",
            "the file has a header but no examples",
            "add one example per line after the header",
        )
    check = blimp_format.example if is_pairs else _check_example
    examples = [ex for n, o in objs if (ex := check(o, n, header, problems)) is not None]
    if problems.items:
        return None, problems.items
    return _file_skill(header, examples, path, digest), problems.items


def _read_sidecar(sidecar: Path, digest, problems: Problems) -> tuple[bool, object]:
    """``(ok, header)`` of the sidecar: its header object (None when there is no sidecar), its
    bytes added to ``digest``; not ok when it is not UTF-8 JSON."""
    side_meta = None
    if sidecar.exists():
        raw = sidecar.read_bytes()
        digest.update(raw)
        try:
            side_obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            problems.add(
                1,
                "json",
                f"sidecar is not valid UTF-8 JSON ({err})",
                "fix the sidecar",
                str(sidecar),
            )
            return False, None
        side_meta = side_obj.get(HEADER_KEY, side_obj) if isinstance(side_obj, dict) else side_obj
    return True, side_meta


def _find_header(lines: list, sidecar: Path, side_meta, problems: Problems):
    """``(header object, example lines, header path)``: from line 1, the sidecar, or (for a
    BLiMP file) nothing; None, with the problem reported, when line 1 does not parse, or there
    is no header, or there are two."""
    first_number, first_text = lines[0] if lines else (1, "")
    if lines and first_number != 1:  # line 1 was not UTF-8; already reported
        return None
    if not first_text.strip():
        problems.add(
            1,
            "header",
            "line 1 is blank",
            f'start the file with the header {{"{HEADER_KEY}": {{...}}}} (or use a sidecar '
            f"{sidecar.name} and start with the first example)",
        )
        return None
    first = parse_object(1, first_text, problems)
    if first is None:
        return None
    body = lines
    header_path = None
    if _is_header(first):
        if side_meta is not None:
            problems.add(
                1,
                HEADER_KEY,
                f"the file has a header and a sidecar {sidecar.name}",
                "keep only one of them",
            )
            return None
        meta = first[HEADER_KEY]
        extra = [k for k in first if k != HEADER_KEY]
        if extra:
            problems.add(
                1, extra[0], "header line has other fields", f'put them inside "{HEADER_KEY}"'
            )
        body = lines[1:]
    elif side_meta is not None:
        meta, header_path = side_meta, str(sidecar)
    elif blimp_format.is_blimp(first):
        meta = {}
    else:
        problems.add(
            1,
            HEADER_KEY,
            "no header line and no sidecar",
            f'add a first line {{"{HEADER_KEY}": {{"name": ..., "version": 1, "format": ..., '
            f'"label_names": [...]}}}} or a sidecar {sidecar.name}',
        )
        return None
    return meta, body, header_path


def _file_skill(header: Header, examples: list[Example], path: Path, digest) -> Skill:
    """The skill of a checked file: its header, and a seeded sample of its examples."""
    build = FileExamples(tuple(examples), source=str(path), sha256=digest.hexdigest())
    return Skill(
        name=header.name,
        version=header.version,
        family=header.family,
        format=header.format,
        build=build,
        label_names=header.label_names,
        components=header.components,
        primary_metric=header.primary_metric
        or ("exact_match" if header.format == "continuation" else "choice_acc"),
        chance=header.chance,
        suite="user",
        description=header.description or f"{len(examples)} examples from {path.name}",
        source_hash=build.sha256[:12],
        shots=header.shots,
        template=header.template,
        probe=header.probe
        or "the label declared in the file, read where each example says; split by 'group' "
        "(default: the prompt), so no test prompt or group occurs in training",
    )


def _line_of(problem: str) -> tuple[int, int]:
    """Sort key: the sidecar's problems first, then by line number."""
    m = re.match(r"^(.*):(\d+): ", problem)
    return (0 if m and m.group(1).endswith(".meta.json") else 1, int(m.group(2)) if m else 0)


def validate_skill_file(path: str | Path) -> list[str]:
    """Every problem of a skill file, as ``FILE:LINE: field: what is wrong — how to fix it``.

    Line 0 means the whole file. An empty list means :func:`load_skill_file` will succeed
    (including the check that the skill's name is not registered yet).

    >>> validate_skill_file("no/such/file.jsonl")
    ['no/such/file.jsonl:0: file: no such file — check the path']
    """
    return _parse(path)[1]


def load_skill_file(path: str | Path, *, register: bool = True) -> Skill:
    """Load a JSONL or BLiMP skill file as a :class:`Skill` (and register it by default).

    Args:
        path: A ``.jsonl`` file: the curriculens format (header line or ``FILE.meta.json``
            sidecar) or a BLiMP paradigm file.
        register: Add the skill to the registry so ``get_skill(name)`` finds it.

    Raises:
        SkillFileError: listing every problem (``err.problems``); nothing is registered.

    >>> import tempfile, json, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "doc_demo.jsonl"
    >>> _ = p.write_text(json.dumps({"curriculens_skill": {"name": "doc_demo", "version": 1,
    ...     "format": "continuation", "label_names": ["europe", "asia"]}}) + "\\n"
    ...     + json.dumps({"prompt": "The capital of France is", "target": "Paris",
    ...                   "label": "europe"}) + "\\n")
    >>> load_skill_file(p, register=False).examples(2, seed=0)[0].target
    'Paris'
    """
    skill, problems = _parse(path, check_registry=register)
    if problems or skill is None:
        raise SkillFileError(
            f"{path}: {len(problems)} problem(s); nothing was loaded:\n  " + "\n  ".join(problems),
            problems,
        )
    if register:
        add_skill(skill)
    return skill


def load_skill_files(paths: Sequence[str | Path], *, register: bool = True) -> list[Skill]:
    """Load several skill files, all or none.

    Raises:
        SkillFileError: with the problems of every file (and of names defined twice);
            then nothing is registered.
    """
    problems: list[str] = []
    skills: list[Skill] = []
    for p in paths:
        skill, found = _parse(p, check_registry=register)
        problems += found
        if skill is not None:
            skills.append(skill)
    first_file: dict[str, str] = {}
    for skill in skills:
        source = skill.build.source
        if skill.name in first_file:
            problems.append(
                f"{source}:1: name: '{skill.name}' is also defined in {first_file[skill.name]} "
                "— give each file its own name"
            )
        first_file.setdefault(skill.name, source)
    if problems:
        raise SkillFileError(
            f"{len(problems)} problem(s) in {len(paths)} file(s); nothing was loaded:\n  "
            + "\n  ".join(problems),
            problems,
        )
    if register:
        for s in skills:
            add_skill(s)
    return skills
