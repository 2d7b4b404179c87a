"""Tests of curriculens.analysis.bootstrap: groups are the resampled unit, items the fallback."""

from __future__ import annotations

import numpy as np

from curriculens.analysis.bootstrap import (
    attach_groups,
    cluster_counts,
    item_groups,
    items_table,
    resample_items,
)
from curriculens.analysis.curves import Curve, curve_of
from curriculens.store import Row, Store


def test_cluster_counts_draw_whole_groups_then_items():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], [2, 3, 5])
    counts = cluster_counts(rng, groups, 2000)
    assert counts.shape == (2000, 10) and (counts >= 0).all()
    # per group, the items drawn are a multiple of its size (whole copies of the group)
    for g, m in (("a", 2), ("b", 3), ("c", 5)):
        assert (counts[:, groups == g].sum(axis=1) % m == 0).all()
    # G groups are drawn per resample: the number of group copies always sums to 3
    copies = sum(counts[:, groups == g].sum(axis=1) // m for g, m in (("a", 2), ("b", 3), ("c", 5)))
    assert (copies == 3).all()


def test_cluster_bootstrap_widens_the_spread_of_clustered_outcomes():
    # 8 groups of 12 items; a group is right or wrong as a whole
    groups = np.repeat(np.arange(8), 12)
    x = np.repeat(np.array([1, 0, 1, 1, 0, 1, 0, 1.0]), 12)[None, :]
    by_group = resample_items(x, np.random.default_rng(1), 4000, groups)[:, 0]
    by_item = resample_items(x, np.random.default_rng(1), 4000)[:, 0]
    assert by_group.std() > 2.5 * by_item.std()  # sqrt(12) ~ 3.5 times in theory
    assert abs(by_group.mean() - x.mean()) < 0.02 and abs(by_item.mean() - x.mean()) < 0.01


def test_singleton_groups_are_the_item_bootstrap_in_spread():
    x = (np.random.default_rng(2).random((1, 400)) < 0.3).astype(float)
    a = resample_items(x, np.random.default_rng(3), 3000, np.arange(400))[:, 0]
    b = resample_items(x, np.random.default_rng(3), 3000)[:, 0]
    assert abs(a.std() - b.std()) < 0.2 * b.std()


def test_groups_come_from_the_items_table_by_kind(tmp_path):
    items = [(i, f"p{i}", f"g{i // 2}", 0, "test" if i < 4 else "train", 0) for i in range(10)]
    meta = dict(run="r", checkpoint="c", step=1, tokens=10, fingerprint="f", skill="s",
                skill_version=1, skill_hash="h")  # fmt: skip
    with Store(tmp_path) as s:
        s.write_items("r", "s", "h", "", items)
        s.write_unit("r", "f", "s", "c", [
            Row(**meta, kind="behavior", hook="", metric="exact_match", value=0.5, n=10,
                items=np.zeros(10, np.float32)),
            Row(**meta, kind="probe", hook="h0", layer=0, metric="probe_acc", value=0.5, n=4,
                items=np.zeros(4, np.float32)),
            Row(**meta, kind="probe", hook="h1", layer=1, metric="probe_acc", value=0.5, n=3,
                items=np.zeros(3, np.float32)),  # not the held-out items: no groups
        ])  # fmt: skip
        rows = attach_groups(s.rows(items=True), items_table(s))
    by = {(r["kind"], r["hook"]): r for r in rows}
    assert by[("behavior", "")]["groups"].tolist() == [f"g{i // 2}" for i in range(10)]
    assert by[("probe", "h0")]["groups"].tolist() == ["g0", "g0", "g1", "g1"]
    assert "groups" not in by[("probe", "h1")]
    assert items_table(tmp_path)  # a run directory is opened readonly
    assert items_table(tmp_path / "curves.csv") == [] and attach_groups(rows[:1], []) == rows[:1]
    one = dict(item=0, group="a", split="test", skill="s", skill_hash="h", probe_key="")
    assert item_groups([one])[("s", "h", "", None)]["test"].tolist() == ["a"]


def test_a_repeated_split_takes_the_groups_of_its_own_held_out_items():
    key = dict(skill="s", skill_hash="h", probe_key="")
    table = [
        dict(key, item=i, group=f"g{i}", split=sp, split_index=k)
        for k, held in ((0, {0, 1}), (1, {2, 3}))
        for i in range(4)
        for sp in ["test" if i in held else "train"]
    ]
    rows = [dict(key, kind="probe", split=k, items=np.zeros(2)) for k in (0, 1, 2)] + [
        dict(key, kind="behavior", items=np.zeros(4))
    ]
    got = attach_groups(rows, table)
    assert got[0]["groups"].tolist() == ["g0", "g1"] and got[1]["groups"].tolist() == ["g2", "g3"]
    assert "groups" not in got[2]  # a split the table does not describe: by item
    assert got[3]["groups"].tolist() == ["g0", "g1", "g2", "g3"]  # behavior: every item


def test_a_curve_with_groups_resamples_by_group():
    groups = np.repeat(np.arange(6), 10)
    items = np.stack([np.zeros(60), np.repeat([1, 0, 1, 1, 0, 1.0], 10)])
    c = Curve(tokens=np.array([1.0, 2.0]), values=items.mean(axis=1), items=items, groups=groups)
    assert c.resampling == "groups"
    flat = Curve(tokens=c.tokens, values=c.values, items=items)
    assert flat.resampling == "items"
    a = c.resample(np.random.default_rng(0), 2000)[:, 1].std()
    b = flat.resample(np.random.default_rng(0), 2000)[:, 1].std()
    assert a > 2 * b
    diff = c.minus(flat)
    assert diff.groups is not None and diff.resampling == "groups"


def test_rows_of_repeated_splits_are_averaged_each_resampled_on_its_own():
    rows = []
    for split, level in ((0, 0.6), (1, 0.8)):
        for t in (1.0, 2.0):
            x = np.zeros(10)
            x[: int(level * 10 * t / 2)] = 1
            rows.append(dict(tokens=t, value=x.mean(), items=x, split=split, n=10))
    c = curve_of(rows)
    assert np.allclose(c.values, [(0.3 + 0.4) / 2, (0.6 + 0.8) / 2])
    assert len(c.parts) == 2 and c.resampling == "items"
    draws = c.resample(np.random.default_rng(0), 50)
    assert draws.shape == (50, 2)
    # control draws (a `draw` index) are averaged the same way
    ctrl = curve_of([dict(r, split=None, draw=r["split"]) for r in rows])
    assert np.allclose(ctrl.values, c.values)
