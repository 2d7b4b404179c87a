import numpy as np
import pytest

from curriculens.errors import StoreError
from curriculens.store import AMBIGUOUS_V1, COLUMNS, SCHEMA_VERSION, Row, Store


def _row(**kw):
    base = dict(
        run="r",
        checkpoint="step0",
        step=0,
        tokens=0,
        fingerprint="f0",
        skill="facts",
        skill_version=1,
        skill_hash="h",
        kind="behavior",
        hook="",
        layer=-1,
        metric="exact_match",
        value=0.5,
        n=4,
    )
    base.update(kw)
    return Row(**base)


def test_round_trip_with_items_and_csv(tmp_path):
    items = np.array([1, 0, 1, 0], np.float32)
    with Store(tmp_path) as s:
        s.write_unit(
            "r", "f0", "facts@1", "step0", [_row(items=items), _row(metric="logprob", value=-1.25)]
        )
    with Store(tmp_path, readonly=True) as s:
        rows = s.rows(items=True)
        assert [r["metric"] for r in rows] == ["exact_match", "logprob"]
        assert rows[0]["value"] == 0.5 and rows[0]["n"] == 4
        np.testing.assert_array_equal(rows[0]["items"], items)
        assert rows[1]["items"] is None
        assert s.done_units("r", "f0") == {"facts@1"}
        assert s.done_units_by_fingerprint("r") == {"f0": {"facts@1"}}
        assert s.count() == 2
        assert s.meta()["schema_version"] == SCHEMA_VERSION == 3
    assert set(rows[0]) == set(COLUMNS) | {"items"}


def test_rewriting_a_unit_replaces_rows_instead_of_duplicating(tmp_path):
    with Store(tmp_path) as s:
        for v in (0.1, 0.9):
            s.write_unit("r", "f0", "u", "step0", [_row(value=v)])
        rows = s.rows()
    assert len(rows) == 1 and rows[0]["value"] == 0.9


def test_nan_is_stored_as_null(tmp_path):
    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u", "step0", [_row(value=float("nan"))])
        assert s.rows()[0]["value"] is None


def test_second_writer_is_refused_and_readers_are_not(tmp_path):
    with Store(tmp_path):
        with pytest.raises(StoreError, match="Only one writer is allowed"):
            Store(tmp_path)
        Store(tmp_path, readonly=True).close()
    Store(tmp_path).close()  # lock released


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    (tmp_path / "results.lock").write_text("999999999")
    Store(tmp_path).close()


def test_clear_errors_for_bad_paths(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file but not a .sqlite store"):
        Store(f)
    with pytest.raises(StoreError, match="No results store"):
        Store(tmp_path / "empty", readonly=True)
    with Store(tmp_path) as s, pytest.raises(StoreError, match="Unknown column"):
        s.rows(colour="red")


# ------------------------------------------------------------------ issue 15: the store itself
def test_rows_of_another_probe_key_sit_beside_and_never_overwrite(tmp_path):
    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u|a", "step0", [_row(value=0.25, probe_key="a")])
        s.write_unit("r", "f0", "u|b", "step0", [_row(value=0.75, probe_key="b")])
        got = {r["probe_key"]: r["value"] for r in s.rows()}
    assert got == {"a": 0.25, "b": 0.75}


def test_a_reason_is_kept_only_for_a_missing_value(tmp_path):
    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u", "step0", [_row(value=float("nan"), reason="NaN weights")])
        s.write_unit("r", "f0", "v", "step0", [_row(metric="m", value=0.5, reason="ignored")])
        got = {r["metric"]: (r["value"], r["reason"]) for r in s.rows()}
    assert got == {"exact_match": (None, "NaN weights"), "m": (0.5, None)}


def _corrupt(tmp_path) -> bytes:
    with Store(tmp_path) as s:
        for i in range(200):
            s.write_unit("r", f"f{i}", "u", f"step{i}", [_row(fingerprint=f"f{i}", n=i)])
    db = tmp_path / "results.sqlite"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk or a partial copy
    return db.read_bytes()


def test_a_corrupt_store_is_named_and_never_written(tmp_path):
    before = _corrupt(tmp_path)
    with pytest.raises(StoreError, match=r"results.sqlite' is corrupt .* left untouched"):
        Store(tmp_path)
    with (
        pytest.raises(StoreError, match="corrupt or truncated"),
        Store(tmp_path, readonly=True) as s,
    ):
        s.rows()
    assert (tmp_path / "results.sqlite").read_bytes() == before
    assert not (tmp_path / "results.lock").exists()


def test_readonly_opens_write_nothing_and_keep_the_journal_mode(tmp_path):
    import sqlite3

    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u", "step0", [_row()])
    db = tmp_path / "results.sqlite"
    with sqlite3.connect(db) as c:  # as a killed writer leaves it
        c.execute("PRAGMA journal_mode=WAL")
    before = db.read_bytes()
    with Store(tmp_path, readonly=True) as s:
        assert len(s.rows()) == 1
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(StoreError, match="readonly"):
            s.write_unit("r", "f1", "u", "step1", [_row(fingerprint="f1")])
    assert db.read_bytes() == before and not (tmp_path / "results.lock").exists()


def test_a_finished_writer_leaves_one_file(tmp_path):
    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u", "step0", [_row()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


def test_a_full_disk_rolls_back_the_unit_and_keeps_the_rest(tmp_path):
    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u", "step0", [_row()])
        pages = s.conn.execute("PRAGMA page_count").fetchone()[0]
        s.conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own "disk is full"
        big = [
            _row(fingerprint="f1", metric=f"m{i}", items=np.ones(4096, np.float32))
            for i in range(9)
        ]
        with pytest.raises(StoreError, match="disk is full.*every finished unit is kept"):
            s.write_unit("r", "f1", "u", "step1", big)
        assert s.count() == 1 and s.done_units_by_fingerprint("r") == {"f0": {"u"}}


def test_a_results_file_deleted_mid_run_is_noticed_at_the_next_write(tmp_path):
    with Store(tmp_path) as s:
        s.write_unit("r", "f0", "u", "step0", [_row()])
        (tmp_path / "results.sqlite").unlink()
        with pytest.raises(StoreError, match="deleted or replaced while this process"):
            s.write_unit("r", "f1", "u", "step1", [_row(fingerprint="f1")])


def test_a_store_of_a_newer_schema_is_refused_untouched(tmp_path):
    with Store(tmp_path) as s:
        s.set_meta("schema_version", SCHEMA_VERSION + 1)
    before = (tmp_path / "results.sqlite").read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="newer curriculens"):
            Store(tmp_path, readonly=readonly)
    assert (tmp_path / "results.sqlite").read_bytes() == before


