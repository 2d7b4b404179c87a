"""The skill registry: named, versioned, deterministic generators of evaluation examples.

A skill is data plus a deterministic generator ``build(rng, n)``. Each example carries a prompt,
the target continuation, a probe label and the prompt position the probe reads.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from curriculens.errors import SkillError, did_you_mean
from curriculens.skills.example import Example
from curriculens.skills.fewshot import MAX_SHOTS, template_problem

FORMATS = ("continuation", "choice", "minimal_pair")


Builder = Callable[[np.random.Generator, int], list[Example]]


@dataclass(frozen=True, kw_only=True)
class Skill:
    """A registered skill: metadata plus the deterministic example builder.

    Attributes:
        name: Registry key.
        version: Bump it whenever the generator's output changes on purpose.
        family: Grouping for reports (``agreement``, ``facts``, ``arithmetic`` ...).
        format: ``continuation`` (exact match), ``choice`` or ``minimal_pair``.
        build: ``build(rng, n) -> list[Example]``, deterministic given the rng.
        label_names: Names of the probe classes.
        components: Names of the skills a composite needs.
        primary_metric: The behavior metric emergence is read from.
        chance: Behavioral chance level of the primary metric.
        suite: Which suite the skill belongs to (``toy``, ``core-en``, ``user``).
        description: One line for ``skills list``.
        document: Optional corpus renderer ``document(rng) -> str`` for the toy world.
        source_hash: Digest of the file a user skill was loaded from (empty for built-ins);
            part of ``content_hash``, so editing any line of the file changes the hash.
        probe: What the probe decodes, where it reads, and why a lexical shortcut cannot pass
            it (shown by ``skills show`` and the report).
        probed: False for a skill with no sensible latent variable: it is scored for behavior
            only, and no probe is fitted.
        shots: Demonstrations per prompt (k) of a few-shot skill, added after the split by
            group from training groups only (:mod:`curriculens.skills.fewshot`); 0: none.
        template: How an (input, output) pair is written, e.g. ``"{input} -> {output}"``; the
            examples are its zero-shot queries (required when ``shots`` > 0).
    """

    name: str
    version: int
    family: str
    format: str
    build: Builder
    label_names: tuple[str, ...]
    components: tuple[str, ...] = ()
    primary_metric: str = "exact_match"
    chance: float = 0.0
    suite: str = "user"
    description: str = ""
    document: Callable[[np.random.Generator], str] | None = field(default=None, repr=False)
    source_hash: str = ""
    probe: str = ""
    probed: bool = True
    shots: int = 0
    template: str = ""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise SkillError(
                f"Skill '{self.name}': format={self.format!r} is not one of {FORMATS}."
            )
        if not isinstance(self.version, int) or self.version < 1:
            raise SkillError(
                f"Skill '{self.name}': version={self.version!r} must be a positive int."
            )
        self._check_few_shot()
        if len(self.label_names) < 2:
            raise SkillError(
                f"Skill '{self.name}': needs at least 2 label_names for its probe, "
                f"got {self.label_names!r}."
            )

    def _check_few_shot(self) -> None:
        if isinstance(self.shots, bool) or not isinstance(self.shots, int):
            raise SkillError(f"Skill '{self.name}': shots={self.shots!r} must be an int.")
        if not 0 <= self.shots <= MAX_SHOTS:
            raise SkillError(f"Skill '{self.name}': shots={self.shots} must be in 0..{MAX_SHOTS}.")
        if self.shots and not self.template:
            raise SkillError(
                f"Skill '{self.name}': shots={self.shots} needs a template, e.g. "
                "'{input} -> {output}'."
            )
        if self.template and (problem := template_problem(self.template)):
            raise SkillError(f"Skill '{self.name}': template {problem}.")
        if self.shots and self.format != "continuation":
            raise SkillError(
                f"Skill '{self.name}': a few-shot skill has format 'continuation' (its outputs "
                f"are the targets), not {self.format!r}."
            )

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def examples(self, n: int, seed: int = 0) -> list[Example]:
        """Generate ``n`` examples deterministically from ``seed``.

        >>> get_skill("agreement").examples(2, seed=0) == get_skill("agreement").examples(2, seed=0)
        True
        """
        if n < 1:
            raise SkillError(f"Skill '{self.name}': asked for n={n} examples; use n >= 1.")
        rng = np.random.default_rng([seed, _stable_int(self.name)])
        out = self.build(rng, n)
        if len(out) != n:
            raise SkillError(
                f"Skill '{self.name}': build(rng, {n}) returned {len(out)} examples, expected {n}."
            )
        for i, ex in enumerate(out):
            if not 0 <= ex.label < self.n_classes:
                raise SkillError(
                    f"Skill '{self.name}': example {i} has label {ex.label}, expected 0.."
                    f"{self.n_classes - 1} ({', '.join(self.label_names)})."
                )
        return out

    @functools.cached_property
    def content_hash(self) -> str:
        """Short hash of the skill's definition and of 32 examples at seed 0.

        Stored with every result row, so a changed generator never mixes with old results.
        Computed once per skill object (it draws 32 examples: a sweep asks for it per row).
        """
        meta = {
            "name": self.name,
            "version": self.version,
            "format": self.format,
            "labels": list(self.label_names),
            "components": list(self.components),
            "metric": self.primary_metric,
            "probed": self.probed,
            "examples": [e.to_json() for e in self.examples(32, seed=0)],
        }
        if self.source_hash:
            meta["source"] = self.source_hash
        if self.shots or self.template:  # absent for zero-shot skills: their hash is unchanged
            meta["shots"], meta["template"] = self.shots, self.template
        blob = json.dumps(meta, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


_REGISTRY: dict[str, Skill] = {}


def register_skill(
    name: str,
    *,
    version: int,
    family: str,
    label_names: Sequence[str],
    format: str = "continuation",
    components: Sequence[str] = (),
    primary_metric: str | None = None,
    chance: float = 0.0,
    suite: str = "user",
    description: str = "",
    document: Callable[[np.random.Generator], str] | None = None,
    probe: str = "",
    probed: bool = True,
    shots: int = 0,
    template: str = "",
) -> Callable[[Builder], Builder]:
    """Decorator that registers ``build(rng, n)`` as a skill.

    Registering a name twice raises :class:`SkillError`. A few-shot skill passes ``shots`` and
    ``template`` and builds zero-shot queries (see :mod:`curriculens.skills.fewshot`).

    >>> @register_skill("parity_doc", version=1, family="demo", label_names=("even", "odd"))
    ... def build(rng, n):
    ...     xs = rng.integers(0, 10, n)
    ...     return [Example(prompt=f"{x} is", target="even" if x % 2 == 0 else "odd",
    ...                     label=int(x % 2)) for x in xs]
    >>> get_skill("parity_doc").examples(1, seed=0)[0].target in ("even", "odd")
    True
    >>> unregister_skill("parity_doc")
    """

    def decorator(build: Builder) -> Builder:
        add_skill(
            Skill(
                name=name,
                version=version,
                family=family,
                format=format,
                build=build,
                label_names=tuple(label_names),
                components=tuple(components),
                primary_metric=primary_metric
                or ("exact_match" if format == "continuation" else "choice_acc"),
                chance=chance,
                suite=suite,
                description=description or (build.__doc__ or "").strip().split("\n")[0],
                document=document,
                probe=probe,
                probed=probed,
                shots=shots,
                template=template,
            )
        )
        return build

    return decorator


def add_skill(skill: Skill) -> Skill:
    """Register an already built :class:`Skill` (used by file loaders)."""
    if skill.name in _REGISTRY:
        raise SkillError(
            f"Skill '{skill.name}' is already registered (version "
            f"{_REGISTRY[skill.name].version}). Pick another name, or call "
            f"unregister_skill('{skill.name}') first to replace it."
        )
    _REGISTRY[skill.name] = skill
    return skill


def unregister_skill(name: str) -> None:
    """Remove a skill from the registry (raises if unknown)."""
    get_skill(name)
    del _REGISTRY[name]


def registered(name: str) -> Skill | None:
    """The skill registered under ``name`` (built-ins loaded first), or None."""
    load_builtin_suites()
    return _REGISTRY.get(name)


def get_skill(name: str) -> Skill:
    """Look a skill up by name.

    Raises:
        SkillError: "Unknown skill 'agrement'. Did you mean 'agreement'? Available: ..."
    """
    load_builtin_suites()
    if name not in _REGISTRY:
        raise SkillError(
            f"Unknown skill '{name}'.{did_you_mean(name, _REGISTRY)} "
            f"Available: {', '.join(sorted(_REGISTRY))}."
        )
    return _REGISTRY[name]


def list_skills(suite: str | None = None) -> list[Skill]:
    """All registered skills (optionally of one suite), in registration order."""
    load_builtin_suites()
    skills = list(_REGISTRY.values())
    if suite is not None:
        suites = sorted({s.suite for s in skills})
        if suite not in suites:
            raise SkillError(
                f"Unknown suite '{suite}'.{did_you_mean(suite, suites)} "
                f"Available: {', '.join(suites)}."
            )
        skills = [s for s in skills if s.suite == suite]
    return skills


_BUILTINS_LOADED = False


def load_builtin_suites() -> None:
    """Import the built-in suites once (each registers its skills), toy first, then core-en."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import importlib

        for suite in ("toy", "core_en"):  # each registers its skills on import
            importlib.import_module(f"curriculens.skills.builtin.{suite}")


