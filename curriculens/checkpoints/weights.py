"""Checkpoint weights: read them without running code, load them exactly as trained, hash them.

Weights load through safetensors or ``torch.load(weights_only=True)`` only, so a checkpoint can
never run code. A checkpoint is measured only as it was trained: a missing, unexpected or
mis-shaped weight is an error naming it (transformers would fill a missing one with random
values). The device is checked before anything loads, and :func:`nonfinite_weights` finds
NaN or infinite weights.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from curriculens.errors import CheckpointError, ConfigError
from curriculens.params import flag

if TYPE_CHECKING:  # torch loads when weights do, not when a report imports the package
    import torch

#: Dtypes a checkpoint can be loaded in (``SweepConfig.dtype``, ``--dtype``).
DTYPES = ("float32", "bfloat16", "float16")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "vocab.txt",
    "tokenizer.model",
    "spiece.model",
)


def load_tokenizer(
    where: str, label: str, revision: str | None = None, *, trust_remote_code: bool = False
):
    """The tokenizer saved at ``where``; a tokenizer that names its own Python code
    (``auto_map``) is refused unless ``trust_remote_code`` (never a prompt on stdin)."""
    from transformers import AutoTokenizer

    if Path(where).is_dir() and not any((Path(where) / f).exists() for f in _TOKENIZER_FILES):
        raise CheckpointError(
            f"Checkpoint {label!r}: no tokenizer in {where!r} (none of "
            f"{', '.join(_TOKENIZER_FILES[:3])}, ...). Save the tokenizer the model was trained "
            "with beside it: tokenizer.save_pretrained(folder)."
        )
    try:
        return AutoTokenizer.from_pretrained(
            where, revision=revision, trust_remote_code=trust_remote_code
        )
    except Exception as e:
        if remote_code_refused(e):
            raise CheckpointError(remote_code_message(label, where)) from None
        raise CheckpointError(
            f"Checkpoint {label!r}: no usable tokenizer in {where!r} ({e}); save the tokenizer "
            "beside the weights (tokenizer.save_pretrained)."
        ) from e


def remote_code_refused(e: Exception) -> bool:
    """Whether transformers refused ``e`` because the checkpoint asks to run its own code."""
    text = str(e)
    return "trust_remote_code" in text or "contains custom code" in text


def remote_code_message(label: str, where: str) -> str:
    """The one-line refusal of a checkpoint whose config or tokenizer names its own code."""
    return (
        f"Checkpoint {label!r} at {where!r} names its own Python code (auto_map in its config "
        "or tokenizer_config.json); curriculens never runs a checkpoint's code without being "
        "told. Use a checkpoint of a model transformers implements, or, for a checkpoint from a "
        f"source you trust, pass {flag('trust_remote_code')} (trust_remote_code=True from "
        "Python)."
    )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``torch.save`` file without running code.

    ``.pt``/``.pth``/``.bin`` files load with ``torch.load(weights_only=True)``: a pickle that
    would call anything beyond tensor reconstruction is refused. A ``{"state_dict": ...}`` or
    ``{"model": ...}`` wrapper is unwrapped.

    Raises:
        CheckpointError: The file is missing, corrupt, or unsafe to unpickle.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"State-dict file {str(path)!r} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(
                f"State-dict file {str(path)!r} is corrupt or not safetensors ({e}); re-save "
                "it with safetensors.torch.save_file."
            ) from e
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"Refused to load {str(path)!r}: its pickle would run code beyond rebuilding "
                f"tensors ({str(e).splitlines()[0][:200]}). curriculens only loads weights "
                "(torch.load(weights_only=True)); convert the checkpoint to safetensors in a "
                "process you trust."
            ) from e
        except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
            raise CheckpointError(
                f"State-dict file {str(path)!r} is corrupt or truncated ({type(e).__name__}: "
                f"{e}); re-save it with torch.save(model.state_dict(), path)."
            ) from e
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{str(path)!r} does not hold a state dict (a mapping of names to tensors); got "
            f"{type(state).__name__}. Save one with torch.save(model.state_dict(), path)."
        )
    return state


def check_loading_info(info: dict, *, label: str, where) -> None:
    """A checkpoint is measured only as it was trained: no weight may be missing (transformers
    would fill it with random values), unexpected or of another shape."""
    missing = sorted(info.get("missing_keys") or [])
    unexpected = sorted(info.get("unexpected_keys") or [])
    mismatched = sorted(str(k) for k in info.get("mismatched_keys") or [])
    if missing or unexpected or mismatched:
        parts = []
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("of another shape", mismatched),
        ):
            if keys:
                more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
                parts.append(f"{what}: {', '.join(map(str, keys[:3]))}{more}")
        raise CheckpointError(
            f"Checkpoint {label!r} at {str(where)!r}: its weights do not match its config.json "
            f"({'; '.join(parts)}). Missing weights would be filled with random values, so it is "
            "not measured. Put the config.json of the model that wrote these weights beside them."
        )


def _renamed(model, state: dict) -> dict:
    """``state`` with the key renames transformers applies when loading (e.g. GPT-NeoX's saved
    ``embed_out.*`` is ``lm_head.*`` in transformers 5), so save_pretrained's own
    ``model.safetensors`` loads in the state-dict layout too."""
    expected = set(model.state_dict())
    if set(state) <= expected:
        return state
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping

        rules = [
            (re.compile(src), w.target_patterns[0])
            for w in get_model_conversion_mapping(model)
            if type(w).__name__ == "WeightRenaming" and len(w.target_patterns) == 1
            for src in w.source_patterns
        ]
    except Exception:  # an older or newer transformers: compare the keys as they are
        return state
    out = {}
    for k, v in state.items():
        if k not in expected:
            for pat, target in rules:
                new = pat.sub(target, k)
                if new != k and new in expected and new not in state:
                    k = new
                    break
        out[k] = v
    return out


def check_state_fits(model, state: dict, *, label: str, weights: Path) -> tuple[dict, set]:
    """``(state renamed to the model's keys, tied keys)`` when every tensor of ``state`` fits
    ``model`` (which may live on the ``meta`` device: nothing is allocated); else a
    :class:`CheckpointError` naming the mismatches."""
    state = _renamed(model, state)
    expected = model.state_dict()
    shape_bad = [
        f"{k}: file {tuple(v.shape)} vs config {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    missing = sorted(set(expected) - set(state))
    tied = {k for k in missing if _is_tied(model, k)}
    missing = [k for k in missing if k not in tied]
    unexpected = sorted(set(state) - set(expected))
    if shape_bad or missing or unexpected:
        parts = []
        if shape_bad:
            parts.append(f"shape mismatch {shape_bad[:3]}")
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        raise CheckpointError(
            f"Checkpoint {label!r}: state dict {str(weights)!r} does not match config.json "
            f"({'; '.join(parts)}). Put the config of the model that wrote these weights beside "
            "them."
        )
    return state, tied


def load_state_into(model, state: dict, *, label: str, weights: Path) -> None:
    """Load ``state`` into ``model`` after :func:`check_state_fits`."""
    state, tied = check_state_fits(model, state, label=label, weights=weights)
    model.load_state_dict(state, strict=False)
    if tied:
        model.tie_weights()


def model_shell(config, dtype, trust_remote_code: bool = False):
    """The model ``config`` describes on the ``meta`` device: its shapes, no memory (a config
    that implies 200 GB costs nothing until it is compared with the weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(
            config, dtype=dtype, trust_remote_code=trust_remote_code
        )


#: Share of the available memory a checkpoint's model may take (the forwards need the rest).
MODEL_MEMORY_SHARE = 0.9


def check_model_memory(shell, *, label: str, where) -> int:
    """The bytes of the model ``shell`` (built on the ``meta`` device by :func:`model_shell`)
    when they fit in :data:`MODEL_MEMORY_SHARE` of the memory available now; else a
    :class:`CheckpointError` with both sizes, raised before anything is allocated (a
    ``config.json`` that implies 200 GB is refused in a second)."""
    import psutil

    tensors = [*shell.parameters(), *shell.buffers()]
    need = sum(t.numel() * t.element_size() for t in tensors)
    free = psutil.virtual_memory().available
    if need > MODEL_MEMORY_SHARE * free:
        n = sum(p.numel() for p in shell.parameters())
        raise CheckpointError(
            f"Checkpoint {label!r}: {str(where)!r} describes a model of {n:,} parameters "
            f"({need / 1e9:,.1f} GB in {str(shell.dtype).removeprefix('torch.')}), more than the "
            f"{free / 1e9:,.1f} GB of memory available; nothing was allocated. Check that the "
            f"config.json is the one of these weights, or load in a smaller {flag('dtype')}, "
            "or use a machine with more memory."
        )
    return need


def check_regular(label: str, files) -> None:
    """Refuse, before reading, any of ``files`` that exists but is not a regular file: a named
    pipe would block the sweep forever, a device never end."""
    for f in files:
        f = Path(f)
        if f.exists() and not f.is_file():
            raise CheckpointError(
                f"Checkpoint {label!r}: {str(f)!r} is not a regular file (a named pipe, device "
                "or folder); put the checkpoint's real file there."
            )


def _is_tied(model, key: str) -> bool:
    out = model.get_output_embeddings()
    return bool(
        getattr(model.config, "tie_word_embeddings", False)
        and out is not None
        and key.endswith("weight")
        and out.weight is model.get_input_embeddings().weight
    )


def parse_device(device: str) -> torch.device:
    """``torch.device(device)``, or :class:`ConfigError` naming the value and what is allowed."""
    import torch

    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(
            f"device {device!r} is not a torch device; expected 'cpu', 'cuda', 'cuda:1' or 'mps'."
        ) from None


def check_device(device: str) -> None:
    """Raise :class:`ConfigError` before anything loads when ``device`` is not usable here."""
    import torch

    d = parse_device(device)
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r}: CUDA is not available on this machine (torch "
                f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}); use "
                f"{flag('device')} cpu, or run where a CUDA GPU is visible."
            )
        n = torch.cuda.device_count()
        if d.index is not None and d.index >= n:
            raise ConfigError(
                f"device {device!r}: this machine has {n} CUDA device(s) (cuda:0 to "
                f"cuda:{n - 1}); pick one of them."
            )
    elif d.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"device {device!r}: MPS is not available here; use {flag('device')} cpu."
        )
    elif d.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {device!r} is not supported; use 'cpu', 'cuda' or 'mps'.")


