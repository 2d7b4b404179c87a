"""One checkpoint's measurement: forward passes, behavior, probes and task vectors.

:func:`measure` runs the forwards of every skill left at one checkpoint (reading captures from
the cache when there) and leaves small per-skill captures; :func:`score` fits every probe of
the checkpoint (one call, which solves them by shape in batches of bounded memory) and scores
behavior, giving the rows of each unit (built by :mod:`.record`). The two halves can run
apart: the sweep runs :func:`score` on its scoring worker (:mod:`.overlap`) while the next
checkpoint loads.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from curriculens.activations import (
    capture,
    check_context,
    encode_items,
    load_bridge,
    load_capture,
    resid_hooks,
    save_capture,
    trim_after,
)
from curriculens.behavior import score_behavior
from curriculens.checkpoints import WeightScan, nonfinite_weights
from curriculens.errors import UnmeasurableWarning
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.loading import trim_heap
from curriculens.pipeline.plan import SweepPlan, cpu_batch_tokens, cpu_default_cap
from curriculens.pipeline.record import (
    Units,
    behavior_rows,
    lexical_row,
    mdl_row,
    probe_columns,
    probe_rows,
    skill_meta,
)
from curriculens.pipeline.unmeasured import context_length, unmeasured_probe, unmeasured_rows
from curriculens.probes import ProbeTask, fit_probe_tasks
from curriculens.probes.controls import CONTROL_DRAWS, control_draws
from curriculens.probes.lexical import LEXICAL_HOOK, embed_mean, prompt_tokens
from curriculens.probes.mdl import mdl_online_codelength
from curriculens.probes.splits import SPLIT_VERSION, ItemSet
from curriculens.skills.registry import Skill
from curriculens.taskvectors import TaskVectors


@dataclass(frozen=True)
class MeasureContext:
    """What one checkpoint's measurement needs besides the model: the sweep's plan, the run,
    and the checkpoint's columns (label, step, tokens, store key ``fp``)."""

    plan: SweepPlan
    run: str
    checkpoint: str
    step: int
    tokens: int
    fp: str
    progress: bool = True

    @property
    def config(self) -> SweepConfig:
        return self.plan.config

    def base(self) -> dict:
        """The key columns of every row of this checkpoint."""
        return dict(
            run=self.run,
            checkpoint=self.checkpoint,
            step=self.step,
            tokens=self.tokens,
            fingerprint=self.fp,
            probe_key=self.config.probe_key(),
        )


@dataclass
class Captured:
    """One checkpoint's forwards, all :func:`score` needs (no model): per skill its encoding,
    capture and items, its lexical features (the mean input embedding of each prompt; None for a
    skill without a probe), and each few-shot skill's task-vector rows."""

    plan: SweepPlan
    hooks: list[str]
    base: dict
    encoded: list
    caps: list
    item_sets: list[ItemSet]
    vector_rows: dict
    lexical: list = field(default_factory=list)


