"""Built-in skills fit the default number of examples: the core-en word tables hold 300 distinct
queries per skill, and the skills bounded by what exists (countries, one-digit sums, the toy
world) use their whole pool at the default without a warning; other sizes and user skills warn."""

from __future__ import annotations

import pytest

from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.plan import dry_run_text, pool_shortfall, skill_items
from curriculens.skills import Example, get_skill, list_skills, register_skill, unregister_skill

#: core-en skills whose pool is bounded by the world, not by a word list we could grow
BOUNDED = {"en_icl_capital", "en_icl_currency", "en_icl_capital_upper", "en_icl_add1"}


def test_core_en_word_skills_have_300_distinct_items():
    config = SweepConfig(skills=("en_agreement",))
    short = {
        s.name: skill_items(s, config).n
        for s in list_skills("core-en")
        if skill_items(s, config).exhausted
    }
    assert set(short) == BOUNDED, short


def test_builtin_pools_warn_only_off_the_default():
    default = SweepConfig(skills=("en_icl_capital",))
    skill = get_skill("en_icl_capital")
    items = skill_items(skill, default)
    assert items.exhausted and pool_shortfall(skill, items, default) == ""
    other = SweepConfig(skills=("en_icl_capital",), n_examples=200)
    assert "only 46 distinct queries" in pool_shortfall(skill, skill_items(skill, other), other)
    for s in list_skills("toy"):
        assert pool_shortfall(s, skill_items(s, default), default) == "", s.name


@pytest.fixture
def small_user_skill():
    @register_skill("tiny_pool_skill", version=1, family="test", label_names=("a", "b"))
    def build(rng, n):
        return [
            Example(prompt=f"item {i} is", target="x", label=i % 2, group=str(i))
            for i in rng.integers(0, 30, n)
        ]

    yield get_skill("tiny_pool_skill")
    unregister_skill("tiny_pool_skill")


def test_a_user_skill_warns_at_the_default(small_user_skill):
    config = SweepConfig(skills=("tiny_pool_skill",))
    items = skill_items(small_user_skill, config)
    assert "only 30 distinct items" in pool_shortfall(small_user_skill, items, config)


def test_dry_run_lists_whole_pools_in_one_line_not_as_warnings(tmp_path, write_series):
    from curriculens.checkpoints import CheckpointSeries

    series = CheckpointSeries.from_dir(write_series(tmp_path / "s", seeds=(0,)))
    text = dry_run_text(series, SweepConfig(skills=("facts", "add1", "agreement")), tmp_path / "r")
    assert "items:" not in text
    assert "pools: facts 48, add1 100 distinct items" in text
    text = dry_run_text(series, SweepConfig(skills=("facts",), n_examples=100), tmp_path / "r")
    assert "items: facts: only 48 distinct items" in text
