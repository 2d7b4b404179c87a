"""The core-en suite: its country table, and a forward pass on a tiny GPT-NeoX built here."""

from __future__ import annotations

import pytest

from curriculens.skills import get_skill
from curriculens.skills.builtin.core_en import CORE_EN_SKILLS
from curriculens.skills.builtin.core_en_words import CONTINENTS, COUNTRIES
from curriculens.skills.registry import resolve_read_position


def test_country_table_is_complete():
    assert len(COUNTRIES) >= 40
    assert len({r["country"] for r in COUNTRIES}) == len(COUNTRIES)
    assert len({r["capital"] for r in COUNTRIES}) == len(COUNTRIES)  # capital -> country hop
    for row in COUNTRIES:
        assert set(row) == {"country", "capital", "currency", "continent"}
        assert all(v and v == v.strip() for v in row.values())
        assert row["continent"] in CONTINENTS
    assert {r["continent"] for r in COUNTRIES} == set(CONTINENTS)


@pytest.mark.parametrize("name", CORE_EN_SKILLS)
def test_prompts_are_plain_text(name):
    for ex in get_skill(name).examples(30, seed=0):
        assert ex.prompt == ex.prompt.strip() and "  " not in ex.prompt
        assert ex.target == ex.target.strip()


def test_core_en_runs_on_a_tiny_gpt_neox(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True).eval()
    vocab = model.config.vocab_size
    for name in CORE_EN_SKILLS:
        skill = get_skill(name)
        for ex in skill.examples(2, seed=0):
            prompt_ids, pos = resolve_read_position(tokenizer, ex)
            full = tokenizer(f"{ex.prompt} {ex.target}", add_special_tokens=False)["input_ids"]
            assert full[: len(prompt_ids)] == prompt_ids, (name, ex)  # target only appends
            assert len(full) > len(prompt_ids) and 0 <= pos < len(prompt_ids)
            for wrong in ex.choices:
                alt = tokenizer(f"{ex.prompt} {wrong}", add_special_tokens=False)["input_ids"]
                assert alt[: len(prompt_ids)] == prompt_ids and alt != full
            with torch.no_grad():
                out = model(torch.tensor([full]), output_hidden_states=True)
            assert out.logits.shape == (1, len(full), vocab)
            assert torch.isfinite(out.logits).all()
            hidden = out.hidden_states[-1][0, pos]
            assert hidden.shape == (model.config.hidden_size,)
