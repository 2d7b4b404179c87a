"""The sweep: for each checkpoint, behavior and probe scores of every skill, into the store.

Work is split into units, one per (checkpoint fingerprint, skill@version+hash, probe config), each
written in one SQLite transaction. A re-run skips finished units, so an interrupted sweep resumes.
The same evaluation serves a live training loop through :class:`Tracker`.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import platform
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from curriculens.activations import (
    capture,
    check_context,
    encode_skill,
    hook_layer,
    load_bridge,
    load_capture,
    resid_hooks,
    save_capture,
)
from curriculens.analysis.table import CONFIGS_META_KEY, SKILLS_META_KEY, skill_metadata
from curriculens.behavior import score_behavior
from curriculens.checkpoints import (
    BadCheckpointWarning,
    Checkpoint,
    CheckpointSeries,
    WeightScan,
    check_device,
    fingerprint,
    nonfinite_weights,
    warn_duplicate,
)
from curriculens.errors import (
    CheckpointError,
    ConfigError,
    MixedResultsNote,
    ProbeValidityWarning,
    StoreError,
    UnmeasurableWarning,
)
from curriculens.pipeline.config import SweepConfig, default_skills
from curriculens.pipeline.loading import loaded, young_heap
from curriculens.pipeline.overlap import ScoringWorker
from curriculens.pipeline.unmeasured import (
    context_length,
    unmeasured_behavior,
    unmeasured_probe,
    unmeasured_rows,
)
from curriculens.probes import ProbeTask, fit_probe_tasks
from curriculens.probes.mdl import mdl_online_codelength
from curriculens.probes.splits import SPLIT_VERSION, ItemSet, draw_items
from curriculens.skills.registry import Skill, get_skill
from curriculens.store import Row, Store
from curriculens.taskvectors import TaskVectors, vector_unit_suffix


def _unit(skill: Skill, config: SweepConfig) -> str:
    key = f"{skill.name}@{skill.version}+{skill.content_hash}|{config.probe_key()}"
    return key + vector_unit_suffix(skill, config.task_vectors, config.task_vector_heads)


def _skills_to_do(config: SweepConfig, done: set[str]) -> list[Skill]:
    """The configured skills whose unit (skill version × probe config) is not in ``done``."""
    return [s for s in map(get_skill, config.skills) if _unit(s, config) not in done]


def skill_items(skill: Skill, config: SweepConfig) -> ItemSet:
    """The probe items every checkpoint of a sweep measures ``skill`` on (deterministic).

    Drawn once per process and reused for every checkpoint (the sweep, each checkpoint's
    measurement and the store all ask for the same items).
    """
    return _drawn_items(skill, config.n_examples, config.seed, config.train_frac)


@functools.lru_cache(maxsize=256)
def _drawn_items(skill: Skill, n: int, seed: int, train_frac: float) -> ItemSet:
    return draw_items(skill, n, seed=seed, train_frac=train_frac)


def store_items(store: Store, run: str, config: SweepConfig, items: ItemSet) -> None:
    """Write a skill's items (prompt, group, label, split, control label) once into the run."""
    skill = get_skill(items.skill)
    store.write_items(
        run,
        skill.name,
        skill.content_hash,
        config.probe_key(),
        [
            (i, ex.prompt or ex.target, str(g), int(y), sp, int(c))
            for i, (ex, g, y, sp, c) in enumerate(
                zip(
                    items.examples,
                    items.groups,
                    items.labels,
                    items.split,
                    items.control,
                    strict=True,
                )
            )
        ],
    )


