"""What checkpoint names say: steps, tokens, and Pythia's schedule (checkpoints/names.py)."""

from __future__ import annotations

import pytest

from curriculens.checkpoints import (
    CheckpointSeries,
    parse_step,
    parse_tokens,
)
from curriculens.errors import CheckpointError


def test_parse_names():
    assert parse_step("stage1-step1000-tokens5B") == 1000
    assert parse_tokens("stage1-step1000-tokens5B") == 5_000_000_000
    assert parse_step("model_12") == 12
    assert parse_tokens("step12") is None


def test_hub_main_is_the_final_step_where_the_schedule_is_known():
    s = CheckpointSeries.from_hub("EleutherAI/pythia-160m", revisions=["step0", "main"])
    assert [(c.label, c.revision, c.step) for c in s][-1] == ("main", "main", 143_000)
    assert s[-1].tokens == 143_000 * 2_097_152
    with pytest.raises(CheckpointError, match="'main' of 'allenai/OLMo-1B'.*Name the final"):
        CheckpointSeries.from_hub("allenai/OLMo-1B", revisions=["main"], tokens_per_step=1)
