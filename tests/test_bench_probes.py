"""The probe benchmark script runs end to end and its fused column agrees with sklearn, for W2
and for the calibrated workload on W2's sets."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_probes.py"


def run_bench(monkeypatch, argv: list[str]) -> dict:
    """``bench_probes.main(argv)``, loaded from the script, with torch's threads restored."""
    spec = importlib.util.spec_from_file_location("bench_probes", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_probes", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    try:
        return bench.main(argv)
    finally:
        torch.set_num_threads(threads)  # the script pins torch to one thread


@pytest.mark.slow
def test_bench_probes_w2_runs_and_reports_parity(capsys, monkeypatch):
    out = run_bench(monkeypatch, ["--workload", "W2", "--json", "--skip-default", "--jobs", "1"])
    assert out["n_probes"] == 24 and out["precond"] == "exact Gram"
    assert out["fused_s"] > 0 and out["sklearn_s"] > 0 and out["speedup"] > 0
    assert out["floor_engine_gram_s"] > 0 and out["engine_gram_gflops_1thread"] > 0
    assert out["mean_abs_acc_diff"] <= 0.005 and out["max_abs_acc_diff"] <= 0.02
    assert 0.5 <= out["acc_range"][0] < out["acc_range"][1] <= 1.0
    assert '"workload": "W2"' in capsys.readouterr().out  # the JSON line


@pytest.mark.slow
def test_calibrated_workload_runs_and_reports_parity(capsys, monkeypatch):
    out = run_bench(
        monkeypatch,
        ["--workload", "W1-calibrated", "--calibrated-base", "W2", "--draws", "4",
         "--splits", "3", "--sample-fits", "6", "--jobs", "1", "--json"],
    )  # fmt: skip
    # 24 hook sets x (3 task splits + 4 draws) + 4 lexical sets x 3 splits
    assert out["n_problems"] == 24 * 7 + 4 * 3 and out["n_lexical_sets"] == 4
    assert out["fused_s"] > 0 and out["ratio_to_w1"] > 0 and out["floor_s"] > 0
    assert out["mean_abs_acc_diff_sample"] <= 0.01 and out["max_abs_acc_diff_vs_w1_task"] <= 0.01
    assert out["converged"] == 1.0
    assert '"base": "W2"' in capsys.readouterr().out  # the JSON line
