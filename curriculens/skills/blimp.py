"""BLiMP minimal-pair files, read as they are published (one JSON object per line).

A BLiMP file needs no header: the skill's name comes from its ``UID`` and its probe classes from
``label_field`` (a sidecar ``FILE.meta.json`` may set both). Each line becomes an
:class:`~curriculens.skills.example.Example` scored as ``sentence_good`` against
``sentence_bad``.
"""

from __future__ import annotations

from pathlib import Path

from curriculens.skills._problems import Problems, type_name
from curriculens.skills.registry import Example

#: BLiMP fields a probe label may be read from (``label_field`` in the sidecar).
LABEL_FIELDS = (
    "UID",
    "linguistics_term",
    "field",
    "lexically_identical",
    "one_prefix_method",
    "two_prefix_method",
    "simple_LM_method",
)


def check(obj: dict, number: int, problems: Problems) -> dict | None:
    """The line if both sentences are present, distinct strings; else None (problems added)."""
    before = len(problems.items)
    for key in ("sentence_good", "sentence_bad"):
        if key not in obj:
            problems.add(number, key, "missing required BLiMP field", f"add {key!r}")
        elif not isinstance(obj[key], str) or not obj[key].strip():
            problems.add(
                number, key, f"is {type_name(obj[key])} {obj[key]!r}", "use a non-empty string"
            )
    if (
        "sentence_good" in obj
        and obj.get("sentence_good") == obj.get("sentence_bad")
        and len(problems.items) == before
    ):
        problems.add(
            number, "sentence_bad", "equals sentence_good", "give the ungrammatical sentence"
        )
    return obj if len(problems.items) == before else None


def is_blimp(obj: dict) -> bool:
    """Whether a parsed line is a BLiMP pair rather than a curriculens example."""
    return "sentence_good" in obj or "sentence_bad" in obj


def defaults(path: Path, meta, rows: list[tuple[int, dict]]) -> dict:
    """Header defaults of a BLiMP file: name from the UID, labels from ``label_field``."""
    label_field = meta.get("label_field", "UID") if isinstance(meta, dict) else "UID"
    values = sorted({label_value(o, label_field) for _, o in rows} - {""})
    uids = sorted({str(o.get("UID", "")) for _, o in rows} - {""})
    if len(values) == 1:
        values.append("other")  # a single paradigm: one real class, see docs/skills.md
    return {
        "name": f"blimp_{uids[0]}" if len(uids) == 1 else f"blimp_{path.stem}",
        "version": 1,
        "format": "minimal_pair",
        "label_names": values or ["paradigm", "other"],
        "family": "blimp",
        "description": f"BLiMP minimal pairs from {path.name}",
    }


def example(obj: dict, number: int, header, problems: Problems) -> Example | None:
    """One checked BLiMP line as an Example; ``header`` is the checked header of the file."""
    if header.label_names is None:  # broken label_names, reported with the header
        return None
    value = label_value(obj, header.label_field)
    if value not in header.label_names:
        problems.add(
            number,
            header.label_field,
            f"{value!r} is not one of the label_names",
            f"use one of {', '.join(header.label_names)}, or drop label_names from the sidecar",
        )
        return None
    return Example(
        prompt="",
        target=obj["sentence_good"],
        choices=(obj["sentence_bad"],),
        label=header.label_names.index(value),
    )


def label_value(obj: dict, label_field: str) -> str:
    """The probe class of a line: the value of ``label_field`` as text."""
    value = obj.get(label_field)
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)
