"""The lexical baseline: a probe on the mean of the prompt's input embeddings.

A residual-stream probe that decodes a label could be reading something the model computed, or
just which words the prompt holds. The lexical baseline tells the two apart: the same probe, on
the same split, fitted on the plain mean of the input-embedding rows (the model's own embedding
matrix at that checkpoint) of the tokens the read position sees. It has no attention and no MLP,
so whatever it decodes is a bag of words. A sweep stores it at every checkpoint under the
hook-like name :data:`LEXICAL_HOOK` (kind ``baseline``, metric :data:`LEXICAL_METRIC`), so it has
a curve like a hook; a probe whose lexical baseline reaches the probe's level within one
checkpoint of the probe (or before it) is flagged ``lexical``
(:func:`curriculens.analysis.lexical.lexical_crossing`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Float

from curriculens.errors import ProbeError
from curriculens.store_schema import LEXICAL_HOOK, LEXICAL_METRIC  # rows of the store

__all__ = ["LEXICAL_HOOK", "LEXICAL_METRIC", "embed_mean", "prompt_tokens"]


def prompt_tokens(encoded, *, skip: int = 0) -> list[np.ndarray]:
    """Per example, the token ids its probe's read position sees (its first sequence, from
    ``skip`` (1 past a BOS) to the read position inclusive).

    ``encoded``: an :class:`~curriculens.activations.EncodedSkill`.
    """
    out = []
    seen = set()
    pairs = zip(encoded.owner.tolist(), encoded.read_pos.tolist(), strict=True)
    for s, (i, pos) in enumerate(pairs):
        if i in seen:  # the read position is the same in every sequence of an example
            continue
        seen.add(i)
        toks = np.asarray(encoded.seqs[s][skip : pos + 1], np.int64)
        out.append(toks if toks.size else np.asarray(encoded.seqs[s][: pos + 1], np.int64))
    if len(out) != len(encoded.examples):
        raise ProbeError(
            f"skill {encoded.skill.name!r}: {len(out)} read positions for "
            f"{len(encoded.examples)} examples; every example needs one."
        )
    return out


def embed_mean(
    embedding: torch.Tensor | np.ndarray, tokens: Sequence[np.ndarray]
) -> Float[np.ndarray, "example d"]:
    """``[example, d]`` float32: the mean of the embedding rows of each example's ``tokens``.

    ``embedding``: the input-embedding matrix ``[vocab, d]`` (e.g.
    ``model.get_input_embeddings().weight``); only the rows of the given tokens are read.

    >>> embed_mean(np.eye(3), [np.array([0, 1]), np.array([2])]).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    """
    W = torch.as_tensor(embedding).detach()
    lens = [len(t) for t in tokens]
    if not tokens or min(lens) < 1:
        raise ProbeError("every example needs at least one prompt token for the lexical baseline.")
    flat = torch.from_numpy(np.concatenate([np.asarray(t, np.int64) for t in tokens]))
    if int(flat.max()) >= W.shape[0] or int(flat.min()) < 0:
        raise ProbeError(
            f"token ids {int(flat.min())}..{int(flat.max())} fall outside the embedding matrix "
            f"of {W.shape[0]} rows; the tokenizer and the model do not match."
        )
    rows = W[flat.to(W.device)].float().cpu()
    owner = torch.repeat_interleave(torch.arange(len(tokens)), torch.tensor(lens))
    sums = torch.zeros(len(tokens), W.shape[1]).index_add_(0, owner, rows)
    return (sums / torch.tensor(lens, dtype=torch.float32)[:, None]).numpy()
