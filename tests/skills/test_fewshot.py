"""Few-shot skills: templates, k-shot rendering after the group split, JSONL files, a sweep."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from curriculens.cli.main import main
from curriculens.errors import ConfigError, SkillError
from curriculens.probes.splits import draw_items
from curriculens.skills import get_skill, unregister_skill
from curriculens.skills.builtin.toy import CITIES, FACTS
from curriculens.skills.fewshot import (
    SEPARATOR,
    demonstration,
    render_k_shot,
    render_query,
    template_problem,
)
from curriculens.skills.files import load_skill_file, validate_skill_file
from curriculens.skills.registry import Example, Skill, resolve_read_position

HEADER = {
    "name": "fs_lives",
    "version": 1,
    "format": "continuation",
    "label_names": list(CITIES),
    "shots": 3,
    "template": "{input} : {output}",
    "probe": "the person's city, read at ':'; split by group (the person)",
}


def _file(path, header=HEADER, rows=None):
    rows = rows or [
        {"input": p, "output": c, "label": c, "group": p} for p, c in sorted(FACTS.items())
    ]
    path.write_text("\n".join(json.dumps(r) for r in [{"curriculens_skill": header}, *rows]))
    return path


def test_templates():
    assert template_problem("{input} -> {output}") == ""
    assert "end with one space" in template_problem("{input} ->{output}")
    assert "once each" in template_problem("{input} {input} {output}")
    assert "once each" in template_problem("{x} {output}")
    assert render_query("Q: {input} A: {output}", "cat") == "Q: cat A:"
    ex = Example(prompt="Q: cat A:", target="cats", label=0)
    assert demonstration(ex) == "Q: cat A: cats"


def test_a_skill_checks_its_few_shot_fields():
    base = dict(name="x", version=1, family="f", build=lambda r, n: [], label_names=("a", "b"))
    with pytest.raises(SkillError, match="needs a template"):
        Skill(**base, format="continuation", shots=2)
    with pytest.raises(SkillError, match="format 'continuation'"):
        Skill(**base, format="choice", shots=2, template="{input} = {output}")
    with pytest.raises(SkillError, match="shots=-1"):
        Skill(**base, format="continuation", shots=-1, template="{input} = {output}")
    s = Skill(**base, format="continuation", shots=2, template="{input} = {output}")
    assert s.shots == 2


def _test_group_demos(zero, train, examples, shots: int) -> int:
    """How many shown demonstrations are test queries' pairs (read from the prompts' text)."""
    test_pairs = {demonstration(z) for z, tr in zip(zero, train, strict=True) if not tr}
    lines = (line for ex in examples for line in ex.prompt.split(SEPARATOR)[:shots])
    return sum(line in test_pairs for line in lines)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demonstrations_never_come_from_test_groups(tmp_path, seed):
    skill = load_skill_file(_file(tmp_path / "fs.jsonl"), register=False)
    items = draw_items(skill, 300, seed=seed)
    queries = items.queries
    assert len(queries) == len(FACTS) and items.exhausted
    assert items.n == 6 * len(FACTS) and len(items.demos) == items.n  # 300 // 48 sets each
    assert len({e.prompt for e in items.examples}) == items.n  # distinct prompts
    q_groups = np.array([q.group_key for q in queries])
    q_train = np.array([items.train[items.query == k][0] for k in range(len(queries))])
    test_groups = set(items.groups[~items.train])
    assert test_groups == set(q_groups[~q_train])
    for ex, k, pick, group, tr in zip(
        items.examples, items.query, items.demos, items.groups, items.train, strict=True
    ):
        assert q_groups[k] == group and q_train[k] == tr  # an item sits in its query's split
        assert len(pick) == 3 == len(set(pick))
        assert all(q_train[j] for j in pick)  # training queries only
        assert not set(q_groups[list(pick)]) & test_groups
        assert group not in set(q_groups[list(pick)])  # never its own answer
        shown = [demonstration(queries[j]) for j in pick]
        assert ex.prompt == SEPARATOR.join([*shown, queries[k].prompt])
    # the same, read from the text alone; and the check catches a render that leaks
    assert _test_group_demos(queries, q_train, items.examples, 3) == 0
    leaky, _, _ = render_k_shot(queries, q_groups, np.ones(len(queries), bool), 3, seed)
    assert _test_group_demos(queries, q_train, leaky, 3) > 0


def test_too_few_training_items_for_the_shots_is_an_error(tmp_path):
    header = HEADER | {"shots": 25}
    rows = [{"input": p, "output": c, "label": c, "group": p} for p, c in sorted(FACTS.items())]
    skill = load_skill_file(_file(tmp_path / "fs.jsonl", header, rows[:30]), register=False)
    with pytest.raises(ConfigError, match="25 demonstrations per prompt need 25 training"):
        draw_items(skill, 300, seed=0)


def test_read_after_is_found_in_the_query_not_in_a_demonstration(toy_tokenizer):
    zero = [
        Example(prompt=f"{p} :", target=c, label=CITIES.index(c), group=p, read_after=p)
        for p, c in sorted(FACTS.items())[:10]
    ]
    groups = np.array([e.group for e in zero])
    shown, _, _ = render_k_shot(zero, groups, np.arange(10) < 7, 2, 0)
    for z, ex in zip(zero, shown, strict=True):
        ids, pos = resolve_read_position(toy_tokenizer, ex)
        assert pos == len(ids) - 2  # the person of the query, before ':'
        assert toy_tokenizer.convert_ids_to_tokens(ids[pos]) == z.group


def test_file_problems(tmp_path):
    bad = _file(tmp_path / "a.jsonl", HEADER | {"template": "{input} :{output}"})
    assert any("template" in p and "end with one space" in p for p in validate_skill_file(bad))
    no_t = {k: v for k, v in HEADER.items() if k != "template"}
    assert any("needs one" in p for p in validate_skill_file(_file(tmp_path / "b.jsonl", no_t)))
    rows = [{"prompt": "kaval :", "output": "rome", "label": 1}, {"input": "x", "label": 0}]
    problems = validate_skill_file(_file(tmp_path / "c.jsonl", rows=rows))
    assert any(":2: prompt: given in a file with a template" in p for p in problems)
    assert any(":2: input: missing required field" in p for p in problems)
    assert any(":3: output: missing required field" in p for p in problems)
    assert not any("prompt: missing" in p for p in problems)  # one problem, named once
    rows = [{"input": "kabel", "output": "rome", "label": 1, "read_at": 0}]
    problems = validate_skill_file(_file(tmp_path / "d.jsonl", rows=rows))
    assert any("read_at: 0 counts from the start" in p for p in problems)
    plain = {k: v for k, v in HEADER.items() if k not in ("shots", "template")}
    rows = [{"input": "kabel", "prompt": "kabel :", "target": "rome", "label": 1}]
    problems = validate_skill_file(_file(tmp_path / "e.jsonl", plain, rows))
    assert any("input: given without a header template" in p for p in problems)


def test_validate_show_sweep_and_probe_a_jsonl_few_shot_skill(toy_series, tmp_path, capsys):
    from curriculens.analysis.table import load_table
    from curriculens.pipeline.run import SweepConfig, skill_items, sweep

    path = _file(tmp_path / "fs_lives.jsonl")
    assert main(["skills", "validate", str(path)]) == 0
    assert ": ok (48 items in 48 groups" in capsys.readouterr().out
    assert main(["skills", "show", str(path), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "few-shot: 3 demonstrations per prompt" in out
    assert out.count("prompt: ") == 2
    skill = load_skill_file(path)
    try:
        series = tmp_path / "checkpoints"
        shutil.copytree(toy_series, series)
        cfg = SweepConfig(skills=("fs_lives",), n_examples=100)
        sweep(series, tmp_path / "run", config=cfg, progress=False)
        items = skill_items(get_skill("fs_lives"), cfg)
        assert all(ex.prompt.count(SEPARATOR) == 3 for ex in items.examples)
        df = load_table(tmp_path / "run")
        mine = df[df["skill"] == "fs_lives"]
        assert set(mine["kind"]) >= {"behavior", "probe", "control"}
        assert mine["checkpoint"].nunique() == 3
        beh = mine[(mine["kind"] == "behavior") & (mine["metric"] == "exact_match")]
        assert len(beh) == 3 and beh["n"].eq(96).all()  # 48 queries x 2 demonstration sets
        probe = mine[mine["metric"] == "probe_acc"]
        assert len(probe) > 0 and probe["value"].notna().all()
        assert probe["value"].between(0, 1).all()
        assert skill.content_hash == get_skill("fs_lives").content_hash
    finally:
        unregister_skill("fs_lives")
