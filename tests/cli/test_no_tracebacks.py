"""No traceback reaches a user (issue 29, items 7 and 8): each input below gets one line naming
it and the fix, exit 2 for usage and 1 for the environment, and nothing computed is lost."""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from curriculens.cli.main import main

torch.set_num_threads(1)


def _sweep(ck, out, *more):
    return ["sweep", ck, "--out", out, "--skills", "add1", "--examples", "40", "--quiet", *more]


def test_cache_dir_naming_a_file(toy_series, tmp_path, capsys, one_error_line):
    f = tmp_path / "afile"
    f.write_text("x")
    one_error_line(_sweep(toy_series, tmp_path / "r", "--cache-dir", f), 2, "--cache-dir",
              "is a file, not a folder")  # fmt: skip
    assert f.read_text() == "x"


def test_out_that_cannot_be_created(toy_series, tmp_path, capsys, one_error_line):
    f = tmp_path / "afile"
    f.write_text("x")
    one_error_line(_sweep(toy_series, f / "sub"), 2, "--out", "is a file, not a folder")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if (ro / "probe").exists() or _writable(ro):  # root ignores permissions
            pytest.skip("this user can write into a read-only folder")
        one_error_line(_sweep(toy_series, ro / "run"), 1, "cannot be created")
    finally:
        ro.chmod(0o700)


def _writable(d: Path) -> bool:
    try:
        (d / ".w").write_text("")
        (d / ".w").unlink()
        return True
    except OSError:
        return False


def test_report_with_a_corrupt_sweep_config(add1_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(add1_run, run)
    (run / "sweep_config.json").write_text("{not json")
    assert main(["report", str(run), "--bootstrap", "0"]) == 0
    assert "could not be read" in (run / "report.md").read_text()


def test_report_seed_and_bootstrap_out_of_range(add1_run, capsys):
    for argv in (["--seed", "-1"], ["--bootstrap", "1000000000"], ["--bootstrap", "1e9"]):
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            main(["report", str(add1_run), *argv])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and argv[0] in err


def test_report_to_a_full_disk_exits_1_and_leaves_no_half_file(
    add1_run, tmp_path, capsys, monkeypatch, one_error_line
):
    real = Path.write_text

    def full(self, text, *a, **k):
        if self.name.startswith(".report"):
            real(self, text[:10], *a, **k)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    out = tmp_path / "rep"
    one_error_line(["report", add1_run, "--out", out, "--bootstrap", "0"], 1,
              "No space left", "free some space")  # fmt: skip
    assert not (out / "report.md").exists() and not list(out.glob(".report*"))


def _skill_file(path: Path, version, prompt: str) -> Path:
    import json

    head = {"name": "huge_version", "version": version, "format": "continuation",
            "label_names": ["europe", "asia"]}  # fmt: skip
    example = json.dumps({"prompt": prompt, "target": "Paris", "label": "europe"})
    path.write_text(json.dumps({"curriculens_skill": head}) + "\n" + example + "\n")
    return path


@pytest.mark.parametrize(
    ("version", "prompt", "needle"),
    [(10**23, "The capital of France is", "below 2**31"),
     (1, "The capital \ud800 of France is", "lone UTF-16 surrogate")],
)  # fmt: skip
def test_skill_files_that_failed_only_after_the_forwards(tmp_path, capsys, version, prompt,
                                                         needle):  # fmt: skip
    from curriculens.errors import SkillFileError
    from curriculens.skills.files import load_skill_file

    p = _skill_file(tmp_path / "s.jsonl", version, prompt)
    with pytest.raises(SkillFileError, match=re.escape(needle)):
        load_skill_file(p, register=False)
    capsys.readouterr()
    main(["skills", "validate", str(p)])
    out = capsys.readouterr()
    assert needle in out.out + out.err and "Traceback" not in out.err


def test_a_fresh_store_on_a_full_disk_is_not_called_corrupt(
    toy_series, tmp_path, capsys, monkeypatch, one_error_line
):
    import sqlite3

    from curriculens.store import Store

    def full(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_check_integrity", full)
    line = one_error_line(_sweep(toy_series, tmp_path / "run"), 1, "disk is full")
    assert "corrupt" not in line and "restore" not in line


def test_a_runaway_prompt_is_refused_when_the_skill_file_is_read(tmp_path):
    from curriculens.errors import SkillFileError
    from curriculens.skills.files import load_skill_file

    p = _skill_file(tmp_path / "big.jsonl", 1, "word " * 4_000_000)  # 20 MB
    with pytest.raises(SkillFileError, match="more than any model's context"):
        load_skill_file(p, register=False)


def test_the_report_names_checkpoints_skipped_by_skip_bad(toy_series, tmp_path, capsys):
    # issue 29, item 9: the report showed the curves without a word about the skipped step
    series = tmp_path / "checkpoints"
    shutil.copytree(toy_series, series)
    bad = series / "step10" / "model.safetensors"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated: skipped when the series is read
    cfg = series / "step20" / "config.json"  # weights of another shape: skipped at its load
    cfg.write_text(cfg.read_text().replace('"intermediate_size": 64', '"intermediate_size": 48'))
    out = tmp_path / "run"
    assert main([str(a) for a in _sweep(series, out, "--skip-bad")]) == 0
    assert main(["report", str(out), "--bootstrap", "0", "--quiet"]) == 0
    md = (out / "report.md").read_text()
    line = next(ln for ln in md.splitlines() if "--skip-bad" in ln)
    assert "2 checkpoint(s) skipped" in line and "step10" in line and "step20" in line
    assert "skipped by --skip-bad" in (out / "report.html").read_text()


def _tmpfs_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs -o size=16k tmpfs /mnt 2>/dev/null || exit 3"],
                           capture_output=True)  # fmt: skip
    return probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_works(), reason="mounting a small tmpfs is not permitted here")
