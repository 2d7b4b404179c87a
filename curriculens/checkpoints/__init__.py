"""Checkpoint series: an ordered list of checkpoints (label, step, tokens seen, weight fingerprint).

A series comes from one of three sources: a directory of Hugging Face checkpoint folders
(``save_pretrained``, e.g. the built-in trainer's ``checkpoints/``), a directory of state-dict files
beside one ``config.json`` and tokenizer (``model_{step}.pt``, ``step{N}.safetensors``,
``ckpt_{N}.pt``), or revisions of a Hugging Face Hub repository (Pythia ``step{N}``, OLMo
``stage1-step{N}-tokens{M}B``). Weights load through safetensors or
``torch.load(weights_only=True)`` only, so a checkpoint can never run code, and only as they
were trained (a missing or unexpected weight is an error). Identical weights under two labels
are reported as duplicates and measured once.

:mod:`~curriculens.checkpoints.series` holds the series, :mod:`~curriculens.checkpoints.checkpoint`
one checkpoint and how it loads, :mod:`~curriculens.checkpoints.weights`
the loading, device and hub checks and fingerprints, :mod:`~curriculens.checkpoints.names` what
names say (steps, tokens, Pythia's schedule); this package re-exports them.
"""

from curriculens.checkpoints.names import (
    PYTHIA_STEPS,
    PYTHIA_TOKENS_PER_STEP,
    parse_step,
    parse_tokens,
)
from curriculens.checkpoints.series import (
    BadCheckpointWarning,
    Checkpoint,
    CheckpointSeries,
    DuplicateCheckpointWarning,
    warn_duplicate,
)
from curriculens.checkpoints.weights import (
    DTYPES,
    WeightScan,
    check_device,
    check_hub_access,
    fingerprint,
    hub_offline,
    nonfinite_weights,
    parse_device,
    read_state_dict,
    scan_weights,
)

__all__ = [
    "DTYPES",
    "PYTHIA_STEPS",
    "PYTHIA_TOKENS_PER_STEP",
    "WeightScan",
    "BadCheckpointWarning",
    "Checkpoint",
    "CheckpointSeries",
    "DuplicateCheckpointWarning",
    "check_device",
    "check_hub_access",
    "fingerprint",
    "hub_offline",
    "nonfinite_weights",
    "parse_device",
    "parse_step",
    "parse_tokens",
    "read_state_dict",
    "scan_weights",
    "warn_duplicate",
]
