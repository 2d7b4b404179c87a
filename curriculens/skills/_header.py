"""The header line of a skill file, checked field by field (a private helper of ``files``).

Every problem goes to :class:`~curriculens.skills._problems.Problems` as ``FILE:LINE: field: what
is wrong — how to fix it``, in the order the fields are checked here; a field that fails its check
is None in the returned :class:`Header`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curriculens.skills import blimp as blimp_format
from curriculens.skills import fewshot
from curriculens.skills._problems import HEADER_KEY, Problems, hint, type_name
from curriculens.skills.registry import FORMATS, registered

HEADER_FIELDS = (
    "name",
    "version",
    "format",
    "family",
    "label_names",
    "components",
    "primary_metric",
    "chance",
    "description",
    "probe",
    "label_field",
    "shots",
    "template",
)
REQUIRED_HEADER_FIELDS = ("name", "version", "format", "label_names")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, kw_only=True)
class Header:
    """The checked header; fields that failed their check are None (then ``ok`` is False)."""

    ok: bool
    name: str
    version: int
    format: str | None
    family: str
    label_names: tuple[str, ...] | None
    components: tuple[str, ...]
    primary_metric: str | None
    chance: float
    description: str
    label_field: str
    probe: str = ""
    shots: int = 0
    template: str = ""


#: What a header that is not a JSON object gives: nothing checked, nothing usable.
_NOT_AN_OBJECT = Header(
    ok=False,
    name=None,
    version=None,
    format=None,
    family="user",
    label_names=None,
    components=(),
    primary_metric=None,
    chance=0.0,
    description="",
    label_field="UID",
)


@dataclass
class _Fields:
    """The header's fields merged over the defaults, and where their problems are reported."""

    merged: dict
    number: int
    problems: Problems
    path: str | None

    def add(self, key: str, problem: str, fix: str) -> None:
        self.problems.add(self.number, key, problem, fix, self.path)

    def typed(self, key: str, kind: type, example: str):
        """The field's value, or None (and a problem) when it is present with the wrong type."""
        value = self.merged.get(key)
        if key in self.merged and (not isinstance(value, kind) or isinstance(value, bool)):
            self.add(key, f"is {type_name(value)} {value!r}", f"use {example}")
            return None
        return value


def check_header(
    meta,  # the header object as read: checked here, so any JSON value
    number: int,
    problems: Problems,
    path: str | None,
    *,
    blimp: bool,
    defaults: dict,
    check_registry: bool,
) -> Header:
    """Check every field of a header (merged over ``defaults``); report each problem."""
    before = len(problems.items)
    if not isinstance(meta, dict):
        problems.add(
            number,
            HEADER_KEY,
            f"is {type_name(meta)}, not an object",
            'give an object: {"name": ..., "version": 1, "format": ..., "label_names": [...]}',
            path,
        )
        return _NOT_AN_OBJECT
    fields = _Fields({**defaults, **meta}, number, problems, path)
    _check_keys(meta, fields)
    name = _check_name(fields, check_registry)
    version = fields.typed("version", int, "a positive int like 1")
    if version is not None and not 1 <= version <= 2**31 - 1:  # it is stored as an integer
        fields.add("version", f"is {version}", "use a positive int like 1 (below 2**31)")
    fmt = _check_format(fields, blimp)
    labels = _check_label_names(fields)
    components = _check_components(fields)
    family = fields.typed("family", str, 'a string like "facts"')
    metric = fields.typed("primary_metric", str, 'a string like "exact_match"')
    description = fields.typed("description", str, "a one-line string")
    probe = fields.typed("probe", str, "a sentence: what the probe decodes, where, and why")
    label_field = _check_label_field(fields, blimp)
    chance = fields.merged.get("chance", 0.5 if fmt in ("choice", "minimal_pair") else 0.0)
    if not isinstance(chance, (int, float)) or isinstance(chance, bool) or not 0.0 <= chance <= 1.0:
        fields.add("chance", f"is {chance!r}", "use a number in [0, 1]")
    shots, template = fewshot.check_file_header(fields.merged, number, problems, path, fmt)
    bad_labels = bool(problems.items[before:]) and any(
        ": label_names: " in p for p in problems.items[before:]
    )
    return Header(
        ok=len(problems.items) == before,
        name=name,
        version=version,
        format=fmt if fmt in FORMATS else None,
        family=family or ("blimp" if blimp else "user"),
        label_names=tuple(labels) if labels is not None and not bad_labels else None,
        components=tuple(components),
        primary_metric=metric,
        chance=float(chance),
        description=description or "",
        label_field=label_field or "UID",
        probe=probe or "",
        shots=shots,
        template=template,
    )


def _check_keys(meta: dict, fields: _Fields) -> None:
    """Unknown fields (with the closest known name), then missing required ones."""
    for key in meta:
        if key not in HEADER_FIELDS:
            fields.add(
                key,
                f"unknown header field{hint(key, HEADER_FIELDS)}",
                f"use only {', '.join(HEADER_FIELDS)}",
            )
    for key in REQUIRED_HEADER_FIELDS:
        if key not in fields.merged:
            fields.add(key, "missing required header field", f"add {key!r}")


def _check_name(fields: _Fields, check_registry: bool) -> str | None:
    name = fields.typed("name", str, 'a string like "my_facts"')
    if name is None:
        return None
    if not _NAME_RE.match(name):
        fields.add(
            "name",
            f"{name!r} is not a valid skill name",
            "start with a letter; use letters, digits, '_', '-' or '.'",
        )
    elif check_registry and (known := registered(name)) is not None:
        fields.add(
            "name",
            f"skill '{name}' is already registered (suite {known.suite})",
            f"pick another name, or call unregister_skill('{name}') first",
        )
    return name


def _check_format(fields: _Fields, blimp: bool) -> str | None:
    fmt = fields.typed("format", str, f"one of {', '.join(FORMATS)}")
    if fmt is not None and fmt not in FORMATS:
        fields.add(
            "format",
            f"unknown format {fmt!r}{hint(fmt, FORMATS)}",
            f"use one of {', '.join(FORMATS)}",
        )
    if blimp and fmt is not None and fmt != "minimal_pair":
        fields.add("format", f"is {fmt!r} for a BLiMP file", 'use "minimal_pair"')
    return fmt


def _check_label_names(fields: _Fields):
    labels = fields.merged.get("label_names")
    if "label_names" in fields.merged and (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        fields.add(
            "label_names",
            f"is {labels!r}",
            'give a list of at least 2 distinct non-empty strings, e.g. ["singular", "plural"]',
        )
    return labels


def _check_components(fields: _Fields):
    components = fields.merged.get("components", [])
    if not isinstance(components, list) or not all(isinstance(x, str) for x in components):
        fields.add(
            "components",
            f"is {components!r}",
            'give a list of skill names, e.g. ["plural", "copy"]',
        )
    return components


def _check_label_field(fields: _Fields, blimp: bool) -> str | None:
    label_field = fields.typed("label_field", str, f"one of {', '.join(blimp_format.LABEL_FIELDS)}")
    if label_field is not None and not blimp:
        fields.add("label_field", "only applies to BLiMP files", "remove it")
    elif label_field is not None and label_field not in blimp_format.LABEL_FIELDS:
        fields.add(
            "label_field",
            f"unknown BLiMP field {label_field!r}{hint(label_field, blimp_format.LABEL_FIELDS)}",
            f"use one of {', '.join(blimp_format.LABEL_FIELDS)}",
        )
    return label_field
