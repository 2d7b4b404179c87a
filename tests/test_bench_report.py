"""The report benchmark times the CLI on a copy of a run, leaves the run as it was, and finds the
warm (cached) report faster than the cold one."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_report.py"


@pytest.mark.slow
def test_bench_report_times_cold_warm_and_audit(tiny_run, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_report", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_report", bench)
    spec.loader.exec_module(bench)
    out, _, _ = tiny_run
    before = sorted(p.name for p in out.iterdir())
    result = bench.main([str(out), "--repeat", "1", "--json"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == result
    assert result["report_warm_s"] < result["report_cold_s"]
    assert result["report_warm_cpu_s"] < result["report_cold_cpu_s"]
    assert result["audit_s"] > 0 and result["ratio_cold_warm"] > 1
    assert sorted(p.name for p in out.iterdir()) == before  # timed on a copy