def evaluate_model(
    model,
    tokenizer,
    config: SweepConfig,
    *,
    checkpoint: str,
    step: int,
    tokens: int,
    run: str,
    store: Store,
    fp: str | None = None,
    progress: bool = True,
) -> int:
    """Score every unfinished skill on one loaded model and write its rows. Returns units done.

    Each (skill, probe config) unit is written in one transaction; finished units of this
    fingerprint are skipped, so calling it again writes nothing. The TransformerLens bridge
    rewires ``model`` in place; pass a copy if you keep using it (:class:`Tracker` does).
    """
    fp = fp or fingerprint(model)
    done = store.done_units(run, fp)
    todo = _skills_to_do(config, done)
    if not todo:
        return 0
    for skill in todo:
        store_items(store, run, config, skill_items(skill, config))
    units = _measure(
        model,
        tokenizer,
        config,
        todo,
        checkpoint=checkpoint,
        step=step,
        tokens=tokens,
        run=run,
        fp=fp,
        progress=progress,
    )
    for unit, rows in units:
        store.write_unit(run, fp, unit, checkpoint, rows)
    return len(units)


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
    key = json.dumps([config.n_examples, config.seed, list(hooks), SPLIT_VERSION])
    h = hashlib.sha256(key.encode()).hexdigest()[:10]
    name = f"{skill.name}@{skill.version}+{skill.content_hash}-{h}.safetensors"
    return Path(config.cache_dir) / fp / name


def _measure(
    model,
    tokenizer,
    config: SweepConfig,
    todo: Sequence[Skill],
    *,
    checkpoint: str,
    step: int,
    tokens: int,
    run: str,
    fp: str,
    progress: bool,
    weights: WeightScan | None = None,
    deferred: bool = False,
):
    """Behavior and probe rows of each skill in ``todo`` on one model: ``[(unit, rows)]``.

    A model with non-finite weights is not run: every score is NaN with the reason ("NaN
    weights"). A hook whose activations, or a skill whose log-probabilities, are not finite
    gets NaN scores with its reason too; nothing is carried over from another checkpoint.

    ``weights`` is this model's :func:`~curriculens.checkpoints.scan_weights` when the caller
    has taken it (else the non-finite check runs here). With ``deferred``, only the forward
    passes run now, and a function is returned that computes the rest (probe fits and rows)
    without the model: the sweep calls it on its scoring worker (:mod:`.overlap`).
    """
    hooks = list(config.hooks) or resid_hooks(model.config.num_hidden_layers)
    base = dict(
        run=run,
        checkpoint=checkpoint,
        step=step,
        tokens=tokens,
        fingerprint=fp,
        probe_key=config.probe_key(),
    )
    bad = nonfinite_weights(model) if weights is None else weights.nonfinite
    if bad is not None:
        warnings.warn(
            f"checkpoint {checkpoint!r} (step {step}) has {bad[0]} (first in {bad[1]}); its "
            "scores are stored as NaN with that reason.",
            UnmeasurableWarning,
            stacklevel=2,
        )
        units = [(_unit(s, config), unmeasured_rows(s, hooks, base, bad[0])) for s in todo]
        return (lambda n_jobs=None: units) if deferred else units
    bridge = None
    n_ctx = context_length(model)
    encoded, caps, item_sets = [], [], []
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
    with tqdm(todo, desc=f"  {checkpoint}", leave=False, disable=not progress) as skills:
        for skill in skills:
            items = skill_items(skill, config)
            item_sets.append(items)
            enc = encode_skill(skill, list(items.examples), tokenizer)
            check_context(enc, n_ctx)
            path = _cache_path(config, fp, skill, hooks)
            cap = None
            if path is not None and path.exists():
                cap = load_capture(path, expect=(enc, hooks))
            if cap is None:
                if bridge is None:
                    bridge = load_bridge(model, tokenizer, device=config.device)
                cap = capture(
                    bridge,
                    enc,
                    hooks,
                    batch_size=config.batch_size,
                    max_batch_tokens=_max_batch_tokens(config, bridge.cfg),
                )
                if path is not None:
                    save_capture(cap, path)
            if vectors is not None and skill.shots:  # a forward over shuffled controls
                if bridge is None:
                    bridge = load_bridge(model, tokenizer, device=config.device)
                cap_tokens = _max_batch_tokens(config, bridge.cfg)
                vectors.add(bridge, tokenizer, skill, items, cap.acts, cap_tokens)
            encoded.append(enc)
            caps.append(cap)
    del bridge
    vector_rows = vectors.rows() if vectors is not None else {}
    score = functools.partial(_score, config, hooks, base, encoded, caps, item_sets, vector_rows)
    return score if deferred else score()


