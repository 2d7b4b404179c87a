"""Sweeps: resuming, recomputing what changed, kill-and-resume, the writer lock, duplicates,
memory-bounded batching and the activation cache."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import curriculens.pipeline.measure as measure_mod
import curriculens.pipeline.run as sweep_mod
from curriculens.activations import _batches, capture, encode_skill, load_bridge
from curriculens.checkpoints import (
    BadCheckpointWarning,
    Checkpoint,
    CheckpointSeries,
    DuplicateCheckpointWarning,
)
from curriculens.errors import CheckpointError, ConfigError, HookNameError, StoreError
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.skills import get_skill
from curriculens.store import Store
from curriculens.toy.corpus import build_toy_tokenizer

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
SKILLS = ("facts", "add1")
CONFIG = SweepConfig(skills=SKILLS, n_examples=40)


@pytest.fixture(scope="module")
def ckdir(tmp_path_factory, write_series):
    return write_series(tmp_path_factory.mktemp("series") / "checkpoints")


@pytest.fixture(scope="module")
def reference(ckdir, tmp_path_factory):
    """An uninterrupted sweep every other test compares against."""
    out = tmp_path_factory.mktemp("ref")
    sweep(ckdir, out, config=CONFIG, run="r", progress=False)
    return out


def _table(out: Path) -> list[dict]:
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
    for r in rows:
        r["items"] = None if r["items"] is None else r["items"].tolist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _unkeyed(rows) -> list[dict]:
    """Rows without their ``probe_key``, for comparing values measured under two keys."""
    return [{k: v for k, v in r.items() if k != "probe_key"} for r in rows]


def _units(out: Path) -> int:
    with Store(out, readonly=True) as s:
        return s.conn.execute("SELECT COUNT(*) FROM units").fetchone()[0]


def test_rerun_writes_nothing_and_loads_nothing(ckdir, reference, monkeypatch):
    before, n_units = _table(reference), _units(reference)
    assert n_units == 3 * len(SKILLS)
    assert {r["kind"] for r in before} == {"behavior", "probe", "control", "baseline"}
    series = CheckpointSeries.from_dir(ckdir)

    def no_load(self, **kw):
        raise AssertionError(f"{self.label} was loaded although it is finished")

    monkeypatch.setattr(Checkpoint, "load", no_load)
    sweep(series, reference, config=CONFIG, run="r", progress=False)
    assert _table(reference) == before
    assert _units(reference) == n_units


def _spy_measure(monkeypatch) -> list[tuple[str, tuple[str, ...]]]:
    calls = []
    real = sweep_mod.measure

    def spy(model, tokenizer, ctx, todo, **kw):
        calls.append((ctx.checkpoint, tuple(s.name for s in todo)))
        return real(model, tokenizer, ctx, todo, **kw)

    monkeypatch.setattr(sweep_mod, "measure", spy)
    return calls


def test_changed_skill_version_recomputes_only_that_skill(ckdir, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    facts = get_skill("facts")
    calls = _spy_measure(monkeypatch)
    from curriculens.skills.registry import _REGISTRY

    monkeypatch.setitem(_REGISTRY, "facts", replace(facts, version=facts.version + 1))
    sweep(ckdir, out, config=CONFIG, run="r", progress=False)
    monkeypatch.setitem(_REGISTRY, "facts", facts)  # in place: the suite keeps its order
    assert [todo for _, todo in calls] == [("facts",)] * 3
    # the new version's rows sit beside the old ones (its content hash differs)
    rows = [r for r in _table(out) if r["skill"] == "facts"]
    old = [r for r in rows if r["skill_version"] == facts.version]
    new = [r for r in rows if r["skill_version"] == facts.version + 1]
    assert len(new) == len(old) > 0
    assert {r["checkpoint"] for r in new} == {"step0", "step10", "step20"}


_KILL_SCRIPT = """
import sys, time, torch
torch.set_num_threads(1)
from curriculens import store as store_mod
from curriculens.pipeline.run import SweepConfig, sweep
real = store_mod.Store.write_unit
def slow(self, *a, **k):
    real(self, *a, **k)
    time.sleep(0.4)  # leave the parent time to kill between (and inside) units
