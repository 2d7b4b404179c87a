"""The sweep benchmark runs end to end on the tiny shape; its stages account for the sweep."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py"


def _bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_sweep", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_sweep", bench)
    spec.loader.exec_module(bench)
    return bench


def test_bench_sweep_tiny_reports_stages_that_sum_to_the_sweep(capsys, monkeypatch):
    import curriculens.pipeline.loading as loading_mod
    import curriculens.pipeline.measure as measure_mod
    from curriculens.checkpoints import Checkpoint
    from curriculens.pipeline.overlap import ScoringWorker
    from curriculens.store import Store

    bench = _bench(monkeypatch)
    before = (
        measure_mod.capture,
        measure_mod.load_bridge,
        loading_mod.scan_weights,
        measure_mod.score,
        Checkpoint.load,
        Store.write_unit,
        ScoringWorker.submit,
    )
    threads = torch.get_num_threads()
    runs = {}
    try:
        args = ["--shape", "tiny", "--skills", "en_agreement", "en_add1", "--examples", "30"]
        for name, extra in {
            "overlap": ["--checkpoints", "2"],
            "in turn": ["--overlap", "off", "--dtype", "bfloat16"],
        }.items():
            assert bench.main([*args, *extra, "--json"]) == 0
            runs[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        torch.set_num_threads(threads)
    for out in runs.values():
        for key in ("sweep_s", "raw_forward_s", "ratio", "peak_rss_mb", "stages"):
            assert key in out
        assert set(out["stages"]) == set(bench.STAGES)
        assert out["sweep_s"] > 0 and out["raw_forward_s"] > 0 and out["peak_rss_mb"] > 0
        assert all(v >= 0 for v in out["stages"].values())
        for stage in ("load", "fingerprint", "forward", "behavior", "store"):
            assert out["stages"][stage] > 0, stage
        # the sweep's own thread: its stages account for its wall time
        assert abs(sum(out["stages"].values()) - out["sweep_s"]) <= 0.01 + 0.02 * out["sweep_s"]
        assert out["sequences"] > 60 and out["tokens"] > out["sequences"]
        assert len(out["rss_at_loads_mb"]) == out["checkpoints"]
    ovl, seq = runs["overlap"], runs["in turn"]
    assert ovl["checkpoints"] == 2 and ovl["overlap"] is True and ovl["dtype"] == "float32"
    assert ovl["ratio"] == pytest.approx(
        ovl["sweep_s"] / (2 * ovl["raw_forward_s"]), rel=0.05
    )  # rounded
    # overlapped: the probes ran on the scoring worker, beside the next checkpoint's forwards
    assert ovl["worker_stages"]["probes"] > 0 and ovl["stages"]["probes"] == 0
    assert seq["checkpoints"] == 1 and seq["overlap"] is False and seq["dtype"] == "bfloat16"
    assert seq["stages"]["probes"] > 0 and seq["worker_stages"] == {}
    # the timer hooks are removed afterwards
    assert before == (
        measure_mod.capture,
        measure_mod.load_bridge,
        loading_mod.scan_weights,
        measure_mod.score,
        Checkpoint.load,
        Store.write_unit,
        ScoringWorker.submit,
    )


def test_bench_sweep_cli_times_the_command_at_its_default_threads(capsys, monkeypatch, tmp_path):
    """``--cli``: the command users run, in a child process, against the plain forward at the
    thread count the sweep chose (read from the run it wrote)."""
    bench = _bench(monkeypatch)
    threads = torch.get_num_threads()
    args = ["--cli", "--shape", "tiny", "--skills", "en_add1", "--examples", "30", "--json"]
    assert bench.main(args) == 0
    assert torch.get_num_threads() == threads  # the plain forward's count is put back
    text = capsys.readouterr().out
    out = json.loads(text.strip().splitlines()[-1])
    assert out["path"] == "cli" and out["imports_s"] > 0 and len(out["runs"]) == 1
    (r,) = out["runs"]
    assert r["threads_flag"] is None and r["threads_chosen"].startswith("auto")
    assert 1 <= r["threads"] <= bench.psutil.cpu_count(logical=False)
    assert r["skills"] == ["en_add1"] and r["examples"] == 30 and r["task_vectors"] is True
    assert "--threads" not in r["command"] and "--skills en_add1" in r["command"]
    assert r["sweep_s"] > 0 and r["peak_rss_mb"] > 100 and r["sequences"] >= 30
    plain = r["raw_load_s"] + r["raw_forward_s"]
    assert r["ratio"] == pytest.approx(r["sweep_s"] / plain, rel=0.05)  # rounded
    assert f"{r['threads']} thread(s) ({r['threads_chosen']})" in text
    with pytest.raises(SystemExit):
        bench.main(["--cli", "--device", "cuda"])
    assert "--cli times the CLI's defaults" in capsys.readouterr().err


def test_bench_sweep_refuses_zero_checkpoints(capsys, monkeypatch):
    bench = _bench(monkeypatch)
    with pytest.raises(SystemExit):
        bench.main(["--checkpoints", "0"])
    assert "--checkpoints: expected an int >= 1, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu_and_summarizes(tmp_path):
    """benchmarks/gpu_check.sh with DEVICE=cpu: the same steps at a small size, ending in the
    summary (checkpoints per hour of the sweep, probes per second)."""
    import os
    import subprocess

    repo = BENCH.parents[1]
    env = dict(os.environ, DEVICE="cpu", RESULTS=str(tmp_path), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(repo)
    done = subprocess.run(
        ["bash", str(repo / "benchmarks" / "gpu_check.sh")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sweep_line = json.loads((tmp_path / "sweep_float32.json").read_text())
    assert sweep_line["checkpoints"] == 2 and sweep_line["device"] == "cpu"
    assert json.loads((tmp_path / "probes_W2.json").read_text())["probes_per_s"] > 0
    summary = done.stdout[done.stdout.index("summary") :]
    assert "checkpoints/hour" in summary and "probes W2 on cpu:" in summary
    assert f"{sweep_line['checkpoints_per_hour']:.0f} checkpoints/hour" in summary
