"""Bad inputs end in one line, ``curriculens CMD: error: ...``, exit 2, naming the file or value and
the fix, and lose nothing stored; read-only runs can be exported, reported and analysed (issue 15,
cases 7, 8 and 9).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import curriculens.pipeline.measure as sweep_mod
from curriculens.analysis.table import read_rows
from curriculens.checkpoints import Checkpoint, CheckpointSeries
from curriculens.cli.main import main
from curriculens.errors import CheckpointError, ConfigError, StoreError
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.store import Store

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
CFG = SweepConfig(skills=("add2",), n_examples=40)  # probed (add1 is behavior only)


@pytest.fixture(scope="module")
def finished(toy_series, tmp_path_factory):
    """A finished run of the toy series (read-only use: copy it before changing it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    sweep(toy_series, out, config=CFG, run="r", progress=False)
    return out


def _table(out) -> list[dict]:
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
    for r in rows:
        r["items"] = None if r["items"] is None else r["items"].tolist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _fails(capsys, argv: list[str], *needles: str, code: int = 2) -> str:
    """Run the CLI, expect exit ``code`` (2: usage; 1: the environment, e.g. a full disk) and
    exactly one error line holding every needle."""
    capsys.readouterr()
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"curriculens {argv[0]}: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def _sweep_argv(ck, out, *more) -> list[str]:
    return ["sweep", str(ck), "--out", str(out), "--skills", "add2", "--examples", "40", *more]


# ------------------------------------------------------------------ 7. read-only storage
def _ro_mounts_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind -o ro / /mnt 2>/dev/null || exit 3"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _ro_mounts_work(), reason="read-only bind mounts are not permitted here")
def test_case7_a_run_on_read_only_storage_exports_reports_and_analyses(finished, tmp_path):
    import sqlite3

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    with sqlite3.connect(run / "results.sqlite") as c:  # as a killed writer leaves it
        c.execute("PRAGMA journal_mode=WAL")
    before = (run / "results.sqlite").read_bytes()
    out = tmp_path / "elsewhere"
    script = " && ".join(
        [
            f"mount --bind -o ro {run} {run}",
            f"{sys.executable} -m curriculens export {run} -o {out}/t.csv --quiet",
            f"{sys.executable} -m curriculens report {run} --out {out}/report --quiet",
            f"{sys.executable} -m curriculens emergence {run} --json > {out}/em.json",
            f"({sys.executable} -m curriculens report {run} 2> {out}/err.txt; echo $? > {out}/rc)",
        ]
    )
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    with Store(finished, readonly=True) as s:  # stored rows and their derived selectivity
        n_rows = len(read_rows(s))
    assert len((out / "t.csv").read_text().splitlines()) == n_rows + 1 > len(_table(finished)) + 1
    assert (out / "report" / "report.html").exists() and (out / "report" / "report.md").exists()
    assert json.loads((out / "em.json").read_text())["emergence"]
    # the report into the read-only run itself: one line naming the fix
    assert (out / "rc").read_text().strip() == "1"  # the storage, not the request
    err = (out / "err.txt").read_text()
    assert "curriculens report: error: Cannot write the report into" in err and "--out" in err
    assert (run / "results.sqlite").read_bytes() == before


# ------------------------------------------------------------------ 8. one-line errors
def test_corrupt_or_truncated_store(toy_series, finished, tmp_path, capsys, monkeypatch):
    def no_load(self, **kw):
        raise AssertionError("a checkpoint was loaded before the store was checked")

    monkeypatch.setattr(Checkpoint, "load", no_load)
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    db = run / "results.sqlite"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    before = db.read_bytes()
    name = str(db)
    _fails(capsys, _sweep_argv(toy_series, run, "--quiet"), name, "corrupt")
    for argv in (
        ["export", str(run), "-o", str(tmp_path / "t.csv")],
        ["report", str(run)],
        ["emergence", str(run)],
    ):
        _fails(capsys, argv, name, "corrupt or truncated")
    assert db.read_bytes() == before  # never overwritten


def test_full_disk_is_one_line_and_a_rerun_resumes(toy_series, finished, tmp_path, capsys):
    out = tmp_path / "run"
    real = Store.write_unit
    calls = []

    def disk_fills(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the second unit finds the disk full
            pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
            self.conn.execute(f"PRAGMA max_page_count={pages}")
        return real(self, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(Store, "write_unit", disk_fills)
    try:
        _fails(capsys, _sweep_argv(toy_series, out, "--run", "r", "--quiet"), "disk is full",
               code=1)  # fmt: skip
    finally:
        mp.undo()
    assert len(calls) == 2
    with Store(out, readonly=True) as s:
        assert len(s.done_units_by_fingerprint("r")) == 1  # the finished unit is kept
    assert main(_sweep_argv(toy_series, out, "--run", "r", "--quiet")) == 0
    assert _table(out) == _table(finished)


def test_no_space_for_a_file_is_one_line(toy_series, tmp_path, capsys, monkeypatch):
    def no_space(cap, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(sweep_mod, "save_capture", no_space)
    argv = _sweep_argv(toy_series, tmp_path / "run", "--cache-dir", str(tmp_path / "c"), "--quiet")
    _fails(capsys, argv, "disk is full", str(tmp_path / "c"), "re-run", code=1)


def test_truncated_weights_and_garbage_checkpoint_json(toy_series, tmp_path, capsys):
    ck = tmp_path / "ck"
    shutil.copytree(toy_series, ck)
    f = ck / "step10" / "model.safetensors"
    good = f.read_bytes()
    f.write_bytes(good[: len(good) // 2])
    _fails(capsys, _sweep_argv(ck, tmp_path / "o"), "'step10'", "truncated")
    f.write_bytes(good)
    info = ck / "step10" / "curriculens_checkpoint.json"
    info.write_text('{"step": 10, "tokens"')
    _fails(capsys, _sweep_argv(ck, tmp_path / "o"), str(info), "not readable JSON")
    info.write_text('{"step": -5, "tokens": 3}')  # 9. negative steps are refused
    _fails(capsys, _sweep_argv(ck, tmp_path / "o"), str(info), "'step'")
    assert not (tmp_path / "o").exists()


def test_bad_devices_fail_before_anything_loads(toy_series, tmp_path, capsys, monkeypatch):
    def no_load(self, **kw):
        raise AssertionError("a checkpoint was loaded before the device was checked")

    monkeypatch.setattr(Checkpoint, "load", no_load)
    _fails(capsys, _sweep_argv(toy_series, tmp_path / "o", "--device", "foo"), "'foo'", "cpu")
    if not torch.cuda.is_available():
        _fails(
            capsys,
            _sweep_argv(toy_series, tmp_path / "o", "--device", "cuda"),
            "'cuda'",
            "CUDA is not available",
            "--device cpu",
        )
    with pytest.raises(ConfigError, match="not a torch device"):
        SweepConfig(skills=("add1",), device="gpu0")
    assert not (tmp_path / "o").exists()


def test_a_non_residual_hook(toy_series, tmp_path, capsys):
    toml = tmp_path / "sweep.toml"
    toml.write_text(
        f'out = "run"\n[series]\ndir = "{toy_series}"\n[sweep]\nskills = ["add1"]\n'
        'n_examples = 40\nhooks = ["blocks.0.attn.hook_pattern"]\n'
    )
    _fails(capsys, ["sweep", str(toml), "--quiet"], "'blocks.0.attn.hook_pattern'", "resid")


def test_a_tampered_or_incomplete_activation_cache(toy_series, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "run"
    cfg = SweepConfig(skills=("add1",), n_examples=40, cache_dir=str(cache))
    sweep(toy_series, out, config=cfg, progress=False)
    f = sorted(cache.rglob("*.safetensors"))[0]
    data = bytearray(f.read_bytes())
    data[-3] ^= 0xFF  # one activation changed, the file still parses
    f.write_bytes(bytes(data))
    again = SweepConfig(skills=("add1",), n_examples=40, cache_dir=str(cache), probe_C=0.5)
    with pytest.raises(StoreError, match="checksum mismatch") as e:
        sweep(toy_series, out, config=again, progress=False)
    assert str(f) in str(e.value) and "Delete it" in str(e.value)
    f.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(StoreError, match="unreadable"):
        sweep(toy_series, out, config=again, progress=False)
    f.unlink()  # the fix the message names: the next sweep recomputes it
    sweep(toy_series, out, config=again, progress=False)


def _skill_file(path: Path, *, name: str, family: str = "facts", one_class: bool = False):
    from curriculens.skills import get_skill

    facts = get_skill("facts")
    header = {"name": name, "version": 1, "format": "continuation", "family": family}
    lines = [json.dumps({"curriculens_skill": {**header, "label_names": list(facts.label_names)}})]
    seen = set()
    for e in facts.examples(400, seed=0):
        if e.prompt not in seen:
            seen.add(e.prompt)
            label = 0 if one_class else int(e.label)
            lines.append(json.dumps({"prompt": e.prompt, "target": e.target, "label": label}))
    path.write_text("\n".join(lines) + "\n")


def test_the_report_of_a_one_class_skill(toy_series, tmp_path, capsys):
    from curriculens.skills import unregister_skill
    from curriculens.skills.files import load_skill_file

    _skill_file(tmp_path / "one.jsonl", name="oneclass", one_class=True)
    load_skill_file(tmp_path / "one.jsonl")
    try:
        cfg = SweepConfig(skills=("oneclass",), n_examples=40)
        sweep(toy_series, tmp_path / "run", config=cfg, progress=False)
    finally:
        unregister_skill("oneclass")
    assert main(["report", str(tmp_path / "run")]) == 0
    md = (tmp_path / "run" / "report.md").read_text()
    assert "not measurable (single-class training labels" in md


# ------------------------------------------------------------------ 9. smaller gaps
@pytest.mark.parametrize("overlap", [False, True])
def test_a_results_file_deleted_mid_run_is_noticed_at_once(
    toy_series, tmp_path, monkeypatch, overlap
):
    out = tmp_path / "run"
    real = Store.write_unit
    calls = []

    def then_delete(self, *a, **k):
        calls.append(1)
        real(self, *a, **k)
        (out / "results.sqlite").unlink()

    monkeypatch.setattr(Store, "write_unit", then_delete)
    with pytest.raises(StoreError, match="deleted or replaced while this process"):
        sweep(toy_series, out, config=replace(CFG, overlap=overlap), progress=False)
    # noticed at the next write (the next checkpoint), not at the end (3 units); with the
    # scoring worker a checkpoint's unit is written during the next one, so the next write
    # may be that checkpoint's unit
    assert len(calls) == 1 if not overlap else 1 <= len(calls) <= 2


def test_prompts_longer_than_the_context(toy_series, tmp_path, capsys):
    ck = tmp_path / "ck"
    shutil.copytree(toy_series / "step0", ck / "step0")
    cfg = json.loads((ck / "step0" / "config.json").read_text())
    cfg["max_position_embeddings"] = 6
    (ck / "step0" / "config.json").write_text(json.dumps(cfg))
    _fails(
        capsys,
        _sweep_argv(ck, tmp_path / "o", "--quiet"),
        "Skill 'add2'",
        "context of 6 tokens",
        "the prompt '",
    )


def test_negative_and_zero_token_counts(toy_series, tmp_path, capsys):
    with pytest.raises(CheckpointError, match="step = -1"):
        Checkpoint(label="x", step=-1, tokens=0)
    with pytest.raises(CheckpointError, match="tokens = -5"):
        Checkpoint(label="x", step=0, tokens=-5)
    with pytest.raises(ConfigError, match="tokens_per_step = 0"):
        CheckpointSeries.from_dir(toy_series, tokens_per_step=0)
    capsys.readouterr()
    for argv, says in (
        (["sweep", "--model", "x/y", "--steps", "0,-1"], "-1 is too small; expected an integer"),
        (_sweep_argv(toy_series, tmp_path / "o", "--tokens-per-step", "0"), "0 is too small"),
    ):
        with pytest.raises(SystemExit) as e:  # argparse's own one-line usage error
            main(argv)
        assert e.value.code == 2 and says in capsys.readouterr().err


def test_save_pretrained_weights_load_in_the_state_dict_layout(toy_series, tmp_path):
    root = tmp_path / "sd"
    root.mkdir()
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(toy_series / "step0" / f, root / f)
    for step in ("step0", "step10"):
        shutil.copy(toy_series / step / "model.safetensors", root / f"{step}.safetensors")
    series = CheckpointSeries.from_dir(root, tokens_per_step=64)
    # the same weights as the save_pretrained folders, loaded exactly
    folders = CheckpointSeries.from_dir(toy_series).fingerprints()[:2]
    assert series.fingerprints() == folders


def test_a_missing_tokenizer_is_named(toy_series, tmp_path):
    ck = tmp_path / "ck"
    shutil.copytree(toy_series / "step0", ck / "step0")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (ck / "step0" / f).unlink()
    with pytest.raises(CheckpointError, match=r"no tokenizer in .*tokenizer.save_pretrained"):
        CheckpointSeries.from_dir(ck)


def test_names_in_report_md_are_escaped(toy_series, tmp_path):
    from curriculens.skills import unregister_skill
    from curriculens.skills.files import load_skill_file

    evil = "<img src=x onerror=alert(1)>"
    _skill_file(tmp_path / "evil.jsonl", name="evil_family", family=evil)
    load_skill_file(tmp_path / "evil.jsonl")
    try:
        cfg = SweepConfig(skills=("evil_family",), n_examples=40)
        sweep(toy_series, tmp_path / "run", config=cfg, progress=False)
    finally:
        unregister_skill("evil_family")
    assert main(["report", str(tmp_path / "run")]) == 0
    for name in ("report.md", "report.html"):
        text = (tmp_path / "run" / name).read_text()
        assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)" in text
