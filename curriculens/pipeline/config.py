"""What a sweep measures: :class:`SweepConfig`, saved beside every run, and its ``probe_key``.

The ``probe_key`` hashes every setting a stored score depends on (examples, split, C, seed,
hooks, MDL, control and split versions, and the numerics: dtype, device class, batch packing);
it keys every row and item in the store, so changing a setting computes new rows beside the old
ones and never overwrites them. Skills are named by skill, suite (``toy``, ``core-en``) or skill
file (:func:`resolve_skills`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, asdict, dataclass, fields
from pathlib import Path

from curriculens.checkpoints import parse_device
from curriculens.errors import ConfigError, SkillError, did_you_mean
from curriculens.params import check, check_all
from curriculens.probes.controls import CONTROL_DRAWS
from curriculens.probes.splits import SPLIT_VERSION
from curriculens.skills.registry import add_skill, get_skill, list_skills


def resolve_skills(entries: str | Iterable[str]) -> tuple[str, ...]:
    """Skill names from skill names, suite names and skill file paths, mixed, in order.

    A suite name (``toy``, ``core-en``) stands for its skills; a path to a ``.jsonl`` skill file
    (docs/skills.md) is loaded and registered (again: a no-op when the same content is already
    registered under its name). Repeats are dropped.

    Raises:
        SkillError: An unknown name ("did you mean"), or a file whose skill name is registered
            with other content.
        SkillFileError: A skill file with problems (all of them listed).

    >>> resolve_skills(["core-en", "agreement"])[:2]
    ('en_agreement', 'en_agreement_attractor')
    """
    if isinstance(entries, str):
        entries = [entries]
    suites = {s.suite for s in list_skills()}
    out: list[str] = []
    for entry in entries:
        entry = str(entry)
        if entry in suites:
            names = [s.name for s in list_skills(entry)]
        elif entry.endswith(".jsonl") or (Path(entry).suffix and Path(entry).is_file()):
            names = [_register_file(entry)]
        elif entry in {s.name for s in list_skills()}:
            names = [entry]
        else:
            close = did_you_mean(entry, sorted(suites))
            if close:
                raise SkillError(f"Unknown skill or suite '{entry}'.{close}")
            names = [get_skill(entry).name]  # raises "Unknown skill ... Did you mean"
        out += [n for n in names if n not in out]
    return tuple(out)


def _register_file(path: str) -> str:
    from curriculens.skills.files import load_skill_file

    skill = load_skill_file(path, register=False)
    registered = {s.name: s for s in list_skills()}
    old = registered.get(skill.name)
    if old is None:
        add_skill(skill)
    elif old.content_hash != skill.content_hash:
        raise SkillError(
            f"Skill file {path!r} defines '{skill.name}', but a skill of that name with other "
            f"content is already registered (suite {old.suite}); rename the skill in the file."
        )
    return skill.name


def parse_layers(spec: str | int | Iterable[int | str]) -> tuple[int, ...]:
    """Block indices from ``"0,6,12"``, ranges ``"0-11"`` or ints, sorted and unique.

    >>> parse_layers("0-2,6"), parse_layers([3, 1])
    ((0, 1, 2, 6), (1, 3))
    """
    parts = spec.split(",") if isinstance(spec, str) else [spec] if isinstance(spec, int) else spec
    out: set[int] = set()
    for part in parts:
        text = str(part).strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", text)
        if isinstance(part, bool) or m is None:
            raise ConfigError(
                f"layers: {text!r} is not a block index or range; expected e.g. 0,6,12 or 0-11 "
                "(TransformerLens block indices from 0)."
            )
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ConfigError(f"layers: range {text!r} runs backwards; write it as {hi}-{lo}.")
        out.update(range(lo, hi + 1))
    if not out:
        raise ConfigError("layers is empty; name at least one block index, e.g. 0,6,12.")
    return tuple(sorted(out))


def layer_hooks(layers: Sequence[int]) -> tuple[str, ...]:
    """The residual-stream output hook of each block: ``blocks.{l}.hook_resid_post``."""
    return tuple(f"blocks.{layer}.hook_resid_post" for layer in layers)


def is_toy_tokenizer(tokenizer) -> bool:
    """Whether ``tokenizer`` is the toy world's word-level tokenizer (its vocabulary and a few
    special tokens, nothing else)."""
    from curriculens.skills.builtin.toy import toy_vocabulary

    words = set(toy_vocabulary())
    vocab = set(tokenizer.get_vocab())
    return words <= vocab and len(vocab - words) <= 8


def default_skills(tokenizer=None) -> tuple[str, ...]:
    """The toy suite for the toy tokenizer; ``core-en`` for any other (or an unknown) one."""
    suite = "toy" if tokenizer is not None and is_toy_tokenizer(tokenizer) else "core-en"
    return resolve_skills([suite])


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """What a sweep measures; saved beside the store and hashed into every unit key.

    Args:
        skills: Skill names, suite names (``toy``, ``core-en``) or skill file paths, mixed
            (:func:`resolve_skills`); stored as skill names.
        n_examples: Examples per skill (the probe splits them train/test).
        train_frac: Share of examples the probe trains on.
        probe_C: Inverse L2 strength of the probes.
        seed: Seeds examples, splits and control labels.
        hooks: TransformerLens hook names (``hook_embed``, ``blocks.{l}.hook_resid_post``, any
            ``[batch, pos, d_model]`` hook), or empty for the embedding plus every block's
            residual output.
        layers: Block indices (``[0, 6]``, ``"0-11"``); each adds ``blocks.{l}.hook_resid_post``
            to ``hooks`` (an init-only shorthand: the config stores the hooks).
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``: the weights are loaded in it
            (activations and logits are read back as float32). Part of the ``probe_key``.
        batch_size: Most sequences per forward pass.
        device: torch device.
        threads: torch threads during the sweep (on CPU, also the probe engine's workers); 0
            chooses them when the sweep starts: the free physical cores
            (:func:`~curriculens.pipeline.plan.sweep_threads`), recorded in the run's metadata.
        max_batch_tokens: Most tokens (sequences x padded length) per forward pass, or ``None``
            for the default: on CPU a cap from the model's depth and width
            (:func:`~curriculens.pipeline.plan.cpu_batch_tokens`; none with
            ``memory_budget_mb``), elsewhere no cap beyond ``batch_size``.
        memory_budget_mb: Activation memory a forward pass may use; sets the token cap from the
            model's shape (see :func:`batch_tokens_for_budget`). The smaller cap wins.
        mdl: Also measure every probe's online description length (Voita & Titov 2020), stored
            as ``metric="mdl_compression"``: the uniform code's length over the online code's
            (1 = the layer makes the labels no cheaper to send). Rows are sent group by group.
        cache_dir: Folder of an activation cache, one safetensors file per (checkpoint
            fingerprint, skill hash, hooks, examples); probes can then be re-fit without
            another forward pass. ``None`` caches nothing.
        task_vectors: Compute each few-shot skill's task vector at every hook
            (:mod:`curriculens.taskvectors`: one extra forward pass over at most 100 control
            prompts per skill), stored in the run's ``vectors`` table for
            ``curriculens predict``. Not part of the ``probe_key``: it adds to what a unit holds.
        task_vector_heads: Also compute the head variant: the summed output of the k attention
            heads with the largest causal effect (0: off; one patched forward pass per head).
        overlap: Fit each checkpoint's probes (and build its rows) on a worker thread while the
            next checkpoint loads and runs its forwards (:mod:`curriculens.pipeline.overlap`);
            ``False`` does it in turn. The stored values are the same either way; not part of
            the ``probe_key``.
    """

    skills: tuple[str, ...]
    n_examples: int = 300
    train_frac: float = 0.7
    probe_C: float = 1.0
    seed: int = 0
    hooks: tuple[str, ...] = ()
    layers: InitVar[Sequence[int] | str | None] = None
    dtype: str = "float32"
    batch_size: int = 64
    device: str = "cpu"
    threads: int = 0
    max_batch_tokens: int | None = None
    memory_budget_mb: float | None = None
    cache_dir: str | None = None
    mdl: bool = False
    task_vectors: bool = True
    task_vector_heads: int = 0
    overlap: bool = True

    def __post_init__(self, layers) -> None:
        if isinstance(self.skills, str):
            object.__setattr__(self, "skills", (self.skills,))
        if not self.skills:
            raise ConfigError("SweepConfig.skills is empty; name at least one skill.")
        object.__setattr__(self, "skills", resolve_skills(self.skills))
        if isinstance(self.hooks, str):
            object.__setattr__(self, "hooks", (self.hooks,))
        hooks = list(self.hooks)
        if layers is not None:
            hooks += [h for h in layer_hooks(parse_layers(layers)) if h not in hooks]
        bad = [h for h in hooks if not isinstance(h, str) or not h.strip()]
        if bad:
            raise ConfigError(
                f"SweepConfig.hooks has {bad!r}; expected TransformerLens hook names such as "
                "hook_embed or blocks.3.hook_resid_post."
            )
        object.__setattr__(self, "hooks", tuple(dict.fromkeys(h.strip() for h in hooks)))
        for name in _CHECKED:  # each against its one declaration in curriculens.params
            check(name, getattr(self, name))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", str(self.cache_dir))
        parse_device(self.device)  # the name only; availability is checked where it runs

    def to_dict(self) -> dict:
        """A JSON/TOML-ready dict (tuples as lists, ``None`` values left out)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, d: dict) -> SweepConfig:
        """The inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`.

        >>> c = SweepConfig(skills=("facts",), n_examples=40)
        >>> SweepConfig.from_dict(c.to_dict()) == c
        True
        """
        known = {f.name for f in fields(cls)} | {"layers"}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(
                f"Unknown sweep config key(s) {bad}; expected some of {sorted(known)}."
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def numerics(self) -> dict:
        """The settings that change a stored value's floating-point digits, not what is
        measured: the weights' ``dtype``, the device class (``cpu``, ``cuda``, ``mps``) and the
        batch packing (``batch_size``, ``max_batch_tokens``, ``memory_budget_mb``: a different
        packing pads differently, which moves scores by ~1e-7). Each enters only when it is not
        the default, so the keys of float32 CPU runs with default packing stay those they had
        before these settings were keyed (their stores stay valid); a run swept on a GPU or in
        other batches before gets a new key, and is measured again beside its old rows.

        >>> SweepConfig(skills=("facts",)).numerics()
        {}
        >>> SweepConfig(skills=("facts",), dtype="bfloat16", max_batch_tokens=512).numerics()
        {'dtype': 'bfloat16', 'max_batch_tokens': 512}
        """
        d: dict = {}
        if self.dtype != "float32":
            d["dtype"] = self.dtype
        device = parse_device(self.device).type
        if device != "cpu":
            d["device"] = device
        if self.batch_size != _DEFAULT_BATCH_SIZE:
            d["batch_size"] = self.batch_size
        if self.max_batch_tokens is not None:
            d["max_batch_tokens"] = self.max_batch_tokens
        if self.memory_budget_mb is not None:
            d["memory_budget_mb"] = self.memory_budget_mb
        return d

    def probe_settings(self) -> dict:
        """Every setting a stored score depends on: examples, split, C, seed, hooks, MDL, the
        control version and number of control draws, the split version, and the
        :meth:`numerics` (dtype, device class, batch packing). Their hash (:meth:`probe_key`)
        keys every row.

        The numerics are included only where they are not the defaults, so the keys of float32
        CPU runs stay those they had before the settings existed.
        """
        d = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if k in ("n_examples", "train_frac", "probe_C", "seed", "hooks", "mdl")
        }
        d.update(self.numerics())
        d["control_version"] = _CONTROL_VERSION
        d["control_draws"] = CONTROL_DRAWS
        d["split_version"] = SPLIT_VERSION
        return d

    def probe_key(self) -> str:
        """The ``probe_key`` of this sweep's rows and items: a hash of :meth:`probe_settings`.

        >>> from dataclasses import replace
        >>> a = SweepConfig(skills=("facts",), n_examples=40)
        >>> a.probe_key() == replace(a, threads=8).probe_key()
        True
        >>> a.probe_key() == replace(a, max_batch_tokens=512).probe_key()
        False
        >>> a.probe_key() == replace(a, n_examples=60).probe_key()
        False
        >>> a.probe_key() == replace(a, dtype="bfloat16").probe_key()
        False
        """
        return hashlib.sha256(
            json.dumps(self.probe_settings(), sort_keys=True).encode()
        ).hexdigest()[:10]


