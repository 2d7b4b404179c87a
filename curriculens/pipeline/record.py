"""A sweep's records: result rows, and what the sweep writes to the store besides them.

Rows are built here from what :mod:`.measure` measured (behavior scores, probe results, online
MDL); units, items and the run's metadata (config, skill snapshots, library versions, the
fingerprints of loaded files) are written here. Skills come from the plan
(:class:`~curriculens.pipeline.plan.SweepPlan`), never from the registry.
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict

import numpy as np

from curriculens._version import __version__
from curriculens.activations import hook_layer
from curriculens.analysis.table import CONFIGS_META_KEY, SKILLS_META_KEY, skill_metadata
from curriculens.checkpoints import Checkpoint, CheckpointSeries
from curriculens.errors import ProbeValidityWarning
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.plan import FINGERPRINTS_META_KEY, SweepPlan, pool_shortfall
from curriculens.pipeline.unmeasured import unmeasured_behavior, unmeasured_lexical
from curriculens.probes.lexical import LEXICAL_HOOK, LEXICAL_METRIC
from curriculens.probes.splits import ItemSet
from curriculens.skills.registry import Skill
from curriculens.store import Row, Store

#: One checkpoint's measured units: ``[(unit key, rows)]``.
Units = list[tuple[str, list[Row]]]


# ------------------------------------------------------------------------------------ rows
def behavior_rows(skill: Skill, meta: dict, scores: dict, n_labels: int) -> list[Row]:
    """A skill's behavior rows (one per metric, with per-item outcomes) and its chance row.

    ``scores``: metric -> per-item values (:func:`~curriculens.behavior.score_behavior`), or
    ``None`` when the log-probabilities were not finite (then NaN rows say so).
    """
    if scores is None:
        rows = unmeasured_behavior(skill, meta, "NaN logits")
    else:
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
            for m, v in scores.items()
        ]
    rows.append(
        Row(
            **meta,
            kind="baseline",
            hook="",
            metric="behavior_chance",
            value=skill.chance,
            n=n_labels,
        )
    )
    return rows


def probe_rows(meta: dict, hook: str, result, items: ItemSet | None = None) -> list[Row]:
    """One hook's probe, control, control SD, chance and majority rows from a fitted probe
    ``result`` (with ``items``, the skill's :class:`ItemSet`, for the test set's chance).

    - ``probe/probe_acc``: held-out accuracy, per-item 0/1 outcomes;
    - ``control/control_acc``: the mean held-out accuracy over the control draws, per item the
      share of draws it was right in (paired with the probe's items: selectivity is
      ``probe_acc - control_acc``, the probe against the mean control);
    - ``baseline/control_sd``: the SD of the control accuracy over the draws (ddof 1); its ``n``
      is the number of draws and its per-item outcomes are the draws' accuracies;
    - ``baseline/chance``: the share of the test set's majority class (the best constant guess
      on the held-out items);
    - ``baseline/majority``: held-out accuracy of the training set's majority class.
    """
    common = probe_columns(meta, hook, result)
    draws = np.asarray(getattr(result, "control_draws", ()), float)
    rows = [
        Row(**common, kind="probe", metric="probe_acc", value=result.acc, items=result.correct),
        Row(
            **common,
            kind="control",
            metric="control_acc",
            value=result.control_acc,
            items=result.control_correct,
        ),
        Row(
            **dict(common, metric="control_sd", n=int(draws.size)),
            kind="baseline",
            value=getattr(result, "control_sd", float("nan")),
            items=draws if draws.size else None,
        ),
    ]
    if items is not None:
        rows.append(Row(**dict(common, metric="chance"), kind="baseline", value=test_chance(items)))
    rows.append(Row(**dict(common, metric="majority"), kind="baseline", value=result.majority))
    return rows


def test_chance(items: ItemSet) -> float:
    """The share of the most common class among the held-out items (NaN without any)."""
    test = np.asarray(items.labels)[~np.asarray(items.train, bool)]
    if not test.size:
        return float("nan")
    return float(np.bincount(test.astype(np.int64)).max() / test.size)


def lexical_row(meta: dict, result, reason: str) -> Row:
    """The skill's lexical-baseline row (:mod:`curriculens.probes.lexical`): held-out accuracy
    of the probe on the prompts' mean input embeddings, with per-item outcomes; NaN with
    ``reason`` when it was not fitted (``result`` None)."""
    if result is None:
        return unmeasured_lexical(meta, reason)
    common = dict(meta, hook=LEXICAL_HOOK, kind="baseline", metric=LEXICAL_METRIC)
    return Row(
        **common, value=result.acc, n=result.n_test, reason=result.failure, items=result.correct
    )


def probe_columns(meta: dict, hook: str, result) -> dict:
    """The columns every row of one hook's probe shares (its test size and any failure)."""
    return dict(meta, hook=hook, layer=hook_layer(hook), n=result.n_test, reason=result.failure)


