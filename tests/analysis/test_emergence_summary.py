"""One emergence point per skill per criterion: the report, ``curriculens emergence``,
``curriculum()`` and ``export`` show the same state, point, interval and raw interval, and the
same lead/lag, for each criterion; and each output says which interval is which."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.curriculum import curriculum
from curriculens.analysis.derived import emergence_frame, leadlag_frame
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.emergence_summary import emergence_summary
from curriculens.analysis.leadlag import lead_lag
from curriculens.cli.main import main
from curriculens.errors import ConfigError
from curriculens.reporting.formatting import format_emergence, format_interval
from curriculens.reporting.writer import analyze

N_BOOT = 120


@pytest.fixture(scope="module")
def sharp_run(bench, tmp_path_factory):
    """One skill whose behavior jumps from 0.02 to 0.97 between two checkpoints (as the demo's
    `copy`), in 28 groups of 12 items (7 held out), with the items table; its probe rises
    two checkpoints earlier."""
    groups, test = bench._design(28, 12, 7)

    def behavior(j, r):
        level = 0.97 if j >= 6 else 0.38 if j == 5 else 0.02
        return np.full(groups.size, level) * np.exp(r.normal(0, 0.05, groups.size))

    def probe(j, r):
        return r.random(int(test.sum())) < (0.97 if j >= 4 else 0.5)

    path = tmp_path_factory.mktemp("sharp") / "run"
    bench.write_planted(path, behavior=behavior, probe=probe, groups_all=groups, test=test,
                        seed=0)  # fmt: skip
    return path


def _same(ci, state, point, lo, hi, raw_lo, raw_hi):
    def eq(a, b):
        return (a is None and (b is None or pd.isna(b))) or (a is not None and a == b)

    return (
        ci.state == state
        and eq(ci.point, point)
        and eq(ci.lo, lo)
        and eq(ci.hi, hi)
        and eq(ci.raw_lo, raw_lo)
        and eq(ci.raw_hi, raw_hi)
    )


@pytest.mark.parametrize("criterion", ["paper", "paper-relative"])
def test_one_emergence_point_per_skill_per_criterion(sharp_run, criterion):
    (ci,) = behavior_emergence(sharp_run, criterion=criterion, n_boot=N_BOOT)["toy"].values()
    assert ci.resampling == "groups" and ci.n_boot == N_BOOT
    # `curriculens emergence`
    summary = emergence_summary(sharp_run, criterion=criterion, n_boot=N_BOOT)
    assert summary.intervals["toy"]["sk"] == ci
    # curriculum()
    row = curriculum(sharp_run, criterion=criterion, n_boot=N_BOOT).iloc[0]
    assert row["criterion"] == criterion
    assert _same(ci, row["behavior_state"], row["behavior_tokens"], row["behavior_lo"],
                 row["behavior_hi"], row["behavior_raw_lo"], row["behavior_raw_hi"])  # fmt: skip
    # the report: its curriculum table and its per-run intervals
    a = analyze(sharp_run, criterion=criterion, n_boot=N_BOOT)
    (e,) = a.emergence
    assert a.cis["toy"]["sk"] == ci
    assert _same(ci, e.behavior_state, e.behavior_tokens, e.behavior_lo, e.behavior_hi,
                 e.behavior_raw_lo, e.behavior_raw_hi)  # fmt: skip
    # export --what emergence
    frame = emergence_frame(sharp_run, criterion=criterion, n_boot=N_BOOT).iloc[0]
    assert frame["criterion"] == criterion and frame["resampling"] == "groups"
    assert _same(ci, frame["state"], frame["tokens"], frame["lo"], frame["hi"],
                 frame["raw_lo"], frame["raw_hi"])  # fmt: skip


def test_smoothing_moves_the_sharp_crossing_late_and_the_raw_interval_holds_it(bench, sharp_run):
    """The planted crossing lies in (checkpoint 5, checkpoint 6]: the raw interval holds that
    bracket, the smoothed criterion's point lies after it."""
    bracket = (bench.TOKENS[5], bench.TOKENS[6])
    (ci,) = behavior_emergence(sharp_run, criterion="paper", n_boot=N_BOOT)["toy"].values()
    assert ci.raw_lo <= bracket[0] and bracket[1] <= ci.raw_hi
    assert ci.point > bracket[1] and ci.lo >= bracket[1]  # the smoothed one misses it