def batch_tokens_for_budget(budget_mb: float, *, d_model: int, d_vocab: int, n_layers: int) -> int:
    """Tokens per forward pass that keep activation memory near ``budget_mb`` (an estimate).

    Per token a forward pass holds float32 logits and their log-softmax (``3 * d_vocab``
    floats), the residual stream and a block's transient attention/MLP tensors (about
    ``8 * d_model``), and one gathered row per hook (``(n_layers + 1) * d_model``, small).

    >>> batch_tokens_for_budget(64, d_model=768, d_vocab=50304, n_layers=12)
    100
    """
    per_token = 4 * (3 * d_vocab + 8 * d_model + (n_layers + 1) * d_model)
    return max(1, int(budget_mb * 2**20 // per_token))


def _max_batch_tokens(config: SweepConfig, model_cfg) -> int | None:
    caps = [config.max_batch_tokens] if config.max_batch_tokens else []
    if cpu_default_cap(config):
        caps.append(cpu_batch_tokens(d_model=model_cfg.d_model, n_layers=model_cfg.n_layers))
    if config.memory_budget_mb is not None:
        caps.append(
            batch_tokens_for_budget(
                config.memory_budget_mb,
                d_model=model_cfg.d_model,
                d_vocab=model_cfg.d_vocab,
                n_layers=model_cfg.n_layers,
            )
        )
    return min(caps) if caps else None


def _cache_path(config: SweepConfig, fp: str, skill: Skill, hooks: Sequence[str]) -> Path | None:
    if config.cache_dir is None:
        return None
    # the numerics (dtype, device class, batch packing) change activations: keyed when set
    numerics = [config.numerics()] if config.numerics() else []
    key = json.dumps([config.n_examples, config.seed, list(hooks), SPLIT_VERSION, *numerics])
    h = hashlib.sha256(key.encode()).hexdigest()[:10]
    name = f"{skill.name}@{skill.version}+{skill.content_hash}-{h}.safetensors"
    return Path(config.cache_dir) / fp / name


class _Bridge:
    """The model's TransformerLens bridge, loaded on first use (a fully cached checkpoint
    never needs it)."""

    def __init__(self, model, tokenizer, device: str):
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.bridge = None

    def get(self):
        if self.bridge is None:
            self.bridge = load_bridge(self.model, self.tokenizer, device=self.device)
        return self.bridge


def measure(
    model,
    tokenizer,
    ctx: MeasureContext,
    todo: Sequence[Skill],
    *,
    weights: WeightScan | None = None,
    deferred: bool = False,
) -> Units | Callable[..., Units]:
    """Behavior and probe rows of each skill in ``todo`` on one model: ``[(unit, rows)]``.

    A model with non-finite weights is not run: every score is NaN with the reason ("NaN
    weights"). A hook whose activations, or a skill whose log-probabilities, are not finite
    gets NaN scores with its reason too; nothing is carried over from another checkpoint.

    ``weights`` is this model's :func:`~curriculens.checkpoints.scan_weights` when the caller
    has taken it (else the non-finite check runs here). With ``deferred``, only the forward
    passes run now, and a function is returned that computes the rest (probe fits and rows)
    without the model: the sweep calls it on its scoring worker (:mod:`.overlap`).
    """
    config = ctx.config
    hooks = list(config.hooks) or resid_hooks(model.config.num_hidden_layers)
    base = ctx.base()
    bad = nonfinite_weights(model) if weights is None else weights.nonfinite
    if bad is not None:
        warnings.warn(
            f"checkpoint {ctx.checkpoint!r} (step {ctx.step}) has {bad[0]} (first in {bad[1]}); "
            "its scores are stored as NaN with that reason.",
            UnmeasurableWarning,
            stacklevel=2,
        )
        units = [(ctx.plan.unit(s), unmeasured_rows(s, hooks, base, bad[0])) for s in todo]
        return (lambda n_jobs=None: units) if deferred else units
    captured = _forwards(model, tokenizer, ctx, todo, hooks, base)
    run_score = functools.partial(score, captured)
    return run_score if deferred else run_score()


def _forwards(model, tokenizer, ctx: MeasureContext, todo, hooks, base) -> Captured:
    """Every skill's forwards (or cached captures), and the task vectors of few-shot skills."""
    config = ctx.config
    bridge = _Bridge(model, tokenizer, config.device)
    n_ctx = context_length(model)
    captured = Captured(ctx.plan, hooks, base, [], [], [], {})
    embedding = model.get_input_embeddings().weight
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    skip = 0 if bos is None else 1  # encode_skill puts BOS (or EOS) first when there is one
    width = embedding.shape[-1] * max(1, int(model.config.num_hidden_layers))
    vectors = None
    if config.task_vectors:
        vectors = TaskVectors(
            hooks,
            base,
            seed=config.seed,
            heads=config.task_vector_heads,
            n_ctx=n_ctx,
            batch_size=config.batch_size,
        )
    with tqdm(todo, desc=f"  {ctx.checkpoint}", leave=False, disable=not ctx.progress) as skills:
        for skill in skills:
            items = ctx.plan.items(skill)
            enc = encode_items(skill, items, tokenizer)
            check_context(enc, n_ctx)
            cap = _capture_skill(ctx, skill, enc, hooks, bridge)
            if vectors is not None and skill.shots:  # a forward over shuffled controls
                cap_tokens = _max_batch_tokens(config, bridge.get().cfg)
                vectors.add(bridge.get(), tokenizer, skill, items, cap.acts, cap_tokens)
            captured.item_sets.append(items)
            captured.encoded.append(enc)
            captured.caps.append(cap)
            lex = embed_mean(embedding, prompt_tokens(enc, skip=skip)) if skill.probed else None
            captured.lexical.append(lex)
            trim_after(sum(map(len, enc.seqs)) * width)  # its forwards' freed tensors
    bridge.bridge = None  # the bridge holds the model's tensors: free it before scoring
    captured.vector_rows = vectors.rows() if vectors is not None else {}
    return captured


def _capture_skill(ctx: MeasureContext, skill: Skill, enc, hooks: list[str], bridge: _Bridge):
    """One skill's capture: from the cache when it is there, else a forward (then cached)."""
    config = ctx.config
    path = _cache_path(config, ctx.fp, skill, hooks)
    cap = None
    if path is not None and path.exists():
        cap = load_capture(path, expect=(enc, hooks))
    if cap is None:
        b = bridge.get()
        cap = capture(
            b,
            enc,
            hooks,
            batch_size=config.batch_size,
            max_batch_tokens=_max_batch_tokens(config, b.cfg),
        )
        if path is not None:
            save_capture(cap, path)
    return cap


def score(captured: Captured, n_jobs: int | None = None) -> Units:
    """The rows of one checkpoint's captures: every probe fitted, then behavior.

    ``n_jobs``: the probe engine's worker threads (default on CPU: ``config.threads``, or with
    ``threads=0``, torch's current thread count).
    """
    results = _fit_probes(captured, n_jobs)
    trim_heap()  # the fused solve's buffers
    units = []
    lexical = captured.lexical or [None] * len(captured.encoded)
    for enc, cap, items, lex in zip(
        captured.encoded, captured.caps, captured.item_sets, lexical, strict=True
    ):
        rows = _skill_rows(captured, enc, cap, items, results, lex is not None)
        sk = enc.skill
        units.append((captured.plan.unit(sk), rows + captured.vector_rows.get(sk.name, [])))
    return units


def _fit_probes(captured: Captured, n_jobs: int | None) -> dict:
    """Every (skill, hook) probe of the checkpoint: ``{key: result}``.

    One :func:`~curriculens.probes.fit_probe_tasks` call, which solves the tasks by shape (items,
    label sets, classes) in fused batches of at most
    :data:`~curriculens.probes.tasks.FIT_BUDGET_BYTES`: a probe's scores do not depend on which
    other skills or hooks are swept, and the fits' memory does not grow with their number.

    Items are split by group, so no test prompt or group is ever seen in training. A hook with
    non-finite activations is left out (its rows are NaN with the reason). Each hook's probe is
    fitted with :data:`~curriculens.probes.controls.CONTROL_DRAWS` control draws (the fused
    engine solves them with the task labels: they share the activations), and each skill's
    lexical baseline (key ``(skill, LEXICAL_HOOK)``) on its mean input embeddings.
    """
    config = captured.plan.config
    tasks = []
    lexical = captured.lexical or [None] * len(captured.encoded)
    for enc, cap, items, lex in zip(
        captured.encoded, captured.caps, captured.item_sets, lexical, strict=True
    ):
        sk = enc.skill
        if not sk.probed:
            continue
        controls = control_draws(
            items.groups,
            first=items.control,
            n_draws=CONTROL_DRAWS,
            n_classes=sk.n_classes,
            y=items.labels,
            seed=config.seed,
        )
        for h in captured.hooks:
            if np.isfinite(cap.acts[h]).all():
                tasks.append(
                    ProbeTask(
                        X=cap.acts[h],
                        y=items.labels,
                        train=items.train,
                        control_y=controls,
                        key=(sk.name, h),
                    )
                )
        if lex is not None and np.isfinite(lex).all():
            tasks.append(
                ProbeTask(X=lex, y=items.labels, train=items.train, key=(sk.name, LEXICAL_HOOK))
            )
    # on CPU the probes run on `threads` worker threads of one BLAS thread each: on W1 that beat
    # one worker with as many BLAS threads (benchmarks/README_probes.md)
    # threads=0 is left unresolved only by a live Tracker: it measures at the training loop's
    # torch threads, so the fits take as many workers (one sequential solve at 2 torch threads
    # took the toy model's fits 1.0-1.5 s against 0.5 s at one)
    cpu_jobs = config.threads or torch.get_num_threads()
    jobs = n_jobs or (cpu_jobs if torch.device(config.device).type == "cpu" else 1)
    fitted = []
    if tasks:
        fitted = fit_probe_tasks(
            tasks, C=config.probe_C, seed=config.seed, n_jobs=jobs, device=config.device
        )
    return {r.key: r for r in fitted}


def _skill_rows(
    captured: Captured, enc, cap, items: ItemSet, results: dict, lexical: bool = True
) -> list:
    """One skill's rows: behavior (NaN when its log-probabilities are not), then each hook's
    probe, control (mean and SD over the draws), chance, majority and (with ``mdl``) online-MDL
    rows, and the skill's lexical-baseline row (when its features were taken)."""
    config = captured.plan.config
    sk = enc.skill
    meta = skill_meta(captured.base, sk)
    scores = score_behavior(enc, cap)
    if not all(np.isfinite(lp).all() for lp in cap.token_logprob):
        scores = None
    rows = behavior_rows(sk, meta, scores, len(enc.labels))
    for h in captured.hooks if sk.probed else ():
        r = results.get((sk.name, h))
        if r is None:
            rows += unmeasured_probe(meta, h, f"NaN activations at {h}")
            continue
        rows += probe_rows(meta, h, r, items)
        if config.mdl:
            mdl = mdl_online_codelength(
                cap.acts[h],
                items.labels,
                C=config.probe_C,
                order=_group_order(items, config.seed),
            )
            rows.append(mdl_row(probe_columns(meta, h, r), mdl.compression, items.n))
    if sk.probed and lexical:
        r = results.get((sk.name, LEXICAL_HOOK))
        rows.append(lexical_row(meta, r, "NaN input embeddings"))
    return rows


def _group_order(items: ItemSet, seed: int) -> np.ndarray:
    """Item order for online MDL: groups in a seeded order, each group's items together."""
    uniq, inverse = np.unique(items.groups, return_inverse=True)
    rank = np.random.default_rng([seed, 11]).permutation(uniq.size)
    return np.argsort(rank[inverse], kind="stable")
