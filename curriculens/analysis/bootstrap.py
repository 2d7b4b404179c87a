"""Cluster-aware resampling: draw the independent unit (the group), then items within groups.

Held-out outcomes cluster by group: a probe is right or wrong on a noun as a whole, and every
item of one country shares its facts. Resampling items as if they were independent then
understates the uncertainty of every curve built from them (an interval too narrow, a lead/lag
test too eager). So every resample here is a two-stage (cluster) bootstrap: draw as many groups
as there are, with replacement; then, for each drawn copy of a group, draw as many of its items
as it has, with replacement. Without groups (imported curves, stores written before items were
kept) it falls back to the item bootstrap.

The group of each item is read from the run's items table (:meth:`~curriculens.store.Store
.items`, column ``group``: the entity that fixes the label, the same key the leak-free split
uses): a behavior row holds one outcome per item of the skill in item order, a probe or control
row one per held-out (``split == "test"``) item in item order.

>>> rng = np.random.default_rng(0)
>>> cluster_counts(rng, np.array(["a", "a", "b", "b"]), 3).sum(axis=1).tolist()  # doctest: +SKIP
[4, 6, 2]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from einops import rearrange

__all__ = [
    "attach_groups",
    "cluster_counts",
    "item_counts",
    "item_groups",
    "n_groups",
    "resample_items",
]

#: Item-table keys of a score row: the items depend only on the skill and the probe settings.
_KEY = ("skill", "skill_hash", "probe_key")


def cluster_counts(rng: np.random.Generator, groups: np.ndarray, n_boot: int) -> np.ndarray:
    """``[n_boot, item]`` multiplicities of a two-stage bootstrap over ``groups`` (``[item]``).

    Stage 1 draws ``G`` groups with replacement (``G`` = number of distinct groups); stage 2
    draws, for each drawn copy of a group of ``m`` items, ``m`` of its items with replacement.
    The ``K`` copies of a group of ``m`` items drawn in a resample take ``K * m`` items from it,
    each uniform over its members. A one-item group's count is its number of copies; the items
    of larger groups are drawn for all resamples at once (one array of uniform member indices,
    counted with one ``bincount``), so the cost does not grow with the number of groups. The
    total count varies between resamples (groups differ in size): divide by each row's sum for
    a mean.
    """
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    n_items = inverse.size
    n_groups = int(inverse.max()) + 1 if n_items else 0
    out = np.zeros((n_boot, n_items), dtype=np.int64)
    if not n_groups:
        return out
    picks = _uniform_counts(rng, n_groups, n_boot)  # [boot, group] copies of each group
    sizes = np.bincount(inverse, minlength=n_groups)  # [group]
    single = sizes[inverse] == 1
    out[:, single] = picks[:, inverse[single]]
    multi = np.flatnonzero(sizes > 1)
    if multi.size:
        members = np.argsort(inverse, kind="stable")  # item ids, group by group
        first = np.cumsum(sizes) - sizes  # [group] where each group's members start
        drawn = picks[:, multi] * sizes[multi]  # [boot, multi-item group] items drawn
        cell = np.repeat(np.arange(drawn.size), drawn.ravel())  # one entry per item drawn
        boot, g = np.divmod(cell, multi.size)
        g = multi[g]
        item = members[first[g] + (rng.random(cell.size) * sizes[g]).astype(np.int64)]
        flat = np.bincount(boot * n_items + item, minlength=n_boot * n_items)
        out += rearrange(flat, "(boot item) -> boot item", boot=n_boot)
    return out


def _uniform_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """``[n_boot, n]`` counts of ``n`` uniform draws among ``n`` things per row: the
    ``multinomial(n, [1/n] * n)`` of each row, drawn as indices and counted at once."""
    picked = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    flat = np.bincount(picked.ravel(), minlength=n_boot * n)
    return rearrange(flat, "(boot k) -> boot k", boot=n_boot).astype(np.int64)


def item_counts(rng: np.random.Generator, n_items: int, n_boot: int) -> np.ndarray:
    """``[n_boot, item]`` multiplicities of the plain item bootstrap."""
    return _uniform_counts(rng, n_items, n_boot)


def resample_items(
    items: np.ndarray, rng: np.random.Generator, n_boot: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """``[n_boot, ckpt]`` mean curves of resampled per-item outcomes ``items`` ``[ckpt, item]``.

    The same draw is used at every checkpoint (the same items are measured at each), so the
    checkpoint-to-checkpoint correlation is kept. With ``groups`` (``[item]``), the draw is the
    cluster bootstrap of :func:`cluster_counts`, else the item bootstrap.

    >>> resample_items(np.ones((3, 4)), np.random.default_rng(0), 2).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    x = np.asarray(items, dtype=float)
    k = x.shape[1]
    if groups is not None and len(groups) == k:
        counts = cluster_counts(rng, groups, n_boot)
    else:
        counts = item_counts(rng, k, n_boot)
    total = counts.sum(axis=1, keepdims=True).astype(float)
    return (counts @ x.T) / np.maximum(total, 1.0)


