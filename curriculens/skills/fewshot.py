"""Few-shot skills: (input, output) pairs rendered through a template, shown k-shot.

A few-shot skill declares ``shots`` (k) and a ``template`` such as ``"{input} -> {output}"``. Its
examples are zero-shot queries: the template up to ``{output}`` filled with the input
(``"cat ->"``), with the output as target (``"cats"``; the scorer joins prompt and target with
one space, so the template has one space before ``{output}``). The k demonstrations are added
later, by :func:`curriculens.probes.splits.draw_items`, after the split by group: every
demonstration is a training item of another group, so no test group's pair is ever shown in a
prompt, and an item's own answer never is. Demonstrations are joined by :data:`SEPARATOR`.

>>> t = check_template("{input} -> {output}")
>>> render_query(t, "cat")
'cat ->'
>>> demonstration(Example(prompt="dog ->", target="dogs", label=0))
'dog -> dogs'
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from curriculens.errors import SkillError
from curriculens.skills.example import Example

#: Between demonstrations, and between the last demonstration and the query.
SEPARATOR = "\n"
#: Most demonstrations a skill may ask for.
MAX_SHOTS = 32


def template_problem(template: str) -> str:
    """What is wrong with a template, or ``''``: it needs ``{input}`` once, and ends with
    ``' {output}'`` (the output is the target the model continues with)."""
    if not isinstance(template, str):
        return f"is {type(template).__name__}, not a string"
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        return f"{template!r} is not a format string ({e})"
    if sorted(fields) != ["input", "output"]:
        return f"{template!r} has fields {fields}; it needs {{input}} and {{output}}, once each"
    if not template.endswith(" {output}") or template.endswith("  {output}"):
        return f"{template!r} must end with one space and {{output}}"
    if not template[: -len(" {output}")].strip():
        return f"{template!r} renders an empty query"
    return ""


def check_template(template: str) -> str:
    """The template, or :class:`SkillError` naming what is wrong with it."""
    problem = template_problem(template)
    if problem:
        raise SkillError(f"template {problem}; write e.g. '{{input}} -> {{output}}'.")
    return template


def render_query(template: str, text: str) -> str:
    """The zero-shot query of an input: the template up to ``{output}``, filled in."""
    return template[: -len(" {output}")].replace("{input}", text)


def queries(template: str, pairs: Sequence[tuple[str, str, int, str]]) -> list[Example]:
    """Examples of ``(input, output, label, group)`` pairs as zero-shot queries (read at -1)."""
    return [
        Example(prompt=render_query(template, i), target=o, label=lab, group=g)
        for i, o, lab, g in pairs
    ]


def demonstration(example: Example) -> str:
    """One solved pair as shown in a prompt: the query and its answer."""
    return f"{example.prompt} {example.target}"


def render_k_shot(
    examples: Sequence[Example],
    groups: np.ndarray,
    train: np.ndarray,
    shots: int,
    seed: int,
    skill: str = "",
    sets: int = 1,
) -> tuple[list[Example], tuple[tuple[int, ...], ...], np.ndarray]:
    """Each query with ``shots`` demonstrations from training queries of other groups.

    Args:
        examples: The zero-shot queries ``[n]``.
        groups: Their group keys ``[n]``.
        train: True for training items ``[n]``.
        shots: Demonstrations per prompt (k).
        seed: Seeds the draw (the item index is mixed in, so each item has its own).
        skill: Named in errors.
        sets: Demonstration sets per query: each query gives ``sets`` prompts in a row, with
            different demonstrations where the pool allows.

    Returns:
        The k-shot examples (``read_from`` set to where the query starts, so anchors are found
        in the query), query-major; per example the indices of its demonstrations; and per
        example the index of its query ``[n]``.

    Raises:
        SkillError: when a group has fewer than ``shots`` training items outside it, or an
            example reads at a non-negative token index (which demonstrations would move).
    """
    groups = np.asarray(groups).astype(str)
    train = np.asarray(train, bool)
    pool = np.flatnonzero(train)
    out, demos, query = [], [], []
    for i, ex in enumerate(examples):
        if ex.read_at >= 0 and not ex.read_after:
            raise SkillError(
                f"Skill '{skill}': a few-shot example reads at token {ex.read_at}, which the "
                "demonstrations would move; use a negative read_at (-1: the last token) or "
                "read_after."
            )
        eligible = pool[groups[pool] != groups[i]]
        if eligible.size < shots:
            raise SkillError(
                f"Skill '{skill}': {shots} demonstrations per prompt need {shots} training "
                f"items outside each group; group {groups[i]!r} has {eligible.size}. Add "
                "examples (more groups), or lower shots."
            )
        rng = np.random.default_rng([seed, 4241, i])
        seen: set[tuple[int, ...]] = set()
        for _ in range(sets):
            for _try in range(20):  # a new demonstration set; none left: fewer sets
                pick = tuple(int(j) for j in rng.choice(eligible, shots, replace=False))
                if pick not in seen:
                    break
            if pick in seen:
                continue
            seen.add(pick)
            query.append(i)
            prefix = "".join(demonstration(examples[j]) + SEPARATOR for j in pick)
            out.append(replace(ex, prompt=prefix + ex.prompt, read_from=len(prefix) + ex.read_from))
            demos.append(pick)
    return out, tuple(demos), np.array(query, dtype=np.int64)


# ---------------------------------------------------------------- JSONL files
def check_file_header(merged: dict, number: int, problems, path: str | None, fmt) -> tuple:
    """``(shots, template)`` of a skill file's header, each problem added to ``problems``."""
    shots, template = merged.get("shots", 0), merged.get("template", "")
    if isinstance(shots, bool) or not isinstance(shots, int) or not 0 <= shots <= MAX_SHOTS:
        problems.add(number, "shots", f"is {shots!r}", f"use an int in 0..{MAX_SHOTS}", path)
        shots = 0
    if "template" in merged and (problem := template_problem(template)):
        problems.add(number, "template", problem, 'write e.g. "{input} -> {output}"', path)
        template = ""
    elif shots and not template:
        problems.add(
            number,
            "template",
            f"missing: shots={shots} needs one",
            'add "template": "{input} -> {output}"',
            path,
        )
    if shots and fmt not in (None, "continuation"):
        problems.add(
            number, "shots", f"given for format {fmt!r}", 'use "format": "continuation"', path
        )
    return shots, template