_V1 = """
CREATE TABLE scores (
    run TEXT NOT NULL, checkpoint TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, skill TEXT NOT NULL, skill_version INTEGER NOT NULL,
    skill_hash TEXT NOT NULL, kind TEXT NOT NULL, hook TEXT NOT NULL, layer INTEGER NOT NULL,
    metric TEXT NOT NULL, value REAL, n INTEGER NOT NULL, items BLOB,
    PRIMARY KEY (run, fingerprint, skill, skill_hash, kind, hook, metric)
);
CREATE TABLE units (
    run TEXT NOT NULL, fingerprint TEXT NOT NULL, unit TEXT NOT NULL, checkpoint TEXT NOT NULL,
    PRIMARY KEY (run, fingerprint, unit)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO scores VALUES
    ('r', 'step0', 0, 0, 'f0', 'facts', 1, 'h', 'behavior', '', -1, 'exact_match', 0.5, 4, NULL),
    ('r', 'step0', 0, 0, 'f0', 'add1', 1, 'g', 'behavior', '', -1, 'exact_match', 0.9, 4, NULL);
INSERT INTO units VALUES ('r','f0','facts@1+h|k40','step0');
INSERT INTO units VALUES ('r','f0','add1@1+g|k40','step0');
INSERT INTO units VALUES ('r','f0','add1@1+g|k60','step0');
"""


def test_a_version_1_store_is_read_as_is_and_migrated_when_written(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "results.sqlite") as c:
        c.executescript(_V1)
    with Store(tmp_path, readonly=True) as s:  # read without changing the file
        assert [(r["skill"], r["probe_key"], r["reason"]) for r in s.rows()] == [
            ("add1", "", None),
            ("facts", "", None),
        ]
    with Store(tmp_path) as s:
        rows = {r["skill"]: (r["probe_key"], r["value"]) for r in s.rows()}
        done = s.done_units_by_fingerprint("r")
        assert s.meta()["schema_version"] == SCHEMA_VERSION
    # facts had one probe config: its key is known; add1 had two (v1 overwrote one with the
    # other): kept, marked ambiguous, and its units forgotten so the next sweep recomputes them
    assert rows == {"facts": ("k40", 0.5), "add1": (AMBIGUOUS_V1, 0.9)}
    assert done == {"f0": {"facts@1+h|k40"}}
    with Store(tmp_path) as s:  # migrated once: a second open changes nothing
        assert {r["skill"]: r["probe_key"] for r in s.rows()}["add1"] == AMBIGUOUS_V1


