"""Never a wrong table: changed settings, edited skills, checkpoints that do not match their config,
folders without config.json and NaN weights (issue 15, cases 1, 2, 4, 5 and 6).

Cases 1 and 2 sweep A, then B, then A again: the table read back equals the first A exactly and
B's rows are still there under their own key.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings

import numpy as np
import pytest
import torch

import curriculens.pipeline.measure as measure_mod
import curriculens.pipeline.run as sweep_mod
from curriculens.analysis.curriculum import behavior_curve, skill_emergence
from curriculens.analysis.table import Selection, load_table, read_rows, with_selectivity
from curriculens.checkpoints import CheckpointSeries
from curriculens.cli.main import main
from curriculens.errors import MixedResultsNote, UnmeasurableWarning
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.store import Store

torch.set_num_threads(1)


def _norm(rows: list[dict]) -> list[dict]:
    for r in rows:
        if r.get("items") is not None:
            r["items"] = np.asarray(r["items"]).tolist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _current(out, **kw) -> list[dict]:
    return _norm(read_rows(out, items=True, **kw))


def _stored(out, **where) -> list[dict]:
    with Store(out, readonly=True) as s:  # as every reader sees them: with selectivity rows
        return _norm(with_selectivity(s, items=True, where=where))


def _error_line(err: str, command: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith(f"curriculens {command}: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _spy_measure(monkeypatch) -> list[str]:
    calls = []
    real = sweep_mod.measure

    def spy(model, tokenizer, ctx, todo, **kw):
        calls.append(ctx.checkpoint)
        return real(model, tokenizer, ctx, todo, **kw)

    monkeypatch.setattr(sweep_mod, "measure", spy)
    return calls


# ------------------------------------------------------------------ 1. changed probe settings
def test_case1_changed_examples_add_rows_and_a_then_b_then_a_reads_a(toy_series, tmp_path, capsys):
    out = tmp_path / "run"

    def sweep_with(n: int) -> None:
        argv = ["sweep", str(toy_series), "--out", str(out), "--skills", "add2"]
        assert main([*argv, "--examples", str(n), "--quiet"]) == 0

    sweep_with(40)
    first = _current(out)
    sweep_with(60)
    with pytest.warns(MixedResultsNote, match="1 other configuration"):
        second = _current(out)
    sweep_with(40)
    with pytest.warns(MixedResultsNote, match="1 other configuration"):
        third = _current(out)
    assert third == first  # exactly: values, per-item outcomes, n, keys
    probe_n = {r["n"] for r in first if r["kind"] == "probe"}
    assert probe_n != {r["n"] for r in second if r["kind"] == "probe"}  # the setting matters
    key60 = SweepConfig(skills=("add2",), n_examples=60).probe_key()
    assert _stored(out, probe_key=key60) == second  # B's rows, untouched, under their key
    assert _current(out, select=Selection(config=key60[:6])) == second  # prefix of the key
    assert len(_stored(out)) == len(first) + len(second)
    # the CLI reads the same current rows, says in one line that others exist, never averages
    capsys.readouterr()
    assert main(["export", str(out), "-o", str(tmp_path / "t.csv")]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ": note:" in ln]
    assert len(notes) == 1 and "--config" in notes[0] and "--all" in notes[0]
    assert len((tmp_path / "t.csv").read_text().splitlines()) == len(first) + 1
    assert main(["export", str(out), "--all", "-o", str(tmp_path / "all.csv")]) == 0
    assert len((tmp_path / "all.csv").read_text().splitlines()) == len(first) + len(second) + 1
    assert main(["export", str(out), "--config", "nope", "-o", str(tmp_path / "x.csv")]) == 2
    assert "matches none" in _error_line(capsys.readouterr().err, "export")
    assert main(["export", str(out), "--what", "items", "--all"]) == 2
    assert "--config/--all select score rows" in capsys.readouterr().err
    # the report reads the configuration asked for, and only that one
    from curriculens.analysis.table import selecting
    from curriculens.reporting.writer import analyze

    with selecting(Selection(config=key60)):
        assert set(analyze(out, n_boot=0).df.probe_key) == {key60}
    assert main(["report", str(out), "--config", key60[:6], "-o", str(tmp_path / "r60")]) == 0
    assert (tmp_path / "r60" / "report.md").exists() and not (out / "report.md").exists()
    capsys.readouterr()
    # emergence --all shows each configuration as its own run, side by side
    key40 = SweepConfig(skills=("add2",), n_examples=40).probe_key()
    assert main(["emergence", str(out), "--all", "--keep-zero-tokens", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["emergence"]
    assert sorted(models) == sorted([f"run@{key40}", f"run@{key60}"])


# ------------------------------------------------------------------ 2. an edited skill file
def _write_lives(path, *, wrong: bool) -> None:
    """A JSONL continuation skill on the toy world; ``wrong`` gives every prompt another city."""
    from curriculens.skills import get_skill

    facts = get_skill("facts")
    cities = list(facts.label_names)
    header = {"name": "lives", "version": 1, "format": "continuation", "family": "facts"}
    lines = [json.dumps({"curriculens_skill": {**header, "label_names": cities}})]
    seen = set()
    for e in facts.examples(400, seed=0):
        if e.prompt in seen:
            continue
        seen.add(e.prompt)
        target = cities[(e.label + 1) % len(cities)] if wrong else e.target
        lines.append(json.dumps({"prompt": e.prompt, "target": target, "label": int(e.label)}))
    path.write_text("\n".join(lines) + "\n")


def test_case2_edited_skill_never_mixes_versions(toy_series, tmp_path, monkeypatch, capsys):
    from curriculens.skills import unregister_skill
    from curriculens.skills.files import load_skill_file

    path, out = tmp_path / "lives.jsonl", tmp_path / "run"

    def sweep_version(wrong: bool) -> str:
        _write_lives(path, wrong=wrong)
        skill = load_skill_file(path)
        try:
            cfg = SweepConfig(skills=("lives",), n_examples=40)
            sweep(toy_series, out, config=cfg, run="r", progress=False)
        finally:
            unregister_skill("lives")
        return skill.content_hash

    ha = sweep_version(False)
    first = _current(out)
    hb = sweep_version(True)
    with pytest.warns(MixedResultsNote, match="older versions of skill"):
        second = _current(out)
    assert ha != hb
    calls = _spy_measure(monkeypatch)
    assert sweep_version(False) == ha
    assert calls == []  # version A's units were never overwritten: nothing to recompute
    with pytest.warns(MixedResultsNote):
        assert _current(out) == first
    assert _stored(out, skill_hash=hb) == second  # B's rows stay under their own hash

    def final_logprob(rows):
        last = max(r["tokens"] for r in rows)
        return [r["value"] for r in rows if r["tokens"] == last and r["metric"] == "logprob"][0]

    a, b = final_logprob(first), final_logprob(second)
    assert a != b  # an average of both would differ from A
    with pytest.warns(MixedResultsNote):
        curve = behavior_curve(load_table(out), "lives", "logprob")
    assert curve.iloc[-1] == pytest.approx(a)
    # emergence and the report read one version (the CLI says so in one line), no "duplicate"
    assert main(["emergence", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "error" not in err and "note: run 'r' also holds rows of older versions" in err
    # --all reads each version as its own skill, so nothing is averaged there either
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedResultsNote)  # and there is nothing left out to note
        every = load_table(out, select=Selection(all=True))
    assert sorted(every.skill.unique()) == sorted({f"lives@{ha[:8]}", f"lives@{hb[:8]}"})


# ------------------------------------------------------------------ 4. config vs weights
def _count(out) -> int:
    with Store(out, readonly=True) as s:
        return s.count()


def test_case4_weights_that_do_not_match_config_are_an_error(toy_series, tmp_path, capsys):
    ck, out = tmp_path / "ck", tmp_path / "run"
    shutil.copytree(toy_series, ck)
    argv = ["sweep", str(ck), "--out", str(out), "--skills", "add1", "--examples", "40"]
    assert main([*argv, "--quiet"]) == 0
    n = _count(out)
    cfg_path = ck / "step10" / "config.json"
    good = cfg_path.read_text()
    for layers, what in ((3, "missing"), (1, "unexpected")):
        cfg = json.loads(good)
        cfg["num_hidden_layers"] = layers
        cfg_path.write_text(json.dumps(cfg))
        for _ in range(2):  # rerunning never adds copies of a random model's rows
            capsys.readouterr()
            assert main([*argv, "--quiet"]) == 2
            line = _error_line(capsys.readouterr().err, "sweep")
            assert "'step10'" in line and what in line and "gpt_neox.layers." in line
            assert _count(out) == n
    cfg_path.write_text(good)
    # fingerprints are of the weights as loaded, the same on every load
    assert (
        CheckpointSeries.from_dir(ck).fingerprints() == CheckpointSeries.from_dir(ck).fingerprints()
    )


# ------------------------------------------------------------------ 5. folder without config
def test_case5_checkpoint_folder_without_config_is_an_error_or_a_listed_skip(
    toy_series, tmp_path, capsys
):
    ck, out = tmp_path / "ck", tmp_path / "run"
    shutil.copytree(toy_series, ck)
    (ck / "step20" / "config.json").unlink()
    argv = ["sweep", str(ck), "--out", str(out), "--skills", "add1", "--examples", "40"]
    assert main([*argv, "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err, "sweep")
    assert "step20" in line and "config.json" in line and "--skip-bad" in line
    assert not (out / "results.sqlite").exists()
    assert main([*argv, "--quiet", "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert "skipped step20: no config.json" in captured.err
    assert "2 checkpoints" in captured.out and "skipped (--skip-bad): step20" in captured.out
    assert {r["checkpoint"] for r in _current(out)} == {"step0", "step10"}


# ------------------------------------------------------------------ 6. NaN weights
def _poison(folder, value=float("nan")) -> str:
    from safetensors.torch import load_file, save_file

    f = folder / "model.safetensors"
    state = load_file(str(f))
    name = "gpt_neox.layers.1.mlp.dense_4h_to_h.weight"
    state[name] = state[name].clone()
    state[name][0, 0] = value
    save_file(state, str(f), metadata={"format": "pt"})
    return name


def test_case6_nan_weights_give_nan_scores_with_a_reason(toy_series, tmp_path, capsys):
    ck, out = tmp_path / "ck", tmp_path / "run"
    shutil.copytree(toy_series, ck)
    name = _poison(ck / "step20")
    cfg = SweepConfig(skills=("add2", "facts"), n_examples=40)
    with pytest.warns(UnmeasurableWarning, match=f"'step20' .* NaN weights .*{name}"):
        sweep(ck, out, config=cfg, progress=False)
    rows = _current(out)
    scores = [r for r in rows if r["kind"] in ("behavior", "probe", "control")]
    bad = [r for r in scores if r["checkpoint"] == "step20"]
    assert bad and all(r["value"] is None and r["reason"] == "NaN weights" for r in bad)
    good = [r for r in scores if r["checkpoint"] != "step20"]
    assert all(r["value"] is not None and r["reason"] is None for r in good)
    for e in skill_emergence(out):  # no value carried over from an earlier checkpoint
        assert math.isnan(e.behavior_final) and math.isnan(e.probe_final)
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert md.count("not measurable (NaN weights at step 20)") >= 4  # 2 skills x behavior, probe


def test_nan_activations_at_one_hook_are_nan_there_only(toy_series, tmp_path, monkeypatch):
    real = measure_mod.capture
    hook = "blocks.0.hook_resid_post"

    def overflowing(*a, **k):
        cap = real(*a, **k)
        cap.acts[hook][:, 0] = np.inf
        return cap

    monkeypatch.setattr(measure_mod, "capture", overflowing)
    out = tmp_path / "run"
    sweep(toy_series, out, config=SweepConfig(skills=("add2",), n_examples=40), progress=False)
    probes = [r for r in _current(out) if r["kind"] in ("probe", "control")]
    bad = [r for r in probes if r["hook"] == hook]
    # probe, control and the selectivity derived from them, at 3 checkpoints
    assert len(bad) == 3 * 3 and all(r["value"] is None for r in bad)
    assert {r["reason"] for r in bad} == {f"NaN activations at {hook}"}
    assert all(r["value"] is not None for r in probes if r["hook"] != hook)


# ------------------------------------------------------------------ 3. a killed PID 1
_PID1_SCRIPT = """
import os, sys, time, torch
torch.set_num_threads(1)
assert os.getpid() == 1, os.getpid()
from curriculens import store as store_mod
from curriculens.pipeline.run import SweepConfig, sweep
if sys.argv[3] == "stall":
    real = store_mod.Store.write_unit
    def stall(self, *a, **k):
        real(self, *a, **k)
        time.sleep(60)  # killed here, with units written and more to come
    store_mod.Store.write_unit = stall
