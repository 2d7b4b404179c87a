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
from functools import partial

import numpy as np
import torch

from curriculens.activations import (
    capture,
    check_context,
    encode_items,
    encode_skill,
    forward_takes,
    hook_layer,
)
from curriculens.probes.splits import ItemSet
from curriculens.skills.fewshot import SEPARATOR, demonstration
from curriculens.skills.registry import Example, Skill
from curriculens.store import VectorRow

#: Bump when the vectors' definition changes, so stored units are recomputed.
VECTOR_VERSION = 1
#: Most k-shot prompts (and as many controls) per skill behind each mean.
MAX_PROMPTS = 100
#: The residual-stream variant (the head variant is ``"heads"``; see docs/predict.md).
VARIANT = "resid"


def vector_unit_suffix(skill: Skill, enabled: bool, heads: int = 0) -> str:
    """What a sweep's unit name gains when the unit also holds task vectors (few-shot skills
    with vectors on), so a run swept without them computes them on the next sweep.

    >>> from curriculens.skills.registry import get_skill
    >>> vector_unit_suffix(get_skill("en_icl_plural"), True), vector_unit_suffix(
    ...     get_skill("facts"), True)
    ('|tv1', '')
    """
    if not (enabled and skill.shots):
        return ""
    return f"|tv{VECTOR_VERSION}" + (f"h{heads}" if heads else "")


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


class TaskVectors:
    """Collects the task vectors of one checkpoint's few-shot skills, skill by skill.

    :meth:`add` runs the skill's control prompts (and, with ``heads``, its k-shot prompts
    again, and one patched pass per attention head); :meth:`rows` returns every skill's
    :class:`~curriculens.store.VectorRow` s. The head variant needs every skill first: its heads
    are the ``heads`` with the largest causal effect averaged over the skills of the pass.

    Args:
        hooks: The residual hooks to compute vectors at.
        base: ``run, checkpoint, step, tokens, fingerprint, probe_key`` of the rows.
        seed: Seeds the prompt subset and the shuffles.
        heads: Top-k heads of the head variant (0: residual variant only).
        n_ctx: The model's context (controls longer than it are refused like any prompt).
        batch_size: Most sequences per forward pass.
    """

    def __init__(
        self,
        hooks: Sequence[str],
        base: dict,
        *,
        seed: int,
        heads: int = 0,
        n_ctx: int | None = None,
        batch_size: int = 64,
    ):
        self.hooks, self.base, self.seed, self.heads = list(hooks), dict(base), seed, heads
        self.n_ctx, self.batch_size = n_ctx, batch_size
        self._rows: dict[str, list[VectorRow]] = {}
        self._heads: dict[str, tuple[Skill, int, np.ndarray, np.ndarray]] = {}

    def add(
        self,
        bridge,
        tokenizer,
        skill: Skill,
        items: ItemSet,
        acts: dict,
        max_batch_tokens: int | None = None,
    ) -> None:
        """Compute ``skill``'s vectors from its sweep activations ``acts`` (``{hook: [item,
        d]}`` at the read positions) and its control prompts (at most ``max_batch_tokens``
        padded tokens per forward pass); a skill without demonstrations adds nothing."""
        if not skill.shots or not items.queries:
            return
        idx = prompt_subset(items, self.seed)
        enc = encode_items(
            skill,
            items,
            tokenizer,
            lambda: control_examples(items, idx, self.seed),
            tag=f"controls:{self.seed}:{len(idx)}",
        )
        check_context(enc, self.n_ctx)
        ctrl = capture(
            bridge,
            enc,
            self.hooks,
            batch_size=self.batch_size,
            max_batch_tokens=max_batch_tokens,
        )
        self._rows[skill.name] = [
            self._row(
                skill,
                h,
                hook_layer(h),
                VARIANT,
                len(idx),
                _mean(acts[h][idx]) - _mean(ctrl.acts[h]),
            )
            for h in self.hooks
        ]
        if self.heads:
            icl = encode_skill(skill, [items.examples[i] for i in idx], tokenizer)
            diff, aie = head_effects(bridge, icl, enc, batch_size=self.batch_size)
            self._heads[skill.name] = (skill, len(idx), diff, aie)

    def rows(self) -> dict[str, list[VectorRow]]:
        """``{skill: rows}``: each skill's residual vectors, and its head vector with ``heads``."""
        out = {k: list(v) for k, v in self._rows.items()}
        if self._heads:
            aie = np.mean([a for _, _, _, a in self._heads.values()], axis=0)  # [layer, head]
            top = np.argsort(-aie, axis=None, kind="stable")[: self.heads]
            for name, (skill, n, diff, _) in self._heads.items():
                flat = diff.reshape(-1, diff.shape[-1])
                out[name].append(
                    self._row(
                        skill, f"attn.top{self.heads}_heads", -1, "heads", n, flat[top].sum(0)
                    )
                )
        return out

    def _row(self, skill: Skill, hook: str, layer: int, variant: str, n: int, diff) -> VectorRow:
        norm = float(np.linalg.norm(diff))
        unit = diff / norm if norm > 0 and np.isfinite(norm) else diff * np.nan
        return VectorRow(
            **self.base,
            skill=skill.name,
            skill_hash=skill.content_hash,
            hook=hook,
            layer=layer,
            variant=variant,
            n=n,
            norm=norm,
            data=np.asarray(unit, np.float32),
        )


