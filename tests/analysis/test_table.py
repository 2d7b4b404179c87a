"""The run reader: the sweep's skill snapshot keeps a run readable without its skills registered."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from curriculens.analysis.consistency import registry_components
from curriculens.analysis.curriculum import skill_emergence
from curriculens.analysis.table import export_table, load_table, read_meta, skill_info
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.reporting.writer import analyze
from curriculens.skills import get_skill, list_skills, unregister_skill
from curriculens.skills.files import load_skill_file
from curriculens.toy.corpus import build_toy_tokenizer
from curriculens.toy.trainer import TrainConfig, build_model

SKILL = "capitals_snap"


def _series(root):
    tok = build_toy_tokenizer()
    for step, seed in enumerate((0, 1)):
        m = build_model(
            TrainConfig(n_layers=1, d_model=16, n_heads=2, d_mlp=32, seed=seed), len(tok)
        )
        d = root / f"step{step * 10}"
        m.save_pretrained(d)
        tok.save_pretrained(d)
        (d / "curriculens_checkpoint.json").write_text(
            json.dumps({"step": step * 10, "tokens": step * 640})
        )
    return root


def _skill_file(path):
    facts = get_skill("facts")
    header = {
        "curriculens_skill": {
            "name": SKILL,
            "version": 3,
            "format": "continuation",
            "family": "geo",
            "label_names": list(facts.label_names),
            "components": ["facts"],
            "primary_metric": "token_acc",
            "chance": 0.2,
        }
    }
    rows = [
        {"prompt": e.prompt, "target": e.target, "label": e.label}
        for e in facts.examples(40, seed=0)
    ]
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    return path


def _results(out) -> str:
    a = analyze(out, n_boot=20)
    em = [e.to_dict() for e in skill_emergence(out)]
    return repr((em, a.emergence, a.cis, a.composites, a.leads))


@pytest.fixture
def user_run(tmp_path):
    list_skills()  # built-in suites first
    torch.manual_seed(0)
    skill = load_skill_file(_skill_file(tmp_path / "capitals.jsonl"))
    try:
        out = tmp_path / "run"
        cfg = SweepConfig(skills=("facts", SKILL), n_examples=40)
        sweep(_series(tmp_path / "checkpoints"), out, config=cfg, progress=False)
        yield out, skill
    finally:
        with contextlib.suppress(KeyError):
            unregister_skill(SKILL)


def test_snapshot_keeps_results_after_the_skill_is_unregistered(user_run, tmp_path):
    out, skill = user_run
    snap = read_meta(out)["skills"]
    assert set(snap) == {"facts", SKILL}
    assert snap[SKILL] == {
        "primary_metric": "token_acc",
        "chance": 0.2,
        "family": "geo",
        "format": "continuation",
        "components": ["facts"],
        "label_names": list(skill.label_names),
        "n_classes": skill.n_classes,
        "version": 3,
        "hash": skill.content_hash,
        "suite": "user",
        "probe": skill.probe,
        "probed": True,
        "shots": 0,
        "template": "",
    }
    before = _results(out)
    mine = next(e for e in skill_emergence(out) if e.skill == SKILL)
    assert (mine.family, mine.components, mine.metric) == ("geo", ("facts",), "token_acc")
    export_table(out, tmp_path / "before.csv")

    unregister_skill(SKILL)
    with pytest.raises(KeyError):
        get_skill(SKILL)
    assert _results(out) == before
    assert registry_components([SKILL, "facts"], out) == {SKILL: ("facts",)}
    assert skill_info(load_table(out), [SKILL])[SKILL]["primary_metric"] == "token_acc"
    export_table(out, tmp_path / "after.csv")
    assert (tmp_path / "before.csv").read_bytes() == (tmp_path / "after.csv").read_bytes()


def test_runs_without_a_snapshot_fall_back_to_the_registry(tmp_path):
    assert skill_info(None, ["facts", "no_such_skill"]).keys() == {"facts"}
    assert skill_info({"facts": {"family": "x"}}, ["facts"])["facts"] == {"family": "x"}


def test_current_results_keep_imported_curves_beside_a_swept_skill_of_that_name(tmp_path):
    import warnings

    import pandas as pd

    from curriculens.analysis.importers import write_store
    from curriculens.analysis.table import SKILLS_META_KEY, read_rows
    from curriculens.errors import MixedResultsNote
    from curriculens.store import Store

    curves = pd.DataFrame(
        {"model": "lm-eval", "tokens": [10, 20], "task": "facts", "score": [0.1, 0.7]}
    )
    with Store(tmp_path) as s:
        write_store(curves, s)
        # a swept run elsewhere in the store recorded facts' current hash
        s.set_meta(SKILLS_META_KEY, {"facts": {"hash": "abc", "primary_metric": "score"}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedResultsNote)
        rows = read_rows(tmp_path)
    assert [r["value"] for r in rows] == [0.1, 0.7]  # the imported run is not hidden


def _probe_store(path):
    from curriculens.store import Row, Store

    meta = dict(run="r", checkpoint="step0", step=0, tokens=0, fingerprint="f0", skill="s",
                skill_version=1, skill_hash="h")  # fmt: skip
    rows = [Row(**meta, kind="behavior", hook="", metric="exact_match", value=0.5, n=4)]
    for layer, hook, acc, ctrl in ((-1, "hook_embed", 0.75, 0.5), (0, "blocks.0.x", 1.0, None)):
        items = [np.array([1, 1, acc > 0.8, 0], np.float32), np.array([1, 0, 1, 0], np.float32)]
        common = dict(meta, hook=hook, layer=layer, n=4)
        rows += [
            Row(**common, kind="probe", metric="probe_acc", value=acc, items=items[0]),
            Row(**common, kind="control", metric="control_acc", value=ctrl, items=items[1],
                reason=None if ctrl is not None else "NaN activations"),
        ]  # fmt: skip
    with Store(path) as s:
        s.write_unit("r", "f0", "s@1+h|k", "step0", rows)
    return path


def test_selectivity_rows_are_derived_on_read_for_every_filter(tmp_path):
    from curriculens.analysis.table import read_rows

    run = _probe_store(tmp_path / "run")
    for where in ({}, {"kind": "probe"}, {"metric": "selectivity"}, {"layer": -1}):
        sel = {r["layer"]: r for r in read_rows(run, items=True, **where)
               if r["metric"] == "selectivity"}  # fmt: skip
        assert sel[-1]["value"] == pytest.approx(0.25) and sel[-1]["kind"] == "probe"
        np.testing.assert_array_equal(sel[-1]["items"], [0, 1, -1, 0])
        if "layer" not in where:  # a missing control: no value, and why
            assert sel[0]["value"] is None and sel[0]["reason"] == "NaN activations"
    assert not [r for r in read_rows(run, kind="control") if r["metric"] == "selectivity"]
    df = load_table(run)
    assert len(df) == 7 and (df.metric == "selectivity").sum() == 2
    out, _ = export_table(run, tmp_path / "t.csv")
    table = pd.read_csv(out)
    assert table.metric.tolist().count("selectivity") == 2
    assert table.loc[table.kind == "behavior", "layer"].isna().all()
