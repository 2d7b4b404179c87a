"""Tiny toy-world GPT-NeoX checkpoints for the checkpoint tests: models, folders, state dicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from curriculens.toy.corpus import build_toy_tokenizer
from curriculens.toy.trainer import TrainConfig, build_model

TINY = dict(n_layers=2, d_model=32, n_heads=2, d_mlp=64)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tok():
    return build_toy_tokenizer()


@pytest.fixture
def tiny_model(tok):
    """``tiny_model(seed, **shape)``: a random-init toy model (2 layers of width 32 unless told)."""

    def make(seed: int, **over):
        return build_model(TrainConfig(**{**TINY, **over}, seed=seed), len(tok))

    return make


@pytest.fixture
def hf_dir(tok, tiny_model):
    """``hf_dir(root, seeds)``: one save_pretrained folder per seed, ``root/step{i}``."""

    def make(root: Path, seeds=(0, 1, 2)) -> Path:
        for step, seed in enumerate(seeds):
            d = root / f"step{step}"
            tiny_model(seed).save_pretrained(d)
            tok.save_pretrained(d)
        return root

    return make


@pytest.fixture
def state_dict_dir(tok, tiny_model):
    """``state_dict_dir(root, names)``: one config and tokenizer beside state-dict files."""

    def make(root: Path, names=("model_0.pt", "step1.safetensors", "ckpt_2.pt")) -> Path:
        from safetensors.torch import save_file

        root.mkdir(parents=True, exist_ok=True)
        m = tiny_model(0)
        m.config.save_pretrained(root)
        tok.save_pretrained(root)
        for seed, name in enumerate(names):
            sd = tiny_model(seed).state_dict()
            if name.endswith(".safetensors"):
                save_file({k: v.contiguous() for k, v in sd.items()}, str(root / name))
            else:
                torch.save(sd, root / name)
        return root

    return make


@pytest.fixture
def offline(monkeypatch):
    """No network: the hub is offline for this test."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at import by huggingface_hub, so also:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
