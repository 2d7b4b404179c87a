"""The sweep: for each checkpoint, behavior and probe scores of every skill, into the store.

A sweep is a plan (:mod:`.plan`: skills resolved once, units, the work left), then measurement
(:mod:`.measure`: one checkpoint at a time), then records (:mod:`.record`: rows and store
writes). This module runs the loop: it loads each checkpoint with work left, measures it in
this process (overlapping probe fits with the next load, :mod:`.overlap`) or as Ray tasks
(:mod:`.executors`), and writes each unit in one SQLite transaction. A re-run skips finished
units, so an interrupted sweep resumes. The same evaluation serves a live training loop through
:class:`~curriculens.pipeline.tracker.Tracker` (:func:`evaluate_model`).
"""

from __future__ import annotations

import errno
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from curriculens.atomic import write_text
from curriculens.checkpoints import (
    BadCheckpointWarning,
    Checkpoint,
    CheckpointSeries,
    check_device,
    fingerprint,
    warn_duplicate,
)
from curriculens.errors import (
    CheckpointError,
    ConfigError,
    EnvironmentProblem,
    MixedResultsNote,
    ProbeValidityWarning,
    StoreError,
)
from curriculens.params import flag
from curriculens.pipeline.config import SweepConfig, check_settings, default_skills
from curriculens.pipeline.executors import check_executor, map_unordered
from curriculens.pipeline.loading import loaded, young_heap
from curriculens.pipeline.measure import MeasureContext, measure
from curriculens.pipeline.overlap import ScoringWorker, scoring_worker, thread_plan
from curriculens.pipeline.plan import (
    SweepPlan,
    capped_line,
    check_hooks_fit,
    check_plan_memory,
    check_prompts_fit,
    forward_passes,
    plan_sweep,
    recall_fingerprints,
    series_tokenizer,
    skill_items,
    sweep_threads,
)
from curriculens.pipeline.record import (
    Units,
    remember_fingerprint,
    run_meta,
    snapshot_config,
    snapshot_skills,
    write_all_items,
    write_items,
    write_units,
)
from curriculens.store import Store

__all__ = ["SweepConfig", "evaluate_model", "series_tokenizer", "skill_items", "sweep"]


def evaluate_model(
    model,
    tokenizer,
    config: SweepConfig | SweepPlan,
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
    ``config`` may be a :class:`~curriculens.pipeline.plan.SweepPlan` (skills resolved once).
    """
    plan = config if isinstance(config, SweepPlan) else plan_sweep(config)
    fp = fp or fingerprint(model)
    todo = plan.todo(store.done_units(run, fp))
    if not todo:
        return 0
    check_plan_memory(plan)  # the items, before any is drawn
    for skill in todo:
        write_items(store, run, plan.config, skill, plan.items(skill))
    ctx = MeasureContext(
        plan=plan,
        run=run,
        checkpoint=checkpoint,
        step=step,
        tokens=tokens,
        fp=fp,
        progress=progress,
    )
    units = measure(model, tokenizer, ctx, todo)
    write_units(store, run, fp, checkpoint, units)
    return len(units)


def sweep(
    series: CheckpointSeries | str | Path,
    out: str | Path,
    *,
    skills: Sequence[str] | None = None,
    config: SweepConfig | None = None,
    run: str | None = None,
    progress: bool = True,
    executor: str = "local",
    **settings,
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
        run: Run name stored in every row (default: the name recorded in ``out`` when the run
            was created, so a copied or renamed run directory resumes as the same run; for a
            new run, the name of ``out``).
        progress: Show progress bars (per checkpoint, and per skill inside one).
        executor: ``"local"`` (in this process, one model loaded at a time) or ``"ray"`` (one
            Ray task per checkpoint, ``num_gpus=1`` when ``config.device`` is CUDA; joins the
            cluster at ``RAY_ADDRESS`` or an existing ``ray.init(address=...)``). Only this
            process writes the store.
        **settings: Any other :class:`SweepConfig` field (``n_examples=100``, ``dtype=...``),
            applied over ``config`` or the default; each is checked before any work.

    Returns:
        The run directory.

    >>> cl.sweep("runs/demo/checkpoints", "runs/demo", n_examples=100)  # doctest: +SKIP
    """
    check_executor(executor)
    check_settings(settings)  # before the series is read: a bad value names its argument
    if config is None:
        if not skills and not isinstance(series, CheckpointSeries):
            series = CheckpointSeries.from_dir(series)
        config = SweepConfig(skills=tuple(skills or default_skills(series_tokenizer(series))))
    if settings:
        config = replace(config, **settings)
    if executor == "local":
        check_device(config.device)  # before any checkpoint is loaded
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag('out')} {str(out)!r} is an existing file; give a directory path.")
    threads = sweep_threads(config)  # threads=0: chosen now, and recorded with the run
    plan = plan_sweep(replace(config, threads=threads["threads"]))
    if not isinstance(series, CheckpointSeries):
        series = CheckpointSeries.from_dir(series)
    check_hooks_fit(series, config)  # hooks past the models' depth: before anything is written
    check_plan_memory(plan, series)  # before the store is made or any item drawn
    check_prompts_fit(plan, series)  # prompts past the model's context: before any load
    _check_folder(out, "out")  # a file in the way, or storage that refuses: one line, now
    if config.cache_dir is not None:
        _check_folder(Path(config.cache_dir), "cache_dir")
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(threads["threads"])
    try:
        with young_heap(), Store(out) as store:  # a locked or corrupt store fails before loading
            # the name recorded when the run was created: a copied or renamed directory resumes
            # as the same run (a new store records ``run`` or its folder's name)
            recorded = store.run_name(run or out.resolve().name)
            run = run or recorded
            _sweep_into(store, series, out, plan, run, progress, executor, config, threads)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        err = StoreError(
            f"The disk is full: cannot write {e.filename or str(out)!r} ({e.strerror}). Every "
            f"finished unit is kept in {str(out / 'results.sqlite')!r}; free some space and "
            "re-run the same command to resume."
        )
        err.exit_code = 1  # the environment, not the request
        raise err from None
    finally:
        torch.set_num_threads(caller_threads)  # process-wide: the caller's count again
    return out