def _score(
    config: SweepConfig,
    hooks: list[str],
    base: dict,
    encoded: list,
    caps: list,
    item_sets: list[ItemSet],
    vector_rows: dict,
    n_jobs: int | None = None,
) -> list[tuple[str, list[Row]]]:
    """The rows of one checkpoint's captures: every probe fit in one call, then behavior.

    ``vector_rows``: each few-shot skill's task-vector rows, stored in its unit.
    ``n_jobs``: the probe engine's worker threads (default: ``config.threads`` on CPU).
    """
    # every (skill, hook) probe of this checkpoint in one call
    # items are split by group, so no test prompt or group is ever seen in training
    tasks = [
        ProbeTask(
            X=cap.acts[h],
            y=items.labels,
            train=items.train,
            control_y=items.control,
            key=(enc.skill.name, h),
        )
        for enc, cap, items in zip(encoded, caps, item_sets, strict=True)
        if enc.skill.probed
        for h in hooks
        if np.isfinite(cap.acts[h]).all()  # else NaN with its reason, below
    ]
    # on CPU the probes run on `threads` worker threads of one BLAS thread each: on W1 that beat
    # one worker with as many BLAS threads (benchmarks/README_probes.md)
    jobs = n_jobs or (config.threads if torch.device(config.device).type == "cpu" else 1)
    fitted = []
    if tasks:
        fitted = fit_probe_tasks(tasks, C=config.probe_C, seed=config.seed, n_jobs=jobs)
    results = {r.key: r for r in fitted}
    units = []
    for enc, cap, items in zip(encoded, caps, item_sets, strict=True):
        sk = enc.skill
        meta = dict(base, skill=sk.name, skill_version=sk.version, skill_hash=sk.content_hash)
        rows = [
            Row(
                **meta,
                kind="behavior",
                hook="",
                metric=m,
                value=float(v.mean()),
                n=len(v),
                items=v,
            )
            for m, v in score_behavior(enc, cap).items()
        ]
        if not all(np.isfinite(lp).all() for lp in cap.token_logprob):
            rows = unmeasured_behavior(sk, meta, "NaN logits")
        rows.append(
            Row(
                **meta,
                kind="baseline",
                hook="",
                metric="behavior_chance",
                value=sk.chance,
                n=len(enc.labels),
            )
        )
        for h in hooks if sk.probed else ():
            r = results.get((sk.name, h))
            if r is None:
                rows += unmeasured_probe(meta, h, f"NaN activations at {h}")
                continue
            lay = hook_layer(h)
            common = dict(meta, hook=h, layer=lay, n=r.n_test, reason=r.failure)
            rows.append(
                Row(**common, kind="probe", metric="probe_acc", value=r.acc, items=r.correct)
            )
            rows.append(
                Row(
                    **common,
                    kind="control",
                    metric="control_acc",
                    value=r.control_acc,
                    items=r.control_correct,
                )
            )
            rows.append(Row(**dict(common, metric="majority"), kind="baseline", value=r.majority))
            if config.mdl:
                mdl = mdl_online_codelength(
                    cap.acts[h],
                    items.labels,
                    C=config.probe_C,
                    order=_group_order(items, config.seed),
                )
                rows.append(
                    Row(
                        **dict(common, metric="mdl_compression", n=items.n),
                        kind="probe",
                        value=mdl.compression,
                    )
                )
        units.append((_unit(sk, config), rows + vector_rows.get(sk.name, [])))
    return units


def _group_order(items: ItemSet, seed: int) -> np.ndarray:
    """Item order for online MDL: groups in a seeded order, each group's items together."""
    uniq, inverse = np.unique(items.groups, return_inverse=True)
    rank = np.random.default_rng([seed, 11]).permutation(uniq.size)
    return np.argsort(rank[inverse], kind="stable")


