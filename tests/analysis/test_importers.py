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
    with pytest.raises(ConfigError, match="Cannot find the step"):
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
