"""The results store's schema: its tables, their columns, and the records written to them.

:mod:`curriculens.store` opens, migrates, writes and reads the store; this module says what a
row is. A score is a :class:`Row` (a row of ``scores``), a task vector a :class:`VectorRow` (a
row of ``vectors``); :func:`row_tuple` and :func:`vector_tuple` give the tuples SQLite stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: 2 added ``probe_key`` (to the key) and ``reason``; 3 named probe and control metrics
#: ``probe_acc``/``control_acc`` and numbered layers by TransformerLens block (embedding -1,
#: behavior NULL). Older stores are read as they are and migrated when opened for writing
#: (:mod:`curriculens.store_migrate`).
SCHEMA_VERSION = 3
COLUMNS = (
    "run",
    "checkpoint",
    "step",
    "tokens",
    "fingerprint",
    "skill",
    "skill_version",
    "skill_hash",
    "probe_key",
    "kind",
    "hook",
    "layer",
    "metric",
    "value",
    "n",
    "reason",
)
KINDS = ("behavior", "probe", "control", "baseline")
#: Metrics of ``baseline`` rows a sweep writes: the skill's behavior chance; per probed hook the
#: training-majority accuracy, the test set's majority share (``chance``) and the SD of the
#: control over its draws (``control_sd``: ``n`` = draws, per-item outcomes = each draw's
#: accuracy; ``control/control_acc`` holds their mean); per skill the lexical baseline
#: (``lexical_acc`` at hook ``lexical.embed_mean``, layer NULL). No schema change: they are rows.
BASELINE_METRICS = ("behavior_chance", "majority", "chance", "control_sd", "lexical_acc")
#: Hook name of the lexical baseline's rows (it reads no hook of the model;
#: :mod:`curriculens.probes.lexical`).
LEXICAL_HOOK = "lexical.embed_mean"
#: Metric of its held-out accuracy (kind ``baseline``, per-item outcomes like a probe's).
LEXICAL_METRIC = "lexical_acc"
#: ``probe_key`` of version-1 rows whose unit had several probe configs (their values are those of
#: whichever was written last, which the store did not record).
AMBIGUOUS_V1 = "v1-ambiguous"


def hook_layer(hook: str) -> int:
    """The TransformerLens block index of a hook: ``l`` for ``blocks.l.*``, -1 for the embedding
    (and any other hook outside the blocks).

    >>> hook_layer("blocks.3.hook_resid_post"), hook_layer("hook_embed")
    (3, -1)
    """
    if hook.startswith("blocks."):
        return int(hook.split(".")[1])
    return -1


SCORES_DDL = """
CREATE TABLE IF NOT EXISTS scores (
    run TEXT NOT NULL, checkpoint TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, skill TEXT NOT NULL, skill_version INTEGER NOT NULL,
    skill_hash TEXT NOT NULL, probe_key TEXT NOT NULL, kind TEXT NOT NULL, hook TEXT NOT NULL,
    layer INTEGER, metric TEXT NOT NULL, value REAL, n INTEGER NOT NULL, reason TEXT,
    items BLOB,
    PRIMARY KEY (run, fingerprint, skill, skill_hash, probe_key, kind, hook, metric)
);
"""
DDL = (
    SCORES_DDL
    + """
