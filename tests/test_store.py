import numpy as np
import pytest

from curriculens.errors import StoreError
from curriculens.store import COLUMNS, SCHEMA_VERSION, Row, Store


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
        assert s.meta()["schema_version"] == SCHEMA_VERSION == 2
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
