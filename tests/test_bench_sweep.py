"""The sweep benchmark runs end to end on the tiny shape; its stages account for the sweep."""

import importlib.util
import json
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py"


def _bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_sweep", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_sweep", bench)
    spec.loader.exec_module(bench)
    return bench


def test_bench_sweep_tiny_reports_stages_that_sum_to_the_sweep(capsys, monkeypatch):
    import curriculens.pipeline.run as run_mod
    from curriculens.checkpoints import Checkpoint
    from curriculens.store import Store

    bench = _bench(monkeypatch)
    before = (run_mod.capture, run_mod.load_bridge, Checkpoint.load, Store.write_unit)
    threads = torch.get_num_threads()
    try:
        args = ["--shape", "tiny", "--skills", "en_agreement", "en_add1"]
        assert bench.main([*args, "--examples", "30", "--json"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # the last line is JSON
    for key in ("sweep_s", "raw_forward_s", "ratio", "peak_rss_mb", "stages"):
        assert key in out
    assert set(out["stages"]) == set(bench.STAGES)
    assert out["sweep_s"] > 0 and out["raw_forward_s"] > 0 and out["peak_rss_mb"] > 0
    assert all(v >= 0 for v in out["stages"].values())
    for stage in ("load", "forward", "behavior", "probes", "store"):
        assert out["stages"][stage] > 0, stage
    assert abs(sum(out["stages"].values()) - out["sweep_s"]) <= 0.01 + 0.02 * out["sweep_s"]
    assert out["sequences"] > 60 and out["tokens"] > out["sequences"]
    # the timer hooks are removed afterwards
    assert before == (run_mod.capture, run_mod.load_bridge, Checkpoint.load, Store.write_unit)
