"""What a sweep measures: :class:`SweepConfig`, saved beside every run, and its ``probe_key``.

The ``probe_key`` hashes every setting a stored score depends on (examples, split, C, seed,
hooks, MDL, control and split versions); it keys every row and item in the store, so changing a
setting computes new rows beside the old ones and never overwrites them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from curriculens.checkpoints import parse_device
from curriculens.errors import ConfigError
from curriculens.probes.splits import SPLIT_VERSION
from curriculens.skills.registry import get_skill


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """What a sweep measures; saved beside the store and hashed into every unit key.

    Args:
        skills: Skill names.
        n_examples: Examples per skill (the probe splits them train/test).
        train_frac: Share of examples the probe trains on.
        probe_C: Inverse L2 strength of the probes.
        seed: Seeds examples, splits and control labels.
        hooks: Hook names, or empty for the embedding plus every block's residual output.
        batch_size: Most sequences per forward pass.
        device: torch device.
        threads: torch threads during the sweep (on CPU, also the probe engine's workers).
        max_batch_tokens: Most tokens (sequences x padded length) per forward pass, or ``None``
            for no cap beyond ``batch_size``.
        memory_budget_mb: Activation memory a forward pass may use; sets the token cap from the
            model's shape (see :func:`batch_tokens_for_budget`). The smaller cap wins.
        mdl: Also measure every probe's online description length (Voita & Titov 2020), stored
            as ``metric="mdl_compression"``: the uniform code's length over the online code's
            (1 = the layer makes the labels no cheaper to send). Rows are sent group by group.
        cache_dir: Folder of an activation cache, one safetensors file per (checkpoint
            fingerprint, skill hash, hooks, examples); probes can then be re-fit without
            another forward pass. ``None`` caches nothing.
    """

    skills: tuple[str, ...]
    n_examples: int = 300
    train_frac: float = 0.7
    probe_C: float = 1.0
    seed: int = 0
    hooks: tuple[str, ...] = ()
    batch_size: int = 64
    device: str = "cpu"
    threads: int = 1
    max_batch_tokens: int | None = None
    memory_budget_mb: float | None = None
    cache_dir: str | None = None
    mdl: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.skills, str):
            object.__setattr__(self, "skills", (self.skills,))
        object.__setattr__(self, "skills", tuple(self.skills))
        object.__setattr__(self, "hooks", tuple(self.hooks))
        if not self.skills:
            raise ConfigError("SweepConfig.skills is empty; name at least one skill.")
        for s in self.skills:
            get_skill(s)  # raises with "did you mean"
        if (
            isinstance(self.n_examples, bool)
            or not isinstance(self.n_examples, int)
            or self.n_examples < 20
        ):
            raise ConfigError(
                f"SweepConfig.n_examples = {self.n_examples!r}; expected an int "
                ">= 20 (probes need a train and a test split)."
            )
        if not 0.1 <= self.train_frac <= 0.9:
            raise ConfigError(f"SweepConfig.train_frac = {self.train_frac!r}; expected 0.1..0.9.")
        if not self.probe_C > 0:
            raise ConfigError(f"SweepConfig.probe_C = {self.probe_C!r}; expected > 0.")
        for name in ("batch_size", "threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"SweepConfig.{name} = {v!r}; expected an int >= 1.")
        v = self.max_batch_tokens
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ConfigError(
                f"SweepConfig.max_batch_tokens = {v!r}; expected an int >= 1 or None."
            )
        v = self.memory_budget_mb
        if v is not None and not (isinstance(v, int | float) and v > 0):
            raise ConfigError(f"SweepConfig.memory_budget_mb = {v!r}; expected > 0 or None.")
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
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(
                f"Unknown sweep config key(s) {bad}; expected some of {sorted(known)}."
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def probe_settings(self) -> dict:
        """Every setting a stored score depends on: examples, split, C, seed, hooks, MDL and the
        control and split versions. Their hash (:meth:`probe_key`) keys every row."""
        d = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if k in ("n_examples", "train_frac", "probe_C", "seed", "hooks", "mdl")
        }
        d["control_version"] = _CONTROL_VERSION
        d["split_version"] = SPLIT_VERSION
        return d

    def probe_key(self) -> str:
        """The ``probe_key`` of this sweep's rows and items: a hash of :meth:`probe_settings`.

        >>> from dataclasses import replace
        >>> a = SweepConfig(skills=("facts",), n_examples=40)
        >>> a.probe_key() == replace(a, batch_size=8).probe_key()
        True
        >>> a.probe_key() == replace(a, n_examples=60).probe_key()
        False
        """
        return hashlib.sha256(
            json.dumps(self.probe_settings(), sort_keys=True).encode()
        ).hexdigest()[:10]


#: Bump when the control-task labelling changes, so stored units are recomputed.
_CONTROL_VERSION = 4
