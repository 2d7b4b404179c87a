"""The probe benchmark script runs end to end and its fused column agrees with sklearn."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_probes.py"


@pytest.mark.slow
def test_bench_probes_w2_runs_and_reports_parity(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_probes", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_probes", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    try:
        out = bench.main(["--workload", "W2", "--json", "--skip-default", "--jobs", "1"])
    finally:
        torch.set_num_threads(threads)  # the script pins torch to one thread
    assert out["n_probes"] == 24 and out["precond"] == "exact Gram"
    assert out["fused_s"] > 0 and out["sklearn_s"] > 0 and out["speedup"] > 0
    assert out["mean_abs_acc_diff"] <= 0.005 and out["max_abs_acc_diff"] <= 0.02
    assert 0.5 <= out["acc_range"][0] < out["acc_range"][1] <= 1.0
    assert '"workload": "W2"' in capsys.readouterr().out  # the JSON line
