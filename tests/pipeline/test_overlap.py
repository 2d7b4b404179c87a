"""The scoring worker (issue 18): probe fits overlapped with the next checkpoint's forwards store
the same values as the sequential sweep, keep memory bounded, and surface a worker's error with
the checkpoint named, losing nothing already finished."""

from __future__ import annotations

import math
import shutil
import threading
import time
from dataclasses import replace

import pytest
import torch

import curriculens.pipeline.measure as measure_mod
from curriculens.errors import ProbeError, UnmeasurableWarning
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.overlap import ScoringWorker, thread_plan
from curriculens.pipeline.run import sweep
from curriculens.store import Store

torch.set_num_threads(1)
CONFIG = SweepConfig(skills=("facts", "add1", "agreement"), n_examples=40)


def _values(out) -> dict[tuple, tuple]:
    """Every stored row, keyed by what identifies it: ``(value, n, reason, items)``."""
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
    key = ("checkpoint", "fingerprint", "skill", "probe_key", "kind", "hook", "layer", "metric")
    out = {}
    for r in rows:
        items = None if r["items"] is None else r["items"].tolist()
        out[tuple(r[k] for k in key)] = (r["value"], r["n"], r["reason"], items)
    return out


def _poison(folder) -> None:
    from safetensors.torch import load_file, save_file

    f = folder / "model.safetensors"
    state = load_file(str(f))
    name = "gpt_neox.layers.0.mlp.dense_4h_to_h.weight"
    state[name] = state[name].clone()
    state[name][1, 2] = float("nan")
    save_file(state, str(f), metadata={"format": "pt"})


@pytest.mark.parametrize("threads", [1, 2])
def test_overlapped_sweep_stores_the_sequential_sweeps_values(toy_series, tmp_path, threads):
    root = tmp_path / "ck"
    shutil.copytree(toy_series, root)
    _poison(root / "step10")  # a NaN-weights checkpoint goes through the worker too
    outs = {}
    for overlap in (False, True):
        cfg = replace(CONFIG, overlap=overlap, threads=threads)
        outs[overlap] = tmp_path / f"run_{overlap}"
        with pytest.warns(UnmeasurableWarning, match="step10"):
            sweep(root, outs[overlap], config=cfg, run="r", progress=False)
    seq, ovl = _values(outs[False]), _values(outs[True])
    assert seq.keys() == ovl.keys()
    assert len(seq) > 60
    probes = [k for k in seq if k[4] == "probe"]
    assert probes and any(seq[k][0] is not None for k in probes)
    assert any(seq[k][2] == "NaN weights" for k in seq)
    for k, (v, n, reason, items) in seq.items():
        w, n2, reason2, items2 = ovl[k]
        assert (n, reason) == (n2, reason2), k
        if v is None or w is None:
            assert v is w, k
        else:
            assert math.isclose(v, w, rel_tol=1e-5, abs_tol=1e-6), (k, v, w)
        if items is not None:
            assert items2 == pytest.approx(items, rel=1e-5, abs=1e-6), k
    with Store(outs[True], readonly=True) as s:
        meta = s.get_meta("run:r")
    assert meta["threads"] == {"torch": threads, "probe_workers": 1, "overlap": True}
    assert meta["config"]["overlap"] is True


def test_a_worker_error_names_the_checkpoint_and_keeps_finished_units(
    toy_series, tmp_path, monkeypatch
):
    real = measure_mod.score
    calls = []

    def failing(captured, *a, **kw):
        calls.append(captured.base["checkpoint"])
        if captured.base["checkpoint"] == "step10":
            raise ProbeError("the probe engine failed")
        return real(captured, *a, **kw)

    monkeypatch.setattr(measure_mod, "score", failing)
    out = tmp_path / "run"
    with pytest.raises(ProbeError, match=r"the probe engine failed .*checkpoint 'step10'"):
        sweep(toy_series, out, config=CONFIG, run="r", progress=False)
    with Store(out, readonly=True) as s:
        stored = {r["checkpoint"] for r in s.rows()}
    assert "step0" in stored and "step10" not in stored  # step0 finished before: it is kept
    monkeypatch.setattr(measure_mod, "score", real)
    sweep(toy_series, out, config=CONFIG, run="r", progress=False)  # resumes
    with Store(out, readonly=True) as s:
        assert {r["checkpoint"] for r in s.rows()} == {"step0", "step10", "step20"}


def test_a_non_curriculens_error_gets_the_checkpoint_as_a_note():
    def boom(**kw):
        raise RuntimeError("out of memory")

    w = ScoringWorker(lambda *a: None)
    with pytest.raises(RuntimeError, match="out of memory") as info, w:  # noqa: PT012
        w.submit("step7", "fp", boom)
    assert any("'step7'" in n for n in info.value.__notes__)


def test_at_most_one_checkpoint_waits_while_one_is_scored():
    release = threading.Event()
    started = []
    written = []

    def job(i):
        def score(**kw):
            started.append(i)
            release.wait(10)
            return [(f"u{i}", [i])]

        return score

    submitted = []
    with ScoringWorker(lambda label, key, units: written.append(label)) as w:

        def submit_all():
            for i in range(3):
                w.submit(f"ck{i}", f"fp{i}", job(i))
                submitted.append(i)

        t = threading.Thread(target=submit_all)
        t.start()
        time.sleep(1.0)
        # ck0 is being scored, ck1 waits in the queue; ck2's submit blocks (memory stays flat)
        assert started == [0] and submitted == [0, 1]
        release.set()
        t.join(10)
        assert submitted == [0, 1, 2]
    assert written == ["ck0", "ck1", "ck2"]


def test_off_scores_in_the_calling_thread():
    where = []
    w = ScoringWorker(lambda *a: None, enabled=False, worker_kwargs={"n_jobs": 1})
    with w:
        w.submit("a", "k", lambda **kw: where.append((threading.current_thread(), kw)) or [])
    assert where == [(threading.current_thread(), {})]


def test_thread_plan_and_the_overlap_setting():
    cfg = SweepConfig(skills=("facts",), threads=2, overlap=False)
    assert thread_plan(cfg) == {"torch": 2, "probe_workers": 2, "overlap": False}
    assert cfg.probe_key() == replace(cfg, overlap=True).probe_key()  # values do not depend on it
    with pytest.raises(Exception, match="overlap"):
        SweepConfig(skills=("facts",), overlap="yes")


def test_each_checkpoints_tensors_are_freed_before_the_next_loads(
    toy_series, tmp_path, monkeypatch
):
    """Issue 18's flat memory: no tensor of a checkpoint (its weights, the bridge's copies)
    is alive when the next checkpoint loads; a caller's local name once kept them until the
    interpreter's next full collection."""
    import weakref

    from curriculens.checkpoints import Checkpoint

    load = Checkpoint.load
    refs: list[list] = []
    alive_at_load = []

    def tracked(*a, **k):
        alive_at_load.append(sum(r() is not None for rs in refs for r in rs))
        model, tok = load(*a, **k)
        refs.append([weakref.ref(p) for p in model.parameters()])
        return model, tok

    monkeypatch.setattr(Checkpoint, "load", tracked)
    import gc

    gc.disable()  # only the sweep's own collections may free a model
    try:
        sweep(toy_series, tmp_path / "run", config=CONFIG, run="r", progress=False)
    finally:
        gc.enable()
    assert len(refs) == 3 and alive_at_load == [0, 0, 0]
