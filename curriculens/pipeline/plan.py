"""A sweep's plan: its skills (resolved once), its units, each skill's items, and the work left.

A unit is one (skill version and content hash, probe config) at one checkpoint fingerprint, and
is written in one SQLite transaction; what is already done is read from the store. The plan
holds the :class:`~curriculens.skills.registry.Skill` objects themselves, so measurement and
recording never look a skill up in the registry again. :func:`dry_run_text` prints the plan
(``curriculens sweep --dry-run``).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from curriculens.checkpoints import Checkpoint, CheckpointSeries, parse_device
from curriculens.errors import CheckpointError, ConfigError
from curriculens.params import flag
from curriculens.pipeline.config import SweepConfig
from curriculens.probes.splits import ItemSet, draw_distinct, draw_items
from curriculens.skills.registry import Skill, get_skill
from curriculens.store import Store
from curriculens.taskvectors import vector_unit_suffix

#: Store meta key of the fingerprints computed by earlier loads, by file signature.
FINGERPRINTS_META_KEY = "fingerprints_by_files"


def unit_key(skill: Skill, config: SweepConfig) -> str:
    """The store key of ``skill``'s unit under ``config``: skill, version and content hash,
    probe config, and the task-vector variant (when the skill has one)."""
    key = f"{skill.name}@{skill.version}+{skill.content_hash}|{config.probe_key()}"
    return key + vector_unit_suffix(skill, config.task_vectors, config.task_vector_heads)


def skill_items(skill: Skill, config: SweepConfig) -> ItemSet:
    """The probe items every checkpoint of a sweep measures ``skill`` on (deterministic).

    Drawn once per process and reused for every checkpoint (the sweep, each checkpoint's
    measurement and the store all ask for the same items). A request above the skill's pool of
    distinct items (:func:`examples_cap`) draws the items of :data:`POOL_PROBE` examples, which
    hold the whole pool, instead of generating every example asked for.
    """
    n = config.n_examples
    if examples_cap(skill, config) is None:
        return _drawn_items(skill, n, config.seed, config.train_frac)
    return _pool_items(skill, n, config.seed, config.train_frac)


@functools.lru_cache(maxsize=256)
def _drawn_items(skill: Skill, n: int, seed: int, train_frac: float) -> ItemSet:
    return draw_items(skill, n, seed=seed, train_frac=train_frac)


@functools.lru_cache(maxsize=256)
def _pool_items(skill: Skill, n: int, seed: int, train_frac: float) -> ItemSet:
    """The whole pool's items for a request of ``n``: one object per request, like
    :func:`_drawn_items` (the encodings of :func:`~curriculens.activations.encode_items` are
    kept per item set)."""
    items = _drawn_items(skill, POOL_PROBE, seed, train_frac)
    return replace(items, requested=n, exhausted=True)


@dataclass(frozen=True)
class SweepPlan:
    """A sweep's configuration and its skills, resolved once from the registry.

    Everything below the plan (measurement, rows, the store) takes its skills from here.
    """

    config: SweepConfig
    skills: tuple[Skill, ...]

    @property
    def units(self) -> dict[str, Skill]:
        """Each skill by its unit key, in the configured order."""
        return {unit_key(s, self.config): s for s in self.skills}

    @property
    def probed(self) -> list[Skill]:
        """The skills that have probes (not behavior only)."""
        return [s for s in self.skills if s.probed]

    def unit(self, skill: Skill) -> str:
        """``skill``'s unit key under this plan's config."""
        return unit_key(skill, self.config)

    def items(self, skill: Skill) -> ItemSet:
        """``skill``'s probe items (see :func:`skill_items`)."""
        return skill_items(skill, self.config)

    def todo(self, done: set[str]) -> list[Skill]:
        """The skills whose unit is not in ``done`` (one fingerprint's finished units)."""
        return [s for s in self.skills if self.unit(s) not in done]

    def unfinished(
        self, series: CheckpointSeries, done: dict[str, set[str]], seen: dict[str, str]
    ) -> list[Checkpoint]:
        """Checkpoints with work left; finished ones with a known fingerprint are never loaded.

        Fills ``seen`` (fingerprint -> first label) for every known fingerprint, in series order.
        """
        units = set(self.units)
        todo = []
        for c in series:
            fp = series.known_fingerprint(c)
            if fp is None:
                todo.append(c)
                continue
            key = fp if seen.setdefault(fp, c.label) == c.label else f"{fp}@{c.label}"
            if not units <= done.get(key, set()):
                todo.append(c)
        return todo


