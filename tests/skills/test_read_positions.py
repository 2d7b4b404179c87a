"""Read positions resolve to the intended token on two different tokenizers."""

from __future__ import annotations

import pytest

from curriculens.errors import SkillError
from curriculens.skills import get_skill
from curriculens.skills.builtin.core_en import CORE_EN_SKILLS
from curriculens.skills.builtin.toy import TOY_SKILLS
from curriculens.skills.registry import Example, resolve_read_position


def _read_span(tokenizer, text: str, pos: int) -> tuple[int, int]:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return enc["offset_mapping"][pos]


def _check(tokenizer, skill_names, n=12):
    for name in skill_names:
        for ex in get_skill(name).examples(n, seed=3):
            ids, pos = resolve_read_position(tokenizer, ex)
            assert ids == tokenizer(ex.prompt, add_special_tokens=False)["input_ids"]
            if ex.read_after:
                a, b = _read_span(tokenizer, ex.prompt, pos)
                last = ex.prompt.index(ex.read_after) + len(ex.read_after) - 1
                assert a <= last < b, (name, ex, pos)
            else:
                assert pos == len(ids) + ex.read_at if ex.read_at < 0 else ex.read_at


@pytest.mark.parametrize("tokenizer_name", ["toy_tokenizer", "bpe_tokenizer"])
def test_toy_suite_read_positions(request, tokenizer_name):
    _check(request.getfixturevalue(tokenizer_name), TOY_SKILLS)


@pytest.mark.parametrize("tokenizer_name", ["bpe_tokenizer", "metaspace_tokenizer"])
def test_core_en_read_positions(request, tokenizer_name):
    _check(request.getfixturevalue(tokenizer_name), CORE_EN_SKILLS)


@pytest.mark.parametrize("tokenizer_name", ["bpe_tokenizer", "metaspace_tokenizer"])
def test_targets_only_append_tokens(request, tokenizer_name):
    """``prompt + " " + target`` tokenizes as the prompt's tokens followed by the target's."""
    tokenizer = request.getfixturevalue(tokenizer_name)
    for name in CORE_EN_SKILLS:
        for ex in get_skill(name).examples(20, seed=0):
            prompt = tokenizer(ex.prompt, add_special_tokens=False)["input_ids"]
            for cont in (ex.target, *ex.choices):
                full = tokenizer(f"{ex.prompt} {cont}", add_special_tokens=False)["input_ids"]
                assert full[: len(prompt)] == prompt and len(full) > len(prompt), (name, ex)


def test_same_anchor_different_indices(toy_tokenizer, bpe_tokenizer):
    ex = Example(
        prompt="The currency of the country whose capital is New Delhi is the",
        target="rupee",
        label=1,
        read_after="New Delhi",
    )
    _, toy_pos = resolve_read_position(toy_tokenizer, ex)
    _, bpe_pos = resolve_read_position(bpe_tokenizer, ex)
    assert toy_pos == 9  # word level: one token per word
    a, b = _read_span(bpe_tokenizer, ex.prompt, bpe_pos)
    assert ex.prompt[a:b].strip() and "Delhi".endswith(ex.prompt[a:b].strip()[-3:])
    assert ex.prompt[b:] == " is the"


def test_anchor_inside_a_token(bpe_tokenizer):
    ex = Example(prompt="cat -> cats, dog ->", target="dogs", label=0, read_after="ca")
    _, pos = resolve_read_position(bpe_tokenizer, ex)
    a, b = _read_span(bpe_tokenizer, ex.prompt, pos)
    assert a <= 1 < b


def test_minimal_pair_reads_the_good_sentence(toy_tokenizer):
    ex = Example(prompt="", target="the dogs run .", choices=("the dogs runs .",), label=1)
    ids, pos = resolve_read_position(toy_tokenizer, ex)
    assert (len(ids), pos) == (4, 3)


def test_bad_read_positions_raise(toy_tokenizer):
    with pytest.raises(SkillError, match="read_after='rome' is not in prompt"):
        resolve_read_position(
            toy_tokenizer, Example(prompt="kalo lives in", target="x", label=0, read_after="rome")
        )
    with pytest.raises(SkillError, match=r"read_at=5 is out of range .* \(3 tokens"):
        resolve_read_position(
            toy_tokenizer, Example(prompt="kalo lives in", target="x", label=0, read_at=5)
        )
