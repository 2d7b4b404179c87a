"""Tests of curriculens.analysis.importers: lm-eval dirs, tidy CSVs, stores, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.importers import (
    LONG_COLUMNS,
    PYTHIA_TOKENS_PER_STEP,
    load_curves,
    read_lm_eval,
    read_store,
    read_tidy_csv,
    write_store,
)
from curriculens.errors import ConfigError
from curriculens.store import Row, Store

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PYTHIA = DATA / "pythia-evals"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"
needs_pythia = pytest.mark.skipif(not PYTHIA.exists(), reason="shared reference data not present")
needs_elemental = pytest.mark.skipif(
    not ELEMENTAL.exists(), reason="shared reference data not present"
)


def _lm_eval_file(path: Path, results: dict, model_args: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": results, "config": {"model_args": model_args}}))


@needs_pythia
def test_reads_all_pythia_checkpoints_of_both_models():
    df = read_lm_eval(PYTHIA)
    assert tuple(df.columns) == LONG_COLUMNS
    steps = df.groupby("model")["step"].nunique().to_dict()
    assert steps == {"EleutherAI/pythia-v1.1-160m": 27, "EleutherAI/pythia-v1.1-410m": 27}
    assert not df["task"].str.startswith("crows_pairs").any()  # they have no 'acc'

    def value(model, step, task):
        row = df[(df.model == model) & (df.step == step) & (df.task == task)]
        assert len(row) == 1
        return row.iloc[0]

    r = value("EleutherAI/pythia-v1.1-160m", 1000, "hendrycksTest-world_religions")
    assert r.score == pytest.approx(0.1871345029239766)
    assert r.tokens == 1000 * PYTHIA_TOKENS_PER_STEP and r.checkpoint == "step1000"
    r = value("EleutherAI/pythia-v1.1-410m", 133000, "lambada_openai")
    assert r.score == pytest.approx(0.5224141276926062)
    assert value("EleutherAI/pythia-v1.1-410m", 0, "lambada_openai").tokens == 0


@needs_pythia
def test_reads_one_model_folder_and_other_metrics():
    df = read_lm_eval(PYTHIA / "pythia-160m" / "zero-shot", metric="acc_norm", model="p160")
    assert set(df.model) == {"p160"} and df.step.nunique() == 27
    assert {"piqa", "arc_easy"} <= set(df.task)
    assert "lambada_openai" not in set(df.task)  # no acc_norm there


def test_lm_eval_v04_keys_pattern_and_model_from_folder(tmp_path):
    for ck, acc in ((10, 0.2), (20, 0.6)):
        _lm_eval_file(tmp_path / "mymodel" / f"ckpt-{ck}.json", {"t": {"acc,none": acc}})
    with pytest.raises(ConfigError, match="Cannot find the token count"):
        read_lm_eval(tmp_path)
    df = read_lm_eval(tmp_path, pattern=r"ckpt-(\d+)", tokens_per_step=100)
    assert df.model.tolist() == ["mymodel", "mymodel"]
    assert df.tokens.tolist() == [1000, 2000] and df.score.tolist() == [0.2, 0.6]


def test_lm_eval_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_lm_eval(tmp_path / "nope")
    with pytest.raises(ConfigError, match="No \\*.json"):
        read_lm_eval(tmp_path)
    (tmp_path / "step1.json").write_text("{not json")
    with pytest.raises(ConfigError, match="Cannot read"):
        read_lm_eval(tmp_path)
    (tmp_path / "step1.json").write_text('{"x": 1}')
    with pytest.raises(ConfigError, match="no 'results'"):
        read_lm_eval(tmp_path)
    _lm_eval_file(tmp_path / "step1.json", {"t": {"acc": 0.5}})
    with pytest.raises(ConfigError, match="reports metric 'f1'"):
        read_lm_eval(tmp_path, metric="f1")
    _lm_eval_file(tmp_path / "a" / "step1.json", {"t": {"acc": 0.5}}, "pretrained=m")
    _lm_eval_file(tmp_path / "b" / "step1.json", {"t": {"acc": 0.6}}, "pretrained=m")
    with pytest.raises(ConfigError, match="more than one score"):
        read_lm_eval(tmp_path / "a" / "..", model="same")


@needs_elemental
def test_reads_elemental_csv_with_tokens_in_billions():
    df = read_tidy_csv(ELEMENTAL)
    assert set(df.model) == {"EleutherAI/pythia-6.9b", "LLM360/Amber"}
    row = df[(df.checkpoint == "step11000") & (df.task == "basic_arithmetic")].iloc[0]
    assert row.tokens == pytest.approx(23.068672e9)
    assert row.model == "EleutherAI/pythia-6.9b"


def test_tidy_csv_mapping_and_errors(tmp_path):
    p = tmp_path / "c.csv"
    pd.DataFrame({"who": ["m", "m"], "t": [1, 2], "task": ["x", "x"], "em": [0.1, 0.9]}).to_csv(
        p, index=False
    )
    with pytest.raises(ConfigError, match="lacks column"):
        read_tidy_csv(p)
    df = read_tidy_csv(p, columns={"who": "model", "t": "tokens", "em": "score"})
    assert df.tokens.tolist() == [1.0, 2.0] and df.checkpoint.tolist() == ["tokens1", "tokens2"]
    with pytest.raises(ConfigError, match="does not have"):
        read_tidy_csv(p, columns={"nope": "model"})


def test_store_round_trip_and_primary_metric(tmp_path):
    curves = pd.DataFrame(
        {
            "model": ["a"] * 4,
            "checkpoint": ["s0", "s0", "s1", "s1"],
            "step": [0, 0, 10, 10],
            "tokens": [0, 0, 1000, 1000],
            "task": ["x", "y"] * 2,
            "score": [0.1, 0.2, 0.8, 0.9],
        }
    )
    with Store(tmp_path / "run") as s:
        assert write_store(curves, s) == 4
    back = load_curves(tmp_path / "run")
    pd.testing.assert_frame_equal(back, curves[list(LONG_COLUMNS)], check_dtype=False)
    # a registered skill with several metrics: the registry's primary metric wins
    with Store(tmp_path / "run2") as s:
        rows = [
            Row(
                run="r",
                checkpoint="c",
                step=1,
                tokens=10,
                fingerprint="f",
                skill="copy_plural",
                skill_version=1,
                skill_hash="h",
                kind="behavior",
                hook="",
                layer=-1,
                metric=m,
                value=v,
                n=4,
                items=np.ones(4),
            )
            for m, v in (("exact_match", 0.25), ("token_acc", 0.75))
        ]
        s.write_unit("r", "f", "u", "c", rows)
    df = read_store(tmp_path / "run2" / "results.sqlite")
    assert df.score.tolist() == [0.75]


def test_load_curves_dispatch_and_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_curves(tmp_path / "missing.csv")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ConfigError, match="Cannot tell"):
        load_curves(tmp_path / "x.txt")
    _lm_eval_file(tmp_path / "ev" / "step5.json", {"t": {"acc": 0.5}})
    assert load_curves(tmp_path / "ev").tokens.tolist() == [5 * PYTHIA_TOKENS_PER_STEP]
    with pytest.raises(ConfigError, match="do not apply"):
        load_curves(tmp_path / "ev", columns={"a": "b"})
    Store(tmp_path / "empty").close()
    with pytest.raises(ConfigError, match="no behavior rows"):
        load_curves(tmp_path / "empty")


def _csv(tmp_path: Path, text: str, name: str = "c.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_task_names_are_normalised_as_the_paper_does(tmp_path):
    p = _csv(
        tmp_path,
        "model,checkpoint,tokens,task,score\n"
        "olmo1b,c1,100,compositional:gerund_upper,0.1\n"
        "olmo1b,c1,100,simple_icl:uppercase,0.2\n"
        "olmo7b,c1,100,compositional_gerund_upper,0.3\n",
    )
    df = read_tidy_csv(p)
    assert set(df.task) == {"compositional_gerund_upper", "simple_icl_uppercase"}
    assert df.groupby("task").model.nunique()["compositional_gerund_upper"] == 2  # one task
    kept = read_tidy_csv(p, keep_names=True)
    assert "compositional:gerund_upper" in set(kept.task)
    # composites are recognised either way, components named as the file spells them
    from curriculens.analysis.consistency import elemental_components

    assert elemental_components(list(df.task)) == {
        "compositional_gerund_upper": ("simple_icl_present_to_gerund", "simple_icl_uppercase")
    }
    assert elemental_components(list(kept.task))["compositional:gerund_upper"][1] == (
        "simple_icl:uppercase"
    )


def test_duplicate_scores_name_the_rows_and_offer_a_merge(tmp_path):
    p = _csv(
        tmp_path,
        "model,checkpoint,tokens_b,task,accuracy\n"
        "amber,ckpt_358,1256,t,0.8\n"
        "amber,main,1256,t,0.6\n"
        "amber,ckpt_358,1256,u,0.5\n"
        "amber,main,1256,u,0.5\n",
    )
    with pytest.raises(ConfigError) as e:
        read_tidy_csv(p)
    msg = str(e.value)
    assert "'ckpt_358' = 0.8 (c.csv line 2)" in msg and "'main' = 0.6 (c.csv line 3)" in msg
    assert "--duplicates first|last|mean" in msg and "1 place(s)" in msg  # u agrees: no conflict
    assert read_tidy_csv(p, duplicates="first").query("task == 't'").score.tolist() == [0.8]
    assert read_tidy_csv(p, duplicates="last").query("task == 't'").score.tolist() == [0.6]
    mean = read_tidy_csv(p, duplicates="mean").query("task == 't'")
    assert mean.score.tolist() == [pytest.approx(0.7)]
    assert mean.checkpoint.tolist() == ["ckpt_358+main"]
    with pytest.raises(ConfigError, match="duplicates='median'"):
        read_tidy_csv(p, duplicates="median")


def test_revision_without_a_token_count_is_named_with_the_fix(tmp_path):
    p = _csv(
        tmp_path,
        "model,checkpoint,task,score\n"
        "allenai/OLMo-2-0425-1B,stage1-step1000-tokens5B,t,0.1\n"
        "allenai/OLMo-2-0425-1B,stage1-step1907359-tokens4001B,t,0.7\n"
        "allenai/OLMo-2-0425-1B,main,t,0.75\n",
    )
    with pytest.raises(ConfigError) as e:
        read_tidy_csv(p)
    assert "'main'" in str(e.value) and "--revision-tokens main=" in str(e.value)
    df = read_tidy_csv(p, revision_tokens={"main": 4051e9})
    assert df.tokens.tolist() == [5e9, 4001e9, 4051e9]
    assert df.step.tolist() == [1000, 1907359, -1]
    one = read_tidy_csv(p, revision_tokens={"allenai/OLMo-2-0425-1B@main": 4.1e12})
    assert one.tokens.tolist()[-1] == 4.1e12
    # a tokens column with a gap for 'main' is filled the same way
    q = _csv(
        tmp_path, "model,checkpoint,tokens,task,score\nm,s1,10,t,0.1\nm,main,,t,0.2\n", "q.csv"
    )
    with pytest.raises(ConfigError, match="revision-tokens main=TOKENS"):
        read_tidy_csv(q)
    assert read_tidy_csv(q, revision_tokens={"main": 20}).tokens.tolist() == [10, 20]
    # a bare step needs tokens per step
    r = _csv(tmp_path, "model,checkpoint,task,score\nm,step10,t,0.1\n", "r.csv")
    with pytest.raises(ConfigError, match="--tokens-per-step"):
        read_tidy_csv(r)
    assert read_tidy_csv(r, tokens_per_step=4).tokens.tolist() == [40]


def test_lm_eval_revisions_carry_their_tokens(tmp_path):
    for rev, acc in (("stage1-step1000-tokens5B", 0.2), ("main", 0.6)):
        _lm_eval_file(
            tmp_path / f"{rev}.json",
            {"t": {"acc": acc}},
            f"pretrained=allenai/OLMo-2-0425-1B,revision={rev}",
        )
    with pytest.raises(ConfigError, match="--revision-tokens main=TOKENS"):
        read_lm_eval(tmp_path)
    df = read_lm_eval(tmp_path, revision_tokens={"main": 4051e9})
    assert df.checkpoint.tolist() == ["stage1-step1000-tokens5B", "main"]
    assert df.tokens.tolist() == [5e9, 4051e9] and df.step.tolist() == [1000, -1]


def test_tidy_csv_with_probe_and_control_curves(tmp_path):
    p = _csv(
        tmp_path,
        "model,tokens,task,kind,layer,score,n\n"
        "m,10,t,behavior,,0.1,50\n"
        "m,10,t,probe,2,0.6,40\n"
        "m,10,t,control,2,0.5,40\n"
        "m,20,t,behavior,,0.9,50\n"
        "m,20,t,probe,2,0.9,40\n"
        "m,20,t,control,2,0.5,40\n",
    )
    beh = read_tidy_csv(p)
    assert beh.score.tolist() == [0.1, 0.9] and beh.n.tolist() == [50, 50]
    from curriculens.analysis.importers import load_rows

    rows = load_rows(p)
    assert {(r["kind"], r["metric"], r["layer"], r["hook"]) for r in rows} == {
        ("behavior", "score", None, ""),
        ("probe", "probe_acc", 2, "layer2"),
        ("control", "control_acc", 2, "layer2"),
    }
    assert {r["n"] for r in rows if r["kind"] == "probe"} == {40}
    with Store(tmp_path / "run") as s:  # and they survive a store round trip
        full = __import__("curriculens.analysis.importers", fromlist=["x"]).read_tidy_table(p)
        assert write_store(full, s) == 6
        assert {r["kind"] for r in s.rows()} == {"behavior", "probe", "control"}
    bad = _csv(tmp_path, "model,tokens,task,kind,score\nm,1,t,probes,0.5\n", "bad.csv")
    with pytest.raises(ConfigError, match="kind value"):
        read_tidy_csv(bad)
    nolayer = _csv(tmp_path, "model,tokens,task,kind,score\nm,1,t,probe,0.5\n", "nl.csv")
    with pytest.raises(ConfigError, match="without a layer"):
        read_tidy_csv(nolayer)


def test_curves_table_is_the_table_a_store_of_the_curves_gives(tmp_path):
    """The tidy frame of imported curves, built with no store, equals load_table of a store
    written with the same curves: rows (selectivity derived), order, values (NaN as a store
    reads it), dtypes and the skill snapshot."""
    from curriculens.analysis.importers import curves_table, read_tidy_table
    from curriculens.analysis.table import SKILLS_META_KEY, load_table, read_rows

    p = _csv(
        tmp_path,
        "model,checkpoint,tokens,task,kind,layer,score,n\n"
        "m2,c20,20,t,behavior,,0.9,50\n"
        "m2,c10,10,t,behavior,,,50\n"  # a missing score: None in the store, NaN in the frame
        "m1,c10,10,u,probe,1,0.6,40\n"
        "m1,c10,10,u,control,1,0.5,40\n"
        "m1,c10,10,u,probe,-1,0.55,40\n"
        "m1,c10,10,u,control,-1,0.5,40\n"
        "m1,c10,10,u,behavior,,0.2,50\n"
        "m1,c10,10,t,behavior,,0.3,\n"
        "m1,c20,20,t,behavior,,0.7,\n"
        "m1,c20,20,u,behavior,,0.8,50\n",
    )
    curves = read_tidy_table(p)
    snapshot = {"t": {"family": "x", "primary_metric": "score"}, "u": {"family": "y"}}
    with Store(tmp_path / "run") as s:
        write_store(curves, s)
        s.set_meta(SKILLS_META_KEY, snapshot)
    stored = load_table(tmp_path / "run")
    frame = curves_table(curves, skills=snapshot)
    pd.testing.assert_frame_equal(frame, stored)
    assert frame.attrs == stored.attrs == {SKILLS_META_KEY: snapshot}
    assert (frame.metric == "selectivity").sum() == 2 and frame.value.isna().sum() == 1

    # readers take the frame as they take the store: the same rows (a missing value is NaN)
    def known(r):
        return {k: v for k, v in r.items() if v is not None and v == v}

    for where in ({"kind": "behavior"}, {"metric": "selectivity"}):
        from_store = read_rows(tmp_path / "run", **where)
        from_frame = read_rows(frame, **where)
        assert len(from_frame) == len(from_store) > 0
        assert list(map(known, from_frame)) == list(map(known, from_store))