def plan_sweep(config: SweepConfig) -> SweepPlan:
    """The plan of a sweep with ``config``: its skill names resolved in the registry, once."""
    return SweepPlan(config=config, skills=tuple(get_skill(n) for n in config.skills))


def series_tokenizer(series: CheckpointSeries):
    """The tokenizer of a series' first local checkpoint (loaded alone, without the model), or
    ``None`` for a hub series (whose tokenizer is never the toy one)."""
    first = series[0] if len(series) else None
    if first is None or first.path is None:
        return None
    # the loader's private helper: checkpoints/ has no public tokenizer-only load yet
    from curriculens.checkpoints.weights import load_tokenizer

    return load_tokenizer(str(first.path), first.label, trust_remote_code=first.trust_remote_code)


def recall_fingerprints(store: Store, series: CheckpointSeries) -> None:
    """Give the series the fingerprints earlier sweeps computed for unchanged local files."""
    cache = store.get_meta(FINGERPRINTS_META_KEY) or {}
    for c in series:
        sig = c.file_signature()
        if series.known_fingerprint(c) is None and sig in cache:
            series.remember(c, cache[sig])


def dry_run_text(
    series: CheckpointSeries,
    config: SweepConfig | SweepPlan,
    out: Path,
    *,
    run: str | None = None,
    executor: str = "local",
) -> str:
    """What a sweep would do: checkpoints, fingerprints, duplicates, skills and work left."""
    plan = config if isinstance(config, SweepPlan) else plan_sweep(config)
    config = plan.config
    check_hooks_fit(series, config)
    given, run = run, run or out.resolve().name
    check_plan_memory(plan, series)  # before any item is drawn
    check_prompts_fit(plan, series)
    done: dict[str, set[str]] = {}
    if (out / "results.sqlite").exists():
        with Store(out, readonly=True) as s:
            run = given or s.run_name(run)  # a copied or renamed run directory resumes
            done = s.done_units_by_fingerprint(run)
            recall_fingerprints(s, series)  # of unchanged files an earlier sweep loaded
    units = plan.units
    items = {s.name: plan.items(s) for s in plan.skills}
    seqs = {n: sum(1 + len(e.choices) for e in it.examples) for n, it in items.items()}
    lines = [f"series: {series.source} ({len(series)} checkpoints), executor: {executor}"]
    lines.append(f"{'label':<28} {'step':>10} {'tokens':>16}  fingerprint       left")
    total_seqs = total_probes = 0
    for c in series:
        fp = series.known_fingerprint(c)
        if fp is None:
            left = list(units.values())
        else:
            left = [s for u, s in units.items() if u not in done.get(fp, set())]
        n_hooks = (len(config.hooks) or _n_layers(c) + 1) if left else 0
        total_seqs += sum(seqs[s.name] for s in left)
        total_probes += 2 * n_hooks * sum(s.probed for s in left)
        fp = fp or "(on load)"
        lines.append(f"{c.label:<28} {c.step:>10} {c.tokens:>16}  {fp:<16}  {len(left)} skills")
    lines += _series_notes(series)
    lines += _settings_lines(plan, items.values())
    lines += _bounds_lines(plan)
    lines.append(f"forward passes: {forward_passes(plan, series)}")
    lines.append(
        f"work left: {total_seqs} forward sequences, {total_probes} probe fits "
        f"(probe + control per skill x hook), into {out / 'results.sqlite'}"
    )
    return "\n".join(lines)


def forward_passes(plan: SweepPlan, series: CheckpointSeries) -> str:
    """How the plan's forward passes are packed, in words (the dry run prints it and the run's
    metadata keeps it): at most ``batch_size`` sequences, and the padded-token cap given, or on
    the CPU the default from the first checkpoint's blocks and width."""
    config = plan.config
    head = f"at most {config.batch_size} sequences"
    if config.max_batch_tokens:
        return f"{head} and {config.max_batch_tokens} padded tokens (set)"
    if config.memory_budget_mb is not None:
        return f"{head}, padded tokens capped by memory_budget_mb={config.memory_budget_mb}"
    if not cpu_default_cap(config):
        device = parse_device(config.device).type
        return f"{head} (no token cap on {device}; {flag('max_batch_tokens')} sets one)"
    shape = _model_shape(series[0]) if len(series) else None
    if shape is None:
        return f"{head}; the CPU token cap is taken from the model's size when it loads"
    cap = cpu_batch_tokens(d_model=shape[1], n_layers=shape[0])
    return (
        f"{head} and {cap} padded tokens (the CPU default for {shape[0]} blocks x {shape[1]} "
        f"wide; {flag('max_batch_tokens')} sets it)"
    )


