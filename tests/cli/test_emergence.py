"""Tests of curriculens.cli.emergence: the `curriculens emergence` subcommand."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from curriculens.analysis.importers import write_store
from curriculens.cli.emergence import add_emergence_parser, main
from curriculens.store import Store

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"
PYTHIA = DATA / "pythia-evals"


def _run(capsys, *argv):
    rc = main(["emergence", *map(str, argv)])
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


@pytest.mark.skipif(not ELEMENTAL.exists(), reason="shared reference data not present")
def test_acceptance_elemental_json(capsys):
    rc, out, _ = _run(
        capsys, ELEMENTAL, "--method", "fixed", "--threshold", "0.8", "--smooth", "1", "--json"
    )
    assert rc == 0
    doc = json.loads(out)
    assert set(doc) == {"emergence", "pairs", "tasks"} and doc["tasks"] == "common"
    (pair,) = doc["pairs"]
    assert pair["n"] == 71
    assert round(pair["spearman"], 3) == 0.840 and round(pair["kendall"], 3) == 0.802
    assert set(doc["emergence"]) == {"EleutherAI/pythia-6.9b", "LLM360/Amber"}
    assert any(v is None for v in doc["emergence"]["LLM360/Amber"].values())


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


def test_store_bootstrap_and_leadlag(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    # the planted-store builder lives beside this file (importlib mode: no sys.path entry)
    spec = importlib.util.spec_from_file_location(
        "_leadlag_tests", Path(__file__).parents[1] / "analysis" / "test_leadlag.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _store = mod._store

    _store(tmp_path / "run", probe_mid=3.0)
    rc, out, _ = _run(capsys, tmp_path / "run", "--smooth", "0", "--bootstrap", "50",
                      "--leadlag", "--threshold", "0.5")  # fmt: skip
    assert rc == 0 and "Representation vs behavior" in out and "leads" in out
    assert "[" in out  # intervals in the table
    rc, out, _ = _run(capsys, tmp_path / "run", "--bootstrap", "50", "--leadlag", "--json")
    doc = json.loads(out)
    assert set(doc) == {"emergence", "pairs", "tasks", "intervals", "leadlag"}
    assert {r["verdict"] for r in doc["leadlag"]} == {"leads"}
    assert set(doc["intervals"]["toy"]["toyskill"]) == {"lo", "hi", "censored"}


def test_store_only_options_on_csv_exit_2(tmp_path, capsys):
    p = tmp_path / "c.csv"
    _toy_curves().to_csv(p, index=False)
    rc, _, err = _run(capsys, p, "--leadlag")
    assert rc == 2 and "need a curriculens store" in err


def test_columns_option_maps_csv_names(tmp_path, capsys):
    p = tmp_path / "c.csv"
    _toy_curves().rename(columns={"model": "who", "score": "em"}).to_csv(p, index=False)
    rc, out, _ = _run(capsys, "--columns", "who=model,em=score", p, "--smooth", "0", "--json")
    assert rc == 0 and json.loads(out)["emergence"]["a"]["late"] == 30
    rc, out, _ = _run(capsys, p, "--columns", "who=model", "--columns", "em=score", "--json")
    assert rc == 0 and set(json.loads(out)["emergence"]) == {"a", "b"}
