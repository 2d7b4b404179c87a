"""One checkpoint loading: dtypes, mismatched configs and tokenizers, hub errors, quiet bars."""

from __future__ import annotations

import pytest
import torch

from curriculens.checkpoints import CheckpointSeries
from curriculens.errors import CheckpointError, ConfigError
from curriculens.toy.trainer import TrainConfig, build_model


def test_mismatched_config(tmp_path, tiny_model, state_dict_dir):
    root = state_dict_dir(tmp_path, names=("model_0.pt",))
    torch.save(tiny_model(0, d_model=64, d_mlp=128).state_dict(), root / "model_1.pt")
    series = CheckpointSeries.from_dir(root, tokens_per_step=1)
    with pytest.raises(CheckpointError, match=r"model_1.*does not match config.*shape mismatch"):
        series[1].load()


def test_tokenizer_too_big_for_model(tmp_path, tok):
    d = tmp_path / "step0"
    build_model(TrainConfig(n_layers=2, d_model=32, n_heads=2, d_mlp=64), 16).save_pretrained(d)
    tok.save_pretrained(d)
    series = CheckpointSeries.from_dir(tmp_path, tokens_per_step=1)
    with pytest.raises(CheckpointError, match=r"tokenizer has \d+ tokens but the model embeds"):
        series[0].load()


def test_from_hub_missing_revision_is_named(offline):
    s = CheckpointSeries.from_hub("curriculens-test/no-such-repo", steps=[7], tokens_per_step=1)
    with pytest.raises(CheckpointError, match=r"revision 'step7' of 'curriculens-test/no-such"):
        s[0].load()


def test_load_in_bfloat16(tmp_path, hf_dir):
    import torch

    root = hf_dir(tmp_path, seeds=(0,))
    series = CheckpointSeries.from_dir(root, tokens_per_step=8)
    model, _ = series[0].load(dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="float8"):
        series[0].load(dtype="float8")


def test_hugging_face_loading_bars_are_hidden_unless_asked(tmp_path, capfd, hf_dir):
    from transformers.utils import logging as hf_logging

    series = CheckpointSeries.from_dir(hf_dir(tmp_path, seeds=(0,)), tokens_per_step=8)
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # as in a fresh notebook (the CLI turns them off)
    try:
        capfd.readouterr()
        series[0].load()
        assert "Loading" not in capfd.readouterr().err
        assert hf_logging.is_progress_bar_enabled()  # the global setting is restored
        series[0].load(hf_progress=True)
        assert "Loading" in capfd.readouterr().err
    finally:
        if not was:
            hf_logging.disable_progress_bar()