def resolve_read_position(tokenizer, example: Example) -> tuple[list[int], int]:
    """Tokenize an example's prompt and resolve its probe read position for this tokenizer.

    Returns the prompt token ids (no special tokens) and the non-negative index of the read
    token. ``read_after`` anchors to the token holding the anchor's last character; otherwise
    ``read_at`` indexes the prompt tokens (negative from the end). A minimal pair has an empty
    prompt: its read position is resolved on the good sentence (``target``) instead.

    Raises:
        SkillError: when the anchor is not in the prompt or the index is out of range.

    >>> from curriculens.toy.corpus import build_toy_tokenizer
    >>> ex = Example(prompt="kalo lives in", target="paris", label=0, read_after="kalo")
    >>> resolve_read_position(build_toy_tokenizer(), ex)[1]
    0
    """
    example = read_source(example)
    enc = tokenizer(example.prompt, add_special_tokens=False, return_offsets_mapping=True)
    return read_position(example, list(enc["input_ids"]), enc["offset_mapping"])


def read_source(example: Example) -> Example:
    """The example whose prompt a read position is resolved on: the example itself, or for a
    minimal pair (no prompt; ``target`` is the good sentence) the good sentence as its prompt."""
    if not example.prompt and example.choices:
        return replace(example, prompt=example.target)
    return example