def _split_index(v) -> int | None:
    """A repeated split's index, or None (one split; NaN from a table counts as none)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return int(v)


def item_groups(items_table: Iterable[Mapping]) -> dict[tuple, dict[str, np.ndarray]]:
    """Group of each item per ``(skill, skill_hash, probe_key, split index)``:
    ``{"all": [n], "test": [m]}``.

    ``items_table`` holds rows as :meth:`~curriculens.store.Store.items` gives them (``item``,
    ``group``, ``split``, and ``split_index`` where a run repeats its group split; None
    otherwise); ``all`` lists every item's group in item order (what a behavior row's outcomes
    follow), ``test`` the held-out items' (what a probe or control row's follow).
    """
    by_key: dict[tuple, list[Mapping]] = {}
    for r in items_table:
        by_key.setdefault((*(r[k] for k in _KEY), _split_index(r.get("split_index"))), []).append(r)
    out = {}
    for key, rs in by_key.items():
        rs = sorted(rs, key=lambda r: int(r["item"]))
        every = np.array([str(r["group"]) for r in rs])
        test = np.array([str(r["group"]) for r in rs if r["split"] == "test"])
        out[key] = {"all": every, "test": test}
    return out


def attach_groups(rows: Sequence[dict], items_table: Iterable[Mapping] | None) -> list[dict]:
    """Rows with a ``groups`` entry (``[item]``) wherever their per-item outcomes match the items.

    A behavior row takes every item's group, a probe or control row the held-out items' of its
    split (a row with a ``split`` index looks up the items of that ``split_index``); a row whose
    outcomes do not line up with the items table (another length, no items, a split the table
    does not describe) is left as it is and is resampled by item.
    """
    table = item_groups(items_table or ())
    if not table:
        return list(rows)
    for key in sorted(table, key=str):  # every item, whatever the split: one for behavior
        table.setdefault((*key[:-1], None), {"all": table[key]["all"], "test": None})
    out = []
    for r in rows:
        x = r.get("items")
        behavior = r.get("kind") == "behavior"
        split = None if behavior else _split_index(r.get("split"))
        known = table.get((*(r.get(k) for k in _KEY), split))
        if x is None or known is None:
            out.append(r)
            continue
        g = known["all"] if behavior else known["test"]
        if g is None:
            out.append(r)
            continue
        out.append(dict(r, groups=g) if len(g) == len(x) else r)
    return out


def n_groups(groups: np.ndarray | None) -> int | None:
    """Number of distinct groups (None without groups)."""
    return None if groups is None else int(np.unique(groups).size)


def noise_gate(crit, t: np.ndarray, values: np.ndarray, now, boot, level: float):
    """``now`` (a :class:`~curriculens.analysis.criterion.Crossing`), or ``not_emerged`` when the
    rise that makes it one does not beat the resampling noise at one-sided ``level``.

    For a rise-based ``relative`` criterion the tested quantity is the rise that lasts (the
    smoothed final value minus the first checkpoint's, floored at 0; not the maximum, which noise
    alone lifts) of an ``emerged`` curve, or the first checkpoint's level above the floor of a
    ``present_at_init`` one; for other criteria the smoothed final value (above 0). It must
    exceed ``z`` bootstrap standard errors (a normal bound: at the small levels used here it keeps
    its level, where the percentile of a few hundred resamples does not). Without resamples
    ``now`` is returned as it is (the criterion's ``min_rise`` still applies).
    """
    from statistics import NormalDist

    from curriculens.analysis.criterion import Crossing

    if boot is None or now.state == "not_emerged" or len(boot) < 2:
        return now
    if crit.method == "relative" and crit.rise_from == "init":
        v = crit.transform(np.vstack([values[None, :], boot]))
        lasting = v[:, -1] - np.maximum(v[:, 0], 0.0)  # final minus init (floored at 0)
        stat = lasting if now.state == "emerged" else v[:, 0]  # at init: level above the floor
        value, draws = stat[0], stat[1:]
    else:
        value = crit.transform(values[None, :])[0, -1]
        draws = crit.transform(boot)[:, -1]
    se = float(np.nanstd(draws, ddof=1))
    if value - NormalDist().inv_cdf(1 - level) * se > 0:
        return now
    return Crossing("not_emerged", None, float(t[-1]), None, -1, now.flat)


def items_table(source) -> list[dict]:
    """The probe items table of a source: a :class:`~curriculens.store.Store`, a run directory or
    ``.sqlite`` file (opened readonly), or a DataFrame whose ``attrs["items"]`` holds it; none for
    anything else (a CSV, rows), whose curves are then resampled by item."""
    from pathlib import Path

    from curriculens.store import Store

    if isinstance(source, Store):
        return source.items()
    attrs = getattr(source, "attrs", None)
    if isinstance(attrs, dict):
        found = attrs.get("items")
        if found is None:
            return []
        return found.to_dict("records") if hasattr(found, "to_dict") else list(found)
    if isinstance(source, str | Path):
        p = Path(source)
        if p.suffix.lower() in (".csv", ".parquet", ".json", ".tsv") or not p.exists():
            return []
        try:
            with Store(p, readonly=True) as s:
                return s.items()
        except Exception:  # not a store: no items table, item bootstrap
            return []
    return []