def _run_meta(config: SweepConfig, extra: dict) -> dict:
    import sklearn
    import transformer_lens
    import transformers

    import curriculens

    skills = {
        s: {"version": get_skill(s).version, "hash": get_skill(s).content_hash}
        for s in config.skills
    }
    return {
        "config": asdict(config),
        "probe_key": config.probe_key(),
        "skills": skills,
        **extra,
        "versions": {
            "curriculens": curriculens.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "transformer_lens": getattr(transformer_lens, "__version__", "?"),
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }


def _snapshot_skills(store: Store, names: Sequence[str]) -> None:
    """Store each swept skill's metadata under the ``skills`` meta key (merged by name).

    Analysis reads skill metadata from this snapshot (:mod:`curriculens.analysis.table`), so a
    run stays readable after its skills are changed or unregistered.
    """
    snap = dict(store.get_meta(SKILLS_META_KEY) or {})
    snap.update({n: skill_metadata(get_skill(n)) for n in names})
    store.set_meta(SKILLS_META_KEY, snap)


def _snapshot_config(store: Store, config: SweepConfig) -> None:
    """Record what this sweep's ``probe_key`` stands for under the ``configs`` meta key."""
    known = dict(store.get_meta(CONFIGS_META_KEY) or {})
    known[config.probe_key()] = config.probe_settings()
    store.set_meta(CONFIGS_META_KEY, known)


def sweep(
    series: CheckpointSeries | str | Path,
    out: str | Path,
    *,
    skills: Sequence[str] | None = None,
    config: SweepConfig | None = None,
    run: str | None = None,
    progress: bool = True,
    executor: str = "local",
) -> Path:
    """Sweep a checkpoint series: behavior and probes for every skill, into ``out/results.sqlite``.

    Re-running the same sweep skips finished units; a changed skill or probe config recomputes
    only what changed. Checkpoints with identical weights are reported as duplicates and
    measured once (unless the series was built with ``dedupe=False``).

    Args:
        series: A :class:`CheckpointSeries` or a directory of checkpoints.
        out: Run directory (created).
        skills: Skill names, suite names or skill files, ignored when ``config`` is given
            (default: the toy suite when the first checkpoint has the toy tokenizer, else
            ``core-en``; see :func:`~curriculens.pipeline.config.default_skills`).
        config: Full sweep configuration.
        run: Run name stored in every row (default: the name of ``out``).
        progress: Show progress bars (per checkpoint, and per skill inside one).
        executor: ``"local"`` (in this process, one model loaded at a time) or ``"ray"`` (one
            Ray task per checkpoint, ``num_gpus=1`` when ``config.device`` is CUDA; joins the
            cluster at ``RAY_ADDRESS`` or an existing ``ray.init(address=...)``). Only this
            process writes the store.

    Returns:
        The run directory.

    >>> cl.sweep("runs/demo/checkpoints", "runs/demo")  # doctest: +SKIP
    """
    from curriculens.pipeline.executors import check_executor

    check_executor(executor)
    if config is None:
        if not skills and not isinstance(series, CheckpointSeries):
            series = CheckpointSeries.from_dir(series)
        config = SweepConfig(skills=tuple(skills or default_skills(series_tokenizer(series))))
    if executor == "local":
        check_device(config.device)  # before any checkpoint is loaded
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is an existing file; give a directory path.")
    run = run or out.resolve().name
    torch.set_num_threads(config.threads)
    try:
        with young_heap(), Store(out) as store:  # a locked or corrupt store fails before loading
            if not isinstance(series, CheckpointSeries):
                series = CheckpointSeries.from_dir(series)
            _sweep_into(store, series, out, config, run, progress, executor)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StoreError(
            f"The disk is full: cannot write {e.filename or str(out)!r} ({e.strerror}). Every "
            f"finished unit is kept in {str(out / 'results.sqlite')!r}; free some space and "
            "re-run the same command to resume."
        ) from None
    return out


def _sweep_into(
    store: Store,
    series: CheckpointSeries,
    out: Path,
    config: SweepConfig,
    run: str,
    progress: bool,
    executor: str,
) -> None:
    from curriculens.pipeline.executors import map_unordered
    from curriculens.pipeline.overlap import scoring_worker, thread_plan

    t0 = time.perf_counter()
    seen: dict[str, str] = {}
    (out / "sweep_config.json").write_text(json.dumps(config.to_dict(), indent=2))
    _recall_fingerprints(store, series)
    meta = {**_series_meta(series, executor), "threads": thread_plan(config)}
    store.set_meta(f"run:{run}", _run_meta(config, meta))
    _snapshot_skills(store, config.skills)
    _snapshot_config(store, config)
    _plan_items(store, run, config)
    done = store.done_units_by_fingerprint(run)
    todo = _unfinished(series, config, done, seen)
    with tqdm(total=len(series), desc="sweep", unit="ckpt", disable=not progress) as bar:
        bar.update(len(series) - len(todo))
        if executor == "local":
            with scoring_worker(store, run, config) as worker:
                for ck in todo:
                    bar.set_postfix(ckpt=ck.label)
                    try:
                        _sweep_one(ck, config, run, store, seen, progress, series, worker)
                    except CheckpointError as e:
                        if not series.meta.get("skip_bad"):
                            raise
                        _skip(series, ck, e)
                    bar.update()
        else:
            gpus = 1 if str(config.device).startswith("cuda") else 0
            results = map_unordered(
                _measure_task, todo, executor=executor, args=(config, run, done), num_gpus=gpus
            )
            for i, (fp, measured) in results:
                ck = todo[i]
                bar.set_postfix(ckpt=ck.label)
                _remember(store, series, ck, fp)
                key = _dedupe_key(ck.label, fp, seen, series)
                if key is not None:
                    for unit, rows in measured:
                        if key != fp:
                            rows = [replace(r, fingerprint=key) for r in rows]
                        store.write_unit(run, key, unit, ck.label, rows)
                bar.update()
    store.set_meta(f"sweep_seconds:{run}", round(time.perf_counter() - t0, 2))
    _warn_leaky(store, config)


def _warn_leaky(store: Store, config: SweepConfig) -> None:
    """Audit the run's probe items (:mod:`curriculens.analysis.audit`); warn per leaky skill."""
    from curriculens.analysis.audit import audit_run

    probed = [s for s in config.skills if get_skill(s).probed]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixedResultsNote)  # the sweep reads its own current rows
        audited = audit_run(store, skills=probed) if probed else {}
    for r in audited.values():
        if r.verdict != "ok":
            warnings.warn(
                f"{r.skill}: leaky probe: {r.reason} (see `curriculens audit`)",
                ProbeValidityWarning,
                stacklevel=3,
            )


