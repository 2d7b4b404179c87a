"""Score curves of a run (or of imported files) and how to resample them.

A :class:`Curve` is one score per checkpoint plus what it takes to resample it: per-item outcomes
(the same items at every checkpoint, resampled jointly; by group, then by item within groups, when
the items' groups are known: :mod:`curriculens.analysis.bootstrap`), or item counts ``n`` (a
binomial draw per checkpoint), or neither (no interval beyond the checkpoint bracket). Rows that
differ only by a ``split`` index (repeated group splits) or a control ``draw`` index are averaged
into one curve, each split resampled on its own. Emergence, the curriculum map
and lead/lag all build their curves here, from rows as :func:`~curriculens.analysis.table.read_rows`
returns them, so one skill has one behavior curve everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from curriculens.analysis.bootstrap import resample_items
from curriculens.analysis.table import pick_metric
from curriculens.errors import ConfigError

RESAMPLING = ("groups", "items", "binomial", "none")
#: Row fields that index repeated measurements of one curve (averaged, never separate curves).
REPEAT_KEYS = ("split", "draw")


@dataclass(frozen=True, kw_only=True)
class Curve:
    """One score per checkpoint, sorted by tokens.

    Attributes:
        tokens: Tokens seen at each checkpoint, ``[ckpt]`` ascending.
        values: Score at each checkpoint, ``[ckpt]`` (NaN: missing).
        items: Per-item outcomes ``[ckpt, item]`` (the same items at every checkpoint), or None.
        n: Items behind each value ``[ckpt]`` (scores are shares of them), or None.
        groups: The group of each item ``[item]`` (resampled as clusters), or None.
        metric: What the values are, in words (``exact_match``, ``probe - control accuracy``).
        parts: For a combination of independent curves: ``(weight, curve)`` pairs whose weighted
            sum (plus ``offset``) this curve is (a difference of unpaired curves, an average over
            seeds, a rescaling).
        offset: Added to the weighted sum of ``parts``.
    """

    tokens: np.ndarray
    values: np.ndarray
    items: np.ndarray | None = None
    n: np.ndarray | None = None
    groups: np.ndarray | None = field(default=None, repr=False)
    metric: str = ""
    parts: tuple[tuple[float, Curve], ...] = field(default=(), repr=False)
    offset: float = 0.0

    @property
    def resampling(self) -> str:
        """``groups``, ``items``, ``binomial`` or ``none``: how :meth:`resample` draws (a
        combination names its weakest part: ``none`` > ``binomial`` > ``items`` > ``groups``)."""
        if self.parts:
            kinds = {c.resampling for _, c in self.parts}
            for k in ("none", "binomial", "items"):
                if k in kinds:
                    return k
            return "groups"
        if self.items is not None:
            return "groups" if self.groups is not None else "items"
        return "binomial" if self.n is not None else "none"

    def resample(self, rng: np.random.Generator, n_boot: int) -> np.ndarray | None:
        """``[n_boot, ckpt]`` resampled curves, or None when the curve cannot be resampled.

        Items are drawn with replacement once per resample and used at every checkpoint, so the
        checkpoint-to-checkpoint correlation of the same items is kept; with ``groups``, groups
        are drawn first and items within each drawn group (a cluster bootstrap). With counts
        ``n`` only, each checkpoint is an independent binomial draw around its value.
        """
        if self.parts:
            draws = [(w, c.resample(rng, n_boot)) for w, c in self.parts]
            if any(d is None for _, d in draws):
                return None
            return sum(w * d for w, d in draws) + self.offset
        if self.items is not None:
            return resample_items(self.items, rng, n_boot, self.groups)
        if self.n is not None:
            p = np.clip(np.nan_to_num(self.values, nan=0.0), 0.0, 1.0)
            n = np.maximum(self.n.astype(int), 1)
            out = rng.binomial(n, p, size=(n_boot, len(p))) / n
            return np.where(np.isfinite(self.values), out, np.nan)
        return None

    def minus(self, other: Curve, *, metric: str = "") -> Curve:
        """``self - other`` on the same checkpoints; paired items when both have the same ones."""
        if not np.array_equal(self.tokens, other.tokens):
            raise ConfigError(
                f"Cannot subtract curves on different checkpoints ({len(self.tokens)} vs "
                f"{len(other.tokens)} tokens values)."
            )
        values = self.values - other.values
        if (
            self.items is not None
            and other.items is not None
            and self.items.shape == other.items.shape
        ):
            groups = self.groups if self.groups is not None else other.groups
            return Curve(
                tokens=self.tokens,
                values=values,
                items=self.items - other.items,
                groups=groups,
                metric=metric,
            )
        return Curve(
            tokens=self.tokens, values=values, metric=metric, parts=((1.0, self), (-1.0, other))
        )


def pool(curves: Sequence[Curve]) -> Curve:
    """The mean of curves of several seeds (runs) on the same checkpoints.

    Resampling draws each seed's items on their own and averages the draws.
    """
    if len(curves) == 1:
        return curves[0]
    t0 = curves[0].tokens
    for c in curves[1:]:
        if not np.array_equal(c.tokens, t0):
            raise ConfigError(
                "Cannot pool runs with different checkpoints; analyse each run on its own "
                f"(run=...). Token grids: {[len(c.tokens) for c in curves]} checkpoints."
            )
    values = np.mean([c.values for c in curves], axis=0)
    w = 1.0 / len(curves)
    return Curve(
        tokens=t0, values=values, metric=curves[0].metric, parts=tuple((w, c) for c in curves)
    )


def _val(v) -> float:
    return float("nan") if v is None else float(v)


def _stack(items: Sequence) -> np.ndarray | None:
    """``[ckpt, item]`` when every checkpoint has finite per-item outcomes of one length."""
    if not items or any(x is None or len(x) == 0 for x in items):
        return None
    if len({len(x) for x in items}) != 1:
        return None
    x = np.stack([np.asarray(i, float) for i in items])
    return x if np.isfinite(x).all() else None


def _repeat(r: Mapping) -> tuple:
    return tuple(None if r.get(k) is None else str(r.get(k)) for k in REPEAT_KEYS)


def curve_of(rows: Sequence[Mapping], *, metric: str = "") -> Curve:
    """A curve from rows of one run, skill, kind, hook and metric (one row per checkpoint).

    Rows of repeated measurements (a ``split`` or control ``draw`` index) are one curve per
    repeat, averaged (:func:`pool`: each repeat resampled on its own). Several other rows at the
    same tokens (e.g. one checkpoint under two names) are averaged, and the curve then has no
    per-item outcomes.
    """
    repeats = sorted({_repeat(r) for r in rows}, key=str)
    if len(repeats) > 1:
        parts = [curve_of([r for r in rows if _repeat(r) == k], metric=metric) for k in repeats]
        if all(np.array_equal(p.tokens, parts[0].tokens) for p in parts):
            return pool(parts)
    by_tokens: dict[float, list[Mapping]] = {}
    for r in rows:
        by_tokens.setdefault(float(r["tokens"]), []).append(r)
    tokens = np.array(sorted(by_tokens), float)
    groups = [by_tokens[t] for t in tokens]
    values = np.array([np.nanmean([_val(r["value"]) for r in g]) for g in groups])
    single = all(len(g) == 1 for g in groups)
    items = _stack([g[0].get("items") for g in groups]) if single else None
    grp = _groups_of([g[0].get("groups") for g in groups], items) if single else None
    n = None
    shares = np.isfinite(values).any() and np.nanmin(values) >= 0 and np.nanmax(values) <= 1
    if items is None and single and shares:  # a share of n items: binomial resamples
        ns = np.array([g[0].get("n") or 0 for g in groups], float)
        n = ns if (ns > 0).all() else None
    return Curve(tokens=tokens, values=values, items=items, n=n, groups=grp, metric=metric or "")


def _groups_of(per_ckpt: Sequence, items: np.ndarray | None) -> np.ndarray | None:
    """The items' groups when every checkpoint names the same ones, else None (item bootstrap)."""
    if items is None or any(g is None or np.ndim(g) != 1 for g in per_ckpt):
        return None
    first = np.asarray(per_ckpt[0])
    if len(first) != items.shape[1] or any(not np.array_equal(first, g) for g in per_ckpt[1:]):
        return None
    return first


