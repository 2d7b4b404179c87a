"""The probe audit: leak-free built-in skills, a planted leaky skill, stored and exported items."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from curriculens.analysis.audit import audit_items, audit_run, with_lexical
from curriculens.cli.main import main
from curriculens.pipeline.run import SweepConfig, skill_items, sweep
from curriculens.skills import get_skill, list_skills, unregister_skill
from curriculens.skills.files import load_skill_file

DEFAULT = SweepConfig(skills=("facts",))  # the default n_examples, seed and train_frac


@pytest.mark.parametrize("name", [s.name for s in list_skills() if s.suite != "user"])
def test_every_builtin_skill_is_leak_free_under_the_default_sweep(name):
    skill = next(s for s in list_skills() if s.name == name)
    items = skill_items(skill, DEFAULT)
    prompts = np.array([e.text_key for e in items.examples])
    assert not set(prompts[items.train]) & set(prompts[~items.train])
    assert not set(items.groups[items.train]) & set(items.groups[~items.train])
    r = audit_items(name, prompts, items.groups, items.labels, items.train)
    assert r.prompt_overlap == r.group_overlap == 0.0
    assert r.verdict == "ok", r.reason


def test_repeated_prompts_are_leaky_and_unique_ones_are_not():
    prompts = [f"p{i}" for i in range(40)] * 5
    labels = [i % 2 for i in range(40)] * 5
    train = np.random.default_rng(0).random(200) < 0.7  # split by row: prompts on both sides
    leaky = audit_items("leaky", prompts, [str(i) for i in range(200)], labels, train)
    assert leaky.verdict == "leaky"
    assert leaky.prompt_overlap > 0.8 and leaky.group_overlap == 0.0
    assert "memorising prompts" in leaky.reason
    fresh = [f"q{i}" for i in range(200)]
    ok = audit_items("ok", fresh, fresh, labels, train)
    assert ok.verdict == "ok" and ok.prompt_overlap == 0.0
    assert not hasattr(ok, "adversary_acc")  # removed: it only repeated the overlap count


def test_lexical_flag_turns_an_ok_split_lexical_but_never_hides_a_leak():
    labels = [i % 2 for i in range(40)]
    train = np.arange(40) < 28
    names = [f"p{i}" for i in range(40)]
    ok = audit_items("s", names, names, labels, train)
    flagged = with_lexical(ok, True, 4.3e4)
    assert flagged.verdict == "lexical" and flagged.lexical is True
    assert "input embeddings" in flagged.reason and "43,000" in flagged.reason
    clean = with_lexical(ok, False, None)
    assert clean.verdict == "ok" and clean.lexical is False
    assert with_lexical(ok, None, None) == ok  # not measured: unchanged
    leaky = audit_items("s", ["same"] * 40, names, labels, train)
    assert with_lexical(leaky, True, 1.0).verdict == "leaky"


def _leaky_file(path):
    header = {
        "curriculens_skill": {
            "name": "planted_leak",
            "version": 1,
            "format": "continuation",
            "label_names": ["even", "odd"],
        }
    }
    rows = [
        {"prompt": f"box {i} holds", "target": "one", "label": i % 2, "group": f"row{k}_{i}"}
        for k in range(6)
        for i in range(20)
    ]  # the same 20 prompts six times, each line its own "group": a row id, not an entity
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


def test_planted_leaky_skill_is_flagged_by_sweep_audit_and_cli(tiny_run, tmp_path, capsys):
    out, _, _ = tiny_run
    skill_file = _leaky_file(tmp_path / "leak.jsonl")
    load_skill_file(skill_file)
    try:
        run = tmp_path / "run"
        cfg = SweepConfig(skills=("planted_leak", "facts"), n_examples=100)
        with pytest.warns(UserWarning, match="planted_leak: leaky probe"):
            sweep(out / "checkpoints", run, config=cfg, progress=False)
        results = audit_run(run)
        assert results["planted_leak"].verdict == "leaky"
        assert results["planted_leak"].prompt_overlap > 0.9
        assert results["facts"].verdict == "ok"
        capsys.readouterr()
        assert main(["audit", str(run), "--json"]) == 1
        got = json.loads(capsys.readouterr().out)
        assert got["planted_leak"]["verdict"] == "leaky" and got["facts"]["verdict"] == "ok"
    finally:
        unregister_skill("planted_leak")
    assert main(["skills", "validate", str(skill_file)]) == 1
    assert "audit: leaky" in capsys.readouterr().out


def test_tiny_run_audits_ok_and_exports_items(tiny_run, tmp_path, capsys):
    out, _, _ = tiny_run
    assert main(["audit", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {v["verdict"] for v in got.values()} == {"ok"}
    probed = {k for k in got if get_skill(k).probed}  # add1 is behavior only: no control
    assert probed and all(got[k]["control_acc"] is not None for k in probed)
    dest = tmp_path / "items.csv"
    assert main(["export", str(out), "--what", "items", "-o", str(dest), "--quiet"]) == 0
    with dest.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["skill", "item", "prompt", "group", "label", "split", "control_label"]
    assert {r["split"] for r in rows} == {"train", "test"}
    control: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        control.setdefault((r["skill"], r["group"]), set()).add(r["control_label"])
    assert all(len(v) == 1 for v in control.values())  # a function of the group
    for skill in {r["skill"] for r in rows}:
        mine = [r for r in rows if r["skill"] == skill]
        train = {r["group"] for r in mine if r["split"] == "train"}
        assert not train & {r["group"] for r in mine if r["split"] == "test"}


def test_runs_with_their_own_splits_are_audited_apart(tiny_run, tmp_path):
    """Two seeds in one store split facts differently; pooled, each seed's test people are the
    other's training people, but neither run leaks, so the audit says ok."""
    out, _, _ = tiny_run
    run = tmp_path / "seeds"
    for seed in (0, 1):
        cfg = SweepConfig(skills=("facts",), n_examples=48, seed=seed)
        sweep(out / "checkpoints", run, config=cfg, run=f"seed{seed}", progress=False)
    from curriculens.analysis.table import read_items

    items = read_items(run)
    assert set(items["run"]) == {"seed0", "seed1"}
    train = set(items.loc[items["split"] == "train", "group"])
    assert train & set(items.loc[items["split"] == "test", "group"])  # pooled: overlap
    r = audit_run(run)["facts"]
    assert r.verdict == "ok" and r.group_overlap == r.prompt_overlap == 0.0, r.reason
    assert r.n_train + r.n_test == 48  # one run's items, not both
