"""The lexical baseline: the mean input embedding of the tokens each read position sees."""

from __future__ import annotations

import numpy as np
import pytest

from curriculens.activations import EncodedSkill
from curriculens.errors import ProbeError
from curriculens.probes.lexical import embed_mean, prompt_tokens


class _Skill:
    name = "s"


def _encoded(seqs, owner, read_pos):
    return EncodedSkill(
        skill=_Skill(),
        examples=[None] * (max(owner) + 1),
        seqs=seqs,
        owner=np.array(owner),
        candidate=np.zeros(len(seqs), int),
        cont_start=np.zeros(len(seqs), int),
        read_pos=np.array(read_pos),
        read_token=np.zeros(max(owner) + 1, int),
        labels=np.zeros(max(owner) + 1, int),
    )


def test_prompt_tokens_stop_at_the_read_position_and_skip_bos():
    # example 0 has two candidate sequences (same prompt), example 1 one
    enc = _encoded([[9, 1, 2, 3, 7], [9, 1, 2, 3, 8], [9, 4, 5, 6]], [0, 0, 1], [2, 2, 3])
    toks = prompt_tokens(enc, skip=1)
    assert [t.tolist() for t in toks] == [[1, 2], [4, 5, 6]]
    assert [t.tolist() for t in prompt_tokens(enc)] == [[9, 1, 2], [9, 4, 5, 6]]


def test_embed_mean_is_the_mean_of_the_rows_and_checks_ids():
    W = np.arange(12, dtype=np.float32).reshape(6, 2)
    got = embed_mean(W, [np.array([0, 2]), np.array([5])])
    np.testing.assert_allclose(got, [[2.0, 3.0], [10.0, 11.0]])
    with pytest.raises(ProbeError, match="outside the embedding matrix"):
        embed_mean(W, [np.array([6])])
    with pytest.raises(ProbeError, match="at least one"):
        embed_mean(W, [np.array([], np.int64)])