def _series_notes(series: CheckpointSeries) -> list[str]:
    """The plan's lines on duplicate and skipped checkpoints."""
    lines = []
    for d in series.meta.get("duplicates", []):
        lines.append(f"duplicate: {d['label']!r} has the weights of {d['same_as']!r}; skipped")
    for d in series.meta.get("skipped", []):
        lines.append(f"skipped ({flag('skip_bad')}): {d['label']}: {d['reason']}")
    return lines


def _settings_lines(plan: SweepPlan, items: Sequence[ItemSet]) -> list[str]:
    """The plan's lines on skills, hooks, dtype, probe key and any item shortfall."""
    config = plan.config
    skills = ", ".join(f"{s.name}@{s.version}+{s.content_hash[:8]}" for s in plan.skills)
    hooks = ", ".join(config.hooks) or "hook_embed and every block's hook_resid_post"
    lines = [
        f"skills: {skills}",
        f"hooks: {hooks}; dtype: {config.dtype}; probe_key: {config.probe_key()}",
    ]
    items = list(items)
    warned = [pool_shortfall(s, it, config) for s, it in zip(plan.skills, items, strict=True)]
    lines += [f"items: {w}" for w in warned if w]
    return lines + _pool_line(plan, items)


_BLOCK_HOOK = re.compile(r"^blocks\.(\d+)\.")


def check_hooks_fit(series: CheckpointSeries, config: SweepConfig) -> None:
    """Refuse, before anything loads or is written, hooks on blocks the series' models lack.

    The depth comes from the first local checkpoint's ``config.json`` alone (no weights load);
    a hub series is left to the load, which needs the network. ``--layers 0-11`` on a 2-block
    model names the flag, the blocks asked for and the blocks there are.
    """
    asked = sorted({int(m.group(1)) for h in config.hooks if (m := _BLOCK_HOOK.match(h))})
    local = [c for c in series if c.path is not None]
    if not asked or not local:
        return
    first = local[0]
    depth = _n_layers(first)
    missing = [b for b in asked if b >= depth]
    if not missing:
        return
    if missing == list(range(missing[0], missing[-1] + 1)) and len(missing) > 2:
        shown = f"{missing[0]}-{missing[-1]}"
    else:
        shown = ", ".join(map(str, missing))
    fits = f"0-{depth - 1}" if depth > 1 else "0"
    raise ConfigError(
        f"{flag('layers')}/{flag('hooks')} ask for block(s) {shown}, but the series' checkpoints "
        f"have {depth} blocks ({fits}; num_hidden_layers = {depth} in {first.label}'s "
        f"config.json). Use {flag('layers')} {fits} (or hooks on blocks {fits}); nothing was "
        "loaded or written."
    )


#: Tokens a sequence may hold beyond its UTF-8 bytes (BOS, a tokenizer's word-start marker);
#: no tokenizer cuts a byte into two tokens, so a shorter sequence is never tokenized here.
_TOKEN_SLACK = 8


def check_prompts_fit(plan: SweepPlan, series: CheckpointSeries) -> None:
    """Refuse, before any checkpoint loads, a skill whose prompts are longer than the model's
    context (from the first local checkpoint's ``config.json`` and tokenizer alone).

    Only the items whose UTF-8 bytes could exceed the context are tokenized, so a plan of
    short prompts costs no tokenization; the measurement checks every sequence again. A hub
    series is left to the measurement (its files need the network).
    """
    first = series[0] if len(series) else None
    if first is None or first.path is None:
        return
    n_ctx = checkpoint_context(first)
    if n_ctx is None:
        return
    tokenizer = functools.cache(lambda: series_tokenizer(series))  # loaded only when needed
    for skill in plan.skills:
        check_examples_fit(skill, plan.items(skill).examples, n_ctx, tokenizer)