def test_one_lead_lag_per_skill_and_margin(sharp_run):
    ref = lead_lag(sharp_run, n_boot=N_BOOT)
    (r,) = ref
    assert r.behavior_criterion == r.probe_criterion == "paper-relative"
    summary = emergence_summary(sharp_run, n_boot=N_BOOT, leadlag="paper-relative")
    a = analyze(sharp_run, n_boot=N_BOOT)
    cur = curriculum(sharp_run, n_boot=N_BOOT).iloc[0]
    frame = leadlag_frame(sharp_run, n_boot=N_BOOT).iloc[0]
    for other in (summary.leadlag["toy"][0], a.leads[0]):
        assert other.to_dict() == r.to_dict()
    assert cur["leadlag"] == r.verdict and cur["probe_tokens"] == r.probe_tokens
    assert cur["probe_state"] == r.probe_state and cur["probe_criterion"] == r.criterion
    assert frame["verdict"] == r.verdict and frame["probe_tokens"] == r.probe_tokens
    assert frame["behavior_tokens"] == r.behavior_tokens and frame["p_holm"] == r.p_holm
    assert frame["behavior_criterion"] == frame["probe_criterion"] == "paper-relative"
    assert frame["resampling"] == "groups" and frame["n_boot"] == N_BOOT
    # one margin, set once, reaches every table
    wide = 2.5
    (rw,) = lead_lag(sharp_run, n_boot=N_BOOT, margin_log10=wide)
    assert rw.margin_log10 == wide and r.margin_log10 < wide
    aw = analyze(sharp_run, n_boot=N_BOOT, margin_log10=wide)
    assert aw.leads[0].to_dict() == rw.to_dict() and aw.emergence[0].leadlag == rw.verdict
    sw = emergence_summary(sharp_run, n_boot=N_BOOT, leadlag="paper-relative", margin_log10=wide)
    assert sw.leadlag["toy"][0].to_dict() == rw.to_dict()
    assert leadlag_frame(sharp_run, n_boot=N_BOOT, margin_log10=wide).iloc[0]["verdict"] == (
        rw.verdict
    )
    with pytest.raises(ConfigError, match="ask for lead/lag too"):
        emergence_summary(sharp_run, n_boot=0, margin_log10=wide)


def test_the_cli_tables_and_the_report_print_the_same_intervals(sharp_run, tmp_path, capsys):
    (ci,) = behavior_emergence(sharp_run, criterion="paper", n_boot=N_BOOT)["toy"].values()
    (r,) = lead_lag(sharp_run, n_boot=N_BOOT, margin_log10=0.4)
    boot = ["--bootstrap", str(N_BOOT)]
    assert main(["emergence", str(sharp_run), "--json", "--leadlag", "--margin", "0.4", *boot]) == 0
    doc = json.loads(capsys.readouterr().out)
    iv = doc["intervals"]["toy"]["sk"]
    assert (iv["lo"], iv["hi"], iv["raw_lo"], iv["raw_hi"]) == (ci.lo, ci.hi, ci.raw_lo, ci.raw_hi)
    ll = doc["leadlag"]["toy"]["sk"]
    assert ll["verdict"] == r.verdict and ll["margin_log10"] == 0.4
    out = tmp_path / "em.csv"
    assert main(["export", str(sharp_run), "--what", "emergence", "-o", str(out), "--quiet",
                 *boot]) == 0  # fmt: skip
    row = pd.read_csv(out).iloc[0]
    assert (row["lo"], row["hi"], row["raw_lo"], row["raw_hi"]) == (
        ci.lo, ci.hi, ci.raw_lo, ci.raw_hi,
    )  # fmt: skip
    ll_out = tmp_path / "ll.csv"
    argv = ["export", str(sharp_run), "--what", "leadlag", "--margin", "0.4", "-o", str(ll_out)]
    assert main([*argv, "--quiet", *boot]) == 0
    assert pd.read_csv(ll_out).iloc[0]["verdict"] == r.verdict
    assert json.loads((tmp_path / "ll.csv.meta.json").read_text())["options"]["margin_log10"] == 0.4
    # the report: both intervals, each named, and the margin asked for
    dest = tmp_path / "report"
    capsys.readouterr()
    assert main(["report", str(sharp_run), "-o", str(dest), "--margin", "0.4", "--json",
                 *boot]) == 0  # fmt: skip
    names = json.loads(capsys.readouterr().out)
    assert (names["criterion"], names["leadlag_criterion"]) == ("paper", "paper-relative")
    assert names["margin_log10"] == 0.4
    md = (dest / "report.md").read_text()
    cell = format_emergence(ci.state, ci.point, ci.lo, ci.hi)
    raw = format_interval(ci.raw_lo, ci.raw_hi)
    assert f"| {cell} | {raw} |" in md
    assert "behavior emerges (paper, smoothed, 95% interval]" in md
    assert "raw crossing (paper, raw curve, 95% interval]" in md
    assert "probe selectivity emerges (paper-relative)" in md and "lead/lag (paper-relative)" in md
    assert "behavior emerges (continuous metric, paper-relative)" in md
    assert "holds the observed crossing" in md and "cluster bootstrap" in md
    assert "±0.40 log10 tokens (the margin asked for)" in md


def test_flags_that_only_lead_lag_reads_are_errors_elsewhere(sharp_run, tmp_path, capsys):
    assert main(["export", str(sharp_run), "--what", "emergence", "--margin", "0.3"]) == 2
    assert "applies to --what leadlag" in capsys.readouterr().err
    assert main(["export", str(sharp_run), "--what", "emergence", "--min-rise", "0.2"]) == 2
    assert "does not apply to method 'fixed'" in capsys.readouterr().err
    assert main(["export", str(sharp_run), "--min-rise", "0.2"]) == 2
    assert "apply to --what" in capsys.readouterr().err
    csv = tmp_path / "c.csv"
    pd.DataFrame({"model": "m", "tokens": [1, 2, 3], "task": "t", "score": [0, 0.5, 1]}).to_csv(
        csv, index=False
    )
    assert main(["report", str(csv), "-o", str(tmp_path / "r"), "--margin", "0.3"]) == 2
    assert "--margin read curriculens runs" in capsys.readouterr().err