def _plan_items(store: Store, run: str, config: SweepConfig) -> None:
    """Draw and store every skill's items before any checkpoint loads.

    A skill with too few distinct items fails here, before any work; one with fewer than asked
    is used as it is, with a warning that gives the numbers (items are never repeated).
    """
    for name in config.skills:
        items = skill_items(get_skill(name), config)
        if items.exhausted:
            warnings.warn(items.shortfall(), ProbeValidityWarning, stacklevel=3)
        store_items(store, run, config, items)


def series_tokenizer(series: CheckpointSeries):
    """The tokenizer of a series' first local checkpoint (loaded alone, without the model), or
    ``None`` for a hub series (whose tokenizer is never the toy one)."""
    first = series[0] if len(series) else None
    if first is None or first.path is None:
        return None
    from curriculens.checkpoints.weights import _load_tokenizer

    return _load_tokenizer(str(first.path), first.label)


def _series_meta(series: CheckpointSeries, executor: str) -> dict:
    return {
        "series": series.source,
        "checkpoints": len(series),
        "labels": [c.label for c in series],
        "fingerprints": [series.known_fingerprint(c) for c in series],
        "duplicates": series.meta.get("duplicates", []),
        "executor": executor,
    }


#: Store meta key of the fingerprints computed by earlier loads, by file signature.
FINGERPRINTS_META_KEY = "fingerprints_by_files"


def _recall_fingerprints(store: Store, series: CheckpointSeries) -> None:
    """Give the series the fingerprints earlier sweeps computed for unchanged local files."""
    cache = store.get_meta(FINGERPRINTS_META_KEY) or {}
    for c in series:
        sig = c.file_signature()
        if series.known_fingerprint(c) is None and sig in cache:
            series.remember(c, cache[sig])


