"""Tests of curriculens.cli.predict: the `curriculens predict` subcommand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.importers import write_store
from curriculens.cli.main import main
from curriculens.store import Store

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"


def _run(capsys, *argv):
    rc = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.skipif(not ELEMENTAL.exists(), reason="shared reference data not present")
def test_paper_csv_json(capsys):
    rc, out, _ = _run(capsys, ELEMENTAL, "--json")
    assert rc == 0
    doc = json.loads(out)
    assert {"composites", "mean_r2", "mean_r2_pearson", "by_model"} <= set(doc)
    assert set(doc["mean_r2"]) == {"product", "min", "mean"}  # fv methods do not apply
    first = doc["composites"][0]
    assert set(first) == {"model", "name", "components", "n", "r2", "r2_pearson", "decoys"}
    assert doc["scoring"] == "raw"
    assert set(doc["by_model"]) == {"EleutherAI/pythia-6.9b", "LLM360/Amber"}
    # every scored composite has every component in the file, for its model
    curves = pd.read_csv(ELEMENTAL)
    have = curves.groupby("model")["task"].agg(set).to_dict()
    for c in doc["composites"]:
        assert c["name"] in have[c["model"]] and set(c["components"]) <= have[c["model"]]
    # each model's mean is the mean of its composites' defined values
    for model, summary in doc["by_model"].items():
        vals = [
            c["r2"]["product"]
            for c in doc["composites"]
            if c["model"] == model and c["r2"]["product"] is not None
        ]
        assert summary["n"]["product"] == len(vals) > 0
        assert summary["mean_r2"]["product"] == pytest.approx(np.mean(vals))
    rc, text, _ = _run(capsys, ELEMENTAL)
    assert rc == 0 and "compositional_plural_upper" in text and "median" in text


@pytest.mark.skipif(not ELEMENTAL.exists(), reason="shared reference data not present")
def test_paper_scoring_gives_the_papers_product_baseline(capsys):
    rc, out, _ = _run(capsys, ELEMENTAL, "--scoring", "paper", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["scoring"] == "paper"
    pythia, amber = doc["by_model"]["EleutherAI/pythia-6.9b"], doc["by_model"]["LLM360/Amber"]
    assert pythia["n_pearson"]["product"] == 32 and amber["n_pearson"]["product"] == 22
    assert pythia["mean_r2_pearson"]["product"] == pytest.approx(0.372, abs=0.005)
    assert amber["mean_r2_pearson"]["product"] == pytest.approx(0.670, abs=0.005)
    d = doc["composites"][0]["decoys"]["product"]["r2_pearson"]
    assert {"rank", "of", "mean", "p95"} <= set(d) and 1 <= d["rank"] <= d["of"]


def test_run_store_with_declared_composites(tmp_path, capsys):
    tokens = [0, 100, 200, 300, 400]
    plural = np.array([0.0, 0.3, 0.6, 0.9, 1.0])
    upper = np.array([0.0, 0.5, 0.8, 1.0, 1.0])
    curves = {"en_plural": plural, "en_uppercase": upper, "en_plural_upper": plural * upper}
    rows = [
        ("run1", f"step{t}", t, task, float(ys[i]))
        for task, ys in curves.items()
        for i, t in enumerate(tokens)
    ]
    df = pd.DataFrame(rows, columns=["model", "checkpoint", "tokens", "task", "score"])
    with Store(tmp_path / "run") as s:
        write_store(df, s)
    rc, out, _ = _run(capsys, tmp_path / "run", "--json")
    assert rc == 0
    (c,) = json.loads(out)["composites"]
    assert c["name"] == "en_plural_upper" and c["components"] == ["en_plural", "en_uppercase"]
    assert c["n"] == 4 and c["r2"]["product"] == pytest.approx(1.0)


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    p = tmp_path / "plain.csv"
    p.write_text("model,tokens,task,score\nm,1,a,0.1\nm,2,a,0.5\nm,3,a,0.9\n")
    rc, _, err = _run(capsys, p)
    assert rc == 2 and err.startswith("curriculens predict: error:") and "no composite" in err
    assert len(err.strip().splitlines()) == 1
    rc, _, err = _run(capsys, p, "--config", "abc")
    assert rc == 2 and "--config" in err
    rc, _, err = _run(capsys, tmp_path / "missing.csv")
    assert rc == 2 and "does not exist" in err