def nonfinite_weights(model: torch.nn.Module) -> tuple[str, str] | None:
    """``("NaN weights" | "inf weights", first parameter name)``, or None if all are finite."""
    return scan_weights(model, fingerprint=False).nonfinite


def fingerprint(model: torch.nn.Module) -> str:
    """A hash over a model's parameters (names, shapes, dtypes and values).

    Two checkpoints with the same fingerprint hold identical weights.
    """
    return str(scan_weights(model, check_finite=False).fingerprint)


@dataclass(frozen=True)
class WeightScan:
    """What one pass over a model's tensors found (:func:`scan_weights`).

    Attributes:
        fingerprint: :func:`fingerprint`'s hash, or None when not asked for.
        nonfinite: :func:`nonfinite_weights`' answer (None: every weight is finite, or the
            check was not asked for).
    """

    fingerprint: str | None
    nonfinite: tuple[str, str] | None


def scan_weights(
    model: torch.nn.Module, *, fingerprint: bool = True, check_finite: bool = True
) -> WeightScan:
    """The fingerprint and the non-finite check in one pass over the tensors.

    Each tensor is read once: its bytes go to the hash without a copy (a CPU tensor's memory
    is hashed in place) and ``aminmax`` (no temporary of the tensor's size) tells whether it
    holds a NaN or an infinity. The fingerprint is the same value :func:`fingerprint` has always
    given (names in sorted order, shape, dtype, raw bytes), so runs keyed by it resume.

    >>> import torch
    >>> m = torch.nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = m.bias.fill_(float("nan"))
    >>> scan_weights(m).nonfinite
    ('NaN weights', 'bias')
    """
    import torch

    state = model.state_dict()
    h = hashlib.sha256() if fingerprint else None
    bad: dict[str, str] = {}
    for name, t in sorted(state.items()) if h is not None else state.items():
        t = t.detach()
        if h is not None:
            h.update(name.encode())
            h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
            h.update(_tensor_bytes(t))
        if check_finite and t.is_floating_point() and t.numel():
            lo, hi = torch.aminmax(t)
            if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
                bad[name] = "NaN weights" if bool(torch.isnan(t).any()) else "inf weights"
    first = next((n for n in state if n in bad), None)  # the first in the model's own order
    return WeightScan(
        fingerprint=None if h is None else h.hexdigest()[:16],
        nonfinite=None if first is None else (bad[first], first),
    )


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    """A tensor's raw bytes (row-major) as a buffer, copied only when it is not a contiguous CPU
    tensor."""
    import torch

    t = t.cpu().contiguous()
    if t.numel() == 0:
        return memoryview(b"")
    return memoryview(t.view(-1).view(torch.uint8).numpy())


