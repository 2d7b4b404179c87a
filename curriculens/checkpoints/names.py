"""What checkpoint and revision names say: the step (``step512``, ``checkpoint-512``), the tokens
seen (OLMo's ``...-tokens5B``), and the schedules known here (Pythia's 154 revisions, ``main``).
"""

from __future__ import annotations

import re
from pathlib import Path

from curriculens.checkpoints.weights import check_hub_access
from curriculens.errors import CheckpointError

_STEP_PATTERNS = (
    r"step[_-]?(\d+)",
    r"checkpoint[_-](\d+)",
    r"ckpt[_-](\d+)",
    r"model[_-](\d+)",
    r"^(\d+)$",
)
_TOKENS_PATTERN = r"tokens(\d+(?:\.\d+)?)([KMBT])"
_TOKEN_UNITS = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
#: Tokens per optimizer step of the Pythia suite (1024 sequences x 2048 tokens).
PYTHIA_TOKENS_PER_STEP = 2_097_152
#: The revisions of every Pythia model: step0, the log-spaced step1..step512, then every 1000
#: steps to step143000 (the weights on ``main``).
PYTHIA_STEPS = (0, *(2**i for i in range(10)), *range(1000, 143_001, 1000))


def parse_step(label: str) -> int | None:
    """Read a training step from a checkpoint name.

    >>> [parse_step(s) for s in ["step512", "checkpoint-100", "ckpt_7", "model_3", "main"]]
    [512, 100, 7, 3, None]
    >>> parse_step("stage1-step1000-tokens5B")
    1000
    """
    for pat in _STEP_PATTERNS:
        m = re.search(pat, label)
        if m:
            return int(m.group(1))
    return None


def parse_tokens(label: str) -> int | None:
    """Read tokens seen from an OLMo-style revision name (``...-tokens{M}B``).

    >>> parse_tokens("stage1-step1000-tokens5B"), parse_tokens("step512")
    (5000000000, None)
    """
    m = re.search(_TOKENS_PATTERN, label)
    if not m:
        return None
    return int(round(float(m.group(1)) * _TOKEN_UNITS[m.group(2)]))


def is_pythia(repo_id: str) -> bool:
    return repo_id.lower().startswith("eleutherai/pythia")


def known_steps(repo_id: str) -> tuple[int, ...] | None:
    """The revision steps of a model family whose schedule is known (Pythia), else ``None``."""
    return PYTHIA_STEPS if is_pythia(repo_id) else None


def final_step(repo_id: str) -> int:
    """The step of ``main``: the last step of a known schedule, else a :class:`CheckpointError`."""
    steps = known_steps(repo_id)
    if steps is None:
        raise CheckpointError(
            f"Revision 'main' of {repo_id!r}: its training step is not known here (it is known "
            "for EleutherAI/pythia*, where main is step143000). Name the final revision instead, "
            "e.g. 'stage1-step1000-tokens5B' for OLMo (huggingface_hub.list_repo_refs lists "
            "the branches)."
        )
    return steps[-1]


def list_step_revisions(repo_id: str) -> list[str]:
    if Path(repo_id).is_dir():
        raise CheckpointError(
            f"{repo_id!r} is a local folder; name the revisions (revisions=[...] or steps=[...]) "
            "or use CheckpointSeries.from_dir for a directory of checkpoints."
        )
    check_hub_access(repo_id)
    try:
        from huggingface_hub import list_repo_refs

        branches = [b.name for b in list_repo_refs(repo_id).branches]
    except Exception as e:
        raise CheckpointError(
            f"Cannot list the revisions of {repo_id!r} ({type(e).__name__}: {e}); pass "
            "revisions=[...] or steps=[...] explicitly."
        ) from e
    revs = [b for b in branches if parse_step(b) is not None]
    if not revs:
        raise CheckpointError(
            f"{repo_id!r} has no branches named by step (found {sorted(branches)[:10]}); pass "
            "revisions=[...] explicitly."
        )
    return revs
