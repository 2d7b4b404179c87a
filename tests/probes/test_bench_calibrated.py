"""The calibrated workload of the probe benchmark runs end to end, at parity, on W2's sets."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_probes.py"


@pytest.mark.slow
def test_calibrated_workload_runs_and_reports_parity(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_probes", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_probes", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    try:
        out = bench.main(
            ["--workload", "W1-calibrated", "--calibrated-base", "W2", "--draws", "4",
             "--splits", "3", "--sample-fits", "6", "--jobs", "1", "--json"]
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)  # the script pins torch to one thread
    # 24 hook sets x (3 task splits + 4 draws) + 4 lexical sets x 3 splits
    assert out["n_problems"] == 24 * 7 + 4 * 3 and out["n_lexical_sets"] == 4
    assert out["fused_s"] > 0 and out["ratio_to_w1"] > 0 and out["floor_s"] > 0
    assert out["mean_abs_acc_diff_sample"] <= 0.01 and out["max_abs_acc_diff_vs_w1_task"] <= 0.01
    assert out["converged"] == 1.0
    assert '"base": "W2"' in capsys.readouterr().out  # the JSON line
