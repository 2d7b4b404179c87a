"""Checkpoint series: an ordered list of checkpoints (label, step, tokens seen, weight fingerprint).

A series is read from a directory of Hugging Face checkpoint folders (``save_pretrained``), such as
the ``checkpoints/`` folder the built-in trainer writes. Loading uses safetensors only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from curriculens.errors import CheckpointError

_STEP_PATTERNS = (r"step[_-]?(\d+)", r"checkpoint[_-](\d+)", r"ckpt[_-](\d+)", r"^(\d+)$")


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """One checkpoint of a series.

    Attributes:
        label: Its name (folder name, revision).
        step: Optimizer step.
        tokens: Training tokens seen.
        path: Local folder holding ``config.json`` and weights.
    """

    label: str
    step: int
    tokens: int
    path: Path

    def load(self, *, device: str = "cpu"):
        """Load ``(model, tokenizer)`` from the folder (safetensors weights only)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (self.path / "config.json").exists():
            raise CheckpointError(
                f"Checkpoint {self.label!r}: no config.json in {str(self.path)!r}; point the "
                "series at folders written by save_pretrained."
            )
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(self.path), use_safetensors=True, trust_remote_code=False
            )
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"Checkpoint {self.label!r} at {str(self.path)!r} could not be loaded: {e}. "
                "Check that the folder holds a complete save_pretrained checkpoint with "
                "model.safetensors."
            ) from e
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"Checkpoint {self.label!r}: no usable tokenizer in {str(self.path)!r} ({e}); "
                "save the tokenizer beside the weights (tokenizer.save_pretrained)."
            ) from e
        if len(tokenizer) > model.get_input_embeddings().num_embeddings:
            raise CheckpointError(
                f"Checkpoint {self.label!r}: tokenizer has {len(tokenizer)} tokens but the model "
                f"embeds only {model.get_input_embeddings().num_embeddings}; use the tokenizer "
                "the model was trained with."
            )
        return model.to(device).eval(), tokenizer


def fingerprint(model: torch.nn.Module) -> str:
    """A hash over a model's parameters (names, shapes, dtypes and values).

    Two checkpoints with the same fingerprint hold identical weights.
    """
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def parse_step(label: str) -> int | None:
    """Read a training step from a checkpoint name.

    >>> [parse_step(s) for s in ["step512", "checkpoint-100", "ckpt_7", "main"]]
    [512, 100, 7, None]
    """
    for pat in _STEP_PATTERNS:
        m = re.search(pat, label)
        if m:
            return int(m.group(1))
    return None


@dataclass(frozen=True)
class CheckpointSeries:
    """An ordered series of checkpoints, sorted by step.

    >>> series = CheckpointSeries.from_dir("runs/demo/checkpoints")  # doctest: +SKIP
    >>> [c.step for c in series][:3]  # doctest: +SKIP
    [0, 1, 2]
    """

    checkpoints: tuple[Checkpoint, ...]
    source: str = ""
    meta: dict = field(default_factory=dict, compare=False)

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)

    def __getitem__(self, i: int) -> Checkpoint:
        return self.checkpoints[i]

    @classmethod
    def from_dir(cls, path: str | Path, *, tokens_per_step: int | None = None) -> CheckpointSeries:
        """Read every ``save_pretrained`` folder under ``path`` as one series.

        The step comes from ``curriculens_checkpoint.json`` (written by the built-in trainer) or
        from the folder name (``step512``, ``checkpoint-100``). Tokens come from that file or
        from ``step * tokens_per_step``.
        """
        root = Path(path)
        if not root.is_dir():
            raise CheckpointError(
                f"Checkpoint directory {str(root)!r} does not exist or is not a directory."
            )
        found = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            if not (d / "config.json").exists():
                continue
            info = {}
            if (d / "curriculens_checkpoint.json").exists():
                info = json.loads((d / "curriculens_checkpoint.json").read_text())
            step = info.get("step", parse_step(d.name))
            if step is None:
                raise CheckpointError(
                    f"Cannot tell the step of checkpoint folder {d.name!r}; name it like "
                    "'step512' or 'checkpoint-512'."
                )
            if "tokens" in info:
                tokens = int(info["tokens"])
            elif tokens_per_step is not None:
                tokens = int(step) * int(tokens_per_step)
            else:
                raise CheckpointError(
                    f"Checkpoint {d.name!r} does not record tokens seen; pass tokens_per_step= "
                    "(e.g. batch_size * seq_len of the run)."
                )
            found.append(Checkpoint(label=d.name, step=int(step), tokens=tokens, path=d))
        if not found:
            raise CheckpointError(
                f"No checkpoints in {str(root)!r}: expected sub-folders holding config.json "
                "(written by save_pretrained), e.g. step0/, step512/."
            )
        found.sort(key=lambda c: c.step)
        steps = [c.step for c in found]
        dup = sorted({s for s in steps if steps.count(s) > 1})
        if dup:
            raise CheckpointError(
                f"Several checkpoint folders claim step(s) {dup} in {str(root)!r}."
            )
        return cls(tuple(found), source=str(root))

    def tokens(self) -> np.ndarray:
        return np.array([c.tokens for c in self.checkpoints])