def mdl_row(common: dict, compression: float, n: int) -> Row:
    """The online-MDL row of one probe (``common``: :func:`probe_columns`; ``n``: all items)."""
    return Row(**dict(common, metric="mdl_compression", n=n), kind="probe", value=compression)


def skill_meta(base: dict, skill: Skill) -> dict:
    """A row's key columns: the checkpoint's (``base``) and the skill's."""
    return dict(base, skill=skill.name, skill_version=skill.version, skill_hash=skill.content_hash)


# ----------------------------------------------------------------------------- store writes
def write_units(store: Store, run: str, key: str, label: str, units: Iterable) -> None:
    """Write one checkpoint's units, each in its own transaction, under store key ``key``."""
    for unit, rows in units:
        store.write_unit(run, key, unit, label, rows)


def write_items(store: Store, run: str, config: SweepConfig, skill: Skill, items: ItemSet) -> None:
    """Write a skill's items (prompt, group, label, split, control label) once into the run."""
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


def write_all_items(store: Store, run: str, plan: SweepPlan) -> None:
    """Draw and store every skill's items before any checkpoint loads.

    A skill with too few distinct items fails here, before any work; one with fewer than asked
    is used as it is, with a warning that gives the numbers (items are never repeated).
    """
    for skill in plan.skills:
        items = plan.items(skill)
        if warning := pool_shortfall(skill, items, plan.config):
            warnings.warn(warning, ProbeValidityWarning, stacklevel=3)
        write_items(store, run, plan.config, skill, items)


def run_meta(plan: SweepPlan, extra: dict) -> dict:
    """A run's metadata: its config, probe key, skill versions, ``extra`` and library versions."""
    import sklearn
    import torch
    import transformer_lens
    import transformers

    skills = {s.name: {"version": s.version, "hash": s.content_hash} for s in plan.skills}
    return {
        "config": asdict(plan.config),
        "probe_key": plan.config.probe_key(),
        "skills": skills,
        **extra,
        "versions": {
            "curriculens": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "transformer_lens": getattr(transformer_lens, "__version__", "?"),
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }


def snapshot_skills(store: Store, skills: Sequence[Skill]) -> None:
    """Store each swept skill's metadata under the ``skills`` meta key (merged by name).

    Analysis reads skill metadata from this snapshot (:mod:`curriculens.analysis.table`), so a
    run stays readable after its skills are changed or unregistered.
    """
    snap = dict(store.get_meta(SKILLS_META_KEY) or {})
    snap.update({s.name: skill_metadata(s) for s in skills})
    store.set_meta(SKILLS_META_KEY, snap)


def snapshot_config(store: Store, config: SweepConfig) -> None:
    """Record what this sweep's ``probe_key`` stands for under the ``configs`` meta key."""
    known = dict(store.get_meta(CONFIGS_META_KEY) or {})
    known[config.probe_key()] = config.probe_settings()
    store.set_meta(CONFIGS_META_KEY, known)


def remember_fingerprint(store: Store, series: CheckpointSeries, ck: Checkpoint, fp: str) -> None:
    """Give the series ``ck``'s fingerprint and keep it in the store by file signature, so a
    later sweep of unchanged files need not load them (:func:`.plan.recall_fingerprints`)."""
    series.remember(ck, fp)
    sig = ck.file_signature()
    if sig is not None:
        cache = dict(store.get_meta(FINGERPRINTS_META_KEY) or {})
        if cache.get(sig) != fp:
            cache[sig] = fp
            store.set_meta(FINGERPRINTS_META_KEY, cache)
