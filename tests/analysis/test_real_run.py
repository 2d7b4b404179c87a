"""Integration: the analysis reads a store written by a real (tiny) sweep, and every reader of
emergence (skill_emergence(), the report, ``curriculens emergence RUN``) gives the same point per
skill.

Uses the project's ``tiny_run`` fixture (tests/conftest.py); skips where it does not exist.
"""

from __future__ import annotations

import json

import pytest

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import skill_emergence
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.importers import load_curves
from curriculens.analysis.leadlag import VERDICTS, lead_lag
from curriculens.cli.main import main
from curriculens.reporting.formatting import format_emergence


@pytest.fixture
def run_dir(request):
    try:
        out, *_ = request.getfixturevalue("tiny_run")
    except pytest.FixtureLookupError:
        pytest.skip("no tiny_run fixture in this checkout")
    return out


@pytest.mark.slow
def test_analysis_of_a_swept_run(run_dir, capsys):
    curves = load_curves(run_dir)
    assert curves["model"].nunique() == 1 and curves["task"].nunique() >= 2
    cis = behavior_emergence(run_dir, n_boot=50)
    (per_skill,) = cis.values()
    assert set(per_skill) == set(curves["task"])
    for ci in per_skill.values():
        assert ci.state in ("emerged", "present_at_init", "not_emerged")
        if ci.state == "emerged":
            assert ci.lo < ci.point <= ci.hi
    results = lead_lag(run_dir, n_boot=50)
    assert results and all(r.verdict in VERDICTS for r in results)
    # held-out groups from the run's items table: the cluster bootstrap, not the item one
    assert {r.resampling for r in results} == {"groups"}
    assert all(r.probe_groups and r.behavior_groups >= r.probe_groups for r in results)
    assert {ci.resampling for ci in per_skill.values()} == {"groups"}
    assert {r.skill for r in results} <= set(curves["task"])
    assert main(["emergence", str(run_dir), "--bootstrap", "20", "--leadlag", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (model,) = doc["leadlag"]
    assert set(doc["leadlag"][model]) == {r.skill for r in results}
    same = {r.skill: r.verdict for r in lead_lag(run_dir, n_boot=20)}  # the CLI's settings
    assert {s: v["verdict"] for s, v in doc["leadlag"][model].items()} == same


def _report_cells(md: str) -> dict[str, str]:
    """skill -> the behavior-emergence cell of the report's curriculum table."""
    lines = md.split("## Curriculum", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [ln.strip("|").split(" | ") for ln in lines if ln.startswith("| ")]
    head, body = rows[0], rows[1:]
    col = next(i for i, h in enumerate(head) if h.startswith("behavior emerges"))
    return {r[1].strip(): r[col].strip() for r in body}


@pytest.mark.slow
@pytest.mark.parametrize(
    "criterion, flags",
    [
        (None, []),
        ("paper-relative", ["--criterion", "paper-relative"]),
        (
            Criterion.preset("paper", threshold=0.3, smooth=None),
            ["--threshold", "0.3", "--smooth", "0"],
        ),
    ],
)
def test_report_curriculum_and_cli_give_one_point_per_skill(run_dir, capsys, criterion, flags):
    cur = {e.skill: e for e in skill_emergence(run_dir, criterion=criterion, n_boot=100)}
    assert main(["emergence", str(run_dir), "--json", "--bootstrap", "100", *flags]) == 0
    doc = json.loads(capsys.readouterr().out)
    (model,) = doc["emergence"]
    cli_points = doc["emergence"][model]
    cli_states = {t: iv["state"] for t, iv in doc["intervals"][model].items()}
    assert set(cli_points) == set(cur)
    assert set(doc["dropped"]) == set(load_curves(run_dir).task) - set(cur)  # paper-relative
    for skill, e in cur.items():
        assert e.behavior_tokens == cli_points[skill], skill
        assert e.behavior_state == cli_states[skill], skill
        assert e.criterion == doc["criterion"]["name"]
    assert main(["report", str(run_dir), "--bootstrap", "100", *flags]) == 0
    capsys.readouterr()
    cells = _report_cells((run_dir / "report.md").read_text())
    assert set(cells) == set(cur)
    for skill, e in cur.items():
        shown = format_emergence(e.behavior_state, e.behavior_tokens, e.behavior_lo, e.behavior_hi)
        assert cells[skill] == shown, skill
    assert f"Criterion {Criterion.of(criterion).name}:" in (run_dir / "report.md").read_text()
    # and the library call the report's per-run table uses
    lib = behavior_emergence(run_dir, criterion=criterion, n_boot=0)[model]
    assert {s: lib[s].point for s in cur} == {s: e.behavior_tokens for s, e in cur.items()}
    assert all(lib[s].flat for s in set(lib) - set(cur))  # left out only by the criterion
