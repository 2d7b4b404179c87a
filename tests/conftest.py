"""Shared fixtures: a tiny trained-and-swept run, two local tokenizers and a tiny GPT-NeoX.

Nothing here downloads anything."""

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
    from curriculens.pipeline.run import SweepConfig, sweep
    from curriculens.toy.trainer import TrainConfig, train

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


def _bpe_corpus() -> list[str]:
    texts = []
    from curriculens.skills import list_skills

    for skill in list_skills():
        texts += [f"{e.prompt} {e.target}" for e in skill.examples(40, seed=1)]
    return texts


@pytest.fixture(scope="session")
def toy_tokenizer():
    from curriculens.toy.corpus import build_toy_tokenizer

    return build_toy_tokenizer()


@pytest.fixture(scope="session")
def bpe_tokenizer():
    """A byte-level BPE (GPT-2/Pythia style) trained here on the suites' own text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_bpe_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


@pytest.fixture(scope="session")
def metaspace_tokenizer():
    """A SentencePiece-style (Llama/T5 '▁' word boundary) BPE trained here on the suites' text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    core.decoder = decoders.Metaspace(prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<unk>", "</s>"], show_progress=False
    )
    core.train_from_iterator(_bpe_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", eos_token="</s>")


def save_tiny_neox(path, tokenizer, seed: int = 0):
    """Save a random 2-layer GPT-NeoX (d_model 32) and ``tokenizer`` at ``path``; return it."""
    from curriculens.toy.model import build_neox, neox_config

    build_neox(neox_config(len(tokenizer)), seed=seed).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def write_tiny_neox():
    """:func:`save_tiny_neox`, for tests that build their own local series."""
    return save_tiny_neox


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, bpe_tokenizer):
    """A 2-layer GPT-NeoX and its tokenizer, saved with save_pretrained into a temp dir."""
    return save_tiny_neox(tmp_path_factory.mktemp("tiny_neox"), bpe_tokenizer)


def write_toy_series(root, seeds=(0, 1, 2), d_model: int = 32):
    """Save one tiny toy-world GPT-NeoX per seed as ``root/step{10 i}`` (save_pretrained, toy
    tokenizer, curriculens_checkpoint.json with 640 tokens per 10 steps); returns ``root``."""
    import json

    from curriculens.toy.corpus import build_toy_tokenizer
    from curriculens.toy.trainer import TrainConfig, build_model

    tok = build_toy_tokenizer()
    for i, seed in enumerate(seeds):
        shape = dict(n_layers=2, d_model=d_model, n_heads=2, d_mlp=2 * d_model)
        m = build_model(TrainConfig(**shape, seed=seed), len(tok))
        d = root / f"step{i * 10}"
        m.save_pretrained(d)
        tok.save_pretrained(d)
        (d / "curriculens_checkpoint.json").write_text(
            json.dumps({"step": i * 10, "tokens": i * 640})
        )
    return root


@pytest.fixture(scope="session")
def write_series():
    """:func:`write_toy_series`, for tests that build their own series."""
    return write_toy_series


@pytest.fixture(scope="session")
def toy_series(tmp_path_factory):
    """Three tiny toy-world checkpoints (steps 0, 10, 20) in ``.../checkpoints``; read-only use
    (copy it before changing anything)."""
    return write_toy_series(tmp_path_factory.mktemp("toy_series") / "checkpoints")