def select(rows: Sequence[Mapping], **where) -> list[Mapping]:
    """Rows whose fields equal ``where``."""
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def behavior_metric(skill: str, rows: Sequence[Mapping], info: Mapping | None) -> str | None:
    """The behavior metric emergence reads for ``skill`` (its primary metric; see pick_metric)."""
    present = sorted({r["metric"] for r in rows if r["skill"] == skill and r["kind"] == "behavior"})
    return pick_metric(info, present)


def behavior_curve(
    rows: Sequence[Mapping], skill: str, info: Mapping | None = None, metric: str | None = None
) -> Curve | None:
    """The skill's behavior curve (its primary metric unless ``metric``), or None without rows."""
    m = metric or behavior_metric(skill, rows, info)
    mine = select(rows, skill=skill, kind="behavior", metric=m)
    return curve_of(mine, metric=str(m)) if mine else None


def continuous_behavior(rows: Sequence[Mapping], skill: str, info: Mapping | None) -> Curve | None:
    """The skill's continuous behavior curve, zero where the model does no better than chance.

    - continuation skills: the target's probability (``exp`` of its mean token log-probability,
      per item) above the skill's chance, ``(p - chance) / (1 - chance)``;
    - choice and minimal-pair skills: choice accuracy above chance, rescaled the same way;
    - anything else (imported curves): the primary metric as given.
    """
    info = info or {}
    chance = float(info.get("chance") or 0.0)
    present = {r["metric"] for r in rows if r["skill"] == skill and r["kind"] == "behavior"}
    if "logprob" in present and (
        info.get("format") == "continuation" or "choice_acc" not in present
    ):
        base = behavior_curve(rows, skill, info, "logprob")
        if base.items is not None:
            probs = np.exp(base.items)
            values = probs.mean(axis=1)
        else:  # no items: the probability of the mean log-probability
            probs, values = None, np.exp(base.values)
        return _above_chance(
            base.tokens, values, probs, chance, "target probability", groups=base.groups
        )
    if "choice_acc" in present:
        base = behavior_curve(rows, skill, info, "choice_acc")
        return _above_chance(
            base.tokens, base.values, base.items, chance, "choice accuracy", base.n, base.groups
        )
    return behavior_curve(rows, skill, info)


