"""Scores that could not be measured: NaN rows that say why, and the model's context length.

A checkpoint with non-finite weights is not run at all; a hook with non-finite activations or a
skill with non-finite log-probabilities is not scored. Their rows are still written, as NaN with
a ``reason`` ("NaN weights", "NaN activations at blocks.1.hook_resid_post"), so a report shows
"not measurable" at that checkpoint and never a value carried over from another one.
"""

from __future__ import annotations

from collections.abc import Sequence

from curriculens.activations import hook_layer
from curriculens.behavior import behavior_metrics
from curriculens.probes.lexical import LEXICAL_HOOK, LEXICAL_METRIC
from curriculens.skills.registry import Skill
from curriculens.store import Row


def unmeasured_rows(skill: Skill, hooks: Sequence[str], base: dict, reason: str) -> list[Row]:
    """Every row of one skill on one checkpoint as NaN with ``reason``.

    ``base`` holds the checkpoint's columns (run, checkpoint, step, tokens, fingerprint,
    probe_key).
    """
    meta = dict(base, skill=skill.name, skill_version=skill.version, skill_hash=skill.content_hash)
    rows = unmeasured_behavior(skill, meta, reason)
    rows.append(
        Row(
            **meta,
            kind="baseline",
            hook="",
            metric="behavior_chance",
            value=skill.chance,
            n=0,
        )
    )
    for h in hooks if skill.probed else ():
        rows += unmeasured_probe(meta, h, reason)
    if skill.probed:
        rows.append(unmeasured_lexical(meta, reason))
    return rows


def unmeasured_lexical(meta: dict, reason: str) -> Row:
    """The skill's lexical-baseline row (:mod:`curriculens.probes.lexical`), NaN: ``reason``."""
    return Row(
        **meta,
        kind="baseline",
        hook=LEXICAL_HOOK,
        metric=LEXICAL_METRIC,
        value=float("nan"),
        n=0,
        reason=reason,
    )


def unmeasured_behavior(skill: Skill, meta: dict, reason: str) -> list[Row]:
    """The skill's behavior rows as NaN with ``reason`` (``meta``: the row's key columns)."""
    nan = dict(meta, value=float("nan"), n=0, reason=reason)
    return [Row(**nan, kind="behavior", hook="", metric=m) for m in behavior_metrics(skill.format)]


def unmeasured_probe(meta: dict, hook: str, reason: str) -> list[Row]:
    """One hook's probe, control, control SD, chance and majority rows as NaN with ``reason``."""
    nan = dict(meta, hook=hook, layer=hook_layer(hook), value=float("nan"), n=0, reason=reason)
    return [
        Row(**nan, kind="probe", metric="probe_acc"),
        Row(**nan, kind="control", metric="control_acc"),
        Row(**nan, kind="baseline", metric="control_sd"),
        Row(**nan, kind="baseline", metric="chance"),
        Row(**nan, kind="baseline", metric="majority"),
    ]


def context_length(model) -> int | None:
    """Most positions the model reads (``max_position_embeddings`` or its aliases), or None."""
    cfg = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None
