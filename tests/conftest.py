"""Shared fixtures: a tiny trained-and-swept run that many tests read."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


TINY_SKILLS = ("agreement", "facts", "add1", "copy")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 2-layer, d_model 32 model trained 40 steps, 4 checkpoints, swept on 4 skills."""
    from curriculens.sweep import SweepConfig, sweep
    from curriculens.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(
        steps=40, n_checkpoints=4, d_model=32, n_heads=2, d_mlp=64, batch_size=8, seq_len=32, seed=1
    )
    summary = train(cfg, out, progress=False)
    sweep(
        out / "checkpoints",
        out,
        config=SweepConfig(skills=TINY_SKILLS, n_examples=60),
        progress=False,
    )
    return out, cfg, summary