def test_a_fresh_store_on_a_really_full_disk_is_not_called_corrupt(toy_series, tmp_path):
    # on a full tmpfs SQLite reports "disk I/O error" (its WAL index cannot grow), read back
    # when the run name is looked up: that is the disk, exit 1, never "corrupt, restore"
    import os
    import sys

    full = tmp_path / "full"
    full.mkdir()
    sweep_argv = _sweep(toy_series, full / "run")
    argv = " ".join(map(str, [sys.executable, "-m", "curriculens", *sweep_argv]))
    script = f"mount -t tmpfs -o size=16k tmpfs {full} && {argv}; echo rc=$?"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert "rc=1" in done.stdout and len(lines) == 1, done.stderr[-2000:]
    assert "disk is full" in lines[0] and "corrupt" not in lines[0] and "restore" not in lines[0]
    assert "Traceback" not in done.stderr


# --------------------------------------------------- each input, as a user runs the command
def _inputs(d: Path) -> dict[str, Path]:
    """The files behind the inputs of issue 29, item 8, written into ``d``."""
    import json

    _skill_file(d / "ver.jsonl", 10**23, "The capital of France is")
    _skill_file(d / "sur.jsonl", 1, "The capital \ud800 of France is")
    (d / "tok.csv").write_text("model,checkpoint,tokens,task,score\nm,c1,1e30,t,0.1\n")
    (d / "step.csv").write_text("model,checkpoint,tokens,step,task,score\n"
                                "m,c1,100,1,t,0.1\nm,c2,200,abc,t,0.2\n")  # fmt: skip
    for name, text in (("huge", json.dumps({"results": {"arc": {"acc": 0.5}}})),
                       ("deep", "[" * 100_000 + "]" * 100_000)):  # fmt: skip
        (d / name).mkdir()
        (d / name / (f"step{10**200}.json" if name == "huge" else "step1.json")).write_text(text)
    (d / "afile").write_text("x")
    return {p.stem: p for p in d.iterdir()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (["sweep", "{ck}", "--out", "{d}/r", "--skills", "{d}/ver.jsonl"], 2, "below 2**31"),
        (["sweep", "{ck}", "--out", "{d}/r", "--skills", "{d}/sur.jsonl"], 2, "surrogate"),
        (["sweep", "{ck}", "--out", "{d}/r", "--examples", "1e12"], 2, "not an integer"),
        (["sweep", "{ck}", "--out", "{d}/r", "--cache-dir", "{d}/afile"], 2, "not a folder"),
        (["sweep", "{ck}", "--out", "{d}/afile/sub"], 2, "not a folder"),
        (["report", "{run}", "--seed", "-1"], 2, "--seed"),
        (["report", "{run}", "--bootstrap", "1e9"], 2, "--bootstrap"),
        (["export", "{run}", "-o", "{run}/results.sqlite"], 2, "results store"),
        (["emergence", "{d}/tok.csv"], 2, "token count 1e+30"),
        (["emergence", "{d}/step.csv"], 2, "'abc' is not a number"),
        (["emergence", "{d}/huge"], 2, "2**53"),
        (["emergence", "{d}/deep"], 2, "nested too deeply"),
    ],
)  # fmt: skip
def test_each_input_as_a_user_runs_it(add1_run, toy_series, tmp_path, argv, code, needle):
    import os
    import sys

    _inputs(tmp_path)
    fill = {"ck": toy_series, "d": tmp_path, "run": add1_run}
    argv = [a.format(**fill) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "curriculens", *argv], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == code and "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and needle in done.stderr, done.stderr[-2000:]
    assert (add1_run / "results.sqlite").exists()