def _check_folder(path: Path, name: str) -> None:
    """Create the folder ``path`` (``--out``, ``--cache-dir``) before any work, or refuse in one
    line: a file in its way is a usage error, storage that refuses it an environment one."""
    blocked = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise ConfigError(
            f"{flag(name)} {str(path)!r}: {str(blocked)!r} is a file, not a folder; give a "
            "folder path."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EnvironmentProblem(
            f"{flag(name)} {str(path)!r} cannot be created ({e.strerror or e}); give a folder "
            "on writable storage."
        ) from None


def _sweep_into(
    store: Store,
    series: CheckpointSeries,
    out: Path,
    plan: SweepPlan,
    run: str,
    progress: bool,
    executor: str,
    asked: SweepConfig | None = None,
    threads: dict | None = None,
) -> None:
    """Sweep ``series`` into ``store``. ``asked`` is the config as given (saved for a resume,
    so ``threads=0`` is chosen again there); ``threads`` the choice (:func:`sweep_threads`)."""
    t0 = time.perf_counter()
    config = plan.config
    seen: dict[str, str] = {}
    saved = (asked or config).to_dict()
    write_text(out / "sweep_config.json", json.dumps(saved, indent=2))  # whole
    recall_fingerprints(store, series)
    meta = {**_series_meta(series, executor), "threads": thread_plan(config)}
    meta["forward_passes"] = forward_passes(plan, series)  # batch packing moves digits (~1e-7)
    if threads is not None:
        meta["threads_chosen"] = threads["chosen"]
    if line := capped_line(plan):
        warnings.warn(line, ProbeValidityWarning, stacklevel=3)
    store.set_meta(f"run:{run}", run_meta(plan, meta))
    snapshot_skills(store, plan.skills)
    snapshot_config(store, config)
    write_all_items(store, run, plan)
    done = store.done_units_by_fingerprint(run)
    todo = plan.unfinished(series, done, seen)
    with tqdm(total=len(series), desc="sweep", unit="ckpt", disable=not progress) as bar:
        bar.update(len(series) - len(todo))
        if executor == "local":
            _sweep_local(store, series, todo, plan, run, seen, progress, bar)
        else:
            _sweep_remote(store, series, todo, plan, run, seen, done, executor, bar)
    store.set_meta(f"sweep_seconds:{run}", round(time.perf_counter() - t0, 2))
    if series.meta.get("skipped"):  # with those that failed to load during the sweep
        store.set_meta(f"run:{run}", run_meta(plan, {**meta, **_series_meta(series, executor)}))
    _warn_leaky(store, plan)


def _sweep_local(
    store: Store,
    series: CheckpointSeries,
    todo: list[Checkpoint],
    plan: SweepPlan,
    run: str,
    seen: dict[str, str],
    progress: bool,
    bar: tqdm,
) -> None:
    """Measure ``todo`` in this process, one checkpoint loaded at a time; its probe fits and
    rows on the scoring worker (:mod:`.overlap`)."""
    with scoring_worker(store, run, plan.config) as worker:
        for ck in todo:
            bar.set_postfix(ckpt=ck.label)
            try:
                _sweep_one(ck, plan, run, store, seen, progress, series, worker)
            except CheckpointError as e:
                if not series.meta.get("skip_bad"):
                    raise
                _skip(series, ck, e)
            bar.update()


def _sweep_remote(
    store: Store,
    series: CheckpointSeries,
    todo: list[Checkpoint],
    plan: SweepPlan,
    run: str,
    seen: dict[str, str],
    done: dict[str, set[str]],
    executor: str,
    bar: tqdm,
) -> None:
    """Measure ``todo`` as executor tasks (:mod:`.executors`); write each as it finishes."""
    gpus = 1 if str(plan.config.device).startswith("cuda") else 0
    results = map_unordered(
        _measure_task, todo, executor=executor, args=(plan, run, done), num_gpus=gpus
    )
    for i, (fp, measured) in results:
        ck = todo[i]
        bar.set_postfix(ckpt=ck.label)
        remember_fingerprint(store, series, ck, fp)
        key = _dedupe_key(ck.label, fp, seen, series)
        if key is not None:
            if key != fp:
                measured = [
                    (u, [replace(r, fingerprint=key) for r in rows]) for u, rows in measured
                ]
            write_units(store, run, key, ck.label, measured)
        bar.update()


def _warn_leaky(store: Store, plan: SweepPlan) -> None:
    """Audit the run's probe items (:mod:`curriculens.analysis.audit`); warn per leaky skill."""
    from curriculens.analysis.audit import audit_run

    probed = [s.name for s in plan.probed]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixedResultsNote)  # the sweep reads its own current rows
        audited = audit_run(store, skills=probed, lexical=False) if probed else {}
    for r in audited.values():
        if r.verdict != "ok":
            warnings.warn(
                f"{r.skill}: leaky probe: {r.reason} (see `curriculens audit`)",
                ProbeValidityWarning,
                stacklevel=3,
            )