def _mean(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float64).mean(0)


#: Most control prompts each head is patched into to measure its causal effect.
AIE_PROMPTS = 25


@torch.no_grad()
def head_effects(bridge, icl, ctrl, *, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per attention head: its mean contribution to the residual stream at the read position
    on k-shot prompts minus on control prompts, and its causal effect.

    A head's contribution is its output ``z_h W_O^h`` (``blocks.{l}.attn.hook_z``). Its causal
    effect (the average indirect effect of Todd et al.) is the mean gain in the log-probability
    of the answer's first token when, in up to :data:`AIE_PROMPTS` control prompts, the head's
    output at the read position is replaced by its mean over the k-shot prompts.

    Returns:
        ``(diff [layer, head, d_model], effect [layer, head])``.
    """
    n_layers = bridge.cfg.n_layers
    z_icl, _ = _z_forward(bridge, icl, n_layers, batch_size)
    z_ctl, base_lp = _z_forward(bridge, ctrl, n_layers, batch_size)
    w_o = [
        bridge.blocks[layer].attn.W_O.detach().float().cpu().numpy() for layer in range(n_layers)
    ]
    mean_icl = [z.mean(0) for z in z_icl]  # [head, d_head] per layer
    diff = np.stack(
        [
            np.einsum("hd,hdm->hm", mean_icl[layer] - z_ctl[layer].mean(0), w_o[layer])
            for layer in range(n_layers)
        ]
    )
    sub = list(range(min(AIE_PROMPTS, len(ctrl.examples))))
    sub_enc = _subset(ctrl, sub)
    effect = np.zeros(diff.shape[:2])
    for layer in range(n_layers):
        for head in range(diff.shape[1]):
            value = torch.from_numpy(mean_icl[layer][head]).float()
            _, lp = _z_forward(bridge, sub_enc, 0, batch_size, patch=(layer, head, value))
            effect[layer, head] = float((lp - base_lp[sub]).mean())
    return diff, effect


def _subset(enc, rows: list[int]):
    """The encoded prompts ``rows`` of a one-sequence-per-example encoding."""
    return replace(
        enc,
        examples=[enc.examples[i] for i in rows],
        seqs=[enc.seqs[i] for i in rows],
        owner=np.arange(len(rows)),
        candidate=enc.candidate[rows],
        cont_start=enc.cont_start[rows],
        read_pos=enc.read_pos[rows],
        read_token=enc.read_token[rows],
        labels=enc.labels[rows],
    )


@torch.no_grad()
def _z_forward(bridge, enc, n_layers: int, batch_size: int, patch=None):
    """``hook_z`` of layers ``0..n_layers-1`` at each prompt's read position (``[n, head,
    d_head]`` per layer) and the log-probability of each answer's first token ``[n]``; ``patch``
    ``(layer, head, value)`` replaces that head's output at the read position first."""
    if len(enc.seqs) != len(enc.examples):
        raise ValueError("head vectors need one scored sequence per example (continuations)")
    device = bridge.cfg.device or "cpu"
    n = len(enc.seqs)
    zs = [None] * n_layers
    lp = np.empty(n)
    order = np.argsort([len(q) for q in enc.seqs], kind="stable")
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        length = max(len(enc.seqs[i]) for i in idx)
        ids = torch.zeros((len(idx), length), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, : len(enc.seqs[i])] = torch.tensor(enc.seqs[i])
        rows, pos = torch.arange(len(idx)), torch.from_numpy(enc.read_pos[idx])

        def grab(act, hook, layer, idx=idx, rows=rows, pos=pos):
            got = act[rows.to(act.device), pos.to(act.device)].detach().float().cpu().numpy()
            if zs[layer] is None:
                zs[layer] = np.zeros((n, *got.shape[1:]))
            zs[layer][idx] = got

        def put(act, hook, head, value, rows=rows, pos=pos):
            act = act.clone()
            act[rows.to(act.device), pos.to(act.device), head] = value.to(act.device, act.dtype)
            return act

        fwd = [
            (f"blocks.{layer}.attn.hook_z", partial(grab, layer=layer)) for layer in range(n_layers)
        ]
        if patch is not None:
            layer, head, value = patch
            fwd.append((f"blocks.{layer}.attn.hook_z", partial(put, head=head, value=value)))
        logits = bridge.run_with_hooks(
            ids.to(device), fwd_hooks=fwd, return_type="logits", **_no_cache(bridge)
        )
        cs = torch.from_numpy(enc.cont_start[idx])
        logp = torch.log_softmax(logits[rows, cs - 1].float(), dim=-1)
        tgt = ids[rows, cs].to(logp.device)
        lp[idx] = logp.gather(-1, tgt[:, None])[:, 0].cpu().numpy()
    return zs, lp


def _no_cache(bridge) -> dict:
    """``use_cache=False`` where the model takes it: one forward never reads its key/value cache."""
    return {"use_cache": False} if forward_takes(bridge, "use_cache") else {}
