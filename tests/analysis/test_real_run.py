"""Integration: the analysis reads a store written by a real (tiny) sweep.

Uses the project's ``tiny_run`` fixture (tests/conftest.py); skips where it does not exist.
"""

from __future__ import annotations

import pytest

from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.importers import load_curves
from curriculens.analysis.leadlag import REPRESENTATIONS, lead_lag
from curriculens.cli.emergence import main


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
    cis = behavior_emergence(run_dir, threshold=0.5, n_boot=50)
    (per_skill,) = cis.values()
    assert set(per_skill) == set(curves["task"])
    results = lead_lag(run_dir, n_boot=50)
    assert results and {r.representation for r in results} <= set(REPRESENTATIONS)
    assert all(r.verdict in ("leads", "lags", "together", "undetermined") for r in results)
    assert main(["emergence", str(run_dir), "--bootstrap", "20", "--leadlag", "--json"]) == 0
    assert '"leadlag"' in capsys.readouterr().out