def _series_meta(series: CheckpointSeries, executor: str) -> dict:
    return {
        "series": series.source,
        "checkpoints": len(series),
        "labels": [c.label for c in series],
        "fingerprints": [series.known_fingerprint(c) for c in series],
        "duplicates": series.meta.get("duplicates", []),
        "skipped": series.meta.get("skipped", []),  # --skip-bad, named by the report
        "executor": executor,
    }


def _skip(series: CheckpointSeries, ck: Checkpoint, e: CheckpointError) -> None:
    """A checkpoint that fails to load, skipped and listed (``skip_bad``)."""
    series.meta.setdefault("skipped", []).append({"label": ck.label, "reason": str(e)})
    warnings.warn(
        f"skipped bad checkpoint {ck.label} (skip_bad=True): {e}",
        BadCheckpointWarning,
        stacklevel=3,
    )


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


def _context(ck: Checkpoint, plan: SweepPlan, run: str, fp: str, progress: bool) -> MeasureContext:
    """The measurement context of checkpoint ``ck`` (rows stored under key ``fp``)."""
    return MeasureContext(
        plan=plan,
        run=run,
        checkpoint=ck.label,
        step=ck.step,
        tokens=ck.tokens,
        fp=fp,
        progress=progress,
    )


def _measure_task(
    ck: Checkpoint, plan: SweepPlan, run: str, done: dict[str, set[str]]
) -> tuple[str, Units]:
    """One checkpoint's unfinished units, computed without a store (a Ray task)."""
    torch.set_num_threads(plan.config.threads)
    with loaded(ck, plan.config, None) as ld:
        todo = plan.todo(done.get(ld.fp, set()))
        measured = []
        if todo:
            ctx = _context(ck, plan, run, ld.fp, progress=False)
            measured = measure(ld.model, ld.tokenizer, ctx, todo, weights=ld.scan)
    return ld.fp, measured


def _sweep_one(
    ck: Checkpoint,
    plan: SweepPlan,
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
    with loaded(ck, plan.config, series) as ld:
        remember_fingerprint(store, series, ck, ld.fp)
        key = _dedupe_key(ck.label, ld.fp, seen, series)
        todo = [] if key is None else plan.todo(store.done_units(run, key))
        if not todo:
            return
        for skill in todo:
            write_items(store, run, plan.config, skill, plan.items(skill))
        ctx = _context(ck, plan, run, key, progress)
        score = measure(ld.model, ld.tokenizer, ctx, todo, weights=ld.scan, deferred=True)
    if worker is None:
        write_units(store, run, key, ck.label, score())
    else:
        worker.submit(ck.label, key, score)