sweep(sys.argv[1], sys.argv[2], config=SweepConfig(skills=("add1", "facts"), n_examples=40),
      run="r", progress=False)
"""


def _unshare_pid(*argv: str) -> list[str]:
    return ["unshare", "--pid", "--fork", "--mount-proc", *argv]


def _pid_namespaces_work() -> bool:
    import subprocess

    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(_unshare_pid("sh", "-c", "test $$ -eq 1"), capture_output=True)
    return done.returncode == 0


def _units(out) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.skipif(not _pid_namespaces_work(), reason="unshare --pid is not permitted here")
def test_case3_kill_9_of_a_sweep_running_as_pid_1_then_a_rerun_as_pid_1_resumes(
    toy_series, tmp_path
):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    ref = tmp_path / "ref"
    sweep(
        toy_series,
        ref,
        config=SweepConfig(skills=("add1", "facts"), n_examples=40),
        run="r",
        progress=False,
    )
    script, out = tmp_path / "child.py", tmp_path / "killed"
    script.write_text(_PID1_SCRIPT)
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": repo, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), str(toy_series), str(out)]
    proc = subprocess.Popen(_unshare_pid(*cmd, "stall"), env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and _units(out) < 1:
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1  # the sweep: PID 1 of its namespace
        os.kill(int(children[0]), signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lock = json.loads((out / "results.lock").read_text())
    assert lock["pid"] == 1  # left behind, naming PID 1
    assert 1 <= _units(out) < 3 * 2
    # the container restarts: the next sweep is PID 1 again, and must resume, not refuse
    done = subprocess.run(_unshare_pid(*cmd, "go"), env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert _units(out) == 3 * 2
    assert _stored(out) == _stored(ref)
    assert not (out / "results.lock").exists()


def test_selection_flags_are_refused_where_they_would_be_ignored(tmp_path, capsys):
    csv = tmp_path / "curves.csv"
    csv.write_text("model,tokens,task,score\nm,10,t,0.2\nm,20,t,0.9\n")
    assert main(["emergence", str(csv), "--all"]) == 2
    assert "choose rows of a curriculens store" in _error_line(capsys.readouterr().err, "emergence")
    with pytest.raises(SystemExit):  # the report pools runs: --all is not offered there
        main(["report", str(tmp_path), "--all"])