#: the fields checked against :data:`curriculens.params.PARAMS` (skills, hooks and device have
#: checks of their own)
_CHECKED = (
    "n_examples",
    "train_frac",
    "probe_C",
    "seed",
    "dtype",
    "batch_size",
    "threads",
    "max_batch_tokens",
    "memory_budget_mb",
    "mdl",
    "task_vectors",
    "task_vector_heads",
    "overlap",
)

#: ``SweepConfig.batch_size``'s default, left out of the key (see :meth:`SweepConfig.numerics`)
_DEFAULT_BATCH_SIZE = 64

#: Bump when the control-task labelling or the baselines stored with a probe change, so stored
#: units are recomputed. 5: the control is the mean and SD of ``CONTROL_DRAWS`` draws, with the
#: test set's chance and the lexical baseline (mean input embeddings) beside every probe.
_CONTROL_VERSION = 5


def check_settings(settings: dict) -> None:
    """Check keyword settings meant for :class:`SweepConfig` before any work: each key must be
    a field (``skills`` and ``config`` have their own arguments) and each known value passes
    its parameter's check, so a bad value names the argument.

    >>> check_settings({"n_examples": 100})
    >>> check_settings({"n_exmaples": 100})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    curriculens.errors.ConfigError: Unknown sweep setting 'n_exmaples'. Did you mean 'n_exam...
    """
    names = [f.name for f in fields(SweepConfig) if f.name != "skills"]
    for key in settings:
        if key not in names:
            raise ConfigError(
                f"Unknown sweep setting {key!r}.{did_you_mean(key, names)} Settings are the "
                f"fields of SweepConfig: {', '.join(names)}."
            )
    check_all(settings)
