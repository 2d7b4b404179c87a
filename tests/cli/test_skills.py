"""The ``curriculens skills`` subcommands, driven through argparse as the CLI wires them."""

from __future__ import annotations

import json
import re

import pytest

from curriculens.cli.main import main
from curriculens.skills import list_skills, unregister_skill
from curriculens.skills.files import validate_skill_file
from curriculens.skills.registry import _REGISTRY


@pytest.fixture(autouse=True)
def _clean_registry():
    list_skills()
    before = set(_REGISTRY)
    yield
    for name in set(_REGISTRY) - before:
        unregister_skill(name)


def run(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)  # the one entry point, as the console script calls it
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _skill_file(tmp_path, rows=None, name="mine.jsonl"):
    header = {"curriculens_skill": {"name": "mine", "version": 3, "format": "choice",
                                    "label_names": ["singular", "plural"]}}  # fmt: skip
    rows = rows or [
        {"prompt": "The keys to the cabinet", "target": "are", "choices": ["is"], "label": 1},
        {"prompt": "The key to the cabinets", "target": "is", "choices": ["are"], "label": 0},
    ]
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(x) for x in [header, *rows]) + "\n")
    return path


def test_list(capsys, tmp_path):
    code, out, _ = run(["skills", "list", "--load", str(_skill_file(tmp_path))], capsys)
    assert code == 0
    lines = out.splitlines()
    header = ["name", "suite", "family", "format", "version", "examples", "probe", "description"]
    assert lines[0].split() == header
    rows = {x.split()[0]: x.split(maxsplit=7) for x in lines[1:]}
    assert lines[1].split()[0] == "agreement"
    for skill in list_skills():
        assert rows[skill.name][:7] == [
            skill.name,
            skill.suite,
            skill.family,
            skill.format,
            str(skill.version),
            "generated" if skill.suite != "user" else "2",
            "yes" if skill.probed else "no",
        ]
        # piped (no terminal), the description is printed whole
        assert rows[skill.name][7:] == ([skill.description] if skill.description else [])
    assert rows["brackets"][6] == "no" and rows["en_capital"][6] == "yes"
    assert lines[-1].split()[:7] == ["mine", "user", "user", "choice", "3", "2", "yes"]


def test_list_cuts_the_description_to_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "140")
    code, out, _ = run(["skills", "list"], capsys)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 140
    assert any(line.endswith("…") for line in out.splitlines())


def test_list_one_suite(capsys):
    code, out, _ = run(["skills", "list", "--suite", "core-en"], capsys)
    assert code == 0 and len(out.splitlines()) == 1 + len(list_skills("core-en"))
    code, _, err = run(["skills", "list", "--suite", "cor-en"], capsys)
    assert code == 2 and "Did you mean 'core-en'?" in err


def test_show_marks_the_read_token(capsys, tiny_model_dir):
    argv = ["skills", "show", "en_agreement_attractor", "--tokenizer", str(tiny_model_dir)]
    code, out, _ = run([*argv, "-n", "4"], capsys)
    assert code == 0
    prompts = [x.split("prompt: ")[1] for x in out.splitlines() if "prompt: " in x]
    assert len(prompts) == 4
    for line in prompts:  # the read token ends the attractor: the token before the verb
        assert re.fullmatch(r"The \w+ (next )?\w+ the \w*⟦\w+⟧", line), line
    assert "unknown to this tokenizer" not in out
    assert "  probe: the subject's number, read at the last prompt token" in out


def test_show_with_the_toy_tokenizer(capsys):
    code, out, _ = run(["skills", "show", "en_capital", "-n", "2", "--seed", "5"], capsys)
    assert code == 0
    assert out.startswith("en_capital v2  suite=core-en  family=facts  format=continuation")
    assert "read positions for: toy word-level tokenizer" in out
    assert len(re.findall(r"prompt: [^\n]*capital[^\n]* ⟦is⟧\n", out)) == 2
    assert len(re.findall(r"\] label=\d \(\w+\)  group='[\w ]+'  read token \d+ of", out)) == 2
    assert "token(s) unknown to this tokenizer; pass --tokenizer" in out