def _remember(store: Store, series: CheckpointSeries, ck: Checkpoint, fp: str) -> None:
    series.remember(ck, fp)
    sig = ck.file_signature()
    if sig is not None:
        cache = dict(store.get_meta(FINGERPRINTS_META_KEY) or {})
        if cache.get(sig) != fp:
            cache[sig] = fp
            store.set_meta(FINGERPRINTS_META_KEY, cache)


def _skip(series: CheckpointSeries, ck: Checkpoint, e: CheckpointError) -> None:
    """A checkpoint that fails to load, skipped and listed (``skip_bad``)."""
    series.meta.setdefault("skipped", []).append({"label": ck.label, "reason": str(e)})
    warnings.warn(
        f"skipped bad checkpoint {ck.label} (skip_bad=True): {e}",
        BadCheckpointWarning,
        stacklevel=3,
    )


def _unfinished(
    series: CheckpointSeries, config: SweepConfig, done: dict[str, set[str]], seen: dict[str, str]
) -> list[Checkpoint]:
    """Checkpoints with work left; finished ones with a known fingerprint are never loaded.

    Fills ``seen`` (fingerprint -> first label) for every known fingerprint, in series order.
    """
    units = {_unit(get_skill(s), config) for s in config.skills}
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


def _dedupe_key(label: str, fp: str, seen: dict[str, str], series: CheckpointSeries) -> str | None:
    """Store key of a checkpoint's rows: its fingerprint, ``fp@label`` for a kept duplicate, or
    ``None`` for a duplicate to skip. Reports every duplicate (and lists a skipped one in
    ``series.meta["duplicates"]``)."""
    if fp in seen and seen[fp] != label:
        warn_duplicate(seen[fp], label, fp, dedupe=series.dedupe)
        if series.dedupe:
            series.meta.setdefault("duplicates", []).append({"label": label, "same_as": seen[fp]})
            return None
        return f"{fp}@{label}"
    seen[fp] = label
    return fp


def _measure_task(
    ck: Checkpoint, config: SweepConfig, run: str, done: dict[str, set[str]]
) -> tuple[str, list[tuple[str, list[Row]]]]:
    """One checkpoint's unfinished units, computed without a store (a Ray task)."""
    torch.set_num_threads(config.threads)
    with loaded(ck, config, None) as ld:
        todo = _skills_to_do(config, done.get(ld.fp, set()))
        measured = []
        if todo:
            measured = _measure(
                ld.model,
                ld.tokenizer,
                config,
                todo,
                checkpoint=ck.label,
                step=ck.step,
                tokens=ck.tokens,
                run=run,
                fp=ld.fp,
                progress=False,
                weights=ld.scan,
            )
    return ld.fp, measured


def _sweep_one(
    ck: Checkpoint,
    config: SweepConfig,
    run: str,
    store: Store,
    seen: dict[str, str],
    progress: bool,
    series: CheckpointSeries,
    worker: ScoringWorker | None = None,
) -> None:
    """Load ``ck``, run its unfinished skills' forwards and hand the rest (probe fits, rows,
    the store write) to ``worker``, which may still be scoring it when this returns; the model
    is freed first. Without a worker, everything is done here."""
    with loaded(ck, config, series) as ld:
        _remember(store, series, ck, ld.fp)
        key = _dedupe_key(ck.label, ld.fp, seen, series)
        todo = [] if key is None else _skills_to_do(config, store.done_units(run, key))
        if not todo:
            return
        for skill in todo:
            store_items(store, run, config, skill_items(skill, config))
        score = _measure(
            ld.model,
            ld.tokenizer,
            config,
            todo,
            checkpoint=ck.label,
            step=ck.step,
            tokens=ck.tokens,
            run=run,
            fp=key,
            progress=progress,
            weights=ld.scan,
            deferred=True,
        )
    if worker is None:
        for unit, rows in score():
            store.write_unit(run, key, unit, ck.label, rows)
    else:
        worker.submit(ck.label, key, score)
