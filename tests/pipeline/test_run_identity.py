"""A run knows its identity (issue 29, item 3): the run name is recorded in the run directory
when it is created, a copied or renamed directory resumes as the same run, and two runs that are
the same run are reported as duplicates, never averaged."""

from __future__ import annotations

import shutil
import warnings

import pytest
import torch

from curriculens.analysis.table import load_table
from curriculens.errors import MixedResultsNote
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.run import sweep
from curriculens.store import RUN_NAME_META_KEY, Store

torch.set_num_threads(1)
CFG = SweepConfig(skills=("add1",), n_examples=40, task_vectors=False, overlap=False)


@pytest.fixture(scope="module")
def original(toy_series, tmp_path_factory):
    out = tmp_path_factory.mktemp("identity") / "first"
    sweep(toy_series, out, config=CFG, progress=False)
    return out


def _runs(out) -> set[str]:
    with Store(out, readonly=True) as s:
        return {r["run"] for r in s.groups()}


def test_the_name_is_recorded_when_the_run_is_created(original):
    with Store(original, readonly=True) as s:
        assert s.get_meta(RUN_NAME_META_KEY) == "first"


def test_a_copied_directory_resumes_as_the_same_run(original, toy_series, tmp_path):
    copy = tmp_path / "copy-of-first"
    shutil.copytree(original, copy)
    with Store(copy, readonly=True) as s:
        n = s.count()
    sweep(toy_series, copy, config=CFG, progress=False)
    assert _runs(copy) == {"first"}
    with Store(copy, readonly=True) as s:
        assert s.count() == n  # nothing measured again
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedResultsNote)
        assert set(load_table(copy).run) == {"first"}


def test_an_old_store_without_the_record_adopts_its_one_run(original, toy_series, tmp_path):
    moved = tmp_path / "renamed"
    shutil.copytree(original, moved)
    with Store(moved) as s:
        s.conn.execute("DELETE FROM meta WHERE key=?", (RUN_NAME_META_KEY,))
        s.conn.commit()
    sweep(toy_series, moved, config=CFG, progress=False)
    assert _runs(moved) == {"first"}


def test_two_runs_that_are_the_same_run_are_duplicates_not_averaged(original, toy_series,
                                                                      tmp_path):  # fmt: skip
    both = tmp_path / "both"
    shutil.copytree(original, both)
    sweep(toy_series, both, config=CFG, run="second", progress=False)  # the same run again
    assert _runs(both) == {"first", "second"}
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        df = load_table(both)
    assert set(df.run) == {"first"}
    notes = [str(w.message) for w in got if issubclass(w.category, MixedResultsNote)]
    assert any("'second' is a duplicate of run 'first'" in n for n in notes), notes
