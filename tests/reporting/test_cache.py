"""Tests of the report cache: a report read back is the report computed afresh, and any change to
what the report reads (the store, the settings, a figure file) computes it again."""

import shutil
import sqlite3

import pytest

from curriculens.reporting import writer
from curriculens.reporting.cache import CACHE_DIR


@pytest.fixture
def counted(monkeypatch):
    """Count the analyses the writer runs (a cache hit runs none)."""
    calls = []
    analyze = writer.analyze

    def counting(*args, **kw):
        calls.append(kw)
        return analyze(*args, **kw)

    monkeypatch.setattr(writer, "analyze", counting)
    return calls


def _copy_run(tiny_run, dest):
    out, _, _ = tiny_run
    dest.mkdir()
    for p in out.iterdir():
        if p.is_file():
            shutil.copy2(p, dest / p.name)
    return dest


def _pages(html):
    return html.read_text(), html.with_suffix(".md").read_text()


def test_a_cached_report_is_the_report_computed_afresh(tiny_run, tmp_path, counted):
    run = _copy_run(tiny_run, tmp_path / "run")
    fresh = writer.write_report(run, out=tmp_path / "fresh", cache=False)
    assert not (tmp_path / "fresh" / CACHE_DIR).exists() and len(counted) == 1
    cold = writer.write_report(run)
    assert (run / CACHE_DIR / "report.json").is_file() and len(counted) == 2
    first = _pages(cold)
    warm = writer.write_report(run)
    assert len(counted) == 2  # read back: no analysis ran
    assert _pages(warm) == first == _pages(fresh)
    for png in (tmp_path / "fresh" / "figures").glob("*.png"):
        assert (run / "figures" / png.name).read_bytes() == png.read_bytes(), png.name


def test_the_cache_misses_when_the_store_the_settings_or_a_figure_change(
    tiny_run, tmp_path, counted
):
    run = _copy_run(tiny_run, tmp_path / "run")
    before = _pages(writer.write_report(run))
    assert len(counted) == 1
    # other settings: computed (and the seed is part of what is shown)
    writer.write_report(run, seed=1)
    assert len(counted) == 2
    writer.write_report(run, seed=1)
    assert len(counted) == 2
    # a figure removed: computed, and written again
    (run / "figures" / "behavior.svg").unlink()
    writer.write_report(run, seed=1)
    assert len(counted) == 3 and (run / "figures" / "behavior.svg").is_file()
    # the store changed: computed, and the report shows the new values
    with sqlite3.connect(run / "results.sqlite") as con:
        con.execute("UPDATE scores SET value = value / 2 WHERE kind = 'behavior'")
    con.close()
    after = _pages(writer.write_report(run))
    assert len(counted) == 4 and after != before
    fresh = writer.write_report(run, out=tmp_path / "fresh", cache=False)
    assert _pages(fresh) == after


def test_a_cache_that_cannot_be_read_is_ignored(tiny_run, tmp_path, counted):
    run = _copy_run(tiny_run, tmp_path / "run")
    before = _pages(writer.write_report(run))
    (run / CACHE_DIR / "report.json").write_text("{not json")
    assert _pages(writer.write_report(run)) == before and len(counted) == 2
