"""One checkpoint of a series: where its files are, and how it loads (model and tokenizer).

Weights load through safetensors or ``torch.load(weights_only=True)`` only, so a checkpoint can
never run code, and only as they were trained (a missing or unexpected weight is an error).
"""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curriculens.checkpoints.weights import (
    as_torch_dtype,
    check_device,
    check_hub_access,
    check_loading_info,
    check_model_memory,
    check_regular,
    check_state_fits,
    load_state_into,
    load_tokenizer,
    model_shell,
    quiet_loading,
    read_state_dict,
    remote_code_message,
    remote_code_refused,
)
from curriculens.errors import CheckpointError


def _ends_hash(path: Path, size: int, block: int = 1 << 16) -> str | None:
    """A hash of a file's first and last ``block`` bytes (the whole of a smaller file)."""
    try:
        with path.open("rb") as f:
            head = f.read(block)
            if size > 2 * block:
                f.seek(size - block)
            tail = f.read(block)
    except OSError:
        return None
    return hashlib.sha256(head + tail).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """One checkpoint of a series.

    Attributes:
        label: Its name (folder name, file name, revision).
        step: Optimizer step.
        tokens: Training tokens seen.
        path: Local folder holding ``config.json`` and the tokenizer (and, for a Hugging Face
            folder, the weights). ``None`` for a hub checkpoint.
        weights: A state-dict file to load into a model built from ``path/config.json``.
        repo: Hub repository id (or a local ``save_pretrained`` folder standing in for one).
        revision: Hub revision (branch, tag or commit).
        trust_remote_code: Let the checkpoint run its own Python code (``auto_map`` in its
            config or tokenizer), passed to ``from_pretrained``; off by default, and a
            checkpoint that needs it is refused in one line (never a prompt on stdin).
        fingerprint: Weight hash, when already computed (local series compute it up front).
    """

    label: str
    step: int
    tokens: int
    path: Path | None = None
    weights: Path | None = None
    repo: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        for name in ("step", "tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                raise CheckpointError(
                    f"Checkpoint {self.label!r}: {name} = {v!r}; expected an int >= 0 (steps "
                    "and tokens seen count up from 0)."
                )

    def file_signature(self) -> str | None:
        """A hash of this local checkpoint's weight and config files' paths, sizes,
        modification and change times, inodes and first and last 64 KiB (``None`` for a hub
        checkpoint): while it is unchanged, a fingerprint computed earlier still holds, so a
        resumed sweep need not load the checkpoint again."""
        if self.path is None:
            return None
        files = (
            [self.weights] if self.weights is not None else sorted(self.path.glob("*.safetensors"))
        )
        parts = []
        for f in [*files, self.path / "config.json"]:
            try:
                st = f.stat()
            except OSError:
                return None
            # ctime and inode too: weights rewritten in place with the same size and a reset
            # modification time still change them (no user can set a ctime)
            parts.append([str(f.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
            if stat.S_ISREG(st.st_mode):  # and the bytes at both ends (a pipe is never read)
                parts[-1].append(_ends_hash(f, st.st_size))
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]

    @property
    def source(self) -> str:
        """``"hf_dir"``, ``"state_dict"`` or ``"hub"``."""
        if self.repo is not None:
            return "hub"
        return "state_dict" if self.weights is not None else "hf_dir"

    def load(self, *, device: str = "cpu", dtype: str = "float32", hf_progress: bool = False):
        """Load ``(model, tokenizer)``; the model is in eval mode on ``device``, in ``dtype``
        (``"float32"``, ``"bfloat16"`` or ``"float16"``; the weights are cast as they load).
        The Hugging Face download and loading bars are hidden unless ``hf_progress``.

        Raises:
            CheckpointError: The files are missing, corrupt, would run code when unpickled, do
                not match the config, the revision does not exist, or the tokenizer's vocabulary
                does not fit the model.
        """
        check_device(device)
        torch_dtype = as_torch_dtype(dtype)
        with quiet_loading(show=hf_progress):
            if self.source == "hub":
                model, tokenizer = self._load_hub(torch_dtype)
            else:
                model, tokenizer = self._load_local(torch_dtype)
        n_embed = model.get_input_embeddings().num_embeddings
        if len(tokenizer) > n_embed:
            raise CheckpointError(
                f"Checkpoint {self.label!r}: tokenizer has {len(tokenizer)} tokens but the model "
                f"embeds only {n_embed}; use the tokenizer the model was trained with."
            )
        return model.to(device).eval(), tokenizer

    def _load_local(self, dtype):
        from transformers import AutoConfig, AutoModelForCausalLM

        if self.path is None or not (self.path / "config.json").exists():
            raise CheckpointError(
                f"Checkpoint {self.label!r}: no config.json in {str(self.path)!r}; point the "
                "series at folders written by save_pretrained (or, for state-dict files, put "
                "the model's config.json beside them)."
            )
        files = [self.weights] if self.weights is not None else self.path.glob("*.safetensors")
        check_regular(self.label, [*files, self.path / "config.json"])
        try:
            config = AutoConfig.from_pretrained(
                str(self.path), trust_remote_code=self.trust_remote_code
            )
        except (OSError, ValueError) as e:
            if remote_code_refused(e):
                raise CheckpointError(remote_code_message(self.label, str(self.path))) from e
            raise CheckpointError(
                f"Checkpoint {self.label!r}: cannot read {str(self.path / 'config.json')!r}"
                f" ({e}); it must be a Hugging Face model config."
            ) from e
        # the model the config implies, on a device that holds no memory: its size is compared
        # with the memory available (and a state dict's shapes with it) before any allocation
        try:
            shell = model_shell(config, dtype, self.trust_remote_code)
        except Exception as e:  # a config transformers cannot build a causal LM from
            raise CheckpointError(
                f"Checkpoint {self.label!r}: no causal language model can be built from "
                f"{str(self.path / 'config.json')!r} ({type(e).__name__}: "
                f"{str(e).splitlines()[0][:200] if str(e) else ''})."
            ) from e
        check_model_memory(shell, label=self.label, where=self.path / "config.json")
        if self.weights is None:
            try:
                model, info = AutoModelForCausalLM.from_pretrained(
                    str(self.path),
                    config=config,
                    use_safetensors=True,
                    trust_remote_code=self.trust_remote_code,
                    output_loading_info=True,
                    dtype=dtype,
                )
            except Exception as e:  # safetensors, OSError, ValueError, RuntimeError, ...
                if remote_code_refused(e):
                    raise CheckpointError(remote_code_message(self.label, str(self.path))) from e
                raise CheckpointError(
                    f"Checkpoint {self.label!r} at {str(self.path)!r} could not be loaded "
                    f"({type(e).__name__}: {str(e).splitlines()[0][:300]}). Check that the "
                    "folder holds a complete save_pretrained checkpoint with model.safetensors "
                    "(a truncated or partly copied file cannot be read)."
                ) from e
            check_loading_info(info, label=self.label, where=self.path)
        else:
            state = read_state_dict(self.weights)
            check_state_fits(shell, state, label=self.label, weights=self.weights)
            model = AutoModelForCausalLM.from_config(
                config, dtype=dtype, trust_remote_code=self.trust_remote_code
            )
            load_state_into(model, state, label=self.label, weights=self.weights)
            del state
        return model, load_tokenizer(
            str(self.path), self.label, trust_remote_code=self.trust_remote_code
        )

    def _load_hub(self, dtype):
        from transformers import AutoModelForCausalLM

        check_hub_access(self.repo, self.revision)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                self.repo,
                revision=self.revision,
                trust_remote_code=self.trust_remote_code,
                dtype=dtype,
            )
        except Exception as e:  # hub errors come in many types (HTTP, offline, revision)
            raise CheckpointError(
                f"Checkpoint {self.label!r}: revision {self.revision!r} of {self.repo!r} could "
                f"not be loaded ({type(e).__name__}: {e}). Check that the revision exists "
                "(huggingface_hub.list_repo_refs lists branches) and that the repository is "
                "reachable or cached when HF_HUB_OFFLINE=1."
            ) from e
        return model, load_tokenizer(
            self.repo, self.label, revision=self.revision, trust_remote_code=self.trust_remote_code
        )
