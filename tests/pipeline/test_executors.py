"""Executors: the Ray executor writes the same table as the local one; only the driver writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from curriculens.errors import ConfigError
from curriculens.pipeline.executors import map_unordered
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.store import Store
from curriculens.toy.corpus import build_toy_tokenizer
from curriculens.toy.trainer import TrainConfig, build_model

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
CFG = SweepConfig(skills=("facts", "add1"), n_examples=40)


def _table(out: Path) -> list[dict]:
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
    for r in rows:
        r["items"] = None if r["items"] is None else r["items"].tolist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_local_map_and_bad_executor():
    assert list(map_unordered(divmod, [7, 9], args=(2,))) == [(0, (3, 1)), (1, (4, 1))]
    with pytest.raises(ConfigError, match="executor='dask'"):
        list(map_unordered(divmod, [1], executor="dask"))
    with pytest.raises(ConfigError, match="expected one of local, ray"):
        sweep(REPO, REPO / "never", config=CFG, executor="spark")


@pytest.mark.slow
def test_ray_sweep_equals_local(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    tok = build_toy_tokenizer()
    root = tmp_path / "ck"
    for step, seed in enumerate((0, 1, 2)):
        m = build_model(
            TrainConfig(n_layers=2, d_model=32, n_heads=2, d_mlp=64, seed=seed), len(tok)
        )
        m.save_pretrained(root / f"step{step}")
        tok.save_pretrained(root / f"step{step}")
        (root / f"step{step}" / "curriculens_checkpoint.json").write_text(
            json.dumps({"step": step, "tokens": step * 64})
        )
    sweep(root, tmp_path / "local", config=CFG, run="r", progress=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # workers import this tree
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        sweep(root, tmp_path / "ray", config=CFG, run="r", progress=False, executor="ray")
        assert _table(tmp_path / "ray") == _table(tmp_path / "local")
        # resuming through Ray finds nothing to do and writes nothing
        sweep(root, tmp_path / "ray", config=CFG, run="r", progress=False, executor="ray")
        assert _table(tmp_path / "ray") == _table(tmp_path / "local")
    finally:
        ray.shutdown()