def _above_chance(tokens, values, items, chance, what, n=None, groups=None) -> Curve:
    label = f"{what} above chance {chance:g}" if chance else what
    if not chance:
        return Curve(tokens=tokens, values=values, items=items, n=n, groups=groups, metric=label)
    scale = 1.0 - chance
    if n is not None and items is None:  # keep the binomial draw on the raw share
        raw = Curve(tokens=tokens, values=values, n=n)
        return Curve(
            tokens=tokens,
            values=(values - chance) / scale,
            metric=label,
            parts=((1 / scale, raw),),
            offset=-chance / scale,
        )
    return Curve(
        tokens=tokens,
        values=(values - chance) / scale,
        items=None if items is None else (items - chance) / scale,
        groups=groups,
        metric=label,
    )


def selectivity_curves(rows: Sequence[Mapping], skill: str) -> dict[tuple[int, str], Curve]:
    """Probe selectivity (probe - control accuracy) per ``(layer, hook)`` of one run's skill.

    Only hooks with both a probe and a control curve on the same checkpoints are returned; the
    items are paired (the same held-out items) when both curves carry them.
    """
    mine = [r for r in rows if r["skill"] == skill and r["metric"] in ("probe_acc", "control_acc")]
    keys = sorted({(r["layer"], r["hook"]) for r in mine if r["kind"] == "probe"})
    out = {}
    for layer, hook in keys:
        probe = curve_of(select(mine, kind="probe", layer=layer, hook=hook))
        ctrl_rows = select(mine, kind="control", metric="control_acc", layer=layer, hook=hook)
        if not ctrl_rows:
            continue
        control = curve_of(ctrl_rows)
        if not np.array_equal(probe.tokens, control.tokens):
            continue
        out[(int(layer), str(hook))] = probe.minus(control, metric="probe - control accuracy")
    return out


def probe_curve(rows: Sequence[Mapping], skill: str, layer: int, hook: str) -> Curve:
    """Probe accuracy of one hook."""
    return curve_of(
        select(rows, skill=skill, kind="probe", metric="probe_acc", layer=layer, hook=hook)
    )


def best_layer(curves: Mapping[tuple[int, str], Curve]) -> tuple[int, str] | None:
    """The key with the highest final value (NaN last; ties: the lower layer)."""
    if not curves:
        return None

    def final(c: Curve) -> float:
        ok = np.isfinite(c.values)
        return float(c.values[ok][-1]) if ok.any() else -np.inf

    return max(sorted(curves), key=lambda k: (final(curves[k]), -k[0]))