# ------------------------------------------------------------------ issue 17: schema 3
_V2 = """
CREATE TABLE scores (
    run TEXT NOT NULL, checkpoint TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, skill TEXT NOT NULL, skill_version INTEGER NOT NULL,
    skill_hash TEXT NOT NULL, probe_key TEXT NOT NULL, kind TEXT NOT NULL, hook TEXT NOT NULL,
    layer INTEGER NOT NULL, metric TEXT NOT NULL, value REAL, n INTEGER NOT NULL, reason TEXT,
    items BLOB,
    PRIMARY KEY (run, fingerprint, skill, skill_hash, probe_key, kind, hook, metric)
);
CREATE TABLE units (
    run TEXT NOT NULL, fingerprint TEXT NOT NULL, unit TEXT NOT NULL, checkpoint TEXT NOT NULL,
    PRIMARY KEY (run, fingerprint, unit)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '2');
INSERT INTO units VALUES ('r', 'f0', 'facts@1+h|k', 'step0');
INSERT INTO scores VALUES
 ('r','step0',0,0,'f0','facts',1,'h','k','behavior','',-1,'exact_match',0.5,4,NULL,NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','baseline','',-1,'behavior_chance',0.2,4,NULL,NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','probe','hook_embed',0,'acc',0.6,4,NULL,NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','control','hook_embed',0,'acc',0.5,4,NULL,NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','baseline','hook_embed',0,'majority',0.5,4,NULL,NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','probe','blocks.1.hook_resid_post',2,'acc',0.9,4,
  NULL,NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','control','blocks.1.hook_resid_post',2,'acc',NULL,0,
  'NaN activations',NULL),
 ('r','step0',0,0,'f0','facts',1,'h','k','probe','blocks.1.hook_resid_post',2,'mdl_compression',
  1.5,4,NULL,NULL),
 ('m','c1',1,10,'import:c1','t',0,'import','','probe','layer3',3,'acc',0.7,0,NULL,NULL);
"""
#: the rows of _V2 as schema 3 reads them: (kind, hook, layer, metric, value)
_V3 = {
    ("behavior", "", None, "exact_match", 0.5),
    ("baseline", "", None, "behavior_chance", 0.2),
    ("probe", "hook_embed", -1, "probe_acc", 0.6),
    ("control", "hook_embed", -1, "control_acc", 0.5),
    ("baseline", "hook_embed", -1, "majority", 0.5),
    ("probe", "blocks.1.hook_resid_post", 1, "probe_acc", 0.9),
    ("control", "blocks.1.hook_resid_post", 1, "control_acc", None),
    ("probe", "blocks.1.hook_resid_post", 1, "mdl_compression", 1.5),
    ("probe", "layer2", 2, "probe_acc", 0.7),  # imported: the hook follows its layer
}


def _v3_view(rows):
    return {(r["kind"], r["hook"], r["layer"], r["metric"], r["value"]) for r in rows}


def test_a_version_2_store_is_read_as_version_3_and_migrated_when_written(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "results.sqlite") as c:
        c.executescript(_V2)
    before = (tmp_path / "results.sqlite").read_bytes()
    with Store(tmp_path, readonly=True) as s:  # translated as read; the file is not touched
        assert _v3_view(s.rows()) == _V3
        assert _v3_view(s.rows(metric="probe_acc", layer=1)) == {
            ("probe", "blocks.1.hook_resid_post", 1, "probe_acc", 0.9)
        }
        assert s.rows(metric="acc") == []
    assert (tmp_path / "results.sqlite").read_bytes() == before
    with Store(tmp_path) as s:
        assert s.meta()["schema_version"] == SCHEMA_VERSION == 3
        assert _v3_view(s.rows()) == _V3
        assert s.done_units_by_fingerprint("r") == {"f0": {"facts@1+h|k"}}
        s.write_unit("r", "f1", "u", "step1", [_row(fingerprint="f1", layer=-1)])
    with Store(tmp_path) as s:  # migrated once: reopening changes nothing
        assert _v3_view(s.rows(fingerprint="f0")) | _v3_view(s.rows(run="m")) == _V3
        assert s.rows(fingerprint="f1")[0]["layer"] is None  # no hook, no layer
        layers = s.conn.execute("SELECT layer FROM scores WHERE hook='hook_embed'").fetchall()
        assert layers == [(-1,)] * 3


def test_a_version_1_store_reads_and_migrates_straight_to_version_3(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "results.sqlite") as c:
        c.executescript(_V1)
        c.execute(
            "INSERT INTO scores VALUES ('r', 'step0', 0, 0, 'f0', 'facts', 1, 'h', 'probe', "
            "'blocks.0.hook_resid_post', 1, 'acc', 0.75, 4, NULL)"
        )
    want = {
        ("behavior", "", None, "exact_match", 0.5),
        ("behavior", "", None, "exact_match", 0.9),
        ("probe", "blocks.0.hook_resid_post", 0, "probe_acc", 0.75),
    }
    with Store(tmp_path, readonly=True) as s:
        assert _v3_view(s.rows()) == want
    with Store(tmp_path) as s:
        assert _v3_view(s.rows()) == want and s.meta()["schema_version"] == 3


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    import sqlite3

    from curriculens import store_migrate

    with sqlite3.connect(tmp_path / "results.sqlite") as c:
        c.executescript(_V2)
    monkeypatch.setitem(store_migrate.V2_TO_V3, "layer", "no_such_column")
    with pytest.raises(StoreError):
        Store(tmp_path)
    monkeypatch.undo()
    with Store(tmp_path, readonly=True) as s:  # still version 2, every row as before
        assert s.meta()["schema_version"] == 2 and _v3_view(s.rows()) == _V3
