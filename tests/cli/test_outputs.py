"""Outputs never clobber inputs (issue 29, item 1): no command writes over the store it reads,
over a run's own files, or over an existing file without ``--force``; writes land whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from curriculens.cli.main import main
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.store import Store

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]


def _rows(run) -> list:
    with Store(run, readonly=True) as s:
        return sorted(repr(sorted(r.items())) for r in s.rows())


def test_export_over_the_store_it_reads_exits_2_and_keeps_the_store(add1_run):
    before = _rows(add1_run)
    store = add1_run / "results.sqlite"
    size = store.stat().st_size
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "curriculens", "export", str(add1_run), "-o", str(store)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "results store this command reads" in done.stderr and "Traceback" not in done.stderr
    assert store.stat().st_size == size and _rows(add1_run) == before
    # --force does not lift it, nor does a path spelled another way
    spelled = str(add1_run / ".." / add1_run.name / "results.sqlite")
    assert main(["export", str(add1_run), "-o", spelled, "--force"]) == 2
    assert _rows(add1_run) == before


@pytest.mark.parametrize("name", ["sweep_config.json", "results.lock", "results.sqlite-wal"])
def test_a_runs_own_files_are_never_export_targets(add1_run, name, capsys):
    path = add1_run / name
    existed = path.exists()
    text = path.read_bytes() if existed else None
    assert main(["export", str(add1_run), "-o", str(path), "--force"]) == 2
    assert "run directory" in capsys.readouterr().err or name.startswith("results.sqlite")
    assert (path.read_bytes() if path.exists() else None) == text


def test_existing_file_needs_force_and_is_replaced_whole(add1_run, tmp_path, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("precious\n")
    assert main(["export", str(add1_run), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "precious\n"
    assert main(["export", str(add1_run), "-o", str(out), "--force", "--quiet"]) == 0
    assert out.read_text().startswith("run,") and (tmp_path / "mine.csv.meta.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.csv", "mine.csv.meta.json"]


def test_other_files_inside_a_run_directory_are_not_overwritten(add1_run, capsys):
    notes = add1_run / "notes.csv"
    notes.write_text("mine\n")
    try:
        assert main(["export", str(add1_run), "-o", str(notes), "--force"]) == 2
        assert "not written by this command" in capsys.readouterr().err
        assert notes.read_text() == "mine\n"
    finally:
        notes.unlink()


def test_default_export_regenerates_its_own_file(add1_run):
    assert main(["export", str(add1_run), "--quiet"]) == 0
    assert main(["export", str(add1_run), "--quiet"]) == 0  # its own output: replaced
    assert (add1_run / "results.csv").exists()


def test_a_failed_write_leaves_the_old_file_and_exits_1(add1_run, tmp_path, monkeypatch, capsys):
    import curriculens.analysis.table as table

    out = tmp_path / "t.csv"
    out.write_text("old\n")

    def full_disk(run, path, **kw):
        Path(path).write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(table, "export_table", full_disk)
    assert main(["export", str(add1_run), "-o", str(out), "--force"]) == 1
    err = capsys.readouterr().err
    assert "No space left" in err and "Traceback" not in err
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


# ------------------------------------------------------------------ the report's outputs
def test_a_report_over_a_file_curriculens_did_not_write_needs_force(
    add1_run, tmp_path, capsys, one_error_line
):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.html").write_text("<html>my own notes</html>")
    line = one_error_line(["report", add1_run, "--out", out, "--bootstrap", "0", "--quiet"], 2)
    assert "was not written by curriculens" in line and "--force" in line
    assert (out / "report.html").read_text() == "<html>my own notes</html>"
    assert not (out / "report.md").exists()
    assert main(["report", str(add1_run), "--out", str(out), "--bootstrap", "0", "--quiet",
                 "--force"]) == 0  # fmt: skip
    assert "Curriculum report" in (out / "report.html").read_text()
    # its own earlier report is regenerated without --force
    assert main(["report", str(add1_run), "--out", str(out), "--bootstrap", "0", "--quiet"]) == 0


def test_a_report_into_another_runs_directory_is_refused(
    add1_run, toy_series, tmp_path, capsys, one_error_line
):
    other = tmp_path / "other"
    sweep(toy_series, other, config=SweepConfig(skills=("add1",), n_examples=40), run="o",
          progress=False)  # fmt: skip
    line = one_error_line(["report", add1_run, "--out", other, "--bootstrap", "0", "--force"], 2)
    assert "another run's directory" in line
    assert not (other / "report.html").exists()


def test_an_unwritable_report_folder_is_exit_1_before_any_work(
    add1_run, tmp_path, capsys, monkeypatch, one_error_line
):
    import curriculens.reporting.writer as writer

    def no_analysis(*a, **k):
        raise AssertionError("the run was analysed before the folder was checked")

    monkeypatch.setattr(writer, "analyze", no_analysis)
    real = Path.write_bytes

    def read_only(self, data):
        if self.name == ".report-write-test":
            raise OSError(30, "Read-only file system", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)
    line = one_error_line(["report", add1_run, "--out", tmp_path / "rep", "--bootstrap", "0"], 1)
    assert "Read-only file system" in line and "--out DIR on writable storage" in line
    line = one_error_line(["report", add1_run, "--bootstrap", "0"], 1)  # into the run itself
    assert "Cannot write the report into" in line
    assert sorted(p.name for p in add1_run.iterdir() if p.name.startswith("report")) == []


# ------------------------------------------------------------------ the sweep's own files
def test_a_sweep_never_writes_over_a_users_sweep_files(
    toy_series, tmp_path, capsys, one_error_line
):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sweep.toml").write_text("# my notes\n")
    argv = ["sweep", toy_series, "--out", mine, "--skills", "add1", "--examples", "40", "--quiet"]
    line = one_error_line(argv, 2)
    assert "holds sweep.toml but no results.sqlite" in line
    assert (mine / "sweep.toml").read_text() == "# my notes\n"
    assert not (mine / "results.sqlite").exists()
    # the TOML being run, inside its own run folder, is kept as written
    own = tmp_path / "own"
    own.mkdir()
    text = (f'# settings of this run\nout = "."\n[series]\ndir = "{toy_series}"\n'
            '[sweep]\nskills = ["add1"]\nn_examples = 40\n')  # fmt: skip
    (own / "sweep.toml").write_text(text)
    assert main(["sweep", str(own / "sweep.toml"), "--quiet"]) == 0
    assert (own / "results.sqlite").exists() and (own / "sweep.toml").read_text() == text
