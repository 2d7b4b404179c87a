"""User skill files: the JSONL format, BLiMP files, and one exact message per kind of mistake."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from curriculens.errors import SkillFileError
from curriculens.skills import get_skill, list_skills, unregister_skill
from curriculens.skills.files import (
    FileExamples,
    load_skill_file,
    load_skill_files,
    validate_skill_file,
)
from curriculens.skills.registry import _REGISTRY, Example, resolve_read_position

HEADER = {
    "curriculens_skill": {
        "name": "capitals_t",
        "version": 1,
        "format": "continuation",
        "family": "facts",
        "label_names": ["europe", "asia"],
    }
}
GOOD = [
    {"prompt": "The capital of France is", "target": "Paris", "label": "europe",
     "read_after": "France"},
    {"prompt": "The capital of Japan is", "target": "Tokyo", "label": 1},
    {"prompt": "The capital of Spain is", "target": "Madrid", "label": 0, "read_at": -2},
]  # fmt: skip
BLIMP = {
    "sentence_good": "Who should Derek hug after shocking Richard?",
    "sentence_bad": "Who should Derek hug Richard after shocking?",
    "field": "syntax",
    "linguistics_term": "island_effects",
    "UID": "adjunct_island",
    "simple_LM_method": True,
    "one_prefix_method": False,
    "two_prefix_method": False,
    "lexically_identical": True,
    "pairID": "0",
}


@pytest.fixture(autouse=True)
def _clean_registry():
    list_skills()  # load the built-in suites first, so they are not cleaned up
    before = set(_REGISTRY)
    yield
    for name in set(_REGISTRY) - before:
        unregister_skill(name)


def _write(tmp_path, rows, header=HEADER, name="skill.jsonl"):
    lines = ([json.dumps(header)] if header is not None else []) + [
        r if isinstance(r, str) else json.dumps(r) for r in rows
    ]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _header(**changes):
    return {"curriculens_skill": {**HEADER["curriculens_skill"], **changes}}


def _only_problem(path) -> str:
    problems = validate_skill_file(path)
    assert len(problems) == 1, problems
    with pytest.raises(SkillFileError) as err:
        load_skill_file(path)
    assert err.value.problems == problems
    return problems[0]


# ---------------------------------------------------------------- loading good files
def test_header_file_loads_and_registers(tmp_path):
    skill = load_skill_file(_write(tmp_path, GOOD))
    assert get_skill("capitals_t") is skill
    assert (skill.suite, skill.family, skill.format, skill.version) == (
        "user", "facts", "continuation", 1,
    )  # fmt: skip
    assert skill.build.n_examples == 3
    assert set(skill.build.examples) == {
        Example(prompt="The capital of France is", target="Paris", label=0, read_after="France"),
        Example(prompt="The capital of Japan is", target="Tokyo", label=1),
        Example(prompt="The capital of Spain is", target="Madrid", label=0, read_at=-2),
    }


def test_sidecar_replaces_the_header(tmp_path):
    path = _write(tmp_path, GOOD, header=None)
    (tmp_path / "skill.jsonl.meta.json").write_text(json.dumps(HEADER))
    skill = load_skill_file(path, register=False)
    assert skill.name == "capitals_t" and skill.build.n_examples == 3
    assert "capitals_t" not in _REGISTRY


def test_blimp_file_is_read_as_is(tmp_path, bpe_tokenizer):
    other = {**BLIMP, "UID": "wh_island", "sentence_good": "What did he wonder?",
             "sentence_bad": "What did he wonder who saw?"}  # fmt: skip
    path = _write(tmp_path, [BLIMP, other], header=None, name="mixed.jsonl")
    skill = load_skill_file(path)
    assert (skill.name, skill.format, skill.family) == ("blimp_mixed", "minimal_pair", "blimp")
    assert skill.label_names == ("adjunct_island", "wh_island")
    good = skill.build.examples[0]
    assert good == Example(
        prompt="", target=BLIMP["sentence_good"], choices=(BLIMP["sentence_bad"],), label=0
    )
    ids, pos = resolve_read_position(bpe_tokenizer, good)  # on the good sentence
    assert pos == len(ids) - 1 == len(bpe_tokenizer(good.target)["input_ids"]) - 1


def test_single_paradigm_blimp_file_is_named_after_its_uid(tmp_path):
    skill = load_skill_file(_write(tmp_path, [BLIMP, BLIMP], header=None), register=False)
    assert skill.name == "blimp_adjunct_island"
    assert skill.label_names == ("adjunct_island", "other")


def test_blimp_label_field_from_the_sidecar(tmp_path):
    rows = [BLIMP, {**BLIMP, "lexically_identical": False}]
    path = _write(tmp_path, rows, header=None)
    (tmp_path / "skill.jsonl.meta.json").write_text(
        json.dumps({"name": "lexid", "version": 2, "label_field": "lexically_identical"})
    )
    skill = load_skill_file(path, register=False)
    assert (skill.name, skill.version, skill.label_names) == ("lexid", 2, ("false", "true"))
    assert [e.label for e in skill.build.examples] == [1, 0]


def test_file_examples_are_seeded_and_repeat_only_past_the_file(tmp_path):
    rows = [{"prompt": f"item {i}", "target": "x", "label": i % 2} for i in range(10)]
    skill = load_skill_file(_write(tmp_path, rows), register=False)
    a = skill.examples(7, seed=1)
    assert a == skill.examples(7, seed=1) and a != skill.examples(7, seed=2)
    assert len(set(a)) == 7  # no repeats while n <= count
    counts = Counter(skill.examples(25, seed=0))
    assert sorted(counts.values()) == [2] * 5 + [3] * 5  # every example twice, 5 a third time
    assert FileExamples(tuple(a))(np.random.default_rng(0), 7) != a  # shuffled


def test_content_hash_sees_every_line(tmp_path):
    rows = [{"prompt": f"item {i}", "target": "x", "label": i % 2} for i in range(64)]
    h1 = load_skill_file(_write(tmp_path, rows), register=False).content_hash
    rows[-1] = {**rows[-1], "target": "y"}
    h2 = load_skill_file(_write(tmp_path, rows), register=False).content_hash
    assert h1 != h2


def test_register_false_ignores_name_clashes(tmp_path):
    path = _write(tmp_path, GOOD, header=_header(name="agreement"))
    assert load_skill_file(path, register=False).name == "agreement"
    assert get_skill("agreement").suite == "toy"


def test_load_skill_files_reports_all_files(tmp_path):
    a = _write(tmp_path, GOOD, name="a.jsonl")
    b = _write(tmp_path, ["nope"], name="b.jsonl")
    with pytest.raises(SkillFileError) as err:
        load_skill_files([a, b])
    assert [p.split(": ")[0] for p in err.value.problems] == [f"{b}:2"]
    assert "capitals_t" not in _REGISTRY


# ---------------------------------------------------------------- one exact message per mistake
def test_missing_file(tmp_path):
    p = tmp_path / "nope.jsonl"
    assert _only_problem(p) == f"{p}:0: file: no such file — check the path"


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("\n\n")
    assert _only_problem(p) == (
        f'{p}:0: file: the file is empty — write a header line {{"curriculens_skill": {{...}}}} '
        "and one example per line"
    )


def test_non_utf8_bytes(tmp_path):
    p = _write(tmp_path, GOOD)
    p.write_bytes(p.read_bytes().replace(b"Tokyo", b"T\xffkyo"))
    assert _only_problem(p) == (
        f"{p}:3: encoding: byte 0xff at column 51 is not UTF-8 — re-save the file as UTF-8"
    )


def test_line_not_json(tmp_path):
    p = _write(tmp_path, [GOOD[0], "{'prompt': 'single quotes'}"])
    assert _only_problem(p) == (
        f"{p}:3: json: not valid JSON (Expecting property name enclosed in double quotes at "
        'column 2) — write one JSON object per line, e.g. {"prompt": "The capital of France '
        'is", "target": "Paris", "label": 0}'
    )


def test_json_but_not_an_object(tmp_path):
    p = _write(tmp_path, [GOOD[0], '["The capital of Japan is", "Tokyo"]'])
    assert _only_problem(p) == (
        f"{p}:3: json: a JSON list is not an object — wrap the line in {{...}} with "
        "prompt/target/label fields"
    )


def test_deeply_nested_line_is_one_problem_not_a_traceback(tmp_path):
    deep = '{"curriculens_skill": ' + "[" * 100_000 + "]" * 100_000 + "}"
    p = tmp_path / "deep.jsonl"
    p.write_text(deep + "\n" + json.dumps(GOOD[0]) + "\n", encoding="utf-8")
    assert _only_problem(p) == (
        f"{p}:1: json: nested too deeply to read — flatten the line: a skill file needs at most "
        "a few levels of nesting"
    )


def test_missing_required_field(tmp_path):
    p = _write(tmp_path, [{"prompt": "The capital of Japan is", "label": 1}])
    assert _only_problem(p) == (
        f"{p}:2: target: missing required field — add the correct continuation (no leading space)"
    )


def test_wrong_type(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "prompt": 42}])
    assert _only_problem(p) == f"{p}:2: prompt: is an int 42 — use a JSON string"


def test_label_out_of_range(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "label": 2}])
    assert _only_problem(p) == (
        f"{p}:2: label: 2 is out of range — use an int in 0..1 (europe, asia)"
    )


def test_unknown_label_name(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "label": "euorpe"}])
    assert _only_problem(p) == (
        f"{p}:2: label: unknown label name 'euorpe' (did you mean 'europe'?) — use one of "
        "europe, asia"
    )


def test_read_after_not_in_prompt(tmp_path):
    p = _write(tmp_path, [{**GOOD[0], "read_after": "Spain"}])
    assert _only_problem(p) == (
        f"{p}:2: read_after: 'Spain' is not in the prompt — use a substring of the prompt "
        "(the probe reads its last token)"
    )


def test_read_at_not_an_int(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "read_at": "last"}])
    assert _only_problem(p) == (
        f"{p}:2: read_at: is a string 'last' — use an int token index (-1 is the last prompt token)"
    )


def test_read_at_out_of_range_for_any_tokenizer(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "read_at": 500}])
    assert _only_problem(p) == (
        f"{p}:2: read_at: 500 is out of range for a text of 23 characters — use a token index "
        "such as -1 (the last prompt token) or 0 (the first)"
    )


def test_bad_format_name(tmp_path):
    p = _write(tmp_path, GOOD, header=_header(format="multiple_choice"))
    assert _only_problem(p) == (
        f"{p}:1: format: unknown format 'multiple_choice' — use one of continuation, choice, "
        "minimal_pair"
    )


def test_duplicate_name_vs_registry(tmp_path):
    p = _write(tmp_path, GOOD, header=_header(name="en_capital"))
    assert _only_problem(p) == (
        f"{p}:1: name: skill 'en_capital' is already registered (suite core-en) — pick "
        "another name, or call unregister_skill('en_capital') first"
    )


def test_blank_header(tmp_path):
    p = _write(tmp_path, GOOD, header=None)
    p.write_text("\n" + p.read_text())
    assert _only_problem(p) == (
        f'{p}:1: header: line 1 is blank — start the file with the header {{"curriculens_skill":'
        " {...}} (or use a sidecar skill.jsonl.meta.json and start with the first example)"
    )


def test_no_header_and_no_sidecar(tmp_path):
    p = _write(tmp_path, GOOD, header=None)
    assert _only_problem(p).startswith(
        f"{p}:1: curriculens_skill: no header line and no sidecar — add a first line"
    )


def test_choices_missing_for_choice_format(tmp_path):
    p = _write(tmp_path, [GOOD[1]], header=_header(format="choice"))
    assert _only_problem(p) == (
        f"{p}:2: choices: missing for format 'choice' — add \"choices\": [...] with wrong "
        "alternatives"
    )


def test_blimp_line_missing_sentence_bad(tmp_path):
    broken = {k: v for k, v in BLIMP.items() if k != "sentence_bad"}
    p = _write(tmp_path, [BLIMP, broken], header=None)
    assert (
        _only_problem(p)
        == f"{p}:2: sentence_bad: missing required BLiMP field — add 'sentence_bad'"
    )


def test_misspelled_field(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "read_atx": 3}])
    assert _only_problem(p) == (
        f"{p}:2: read_atx: unknown example field (did you mean 'read_at'?) — rename it"
    )


def test_target_with_leading_space(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "target": " Tokyo"}])
    assert _only_problem(p) == (
        f"{p}:2: target: ' Tokyo' starts with whitespace — remove it: the scorer joins prompt "
        "and target with one space"
    )


def test_choices_given_to_a_continuation_skill(tmp_path):
    p = _write(tmp_path, [{**GOOD[1], "choices": ["Kyoto"]}])
    assert _only_problem(p) == (
        f"{p}:2: choices: given for format 'continuation', which never reads them — remove "
        'them, or use "format": "choice" in the header'
    )


def test_header_and_sidecar_together(tmp_path):
    p = _write(tmp_path, GOOD)
    (tmp_path / "skill.jsonl.meta.json").write_text(json.dumps(HEADER))
    assert _only_problem(p) == (
        f"{p}:1: curriculens_skill: the file has a header and a sidecar skill.jsonl.meta.json "
        "— keep only one of them"
    )


def test_header_without_examples(tmp_path):
    p = _write(tmp_path, [])
    assert _only_problem(p) == (
        f"{p}:2: examples: the file has a header but no examples — add one example per line "
        "after the header"
    )


def test_every_problem_is_listed_and_nothing_is_dropped(tmp_path):
    rows = [GOOD[0], "not json", {**GOOD[1], "label": 9}, GOOD[2], {"prompt": "x"}]
    p = _write(tmp_path, rows, header=_header(version=0))
    with pytest.raises(SkillFileError) as err:
        load_skill_file(p)
    lines = [q.split(": ")[0] + ":" + q.split(": ")[1] for q in err.value.problems]
    assert lines == [
        f"{p}:1:version", f"{p}:3:json", f"{p}:4:label", f"{p}:6:target", f"{p}:6:label",
    ]  # fmt: skip
    assert str(err.value).startswith(f"{p}: 5 problem(s); nothing was loaded:")
    assert "capitals_t" not in _REGISTRY


def test_blimp_rows_after_a_header(tmp_path):
    header = {"curriculens_skill": {"name": "islands", "version": 4}}
    skill = load_skill_file(_write(tmp_path, [BLIMP], header=header), register=False)
    assert (skill.name, skill.version, skill.format) == ("islands", 4, "minimal_pair")


def test_blimp_sidecar_that_is_not_an_object(tmp_path):
    path = _write(tmp_path, [BLIMP], header=None)
    sidecar = tmp_path / "skill.jsonl.meta.json"
    sidecar.write_text("[1, 2]")
    assert _only_problem(path) == (
        f"{sidecar}:1: curriculens_skill: is a list, not an object — give an object: "
        '{"name": ..., "version": 1, "format": ..., "label_names": [...]}'
    )
    sidecar.write_text("{nope")
    assert _only_problem(path).startswith(
        f"{sidecar}:1: json: sidecar is not valid UTF-8 JSON (Expecting property name"
    )


def test_blimp_file_with_a_non_blimp_format(tmp_path):
    path = _write(tmp_path, [BLIMP], header=None)
    (tmp_path / "skill.jsonl.meta.json").write_text(json.dumps({"format": "choice"}))
    assert _only_problem(path) == (
        f"{tmp_path / 'skill.jsonl.meta.json'}:1: format: is 'choice' for a BLiMP file — "
        'use "minimal_pair"'
    )


def test_header_that_is_not_an_object(tmp_path):
    p = _write(tmp_path, GOOD, header={"curriculens_skill": "capitals"})
    assert _only_problem(p) == (
        f"{p}:1: curriculens_skill: is a string, not an object — give an object: "
        '{"name": ..., "version": 1, "format": ..., "label_names": [...]}'
    )


def test_bad_label_names_and_unknown_header_field(tmp_path):
    p = _write(tmp_path, GOOD, header=_header(label_names=["europe"], famly="x"))
    assert validate_skill_file(p) == [
        f"{p}:1: famly: unknown header field (did you mean 'family'?) — use only name, version, "
        "format, family, label_names, components, primary_metric, chance, description, "
        "probe, label_field, shots, template",
        f"{p}:1: label_names: is ['europe'] — give a list of at least 2 distinct non-empty "
        'strings, e.g. ["singular", "plural"]',
    ]


def test_a_directory_is_not_a_skill_file(tmp_path):
    assert _only_problem(tmp_path) == (
        f"{tmp_path}:0: file: is a directory — give the path of one .jsonl file"
    )


def test_the_same_name_in_two_files(tmp_path):
    a = _write(tmp_path, GOOD, name="a.jsonl")
    b = _write(tmp_path, GOOD, name="b.jsonl")
    with pytest.raises(SkillFileError) as err:
        load_skill_files([a, b])
    assert err.value.problems == [
        f"{b}:1: name: 'capitals_t' is also defined in {a} — give each file its own name"
    ]
    assert "capitals_t" not in _REGISTRY
    assert [s.name for s in load_skill_files([a])] == ["capitals_t"]
