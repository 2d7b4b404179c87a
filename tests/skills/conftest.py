"""Fixtures for the skills tests: two local tokenizers and a tiny GPT-NeoX, no downloads."""

from __future__ import annotations

import pytest

from curriculens.skills import list_skills


def _bpe_corpus() -> list[str]:
    texts = []
    for skill in list_skills():
        texts += [f"{e.prompt} {e.target}" for e in skill.examples(40, seed=1)]
    return texts


@pytest.fixture(scope="session")
def toy_tokenizer():
    from curriculens.corpus import build_toy_tokenizer

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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, bpe_tokenizer):
    """A 2-layer GPT-NeoX and its tokenizer, saved with save_pretrained into a temp dir."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(0)
    config = GPTNeoXConfig(
        vocab_size=len(bpe_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    path = tmp_path_factory.mktemp("tiny_neox")
    GPTNeoXForCausalLM(config).save_pretrained(path)
    bpe_tokenizer.save_pretrained(path)
    return path