def check_examples_fit(skill: Skill, examples: Sequence, n_ctx: int, tokenizer) -> None:
    """Refuse (:class:`SkillError`, naming the longest prompt) ``examples`` of ``skill`` whose
    sequences are longer than ``n_ctx`` tokens; ``tokenizer()`` gives the tokenizer, called
    only when an example's UTF-8 bytes could exceed the context."""
    long = [ex for ex in examples if _bytes(ex) + _TOKEN_SLACK > n_ctx]
    if long:
        from curriculens.activations import check_context, encode_skill

        check_context(encode_skill(skill, long, tokenizer()), n_ctx)


def _bytes(ex) -> int:
    """UTF-8 bytes of an example's longest sequence (prompt and its longest continuation)."""
    conts = (ex.target, *ex.choices)
    return len(ex.prompt.encode("utf-8", "replace")) + max(len(c.encode("utf-8", "replace"))
                                                           for c in conts)  # fmt: skip


def checkpoint_context(c: Checkpoint) -> int | None:
    """The positions the checkpoint's model reads, from its config alone (``None``: unknown)."""
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(str(c.path), trust_remote_code=c.trust_remote_code)
    except Exception:  # noqa: BLE001 - the load reports an unreadable config
        return None
    cfg = getattr(cfg, "text_config", cfg)
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def pool_shortfall(skill: Skill, items: ItemSet, config: SweepConfig) -> str:
    """The warning for a skill with fewer distinct items than asked, or ``''``.

    A built-in skill's pool is part of its definition (46 countries, 100 one-digit sums, the toy
    world's people), so at the default number of examples it uses its whole pool without a
    warning the user could not act on: the default is sized to the pool. A user skill, or any
    skill asked for another number of examples, warns with the numbers.
    """
    if not items.exhausted:
        return ""
    default = next(f.default for f in fields(SweepConfig) if f.name == "n_examples")
    if skill.suite != "user" and config.n_examples == default:
        return ""
    return items.shortfall()


def _pool_line(plan: SweepPlan, items: Sequence[ItemSet]) -> list[str]:
    """One line naming the built-in skills that use their whole (smaller) pool, if any."""
    whole = [
        f"{it.skill} {len(it.queries) or it.n}"
        for s, it in zip(plan.skills, items, strict=True)
        if it.exhausted and not pool_shortfall(s, it, plan.config)
    ]
    if not whole:
        return []
    return [
        f"pools: {', '.join(whole)} distinct items or few-shot queries, each skill's whole "
        f"pool at the default {flag('n_examples')}"
    ]


def _bounds_lines(plan: SweepPlan) -> list[str]:
    """The plan's lines on its threads (:func:`sweep_threads`) and any capped examples."""
    threads = sweep_threads(plan.config)
    lines = [f"threads: {threads['threads']}, {threads['chosen']}"]
    capped = capped_line(plan)
    return lines + ([capped] if capped else [])


def _n_layers(c: Checkpoint) -> int:
    """The model's depth from its config alone (a hub config that cannot be read is an error)."""
    from transformers import AutoConfig

    where = str(c.path) if c.path is not None else c.repo
    try:
        cfg = AutoConfig.from_pretrained(  # never a prompt, never the checkpoint's code
            where, revision=c.revision, trust_remote_code=c.trust_remote_code
        )
        return int(cfg.num_hidden_layers)
    except Exception as e:
        from curriculens.checkpoints.weights import remote_code_message, remote_code_refused

        if remote_code_refused(e):  # auto_map without --trust-remote-code: name the flag
            raise CheckpointError(remote_code_message(c.label, where)) from None
        raise CheckpointError(
            f"Cannot read the config of checkpoint {c.label!r} at {where!r} ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:200] if str(e) else ''}); the plan needs its depth."
        ) from None


# ------------------------------------------------------------------- work bounded by the data
#: Examples a plan draws to learn a skill's pool of distinct items, when more are asked for.
#: A request above it is capped to the pool, and the pool is what this many draw.
POOL_PROBE = 4096
#: Bytes a drawn item holds in the plan (example, prompt text, tokens, split arrays); generous.
ITEM_BYTES = 4096
#: Share of the available memory a plan may use (the weights and the forwards need the rest).
MEMORY_SHARE = 0.8


