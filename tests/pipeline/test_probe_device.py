"""The sweep's probe fits run on the sweep's device: the fused engine is given ``config.device``
(on a GPU, the solves run there; benchmarks/gpu_check.sh covers CUDA), and on CPU nothing
changes: the stored values are those of the engine's default device."""

from __future__ import annotations

import pytest
import torch

import curriculens.pipeline.measure as measure_mod
from curriculens.checkpoints import CheckpointSeries
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.run import evaluate_model
from curriculens.store import Store

torch.set_num_threads(1)


def _rows(toy_series, out, monkeypatch, force_device=None):
    """Evaluate one toy checkpoint; return its rows and the devices the engine was given."""
    given = []
    real = measure_mod.fit_probe_tasks

    def engine(tasks, **kw):
        given.append(kw.get("device"))
        if force_device is not None:
            kw["device"] = force_device[0]
        return real(tasks, **kw)

    monkeypatch.setattr(measure_mod, "fit_probe_tasks", engine)
    model, tok = CheckpointSeries.from_dir(toy_series)[0].load()
    config = SweepConfig(skills=("facts", "add1"), n_examples=40, device="cpu")
    with Store(out) as store:
        kw = dict(checkpoint="step0", step=0, tokens=0, run="r", fp="f0", progress=False)
        assert evaluate_model(model, tok, config, store=store, **kw) == 2
        rows = store.rows()
    return {(r["skill"], r["kind"], r["metric"], r["hook"]): r["value"] for r in rows}, given


def test_probe_fits_follow_the_device_the_sweep_runs_on(toy_series, tmp_path, monkeypatch):
    rows, given = _rows(toy_series, tmp_path / "a", monkeypatch)
    assert given == ["cpu"]  # one fused call, on the sweep's device
    default, before = _rows(toy_series, tmp_path / "b", monkeypatch, force_device=[None])
    assert before == ["cpu"]
    probes = {k: v for k, v in rows.items() if k[1] in ("probe", "control")}
    assert probes and probes == pytest.approx({k: default[k] for k in probes}, abs=0, nan_ok=True)