store_mod.Store.write_unit = slow
sweep(sys.argv[1], sys.argv[2], config=SweepConfig(skills={skills!r}, n_examples=40), run="r",
      progress=False)
"""


def test_kill_and_resume_equals_uninterrupted(ckdir, reference, tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "child.py"
    script.write_text(_KILL_SCRIPT.format(skills=SKILLS))
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ckdir), str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    n = 0
    while time.time() < deadline and proc.poll() is None:
        db = out / "results.sqlite"
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
                    n = c.execute("SELECT COUNT(*) FROM units").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if n >= 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, f"child ended before the kill: {proc.stderr.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _units(out)
    assert 2 <= partial < 3 * len(SKILLS)
    assert (out / "results.lock").exists()  # left behind by the killed writer
    sweep(ckdir, out, config=CONFIG, run="r", progress=False)  # stale lock is taken over
    assert _units(out) == 3 * len(SKILLS)
    assert _table(out) == _table(reference)


def test_second_writer_gets_store_error(ckdir, reference):
    with Store(reference), pytest.raises(StoreError, match="Only one writer"):
        sweep(ckdir, reference, config=CONFIG, run="r", progress=False)


def test_dedupe_false_keeps_both_labels(tmp_path, write_series):
    root = write_series(tmp_path / "ck", seeds=(0, 1, 1))
    cfg = SweepConfig(skills=("add1",), n_examples=40)
    series = CheckpointSeries.from_dir(root, dedupe=False)  # duplicates show when loaded
    with pytest.warns(DuplicateCheckpointWarning, match=r"'step20'.*'step10'"):
        sweep(series, tmp_path / "run", config=cfg, run="r", progress=False)
    rows = _table(tmp_path / "run")
    assert {r["checkpoint"] for r in rows} == {"step0", "step10", "step20"}
    a = [
        (r["kind"], r["hook"], r["metric"], r["value"]) for r in rows if r["checkpoint"] == "step10"
    ]
    b = [
        (r["kind"], r["hook"], r["metric"], r["value"]) for r in rows if r["checkpoint"] == "step20"
    ]
    assert sorted(a) == sorted(b)


def test_batches_respect_both_caps():
    lengths = list(np.random.default_rng(0).integers(3, 30, 200))
    batches = _batches(lengths, batch_size=16, max_batch_tokens=100)
    assert sorted(np.concatenate(batches).tolist()) == list(range(200))
    for b in batches:
        assert len(b) <= 16
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 100


def test_token_capped_batches_give_same_activations(ckdir):
    ck = CheckpointSeries.from_dir(ckdir)[-1]
    model, tok = ck.load()
    bridge = load_bridge(model, tok)
    skill = get_skill("facts")
    enc = encode_skill(skill, skill.examples(30, seed=0), tok)
    hooks = ["hook_embed", "blocks.1.hook_resid_post"]
    a = capture(bridge, enc, hooks, batch_size=64)
    b = capture(bridge, enc, hooks, batch_size=64, max_batch_tokens=40)
    for h in hooks:
        np.testing.assert_allclose(a.acts[h], b.acts[h], atol=1e-5)
    for x, y in zip(a.token_logprob, b.token_logprob, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)
    with pytest.raises(HookNameError, match="blocks.1.hook_resid_post"):
        capture(bridge, enc, ["blocks.1.hook_resid_pots"])


def test_changed_probe_config_refits_from_the_activation_cache(
    ckdir, reference, tmp_path, monkeypatch
):
    cfg = replace(CONFIG, cache_dir=str(tmp_path / "cache"), memory_budget_mb=1.0)
    out = tmp_path / "run"
    sweep(ckdir, out, config=cfg, run="r", progress=False)
    # budget-sized batches and caching: the same numbers here, under the key of their packing
    # (packing can move values by ~1e-7, so it is keyed: issue 29)
    assert cfg.probe_key() != CONFIG.probe_key()
    assert _unkeyed(_table(out)) == _unkeyed(_table(reference))
    series = CheckpointSeries.from_dir(ckdir)
    files = sorted((tmp_path / "cache").rglob("*.safetensors"))
    assert len(files) == 3 * len(SKILLS)
    assert {f.parent.name for f in files} == set(series.fingerprints())

    def no_forward(*a, **k):
        raise AssertionError("forward pass despite a cached capture")

    monkeypatch.setattr(measure_mod, "capture", no_forward)
    calls = _spy_measure(monkeypatch)
    sweep(series, out, config=replace(cfg, probe_C=0.1), run="r", progress=False)
    assert len(calls) == 3 and all(todo == SKILLS for _, todo in calls)  # every unit refit
    rows = _table(out)
    # the new C's rows sit beside the old ones, which are untouched
    assert _unkeyed(r for r in rows if r["probe_key"] == cfg.probe_key()) == _unkeyed(
        _table(reference)
    )
    new_key = replace(cfg, probe_C=0.1).probe_key()
    assert new_key != cfg.probe_key() and {r["probe_key"] for r in rows} == {
        cfg.probe_key(),
        new_key,
    }

    def behavior(rows):
        return sorted(
            json.dumps(dict(r, probe_key=""), sort_keys=True)
            for r in rows
            if r["kind"] == "behavior"
        )

    assert behavior(r for r in rows if r["probe_key"] == new_key) == behavior(_table(reference))
    # threads, overlap and caching are not part of the unit key: nothing left to do
    calls.clear()
    sweep(series, out, config=replace(cfg, probe_C=0.1, overlap=False), run="r", progress=False)
    assert calls == [] and _table(out) == rows


def test_config_validation_and_round_trip():
    with pytest.raises(ConfigError, match="max_batch_tokens"):
        SweepConfig(skills=SKILLS, max_batch_tokens=0)
    with pytest.raises(ConfigError, match="memory_budget_mb"):
        SweepConfig(skills=SKILLS, memory_budget_mb=-1)
    with pytest.raises(ConfigError, match="Unknown sweep config key"):
        SweepConfig.from_dict({"skills": ["facts"], "n_exampels": 40})
    c = replace(CONFIG, hooks=("hook_embed",), cache_dir="x")
    assert SweepConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


@pytest.mark.slow
def test_rss_stays_flat_over_20_checkpoints(tmp_path, write_series, monkeypatch):
    psutil = pytest.importorskip("psutil")
    root = write_series(tmp_path / "ck", seeds=range(20), d_model=512)  # 6.3 MB of weights
    series = CheckpointSeries.from_dir(root)
    proc = psutil.Process()
    cfg = SweepConfig(skills=("add1",), n_examples=40)
    rss = []
    real = sweep_mod._sweep_one

    def measured(*a, **k):
        real(*a, **k)
        rss.append(proc.memory_info().rss)

    monkeypatch.setattr(sweep_mod, "_sweep_one", measured)
    sweep(series, tmp_path / "run", config=cfg, run="r", progress=False)
    assert len(rss) == 20
    growth = (rss[-1] - rss[0]) / 2**20  # a leaked model would add ~6 MiB each
    assert growth < 40, f"RSS grew {growth:.1f} MiB over 20 checkpoints: {rss}"


# ------------------------------------------------------------------------------ the CLI
def _cli(argv: list[str]) -> int:
    from curriculens.cli.main import main

    return main(argv)


def test_cli_sweep_resume_export(ckdir, reference, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["sweep", str(ckdir), "--out", str(out), "--skills", "facts,add1"]
    assert _cli([*argv, "--examples", "40", "--run", "r", "--dry-run"]) == 0
    text = capsys.readouterr().out
    series = CheckpointSeries.from_dir(ckdir)
    for c in series:  # nothing is loaded for a plan: fingerprints come with the first load
        assert c.label in text
    assert text.count("(on load)") == len(series)
    assert "facts@" in text and "add1@" in text
    assert "forward sequences" in text and "probe fits" in text
    assert not out.exists()  # a dry run writes nothing
    assert _cli([*argv, "--examples", "40", "--run", "r", "--quiet"]) == 0
    assert _table(out) == _table(reference)
    assert (out / "sweep.toml").exists() and (out / "sweep_config.json").exists()
    # resume with no flags: the saved config is reused, nothing is left to do
    assert _cli(["sweep", str(ckdir), "--out", str(out), "--run", "r", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "work left: 0 forward sequences, 0 probe fits" in text
    assert all(fp in text for fp in series.fingerprints())  # remembered from the sweep's loads
    for fmt in ("csv", "parquet"):
        assert _cli(["export", str(out), "--format", fmt, "-o", str(tmp_path / f"t.{fmt}")]) == 0
        assert json.loads((tmp_path / f"t.{fmt}.meta.json").read_text())["run:r"]["skills"]
    first = (tmp_path / "t.csv").read_bytes()
    _cli(["export", str(out), "-o", str(tmp_path / "t.csv")])
    assert (tmp_path / "t.csv").read_bytes() == first
    import pyarrow.parquet as pq

    from curriculens.analysis.table import with_selectivity

    with Store(reference, readonly=True) as s:  # the stored rows and their selectivity rows
        n_rows = len(with_selectivity(s))
    assert pq.read_table(tmp_path / "t.parquet").num_rows == n_rows > len(_table(reference))


def test_cli_toml_and_errors(ckdir, tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(
        f'out = "run"\n[series]\ndir = "{ckdir}"\n[sweep]\nskills = ["add1"]\nn_examples = 40\n'
    )
    assert _cli(["sweep", str(cfg), "--dry-run"]) == 0
    assert "add1@" in capsys.readouterr().out
    assert _cli(["sweep", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _cli(["sweep", str(tmp_path)]) == 2  # not named checkpoints/, so --out is needed
    assert "--out is required" in capsys.readouterr().err
    # a demo's checkpoints/ sweeps into its parent with the toy suite by default
    assert _cli(["sweep", str(ckdir), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert str(ckdir.parent / "results.sqlite") in text and "agreement_attractor@" in text
    cfg.write_text('[series]\ndir = "x"\nbogus = 1\n')
    assert _cli(["sweep", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key(s) ['bogus']" in capsys.readouterr().err
    assert _cli(["export", str(tmp_path / "nothing")]) == 2
    assert "No results store" in capsys.readouterr().err


def test_hub_series_sweeps_and_reports_duplicate_revisions(tmp_path, write_series, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = write_series(tmp_path / "repo", seeds=(5,)) / "step0"  # stands in for a hub repo
    series = CheckpointSeries.from_hub(str(repo), steps=[0, 100], tokens_per_step=64)
    cfg = SweepConfig(skills=("add1",), n_examples=40)
    with pytest.warns(DuplicateCheckpointWarning, match=r"'step100' is identical to 'step0'"):
        sweep(series, tmp_path / "run", config=cfg, run="r", progress=False)
    rows = _table(tmp_path / "run")
    assert {(r["checkpoint"], r["tokens"]) for r in rows} == {("step0", 0)}


def test_mdl_option_stores_one_compression_per_probe(ckdir, tmp_path, capsys):
    from curriculens.cli.main import main

    out = tmp_path / "mdl"
    argv = ["sweep", str(ckdir), "--out", str(out), "--skills", "add2", "--examples", "60"]
    assert main([*argv, "--mdl", "--quiet"]) == 0  # add2 is probed (add1 is behavior only)
    with Store(out, readonly=True) as s:
        mdl = s.rows(metric="mdl_compression")
        probes = s.rows(kind="probe", metric="probe_acc")
    assert len(mdl) == len(probes) == 3 * 3  # 3 checkpoints x (embed + 2 blocks)
    assert all(r["kind"] == "probe" and r["value"] > 0 and r["n"] == 60 for r in mdl)
    assert json.loads((out / "sweep_config.json").read_text())["mdl"] is True


def test_mdl_order_must_be_a_permutation():
    from curriculens.errors import ProbeError
    from curriculens.probes.mdl import mdl_online_codelength

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    a = mdl_online_codelength(X, y, order=np.arange(40))
    b = mdl_online_codelength(X[::-1].copy(), y[::-1].copy(), order=np.arange(40)[::-1])
    assert a.codelength_bits == pytest.approx(b.codelength_bits, rel=1e-5)
    with pytest.raises(ProbeError, match="permutation"):
        mdl_online_codelength(X, y, order=np.zeros(40, int))


def test_config_resolves_suites_files_layers_and_keys_dtype(tmp_path):
    from dataclasses import replace

    from curriculens.pipeline.config import default_skills, parse_layers
    from curriculens.skills import list_skills, unregister_skill

    core = tuple(s.name for s in list_skills("core-en"))
    cfg = SweepConfig(skills=("core-en", "add2", "en_capital"), layers="0-1", n_examples=40)
    assert cfg.skills == (*core, "add2")
    assert cfg.hooks == ("blocks.0.hook_resid_post", "blocks.1.hook_resid_post")
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    assert SweepConfig.from_dict({"skills": ["add2"], "layers": [1]}).hooks == (
        "blocks.1.hook_resid_post",
    )
    f32 = cfg.probe_key()
    assert replace(cfg, dtype="bfloat16").probe_key() != f32
    assert "dtype" not in cfg.probe_settings()  # float32 keys are those of earlier runs
    assert replace(cfg, hooks=("hook_embed",)).probe_key() != f32
    assert parse_layers("0,6,12") == (0, 6, 12) and parse_layers("0-3") == (0, 1, 2, 3)
    with pytest.raises(ConfigError, match="dtype"):
        SweepConfig(skills=("add2",), dtype="float64")
    assert default_skills(build_toy_tokenizer())[0] == "agreement"
    assert default_skills(None) == core
    path = tmp_path / "mine.jsonl"
    header = {
        "curriculens_skill": {
            "name": "mine_t",
            "version": 1,
            "format": "continuation",
            "label_names": ["a", "b"],
        }
    }
    rows = [{"prompt": f"Item {i} is", "target": "red", "label": i % 2} for i in range(30)]
    path.write_text("\n".join(json.dumps(r) for r in [header, *rows]))
    assert SweepConfig(skills=(str(path),)).skills == ("mine_t",)
    try:
        assert SweepConfig(skills=(str(path), "mine_t")).skills == ("mine_t",)  # loaded once
    finally:
        unregister_skill("mine_t")


def test_each_checkpoint_loads_once_and_a_resume_loads_none(ckdir, tmp_path, monkeypatch):
    loads = []
    real = Checkpoint.load
    monkeypatch.setattr(
        Checkpoint, "load", lambda self, **kw: loads.append(self.label) or real(self, **kw)
    )
    cfg = SweepConfig(skills=("add1",), n_examples=40)
    sweep(CheckpointSeries.from_dir(ckdir), tmp_path / "run", config=cfg, run="r", progress=False)
    assert loads == ["step0", "step10", "step20"]
    sweep(CheckpointSeries.from_dir(ckdir), tmp_path / "run", config=cfg, run="r", progress=False)
    assert len(loads) == 3  # finished, unchanged files: fingerprints are remembered
    more = SweepConfig(skills=("add1", "add2"), n_examples=40)
    sweep(CheckpointSeries.from_dir(ckdir), tmp_path / "run", config=more, run="r", progress=False)
    assert len(loads) == 6  # work left: each loads once more


def test_skip_bad_lists_a_checkpoint_that_fails_to_load_during_the_sweep(tmp_path, write_series):
    root = write_series(tmp_path / "ck")
    cfg_path = root / "step10" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["num_hidden_layers"] = 3  # its weights no longer match: found when it loads
    cfg_path.write_text(json.dumps(cfg))
    series = CheckpointSeries.from_dir(root, skip_bad=True)
    assert [c.label for c in series] == ["step0", "step10", "step20"]
    with pytest.warns(BadCheckpointWarning, match="step10"):
        sweep(series, tmp_path / "run", config=CONFIG, run="r", progress=False)
    assert [d["label"] for d in series.meta["skipped"]] == ["step10"]
    assert {r["checkpoint"] for r in _table(tmp_path / "run")} == {"step0", "step20"}
    with pytest.raises(CheckpointError, match="'step10'.*missing"):
        sweep(CheckpointSeries.from_dir(root), tmp_path / "run2", config=CONFIG, progress=False)