@functools.lru_cache(maxsize=256)
def skill_pool(skill: Skill, seed: int) -> int | None:
    """The number of distinct items (a few-shot skill: distinct queries) ``skill`` can give, or
    ``None`` when it gives at least :data:`POOL_PROBE` (as many as a plan needs to know)."""
    examples, exhausted = draw_distinct(skill, POOL_PROBE, seed)
    return len(examples) if exhausted else None


def examples_cap(skill: Skill, config: SweepConfig) -> int | None:
    """The pool ``config.n_examples`` is capped to for ``skill``, or ``None`` (not capped).

    Only a request above :data:`POOL_PROBE` is capped, and only for a skill whose pool is
    smaller: nothing else is drawn differently (a smaller request beyond the pool keeps its
    usual shortfall line). Learning the pool draws at most a few rounds of ``POOL_PROBE``.
    """
    if config.n_examples <= POOL_PROBE:
        return None
    return skill_pool(skill, config.seed)


def _capped_items(skill: Skill, pool: int) -> int:
    """The items of a capped skill: its pool, or each of a few-shot skill's queries with the
    demonstration sets of :data:`POOL_PROBE` examples (as
    :func:`~curriculens.probes.splits.draw_items` renders them)."""
    return pool * (POOL_PROBE // pool) if skill.shots else pool


def capped_line(plan: SweepPlan) -> str:
    """One line naming every skill whose examples are capped to its pool, or ``''``."""
    caps = [(s, examples_cap(s, plan.config)) for s in plan.skills]
    caps = [(s, c) for s, c in caps if c is not None]
    if not caps:
        return ""
    parts = ", ".join(
        f"{s.name} {c}" + (f" queries x {POOL_PROBE // c} demonstration sets" if s.shots else "")
        for s, c in caps
    )
    return (
        f"capped: {flag('n_examples')} {plan.config.n_examples} is above the pool of distinct "
        f"items of {len(caps)} skill(s), each drawn from its whole pool: {parts}"
    )


def plan_memory(plan: SweepPlan, n_hooks: int | None, d_model: int | None) -> dict[str, int]:
    """What a plan holds in memory at once, in bytes, before any example is generated.

    ``items``: every skill's drawn items (:data:`ITEM_BYTES` each); ``activations``: one
    checkpoint's captures, float32 ``[items, hooks, d_model]`` of every probed skill (0 when the
    model's shape is unknown). Capped skills count their pool.
    """
    items = acts = 0
    for s in plan.skills:
        cap = examples_cap(s, plan.config)
        n = plan.config.n_examples if cap is None else _capped_items(s, cap)
        items += n * ITEM_BYTES
        if s.probed and n_hooks and d_model:
            acts += n * n_hooks * d_model * 4
    return {"items": items, "activations": acts}


def check_plan_memory(plan: SweepPlan, series: CheckpointSeries | None = None) -> dict[str, int]:
    """Fail before anything is generated when the plan would not fit in memory.

    The estimate (:func:`plan_memory`, with the hooks and width of the series' first checkpoint
    when its config can be read) must stay within :data:`MEMORY_SHARE` of the memory available
    now. Returns the estimate.

    Raises:
        ConfigError: with the estimate, what was capped, and the fix (fewer examples).
    """
    import psutil

    shape = _model_shape(series[0]) if series is not None and len(series) else None
    n_hooks = d_model = None
    if shape is not None:
        n_hooks = len(plan.config.hooks) or shape[0] + 1
        d_model = shape[1]
    est = plan_memory(plan, n_hooks, d_model)
    need, free = sum(est.values()), psutil.virtual_memory().available
    if need > MEMORY_SHARE * free:
        capped = capped_line(plan)
        open_ = [s.name for s in plan.skills if examples_cap(s, plan.config) is None]
        names = ", ".join(open_[:4]) + (f" and {len(open_) - 4} more" if len(open_) > 4 else "")
        raise ConfigError(
            f"This sweep would hold {_gb(need)} in memory ({_gb(est['items'])} of items, "
            f"{_gb(est['activations'])} of activations"
            + (f" at {n_hooks} hooks x {d_model} wide" if d_model else "")
            + f"), more than {MEMORY_SHARE:.0%} of the {_gb(free)} available: "
            f"{flag('n_examples')} {plan.config.n_examples} is not capped for {names}, whose "
            f"pools hold {POOL_PROBE} or more distinct items. Lower {flag('n_examples')} (to "
            f"{_fitting_examples(plan, free, n_hooks, d_model)} or fewer), or sweep fewer skills."
            + (f" ({capped})" if capped else "")
        )
    return est


def _fitting_examples(plan: SweepPlan, free: float, n_hooks: int | None, d_model: int | None):
    """The largest round number of examples whose plan fits (for the error's advice)."""
    per = sum(
        ITEM_BYTES + (4 * n_hooks * d_model if s.probed and d_model else 0) for s in plan.skills
    )
    n = max(20, int(0.9 * MEMORY_SHARE * free / per))  # a margin below the limit
    return 10 ** int(math.log10(n)) if n >= 100 else n


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"


def _model_shape(c: Checkpoint) -> tuple[int, int] | None:
    """``(blocks, width)`` from a checkpoint's config alone, or ``None`` when it cannot be read."""
    from transformers import AutoConfig

    where = str(c.path) if c.path is not None else c.repo
    try:
        cfg = AutoConfig.from_pretrained(  # never a prompt, never the checkpoint's code
            where, revision=c.revision, trust_remote_code=c.trust_remote_code
        )
    except Exception:  # noqa: BLE001 - the plan's depth check reports an unreadable config
        return None
    cfg = getattr(cfg, "text_config", cfg)
    width = getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", None)
    depth = getattr(cfg, "num_hidden_layers", None)
    return (int(depth), int(width)) if depth and width else None


# ---------------------------------------------------------------- forward passes on the CPU
#: On the CPU, when neither ``max_batch_tokens`` nor ``memory_budget_mb`` is given, a forward
#: pass holds at most this many activation floats, counted as padded tokens x (blocks + 1) x
#: width (:func:`cpu_batch_tokens`). A pass's transient memory grows with its tokens and the
#: model's depth and width: on SmolLM2-135M (30 blocks, width 576) a batch of 64 few-shot
#: prompts (2,880 tokens) held 431 MB, and the last few-shot skill's forwards lifted the
#: all-core-en sweep's peak from 1,321 to 2,165 MB; at 1,024 tokens a pass it peaked at 1,506 MB
#: with every stored value bit-identical, in less time (CPU throughput does not grow past about a
#: thousand tokens a pass). 2**25 floats cap SmolLM2 at 1,879 tokens a pass and leave the
#: Pythia-160m shape (3,360) and the toy model uncapped at the default 64 sequences. On CUDA
#: there is no default cap: larger batches are what keeps a GPU busy.
CPU_PASS_FLOATS = 2**25


def cpu_default_cap(config: SweepConfig) -> bool:
    """Whether a sweep with ``config`` packs its forward passes by :func:`cpu_batch_tokens`:
    on the CPU, when neither ``max_batch_tokens`` nor ``memory_budget_mb`` is given."""
    return (
        not config.max_batch_tokens
        and config.memory_budget_mb is None
        and parse_device(config.device).type == "cpu"
    )


def cpu_batch_tokens(*, d_model: int, n_layers: int) -> int:
    """The default padded tokens per forward pass on the CPU (:data:`CPU_PASS_FLOATS`).

    >>> cpu_batch_tokens(d_model=576, n_layers=30), cpu_batch_tokens(d_model=768, n_layers=12)
    (1879, 3360)
    """
    return max(1, CPU_PASS_FLOATS // ((n_layers + 1) * d_model))


# ------------------------------------------------------------------------------ threads
def sweep_threads(config: SweepConfig) -> dict:
    """The torch threads of a sweep with ``config``, and why (recorded with the run).

    ``config.threads`` > 0 is used as set. 0 (the default) takes the physical cores this
    process may run on, less those busy with other work (the 1-minute load average, rounded):
    every physical core on a free machine, at least one on a busy one.

    >>> sweep_threads(SweepConfig(skills=("facts",), threads=3))
    {'threads': 3, 'chosen': 'set (threads=3)'}
    """
    if config.threads > 0:
        return {"threads": config.threads, "chosen": f"set (threads={config.threads})"}
    import psutil

    cores = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        cores = min(cores, len(os.sched_getaffinity(0)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    n = max(1, min(cores, cores - round(load)))
    why = "every physical core, free" if n == cores else f"{cores} physical cores, load {load:.1f}"
    return {"threads": n, "chosen": f"auto ({why})"}
