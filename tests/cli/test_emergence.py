"""Tests of curriculens.cli.emergence: the `curriculens emergence` subcommand."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from curriculens.analysis.importers import write_store
from curriculens.cli.emergence import add_emergence_parser, main
from curriculens.errors import ConfigError
from curriculens.store import Store

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"
PYTHIA = DATA / "pythia-evals"


def _run(capsys, *argv):
    try:
        rc = main(["emergence", *map(str, argv)])
    except SystemExit as e:  # argparse rejects a flag's value before the command runs
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def _toy_curves() -> pd.DataFrame:
    rows = []
    for model, shift in (("a", 0), ("b", 1)):
        for task, start in (("early", 1), ("late", 3), ("never", 99)):
            for i, tokens in enumerate([0, 10, 20, 30, 40, 50, 60]):
                score = 1.0 if i >= start + shift else 0.0
                rows.append((model, f"c{i}", tokens, task, score))
    rows.append(("a", "c1", 10, "only_a", 1.0))
    return pd.DataFrame(rows, columns=["model", "checkpoint", "tokens", "task", "score"])


def test_parser_registers_handler():
    p = argparse.ArgumentParser()
    add_emergence_parser(p.add_subparsers())
    args = p.parse_args(["emergence", "in.csv", "--method", "stable", "--tasks", "pairwise"])
    assert args.method == "stable" and args.tasks == "pairwise" and callable(args.func)
    assert args.criterion == "paper" and not hasattr(args, "threshold")  # the preset's stands


@pytest.mark.skipif(not ELEMENTAL.exists(), reason="shared reference data not present")
def test_acceptance_elemental_json(capsys):
    rc, out, _ = _run(capsys, ELEMENTAL, "--criterion", "paper", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert set(doc) == {
        "criterion", "emergence", "intervals", "intervals_note", "resampling", "pairs", "tasks",
        "dropped",
    }  # fmt: skip
    assert doc["resampling"] == ["none"]  # no n column: checkpoint brackets
    assert "raw_lo, raw_hi" in doc["intervals_note"] and "smoothed" in doc["intervals_note"]
    assert doc["dropped"] == []  # the paper preset drops no task
    assert doc["tasks"] == "common" and doc["criterion"]["name"] == "paper"
    assert doc["criterion"]["threshold"] == 0.8 and doc["criterion"]["smooth"] == 1.0
    (pair,) = doc["pairs"]
    assert pair["n"] == 71
    assert round(pair["spearman"], 3) == 0.840 and round(pair["kendall"], 3) == 0.802
    assert pair["n_both"] == 28
    assert round(pair["spearman_both"], 3) == 0.698 and round(pair["kendall_both"], 3) == 0.666
    assert set(pair["null"]) == {"mean", "lo", "hi"} and len(pair["ci"]) == 2
    assert pair["null"]["lo"] < pair["null"]["mean"] < pair["null"]["hi"] < pair["spearman"]
    assert set(doc["emergence"]) == {"EleutherAI/pythia-6.9b", "LLM360/Amber"}
    assert any(v is None for v in doc["emergence"]["LLM360/Amber"].values())
    # intervals: every point has a state; a bracketed crossing never has zero width
    for model, per in doc["intervals"].items():
        for task, iv in per.items():
            assert set(iv) == {"state", "lo", "hi", "raw_lo", "raw_hi", "resampling", "n_boot"}
            assert iv["resampling"] == "none" and iv["n_boot"] == 0
            point = doc["emergence"][model][task]
            if iv["state"] == "emerged":
                assert iv["lo"] < point <= iv["hi"]
                # the raw crossing never comes after the smoothed one on a rising curve here
                assert iv["raw_hi"] is not None and iv["raw_hi"] <= iv["hi"]
            elif iv["state"] == "present_at_init":
                assert iv["lo"] is None and iv["hi"] == point
            else:
                assert point is None and iv["hi"] is None and iv["lo"] > 0
    # the same numbers as the explicit flags of earlier versions
    rc, out2, _ = _run(
        capsys, ELEMENTAL, "--method", "fixed", "--threshold", "0.8", "--smooth", "1", "--json"
    )
    assert json.loads(out2)["pairs"] == doc["pairs"]


@pytest.mark.skipif(not PYTHIA.exists(), reason="shared reference data not present")
def test_lm_eval_directory_table(capsys):
    rc, out, _ = _run(capsys, PYTHIA, "--threshold", "0.5")
    assert rc == 0
    assert "EleutherAI/pythia-v1.1-410m" in out and "task set: common" in out


def test_csv_table_json_and_pairwise(tmp_path, capsys):
    p = tmp_path / "curves.csv"
    _toy_curves().to_csv(p, index=False)
    rc, out, _ = _run(capsys, p, "--smooth", "0")
    assert rc == 0 and "spearman=1.000" in out and "n=3" in out
    rc, out, _ = _run(capsys, p, "--smooth", "0", "--json", "--tasks", "pairwise")
    doc = json.loads(out)
    assert doc["tasks"] == "pairwise"
    assert doc["emergence"]["a"] == {"early": 10, "late": 30, "never": None, "only_a": 10}
    assert doc["emergence"]["b"]["late"] == 40
    assert doc["pairs"][0]["n"] == 3  # 'only_a' is not shared


def test_the_command_prints_what_the_library_returns(tmp_path, capsys):
    """``curriculens emergence`` is a thin layer over :func:`emergence_summary`."""
    from curriculens.analysis.criterion import Criterion
    from curriculens.analysis.emergence_summary import emergence_summary

    p = tmp_path / "curves.csv"
    _toy_curves().to_csv(p, index=False)
    rc, out, _ = _run(capsys, p, "--smooth", "0", "--json", "--bootstrap", "50", "--seed", "3")
    assert rc == 0
    summary = emergence_summary(
        p, criterion=Criterion.preset("paper", smooth=None), n_boot=50, seed=3
    )
    assert json.loads(out) == json.loads(json.dumps(summary.to_json()))
    with pytest.raises(ConfigError, match=r"^n_boot = -1 is too small"):
        emergence_summary(p, n_boot=-1)


def test_store_input_and_one_model(tmp_path, capsys):
    with Store(tmp_path / "run") as s:
        write_store(_toy_curves().query("model == 'a'"), s)
    rc, out, _ = _run(capsys, tmp_path / "run", "--smooth", "0", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["pairs"] == [] and doc["emergence"]["a"]["late"] == 30
    rc, out, _ = _run(capsys, tmp_path / "run" / "results.sqlite", "--smooth", "0")
    assert rc == 0 and "needs two or more models" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        ((), "does not exist"),
        (("--method", "stable", "--window", "0"), "window"),
        (("--columns", "oops"), "CSV=NAME"),
        (("--threshold", "nan"), "finite"),
        (("--bootstrap", "-1"), "--bootstrap"),
        (("--fraction", "0.5"), "does not apply to method 'fixed'"),
        (("--threshold", "none"), "needs a threshold"),
        (("--duplicates", "first", "--keep-names", "--leadlag"), "probe and control"),
        (("--leadlag-criterion", "paper"), "add --leadlag"),
        (("--margin", "0.5"), "--margin applies to lead/lag; add --leadlag"),
        (("--margin", "0"), "--margin: 0.0 is too small"),
        (("--min-rise", "0.2"), "min_rise=0.2 does not apply to method 'fixed'"),
        (("--min-rise", "-1"), "--min-rise: -1.0 is too small"),
    ],
)
def test_bad_input_exit_2_without_traceback(tmp_path, capsys, extra, message):
    target = tmp_path / "missing.csv"
    if extra:
        target = tmp_path / "c.csv"
        _toy_curves().to_csv(target, index=False)
    rc, out, err = _run(capsys, target, *extra)
    assert rc == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_garbage_files_exit_2(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    rc, _, err = _run(capsys, tmp_path / "bad.csv")
    assert rc == 2 and "lacks column" in err
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "step1.json").write_text("[1, 2]")
    rc, _, err = _run(capsys, tmp_path / "ev")
    assert rc == 2 and "results" in err
    (tmp_path / "z.sqlite").write_text("not sqlite")
    rc, _, err = _run(capsys, tmp_path / "z.sqlite")
    assert rc == 2 and "error" in err


def _leadlag_module():
    import importlib.util

    # the planted-store builder lives beside the lead/lag tests (importlib mode: no sys.path)
    spec = importlib.util.spec_from_file_location(
        "_leadlag_tests", Path(__file__).parents[1] / "analysis" / "test_leadlag.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_store_intervals_and_leadlag(tmp_path, capsys):
    mod = _leadlag_module()
    mod._store(tmp_path / "run", {"toyskill": (mod.rising(8), mod.probe_rising(3))})
    rc, out, _ = _run(capsys, tmp_path / "run", "--bootstrap", "100", "--leadlag")
    assert rc == 0 and "Representation vs behavior" in out and "leads" in out
    assert "criterion paper-relative on both curves" in out and "criterion paper:" in out
    rc, out, _ = _run(capsys, tmp_path / "run", "--bootstrap", "100", "--leadlag", "--json")
    doc = json.loads(out)
    rc2, out2, _ = _run(
        capsys, tmp_path / "run", "--bootstrap", "100", "--leadlag", "--json",
        "--leadlag-criterion", "paper",
    )  # fmt: skip
    assert rc2 == 0 and json.loads(out2)["leadlag_criterion"]["name"] == "paper"
    assert set(doc) == {
        "criterion", "emergence", "intervals", "intervals_note", "resampling", "pairs", "tasks",
        "dropped", "leadlag", "leadlag_criterion",
    }  # fmt: skip
    ll = doc["leadlag"]["toy"]["toyskill"]
    assert {"verdict", "lead_log10_tokens", "lo", "hi", "behavior_state", "probe_state"} <= set(ll)
    assert ll["verdict"] == "leads" and ll["lead_log10_tokens"] > 1 and ll["lo"] > 0
    assert doc["leadlag_criterion"]["name"] == "paper-relative"
    # every column names its criterion; the resamples and their kind are there
    assert ll["behavior_criterion"] == ll["probe_criterion"] == ll["criterion"] == "paper-relative"
    assert ll["n_boot"] == 100 and ll["resampling"] in ("groups", "items")
    assert ll["behavior_metric"].startswith("target probability")
    iv = doc["intervals"]["toy"]["toyskill"]
    assert iv["state"] == "emerged" and iv["lo"] < doc["emergence"]["toy"]["toyskill"] <= iv["hi"]
    assert iv["resampling"] == ll["resampling"] and iv["n_boot"] == 100
    assert iv["raw_hi"] is not None and iv["raw_lo"] < iv["raw_hi"]
    assert doc["resampling"] == [iv["resampling"]]
    # --margin reaches lead/lag; --min-rise changes lead/lag's criterion (paper does not read it)
    rc, out, _ = _run(
        capsys, tmp_path / "run", "--bootstrap", "100", "--leadlag", "--json", "--margin", "0.5",
        "--min-rise", "0.2",
    )  # fmt: skip
    doc2 = json.loads(out)
    ll2 = doc2["leadlag"]["toy"]["toyskill"]
    assert rc == 0 and ll2["margin_log10"] == 0.5 and ll["margin_log10"] != 0.5
    assert doc2["leadlag_criterion"]["min_rise"] == 0.2 and doc2["criterion"]["name"] == "paper"
    assert ll2["behavior_criterion"] == "paper-relative (min_rise=0.2)"
    # the text names which interval is which
    rc, out, _ = _run(capsys, tmp_path / "run", "--bootstrap", "50")
    assert rc == 0 and "toy raw" in out and "MODEL raw = the interval of the raw crossing" in out


def test_leadlag_on_a_csv_with_probe_curves(tmp_path, capsys):
    mod = _leadlag_module()
    rc, out, _ = _run(capsys, mod._csv_curves(tmp_path, with_n=True), "--leadlag", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["leadlag"]["ext"]["t"]["verdict"] == "leads"
    assert doc["intervals"]["ext"]["t"]["state"] == "emerged"


def test_store_only_options_on_csv_exit_2(tmp_path, capsys):
    p = tmp_path / "c.csv"
    _toy_curves().to_csv(p, index=False)
    rc, _, err = _run(capsys, p, "--leadlag")
    assert rc == 2 and "needs probe and control curves" in err


def test_paper_files_as_they_are(tmp_path, capsys):
    """OLMo-style files: ':' in one model's names, '_' in the other's, a 'main' revision."""
    rows = []
    for model, sep in (("allenai/OLMo-2-0425-1B", ":"), ("allenai/OLMo-2-1124-7B", "_")):
        for k, rev in enumerate(
            ["stage1-step1000-tokens5B", "stage1-step2000-tokens9B", "stage1-step3000-tokens13B",
             "stage1-step4000-tokens17B", "main"]
        ):  # fmt: skip
            for task, start in ((f"compositional{sep}upper_lower", 2), ("simple_icl_uppercase", 1)):
                score = 0.95 if rev == "main" else 1.0 if k >= start else 0.0
                rows.append((model, rev, task, score))
    p = tmp_path / "olmo.csv"
    pd.DataFrame(rows, columns=["model", "checkpoint", "task", "accuracy"]).to_csv(p, index=False)
    rc, _, err = _run(capsys, p)
    assert rc == 2 and "'main'" in err and "--revision-tokens main=" in err
    rc, out, _ = _run(capsys, p, "--revision-tokens", "main=4051e9", "--smooth", "0", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["pairs"][0]["n"] == 2  # the composite is one task in both models
    assert set(doc["emergence"]["allenai/OLMo-2-0425-1B"]) == {
        "compositional_upper_lower",
        "simple_icl_uppercase",
    }
    assert doc["emergence"]["allenai/OLMo-2-1124-7B"]["compositional_upper_lower"] == 13e9
    rc, out, _ = _run(capsys, p, "--revision-tokens", "main=4051e9", "--keep-names", "--json")
    assert json.loads(out)["pairs"][0]["n"] == 1  # names kept: only simple_icl_uppercase shared
    # main given the last training count: a duplicate, named, with the fix
    rc, _, err = _run(capsys, p, "--revision-tokens", "main=17e9")
    assert rc == 2 and "--duplicates first|last|mean" in err and "'main'" in err
    rc, out, _ = _run(capsys, p, "--revision-tokens", "main=17e9", "--duplicates", "first")
    assert rc == 0


def test_columns_option_maps_csv_names(tmp_path, capsys):
    p = tmp_path / "c.csv"
    _toy_curves().rename(columns={"model": "who", "score": "em"}).to_csv(p, index=False)
    rc, out, _ = _run(capsys, "--columns", "who=model,em=score", p, "--smooth", "0", "--json")
    assert rc == 0 and json.loads(out)["emergence"]["a"]["late"] == 30
    rc, out, _ = _run(capsys, p, "--columns", "who=model", "--columns", "em=score", "--json")
    assert rc == 0 and set(json.loads(out)["emergence"]) == {"a", "b"}


def test_threshold_none_where_a_floor_is_optional(tmp_path, capsys):
    p = tmp_path / "c.csv"
    _toy_curves().to_csv(p, index=False)
    rc, out, _ = _run(capsys, p, "--method", "relative", "--fraction", "0.5", "--threshold",
                      "none", "--json")  # fmt: skip
    doc = json.loads(out)
    assert rc == 0 and doc["criterion"]["threshold"] is None
    assert doc["criterion"]["name"] == "paper (method=relative, threshold=none, fraction=0.5)"
    assert doc["emergence"]["a"]["never"] is None  # all-zero: no floor, and still not emerged
    rc, out, _ = _run(capsys, p, "--criterion", "paper-relative", "--threshold", "0.5", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["criterion"]["threshold"] == 0.5
    assert doc["dropped"] == ["never"]  # flat in both models: paper-relative drops it