CREATE TABLE IF NOT EXISTS units (
    run TEXT NOT NULL, fingerprint TEXT NOT NULL, unit TEXT NOT NULL, checkpoint TEXT NOT NULL,
    PRIMARY KEY (run, fingerprint, unit)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    run TEXT NOT NULL, checkpoint TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, skill TEXT NOT NULL, skill_hash TEXT NOT NULL,
    probe_key TEXT NOT NULL, hook TEXT NOT NULL, layer INTEGER NOT NULL, variant TEXT NOT NULL,
    n INTEGER NOT NULL, norm REAL, dim INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run, fingerprint, skill, skill_hash, probe_key, hook, variant)
);
CREATE TABLE IF NOT EXISTS items (
    run TEXT NOT NULL, skill TEXT NOT NULL, skill_hash TEXT NOT NULL, probe_key TEXT NOT NULL,
    item INTEGER NOT NULL, prompt TEXT NOT NULL, grp TEXT NOT NULL, label INTEGER NOT NULL,
    split TEXT NOT NULL, control_label INTEGER NOT NULL,
    PRIMARY KEY (run, skill, skill_hash, probe_key, item)
);
"""
)
#: Columns of the probe items table, in export order (``group`` is stored as ``grp``).
ITEM_COLUMNS = (
    "run",
    "skill",
    "skill_hash",
    "probe_key",
    "item",
    "prompt",
    "group",
    "label",
    "split",
    "control_label",
)


@dataclass(frozen=True, kw_only=True)
class Row:
    """One tidy score. ``hook`` is '' for rows read from no hook (behavior), whose ``layer`` is
    stored as NULL whatever is given; else ``layer`` is the hook's TransformerLens block index
    (-1: the embedding; :func:`curriculens.activations.hook_layer`).

    ``probe_key`` is the hash of the settings the value depends on ('' for imported curves);
    ``reason`` says why ``value`` is NaN when it could not be measured.
    """

    run: str
    checkpoint: str
    step: int
    tokens: int
    fingerprint: str
    skill: str
    skill_version: int
    skill_hash: str
    kind: str
    hook: str
    metric: str
    value: float
    n: int
    layer: int | None = None
    probe_key: str = ""
    reason: str | None = None
    items: np.ndarray | None = None


#: Columns of the task-vector table, in read order (``data`` is a float32 blob of ``dim``).
VECTOR_COLUMNS = (
    "run",
    "checkpoint",
    "step",
    "tokens",
    "fingerprint",
    "skill",
    "skill_hash",
    "probe_key",
    "hook",
    "layer",
    "variant",
    "n",
    "norm",
    "dim",
    "data",
)


@dataclass(frozen=True, kw_only=True)
class VectorRow:
    """One task vector (:mod:`curriculens.taskvectors`): a skill's L2-normalised direction at one
    hook of one checkpoint, written in the same transaction as the skill's score rows.

    ``norm`` is the length of the difference before normalisation (0: no direction); ``n`` the
    number of prompts behind each mean; ``variant`` names how it was computed (``resid``).
    """

    run: str
    checkpoint: str
    step: int
    tokens: int
    fingerprint: str
    skill: str
    skill_hash: str
    probe_key: str
    hook: str
    layer: int
    variant: str
    n: int
    norm: float
    data: np.ndarray


def vector_tuple(v: VectorRow) -> tuple:
    """The ``vectors`` row of a task vector, in :data:`VECTOR_COLUMNS` order."""
    data = np.ascontiguousarray(v.data, np.float32).ravel()
    norm = float(v.norm) if np.isfinite(v.norm) else None
    return (
        v.run,
        v.checkpoint,
        int(v.step),
        int(v.tokens),
        v.fingerprint,
        v.skill,
        v.skill_hash,
        v.probe_key,
        v.hook,
        int(v.layer),
        v.variant,
        int(v.n),
        norm,
        int(data.size),
        data.tobytes(),
    )


def row_tuple(r: Row) -> tuple:
    """The ``scores`` row of a score: :data:`COLUMNS`, then the per-item outcomes blob."""
    items = None if r.items is None else np.asarray(r.items, np.float32).tobytes()
    value = None if r.value is None or not np.isfinite(r.value) else float(r.value)
    return (
        r.run,
        r.checkpoint,
        int(r.step),
        int(r.tokens),
        r.fingerprint,
        r.skill,
        int(r.skill_version),
        r.skill_hash,
        r.probe_key,
        r.kind,
        r.hook,
        None if r.hook == "" or r.layer is None else int(r.layer),
        r.metric,
        value,
        int(r.n),
        r.reason if value is None else None,  # a reason says why a value is missing
        items,
    )