def read_position(example: Example, ids: list[int], offsets) -> tuple[list[int], int]:
    """:func:`resolve_read_position` on an already tokenized prompt: ``ids`` and the
    ``offsets`` (character spans) a fast tokenizer returns for ``example.prompt``, so that a
    skill's prompts can be tokenized in one batch call."""
    if not ids:
        raise SkillError(
            f"Example prompt {example.prompt!r} tokenizes to nothing; it needs a "
            "read position. Give the example a non-empty prompt."
        )
    if example.read_after:
        start = example.prompt.find(example.read_after, example.read_from)
        if start < 0:
            raise SkillError(
                f"read_after={example.read_after!r} is not in prompt {example.prompt!r}; use a "
                "substring of the prompt."
            )
        last_char = start + len(example.read_after) - 1
        for i, (a, b) in enumerate(offsets):
            if a <= last_char < b:
                return ids, i
        # the anchor's last char is whitespace dropped by the tokenizer: take the token before
        before = [i for i, (a, _) in enumerate(offsets) if a <= last_char]
        return ids, before[-1]
    pos = example.read_at if example.read_at >= 0 else len(ids) + example.read_at
    if not 0 <= pos < len(ids):
        raise SkillError(
            f"read_at={example.read_at} is out of range for prompt {example.prompt!r} "
            f"({len(ids)} tokens with this tokenizer); use -1 for the last prompt token."
        )
    return ids, pos
