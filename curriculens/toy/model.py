"""The tiny GPT-NeoX (Pythia architecture): one builder for the toy trainer, the tests and the
benchmarks.

:func:`neox_config` gives a ``GPTNeoXConfig`` of a shape (2 layers of width 32 unless told),
passing any other config field (token ids, ``rotary_pct``, ``tie_word_embeddings``) as it is;
:func:`build_neox` seeds torch and builds the random-init model, so a seed gives the same
weights wherever it is built.

>>> config = neox_config(100, rotary_pct=0.25)
>>> (config.hidden_size, config.num_hidden_layers, config.intermediate_size)
(32, 2, 64)
"""

from __future__ import annotations

import torch


def neox_config(
    vocab_size: int,
    *,
    d_model: int = 32,
    n_layers: int = 2,
    n_heads: int = 2,
    d_mlp: int = 64,
    max_positions: int = 256,
    **fields,
):
    """A ``GPTNeoXConfig`` of this shape; ``fields`` are other config fields, passed as given."""
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=vocab_size,
        hidden_size=d_model,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        intermediate_size=d_mlp,
        max_position_embeddings=max_positions,
        **fields,
    )


def build_neox(config, *, seed: int | None = None):
    """A random-init ``GPTNeoXForCausalLM`` of ``config``; ``torch.manual_seed(seed)`` first,
    unless ``seed`` is None (then the global generator is drawn from as it stands)."""
    from transformers import GPTNeoXForCausalLM

    if seed is not None:
        torch.manual_seed(seed)
    return GPTNeoXForCausalLM(config)
