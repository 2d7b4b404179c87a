"""``curriculens export --what emergence|leadlag|consistency``: the derived tables of a run, as
the analysis functions compute them."""

from __future__ import annotations

import json

import pandas as pd

from curriculens.analysis.emergence import behavior_emergence
from curriculens.cli.main import main
from curriculens.pipeline.run import SweepConfig, sweep


def test_export_emergence_and_leadlag_match_the_analysis(tiny_run, tmp_path, capsys):
    run, _, _ = tiny_run
    out = tmp_path / "em.csv"
    assert main(["export", str(run), "--what", "emergence", "-o", str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    cis = behavior_emergence(run, criterion="paper", n_boot=1000, seed=0)
    (name, per), *_ = cis.items()
    assert set(table["skill"]) == set(per) and set(table["run"]) == {name}
    for skill, ci in per.items():
        row = table[table["skill"] == skill].iloc[0]
        assert row["state"] == ci.state and row["criterion"] == "paper"
        assert (pd.isna(row["tokens"]) and ci.point is None) or row["tokens"] == ci.point
    meta = json.loads((tmp_path / "em.csv.meta.json").read_text())
    assert meta["table"] == "emergence" and meta["rows"] == len(table)

    ll = tmp_path / "ll.csv"
    argv = ["export", str(run), "--what", "leadlag", "--bootstrap", "50", "-o", str(ll)]
    assert main([*argv, "--quiet"]) == 0
    lead = pd.read_csv(ll)
    assert {"skill", "verdict", "lead_log10_tokens", "hook"} <= set(lead.columns)
    assert set(lead["criterion"]) == {"paper-relative"}


def test_consistency_needs_two_distinct_runs(toy_series, write_series, tmp_path,
                                                           capsys):  # fmt: skip
    out = tmp_path / "two"
    cfg = SweepConfig(skills=("add2", "copy", "agreement"), n_examples=40)
    assert main(["export", str(out), "--what", "consistency"]) == 2  # no store yet
    capsys.readouterr()
    sweep(toy_series, out, config=cfg, run="a", progress=False)
    assert main(["export", str(out), "--what", "consistency", "-o", str(tmp_path / "c.csv")]) == 2
    assert "holds 1 (a)" in capsys.readouterr().err
    # the same checkpoints again are the same run: a duplicate, never compared with itself
    sweep(toy_series, out, config=cfg, run="copy", progress=False)
    argv = ["export", str(out), "--what", "consistency", "--bootstrap", "20"]
    assert main([*argv, "-o", str(tmp_path / "c.csv")]) == 2
    assert "'copy' is a duplicate of run 'a'" in capsys.readouterr().err
    other = write_series(tmp_path / "other" / "checkpoints", seeds=(3, 4, 5))
    sweep(other, out, config=cfg, run="b", progress=False)
    assert main([*argv, "-o", str(tmp_path / "c.csv"), "--quiet"]) == 0
    pairs = pd.read_csv(tmp_path / "c.csv")
    assert (pairs["a"].tolist(), pairs["b"].tolist(), pairs["n"].tolist()) == (["a"], ["b"], [3])
    rho = pairs["spearman"].iloc[0]
    assert pd.isna(rho) or -1.0 <= rho <= 1.0


def test_derived_only_flags_are_errors_on_scores(tiny_run, capsys):
    run, _, _ = tiny_run
    assert main(["export", str(run), "--criterion", "paper"]) == 2
    assert "apply to --what emergence|leadlag|consistency" in capsys.readouterr().err
