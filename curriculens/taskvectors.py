"""Task vectors: a few-shot skill's direction in the residual stream, per hook and checkpoint.

For a skill shown with k demonstrations, the task vector at a hook is the mean residual
activation at the final prompt position (the token before the answer) over k-shot prompts,
minus the same mean over control prompts whose demonstrations have their outputs shuffled
among the demonstrations, L2-normalised. This is the residual-stream form of the function
vector of Todd et al. (2024) as used by the Implicit Curriculum paper (Liu et al., 2026,
``function_vecs/`` of github.com/KaiserWhoLearns/ElementalTask), which sums the mean
contribution of the attention heads with the largest causal effect instead; see
docs/predict.md for where the two differ.

The k-shot prompts are the sweep's own probe items (:func:`curriculens.probes.splits.draw_items`),
so their means come from the activations the sweep already captured; the controls are one
extra forward pass over at most :data:`MAX_PROMPTS` of them. The control of a prompt keeps its
query and its demonstrations' inputs and gives each demonstration the output of another of its
demonstrations (a seeded derangement; with one demonstration, the output of another prompt's
demonstration), so the control shows the same words in the same format without the mapping.

The sweep stores the vectors beside the skill's scores (:class:`curriculens.store.VectorRow`,
the ``vectors`` table), in the same transaction, so they resume like the scores do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from curriculens.activations import capture, check_context, encode_skill, hook_layer
from curriculens.probes.splits import ItemSet
from curriculens.skills.fewshot import SEPARATOR, demonstration
from curriculens.skills.registry import Example, Skill
from curriculens.store import VectorRow

#: Bump when the vectors' definition changes, so stored units are recomputed.
VECTOR_VERSION = 1
#: Most k-shot prompts (and as many controls) per skill behind each mean.
MAX_PROMPTS = 100
#: The residual-stream variant (the only one computed; see docs/predict.md for the head one).
VARIANT = "resid"


def vector_unit_suffix(skill: Skill, enabled: bool) -> str:
    """What a sweep's unit name gains when the unit also holds task vectors (few-shot skills
    with vectors on), so a run swept without them computes them on the next sweep.

    >>> from curriculens.skills.registry import get_skill
    >>> vector_unit_suffix(get_skill("en_icl_plural"), True), vector_unit_suffix(
    ...     get_skill("facts"), True)
    ('|tv1', '')
    """
    return f"|tv{VECTOR_VERSION}" if enabled and skill.shots else ""


def prompt_subset(items: ItemSet, seed: int, limit: int = MAX_PROMPTS) -> np.ndarray:
    """The items behind a skill's vectors: all of them, or ``limit`` drawn with ``seed``."""
    n = items.n
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 3301]).choice(n, limit, replace=False))


def control_examples(items: ItemSet, idx: Sequence[int], seed: int) -> list[Example]:
    """The control prompt of each item in ``idx``: its query and its demonstrations' inputs,
    with the demonstrations' outputs shuffled among them (no demonstration keeps its own output
    when k >= 2; with k = 1 the output comes from the next prompt's demonstration).

    >>> from curriculens.skills.registry import get_skill
    >>> from curriculens.probes.splits import draw_items
    >>> items = draw_items(get_skill("en_icl_uppercase"), 40, seed=0)
    >>> ctrl = control_examples(items, [0], seed=0)[0]
    >>> ctrl.prompt.splitlines()[-1] == items.examples[0].prompt.splitlines()[-1]
    True
    >>> ctrl.prompt != items.examples[0].prompt
    True
    """
    if not items.queries or items.query is None:
        raise ValueError(f"Skill '{items.skill}' is not few-shot: it has no demonstrations.")
    out = []
    idx = [int(i) for i in idx]
    for pos, i in enumerate(idx):
        demos = [items.queries[j] for j in items.demos[i]]
        outputs = [d.target for d in demos]
        if len(demos) >= 2:
            perm = _derangement(len(demos), np.random.default_rng([seed, 3307, i]))
            outputs = [outputs[p] for p in perm]
        else:
            other = idx[(pos + 1) % len(idx)]
            outputs = [items.queries[items.demos[other][0]].target]
        query = items.queries[int(items.query[i])]
        prefix = "".join(
            demonstration(replace(d, target=o)) + SEPARATOR
            for d, o in zip(demos, outputs, strict=True)
        )
        out.append(
            replace(
                items.examples[i],
                prompt=prefix + query.prompt,
                read_from=len(prefix) + query.read_from,
            )
        )
    return out


def _derangement(k: int, rng: np.random.Generator) -> list[int]:
    """A seeded permutation of ``range(k)`` without fixed points (k >= 2)."""
    while True:
        perm = rng.permutation(k)
        if not (perm == np.arange(k)).any():
            return [int(p) for p in perm]


def task_vector_rows(
    bridge,
    tokenizer,
    skill: Skill,
    items: ItemSet,
    acts: dict[str, np.ndarray],
    hooks: Sequence[str],
    *,
    base: dict,
    seed: int,
    n_ctx: int | None = None,
    batch_size: int = 64,
    max_batch_tokens: int | None = None,
) -> list[VectorRow]:
    """A few-shot skill's task vector at every hook, as rows for the store (empty when the skill
    is not few-shot).

    Args:
        bridge: The checkpoint's TransformerLens bridge (one forward pass over the controls).
        tokenizer: Its tokenizer.
        skill: The skill; ``items`` are its sweep items, ``acts`` the sweep's activations at
            their read positions (``{hook: [item, d]}``).
        hooks: The hooks to compute vectors at.
        base: ``run, checkpoint, step, tokens, fingerprint, probe_key`` of the rows.
        seed: Seeds the prompt subset and the shuffles.
        n_ctx: The model's context (controls longer than it are refused like any prompt).
        batch_size: Most sequences per forward pass; ``max_batch_tokens`` caps padded tokens.
    """
    if not skill.shots or not items.queries:
        return []
    idx = prompt_subset(items, seed)
    enc = encode_skill(skill, control_examples(items, idx, seed), tokenizer)
    check_context(enc, n_ctx)
    ctrl = capture(bridge, enc, hooks, batch_size=batch_size, max_batch_tokens=max_batch_tokens)
    rows = []
    for h in hooks:
        diff = acts[h][idx].astype(np.float64).mean(0) - ctrl.acts[h].astype(np.float64).mean(0)
        norm = float(np.linalg.norm(diff))
        unit = diff / norm if norm > 0 and np.isfinite(norm) else diff * np.nan
        rows.append(
            VectorRow(
                **base,
                skill=skill.name,
                skill_hash=skill.content_hash,
                hook=h,
                layer=hook_layer(h),
                variant=VARIANT,
                n=len(idx),
                norm=norm,
                data=unit.astype(np.float32),
            )
        )
    return rows