def hub_offline() -> bool:
    """Whether Hugging Face Hub access is switched off (``HF_HUB_OFFLINE=1``)."""
    import os

    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE) or env


def check_hub_access(repo: str, revision: str | None = None, *, timeout: float = 3.0) -> None:
    """Fail at once, with the fix, when a hub checkpoint can be neither downloaded nor read from
    the cache (instead of retrying for tens of seconds). A local folder always passes.

    Raises:
        CheckpointError: ``HF_HUB_OFFLINE=1`` and ``repo@revision`` is not cached, or the Hub
            cannot be reached (set ``HF_HUB_OFFLINE=1`` to use the cache).
    """
    if Path(repo).is_dir():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    where = (f"revision {revision!r} of " if revision else "") + repr(repo)
    cached = isinstance(try_to_load_from_cache(repo, "config.json", revision=revision), str)
    if hub_offline():
        if not cached:
            raise CheckpointError(
                f"{where} is not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 forbids "
                "downloading it. Unset HF_HUB_OFFLINE on a machine with network access, or "
                f"download it first: hf download {repo}"
                + (f" --revision {revision}." if revision else ".")
            )
        return
    import socket
    from urllib.parse import urlparse

    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        hint = (
            "it is cached: set HF_HUB_OFFLINE=1 to use the cache"
            if cached
            else "it is not cached either; run where the Hub is reachable, or download it "
            "first and set HF_HUB_OFFLINE=1"
        )
        raise CheckpointError(
            f"Cannot reach the Hugging Face Hub at {host}:{port} to load {where} ({e}); {hint}."
        ) from None


