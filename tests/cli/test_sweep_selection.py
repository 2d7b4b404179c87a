"""``curriculens sweep`` selection: skills, suites and files; steps of a directory; layers, hooks
and dtype; and a flag the input would ignore is an error. Nothing is downloaded."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curriculens.cli.main import main
from curriculens.skills import list_skills, unregister_skill
from curriculens.skills.registry import _REGISTRY

COLORS = ("red", "blue")


@pytest.fixture(autouse=True)
def _clean_registry():
    list_skills()  # the built-in suites load first, so only file skills are cleaned up
    before = set(_REGISTRY)
    yield
    for name in set(_REGISTRY) - before:
        unregister_skill(name)


@pytest.fixture(scope="module")
def neox_series(tmp_path_factory, bpe_tokenizer, write_tiny_neox):
    """Three tiny GPT-NeoX checkpoints (steps 0, 1, 2) with the BPE tokenizer built in the test."""
    root = tmp_path_factory.mktemp("neox_series")
    for step in range(3):
        write_tiny_neox(root / f"step{step}", bpe_tokenizer, seed=step)
    return root


def _skill_file(tmp_path):
    header = {
        "curriculens_skill": {
            "name": "colors_t",
            "version": 1,
            "format": "continuation",
            "family": "facts",
            "label_names": list(COLORS),
        }
    }
    rows = [
        {"prompt": f"The {noun} number {i} is", "target": COLORS[i % 2], "label": i % 2}
        for i, noun in enumerate(["dog", "cat", "box", "cup", "pen"] * 8)
    ]
    path = tmp_path / "colors_t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


def test_sweep_selects_skills_layers_steps_and_dtype(neox_series, tmp_path, capsys):

    core_en = [s.name for s in list_skills("core-en")]
    skill_file = _skill_file(tmp_path)
    out = tmp_path / "R"
    argv = [
        "sweep", str(neox_series), "--skills", f"core-en,{skill_file}", "--layers", "0,1",
        "--steps", "0,2", "--dtype", "bfloat16", "--examples", "20", "--out", str(out),
        "--tokens-per-step", "64",
        "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "2 checkpoints" in capsys.readouterr().out
    assert main(["export", str(out), "--what", "scores", "-o", str(tmp_path / "s.csv")]) == 0
    table = pd.read_csv(tmp_path / "s.csv")
    assert sorted(table["step"].unique()) == [0, 2]
    assert set(table["skill"]) == {*core_en, "colors_t"}
    probes = table[table["kind"] == "probe"]
    assert set(probes["hook"]) == {"blocks.0.hook_resid_post", "blocks.1.hook_resid_post"}
    # layer is the TransformerLens block index: --layers 0,1 are layers 0 and 1
    hooked = table[table["hook"].notna() & (table["hook"] != "lexical.embed_mean")]
    assert set(zip(hooked["hook"], hooked["layer"], strict=True)) == {
        ("blocks.0.hook_resid_post", 0),
        ("blocks.1.hook_resid_post", 1),
    }
    # the lexical baseline (a probe on the prompt's mean input embedding) has no block
    lexical = table[table["hook"] == "lexical.embed_mean"]
    assert set(lexical["metric"]) == {"lexical_acc"} and lexical["layer"].isna().all()
    assert table.loc[table["kind"] == "behavior", "layer"].isna().all()  # behavior: no layer
    assert set(probes["metric"]) == {"probe_acc", "selectivity"}
    assert set(table.loc[table["kind"] == "control", "metric"]) == {"control_acc"}
    acc = probes[probes.metric == "probe_acc"].set_index(["step", "skill", "hook"])["value"]
    ctrl = table[table.metric == "control_acc"].set_index(["step", "skill", "hook"])["value"]
    sel = probes[probes.metric == "selectivity"].set_index(["step", "skill", "hook"])["value"]
    assert len(sel) == len(acc) and np.allclose(sel, (acc - ctrl).loc[sel.index], equal_nan=True)
    assert {"colors_t", "en_capital"} <= set(probes["skill"])
    config = json.loads((out / "sweep_config.json").read_text())
    assert config["dtype"] == "bfloat16"
    assert config["hooks"] == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    capsys.readouterr()
    # a resume needs the skill file again; with it, nothing is left to do
    unregister_skill("colors_t")
    bare = ["sweep", str(neox_series), "--out", str(out), "--tokens-per-step", "64", "--quiet"]
    assert main(bare) == 2
    assert "Pass --skills again" in capsys.readouterr().err
    assert main([*argv, "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "dtype: bfloat16" in plan and "blocks.1.hook_resid_post" in plan
    assert plan.count("0 skills") == 2  # both checkpoints finished


def _exit_code(argv: list[str]) -> int:
    """``main``'s exit code, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


@pytest.mark.parametrize(
    ("more", "says"),
    [
        (["--revisions", "step0"], "--revisions applies to a hub model"),
        (["--steps", "0,7"], "no checkpoint at step(s) [7]"),
        (["--layers", "3-1"], "runs backwards"),
        (["--skills", "core_en"], "Did you mean 'core-en'?"),
        (["--skills", "missing.jsonl"], "no such file"),
        (["--dtype", "float8"], "invalid choice"),
    ],
)
def test_sweep_rejects_bad_or_ignored_flags(neox_series, tmp_path, capsys, more, says):
    out = tmp_path / "o"
    argv = ["sweep", str(neox_series), "--out", str(out), "--tokens-per-step", "8", *more]
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("curriculens sweep: error:") or "usage:" in err
    assert says in err
    assert not (tmp_path / "o" / "results.sqlite").exists()


def test_hub_flags_are_errors_where_a_directory_is_meant(tmp_path, capsys):
    argv = ["sweep", "--model", "EleutherAI/pythia-160m", "--out", str(tmp_path / "o")]
    assert main([*argv, "--skip-bad"]) == 2
    assert "--skip-bad applies to a checkpoint directory" in capsys.readouterr().err
    assert main([*argv, "--steps", "0", "--revisions", "step0"]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_offline_hub_sweep_fails_at_once_with_the_hint(tmp_path, capsys, monkeypatch):
    import socket

    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    attempts = []

    def record(*args, **kw):
        attempts.append(args[:1])
        raise OSError("offline")

    monkeypatch.setattr(socket, "create_connection", record)
    argv = ["sweep", "--model", "curriculens-test/not-cached", "--steps", "0,512",
            "--tokens-per-step", "8", "--out", str(tmp_path / "o"), "--dry-run"]  # fmt: skip
    assert main(argv) == 2
    assert attempts == []  # offline means offline: no try at the network, so no waiting on it
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE=1" in err and "'step0'" in err and "not in the local" in err


def test_default_skills_follow_the_tokenizer(neox_series, toy_series, tmp_path, capsys):
    core_en = [s.name for s in list_skills("core-en")]
    argv = ["sweep", str(neox_series), "--out", str(tmp_path / "a"), "--tokens-per-step", "8"]
    assert main([*argv, "--dry-run"]) == 0
    skills_line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("skills:"))
    assert [s.split("@")[0] for s in skills_line[len("skills: ") :].split(", ")] == core_en
    assert main(["sweep", str(toy_series), "--out", str(tmp_path / "b"), "--dry-run"]) == 0
    skills_line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("skills:"))
    names = [s.split("@")[0] for s in skills_line[len("skills: ") :].split(", ")]
    assert "agreement" in names and not any(n.startswith("en_") for n in names)