def file_example(obj: dict, number: int, template: str, shots: int, problems) -> dict:
    """A file line of a template skill (``input``, ``output``) as the fields of its zero-shot
    query (``prompt``, ``target``); other lines are returned as they are."""
    if not template:
        for key in ("input", "output"):
            if key in obj:
                problems.add(number, key, "given without a header template", "use prompt/target")
        return obj
    obj = dict(obj)
    for old, new in (("prompt", "input"), ("target", "output")):
        if old in obj:
            problems.add(number, old, "given in a file with a template", f"use {new!r}")
            del obj[old]
        if new not in obj:
            problems.add(number, new, "missing required field", f"add the pair's {new}")
        elif not isinstance(obj[new], str) or not obj[new].strip():
            problems.add(number, new, f"is {obj[new]!r}", "use a non-empty JSON string")
    if shots and isinstance(obj.get("read_at", -1), int) and obj.get("read_at", -1) >= 0:
        problems.add(
            number,
            "read_at",
            f"{obj['read_at']} counts from the start, which demonstrations move",
            "use a negative index (-1: the last token) or read_after",
        )
    text, output = obj.pop("input", None), obj.pop("output", None)
    if isinstance(text, str):
        obj["prompt"] = render_query(template, text)
    if isinstance(output, str):
        obj["target"] = output
    return obj