def test_show_states_the_probe_or_its_absence(capsys):
    from curriculens.skills import get_skill

    code, out, _ = run(["skills", "show", "facts", "-n", "1"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[2].startswith("  probe: the person's city, read at 'in'")
    end = next(i for i, x in enumerate(lines) if x.startswith("  labels:"))
    probe = " ".join(x.strip() for x in lines[2:end])
    assert probe == "probe: " + get_skill("facts").probe
    code, out, _ = run(["skills", "show", "add1", "-n", "2"], capsys)
    assert code == 0 and "  no probe (behavior only): " in out
    assert "labels: 0=no_carry, 1=carry  (they only stratify the split)" in out
    assert "⟦" not in out and "read token" not in out and "read positions" not in out
    assert re.search(r"\[1\] label=\d \(\w+\)  group='\d\+\d'\n    prompt: \d \+ \d =\n", out)


def test_show_a_file_and_a_minimal_pair(capsys, tmp_path):
    code, out, _ = run(["skills", "show", str(_skill_file(tmp_path)), "-n", "2"], capsys)
    assert code == 0 and "mine v3  suite=user" in out and "wrong:  is" in out
    blimp = tmp_path / "blimp.jsonl"
    pair = {"sentence_good": "the dogs run .", "sentence_bad": "the dogs runs .", "UID": "sv"}
    blimp.write_text(json.dumps(pair) + "\n")
    code, out, _ = run(["skills", "show", str(blimp), "-n", "1"], capsys)
    assert code == 0
    assert "good:   the dogs run ⟦.⟧" in out and "bad:    the dogs runs ." in out


def test_show_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(["skills", "show", "agrement"], capsys)
    assert code == 2 and err.startswith(
        "curriculens skills: error: Unknown skill 'agrement'. Did you mean 'agreement'?"
    )
    code, _, err = run(["skills", "show", "facts", "--tokenizer", str(tmp_path)], capsys)
    assert code == 2 and err.startswith(
        f"curriculens skills: error: --tokenizer '{tmp_path}' holds no loadable"
    )
    code, _, err = run(["skills", "show", "facts", "-n", "0"], capsys)
    assert code == 2 and "at least 1" in err
    bad = _skill_file(tmp_path, rows=["oops"], name="bad.jsonl")
    code, _, err = run(["skills", "show", str(bad)], capsys)
    assert code == 2 and err.strip() == "curriculens skills: error: " + validate_skill_file(bad)[0]


def _probe_rows(n=40):
    nouns = [f"w{i}" for i in range(n)]
    return [
        {"prompt": f"The {w}{'s' * (i % 2)} near it", "target": ["is", "are"][i % 2],
         "choices": [["are", "is"][i % 2]], "label": i % 2, "group": w}
        for i, w in enumerate(nouns)
    ]  # fmt: skip


def test_validate(capsys, tmp_path):
    good = _skill_file(tmp_path, rows=_probe_rows())
    code, out, _ = run(["skills", "validate", str(good)], capsys)
    assert code == 0
    assert out.startswith(f"{good}: ok (40 items in 40 groups; audit ok: no test prompt or group")
    bad = _skill_file(tmp_path, rows=[{"prompt": "x", "target": "y", "label": 5}, "[]"],
                      name="bad.jsonl")  # fmt: skip
    code, out, err = run(["skills", "validate", str(bad), str(good)], capsys)
    assert code == 1
    assert out.splitlines()[:-1] == validate_skill_file(bad)
    assert out.splitlines()[-1].startswith(f"{good}: ok (")
    assert len(validate_skill_file(bad)) == 3  # label range, missing choices, not an object
    assert err == "1 of 2 file(s) have problems\n"


def test_validate_reports_what_a_probe_cannot_use(capsys, tmp_path):
    tiny = _skill_file(tmp_path, rows=[*_skill_file_rows(), _skill_file_rows()[0]])
    code, out, _ = run(["skills", "validate", str(tiny)], capsys)
    assert code == 1
    assert f"{tiny}: prompts: 1 prompt(s) occur on more than one line (e.g. 'The keys" in out
    assert f"{tiny}: group: label 'singular' occurs in one group only" in out
    assert "a probe needs at least 20 items" in out


def _skill_file_rows():
    return [
        {"prompt": "The keys to the cabinet", "target": "are", "choices": ["is"], "label": 1},
        {"prompt": "The key to the cabinets", "target": "is", "choices": ["are"], "label": 0},
    ]


def test_validate_missing_file_never_tracebacks(capsys, tmp_path):
    code, out, _ = run(["skills", "validate", str(tmp_path / "nope.jsonl")], capsys)
    assert (
        code == 1 and out == f"{tmp_path / 'nope.jsonl'}:0: file: no such file — check the path\n"
    )


def test_skills_without_subcommand_prints_help(capsys):
    code, _, err = run(["skills"], capsys)
    assert code == 2 and "list" in err and "validate" in err


def test_validate_checks_the_context_of_a_checkpoint_as_a_sweep_does(toy_series, tmp_path,
                                                                     capsys):  # fmt: skip
    # issue 29: `skills validate` checks everything the sweep will check
    head = {"name": "long_prompt", "version": 1, "format": "continuation",
            "label_names": ["a", "b"]}  # fmt: skip
    lines = [json.dumps({"curriculens_skill": head})]
    for i in range(20):
        prompt = ("the cat sat " * 300 if i == 0 else "the cat sat ") + f"number {i} {i % 3}"
        lines.append(json.dumps({"prompt": prompt, "target": "down", "label": "ab"[i % 2],
                                 "group": f"g{i}"}))  # fmt: skip
    f = tmp_path / "long.jsonl"
    f.write_text("\n".join(lines) + "\n")
    ck = toy_series / "step0"
    capsys.readouterr()
    assert main(["skills", "validate", str(f), "--checkpoint", str(ck)]) == 1
    out = capsys.readouterr().out
    assert "context: " in out and "longer than the model's context of 128 tokens" in out
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    main(["skills", "validate", str(short), "--checkpoint", str(ck)])
    assert "context" not in capsys.readouterr().out
