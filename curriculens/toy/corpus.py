"""The toy world's pretraining corpus: a seeded mixture of skill sources and a word-level tokenizer.

Each toy skill is one source. A document is drawn by picking a source with probability equal to its
mixture weight and rendering one of its templates. The tokenizer is built locally, no downloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from curriculens.errors import ConfigError, did_you_mean
from curriculens.skills.builtin.toy import TOY_SKILLS, toy_vocabulary
from curriculens.skills.registry import get_skill
from curriculens.toy.curriculum import DESIGN

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"

#: Default share of documents per source: every source of the designed curriculum at its weight
#: (:data:`curriculens.toy.curriculum.DESIGN`, where composites are rarer than their components),
#: and the sources the demo leaves out (facts, brackets, add1, add2, and toy world v4's
#: eight composites, which design version 6 does not use) at 0.05. The demo does not
#: draw from this flat mix: it adds each source at its entry step. It is a knob, not a law
#: (``curriculens optimize`` proposes changes to it).
DEFAULT_MIXTURE: dict[str, float] = {name: DESIGN.mixture().get(name, 0.05) for name in TOY_SKILLS}


def build_toy_tokenizer():
    """A word-level ``PreTrainedTokenizerFast`` over the toy vocabulary (no downloads).

    >>> tok = build_toy_tokenizer()
    >>> tok.decode(tok("the dogs run .")["input_ids"])
    'the dogs run .'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [PAD, UNK, EOS, *toy_vocabulary()]
    vocab = {w: i for i, w in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, eos_token=EOS, bos_token=EOS
    )


def _check_mixture(mixture: Mapping[str, float]) -> dict[str, float]:
    if not mixture:
        raise ConfigError("mixture is empty; give at least one source with a positive weight.")
    out = {}
    for name, w in mixture.items():
        if name not in TOY_SKILLS:
            raise ConfigError(
                f"mixture names unknown source '{name}'.{did_you_mean(name, TOY_SKILLS)} "
                f"Sources: {', '.join(TOY_SKILLS)}."
            )
        if not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
            raise ConfigError(f"mixture['{name}'] = {w!r}; weights must be finite and >= 0.")
        out[name] = float(w)
    total = sum(out.values())
    if total <= 0:
        raise ConfigError("mixture weights sum to 0; give at least one positive weight.")
    return {k: v / total for k, v in out.items()}


@dataclass(frozen=True, kw_only=True)
class ToyCorpus:
    """A seeded, infinite stream of toy-world documents.

    Args:
        mixture: Source name -> weight (normalized to sum 1). Defaults to ``DEFAULT_MIXTURE``.
        seed: Seeds the document stream.

    >>> corpus = ToyCorpus(seed=0)
    >>> corpus.documents(2) == ToyCorpus(seed=0).documents(2)
    True
    """

    mixture: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIXTURE))
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", _check_mixture(self.mixture))

    def _stream(self) -> Iterator[str]:
        rng = np.random.default_rng([self.seed, 7])
        names = list(self.mixture)
        p = np.array([self.mixture[n] for n in names])
        renderers = [get_skill(n).document for n in names]
        while True:
            for i in rng.choice(len(names), size=1024, p=p):
                yield renderers[i](rng)

    def documents(self, n: int) -> list[str]:
        """The first ``n`` documents of the stream."""
        stream = self._stream()
        return [next(stream) for _ in range(n)]

    def batches(
        self, tokenizer, batch_size: int, seq_len: int
    ) -> Iterator[Int[Tensor, "batch seq"]]:
        """Endless batches of packed token ids; each document follows an ``<eos>``."""
        eos = tokenizer.eos_token_id
        stream = self._stream()
        buf: list[int] = []
        need = batch_size * seq_len
        while True:
            while len(buf) < need:
                docs = [next(stream) for _ in range(256)]
                for ids in tokenizer(docs, add_special_tokens=False)["input_ids"]:
                    buf.append(eos)
                    buf.extend(ids)
            chunk, buf = buf[:need], buf[need:]
            yield torch.tensor(chunk, dtype=torch.long).reshape(batch_size, seq_len)

    def to_json(self) -> str:
        return json.dumps({"mixture": dict(self.mixture), "seed": self.seed}, sort_keys=True)


def save_tokenizer(tokenizer, path: str | Path) -> None:
    """Save the toy tokenizer next to a checkpoint."""
    tokenizer.save_pretrained(str(path))