def as_torch_dtype(dtype: str):
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} is not supported; expected one of {', '.join(DTYPES)}.")
    import torch

    return getattr(torch, dtype)


@contextmanager
def quiet_loading(show: bool = False):
    """Hide the Hugging Face download and weight-loading bars (one per checkpoint) unless
    ``show``; the series shows its own bar instead."""
    if show:
        yield
        return
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging

    hub_off, tf_on = are_progress_bars_disabled(), hf_logging.is_progress_bar_enabled()
    disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not hub_off:
            enable_progress_bars()
        if tf_on:
            hf_logging.enable_progress_bar()


def check_readable(c) -> None:
    """Cheap checks before anything loads: a tokenizer beside the config, and weights whose
    header (safetensors) or archive index (``torch.save``) reads, so a truncated or partly
    copied file is an error before any work."""
    if c.path is None:
        return
    if not any((c.path / f).exists() for f in _TOKENIZER_FILES):
        raise CheckpointError(
            f"Checkpoint {c.label!r}: no tokenizer in {str(c.path)!r} (none of "
            f"{', '.join(_TOKENIZER_FILES[:3])}, ...). Save the tokenizer the model was trained "
            "with beside it: tokenizer.save_pretrained(folder)."
        )
    files = [c.weights] if c.weights is not None else sorted(c.path.glob("*.safetensors"))
    tokenizer = [c.path / f for f in _TOKENIZER_FILES]
    check_regular(c.label, [*files, c.path / "config.json", *tokenizer])
    if c.weights is None and not files:
        raise CheckpointError(
            f"Checkpoint {c.label!r} at {str(c.path)!r} has no model.safetensors; save it with "
            "save_pretrained (safetensors is the default)."
        )
    for f in files:
        _check_weights_file(c.label, f)


def _check_weights_file(label: str, f: Path) -> None:
    import zipfile

    if f.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(f), framework="pt") as h:
                h.keys()
        except Exception as e:
            raise CheckpointError(
                f"Checkpoint {label!r}: {str(f)!r} could not be read ({type(e).__name__}: "
                f"{str(e).splitlines()[0][:200] if str(e) else ''}); a truncated or partly "
                "copied file cannot be read. Copy or save it again."
            ) from None
    elif not zipfile.is_zipfile(f):
        try:  # the legacy (non-zip) torch.save format has no index to check cheaply
            with f.open("rb") as h:
                head = h.read(2)
        except OSError as e:
            raise CheckpointError(f"Checkpoint {label!r}: cannot read {str(f)!r} ({e}).") from None
        if head[:1] != b"\x80":
            raise CheckpointError(
                f"State-dict file {str(f)!r} is corrupt or truncated (not a torch.save "
                "archive); re-save it with torch.save(model.state_dict(), path)."
            )
