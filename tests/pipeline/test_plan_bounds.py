"""Work bounded by the data and the machine: examples capped to a skill's pool at plan time, a
plan that would not fit in memory refused with its estimate, and the sweep's thread choice."""

from __future__ import annotations

import json

import pytest
import torch

import curriculens.pipeline.plan as plan_mod
from curriculens.checkpoints import CheckpointSeries
from curriculens.errors import ConfigError
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.plan import (
    POOL_PROBE,
    check_plan_memory,
    dry_run_text,
    examples_cap,
    plan_sweep,
    skill_items,
    skill_pool,
    sweep_threads,
)
from curriculens.pipeline.run import evaluate_model, sweep
from curriculens.probes.splits import draw_items
from curriculens.skills.registry import get_skill
from curriculens.store import Store

torch.set_num_threads(1)
HUGE = 100_000_000


def test_a_request_within_the_probe_draw_is_never_capped_or_redrawn():
    facts = get_skill("facts")
    config = SweepConfig(skills=("facts",), n_examples=300)
    assert examples_cap(facts, config) is None
    assert skill_items(facts, config).examples == draw_items(facts, 300).examples


def test_a_huge_request_is_capped_to_the_pool_before_anything_is_generated(monkeypatch):
    asked, real = [], plan_mod.draw_items
    plan_mod._drawn_items.cache_clear()  # so this test sees every draw
    plan_mod._pool_items.cache_clear()
    monkeypatch.setattr(
        plan_mod, "draw_items", lambda s, n, **k: asked.append(n) or real(s, n, **k)
    )
    facts = get_skill("facts")
    config = SweepConfig(skills=("facts",), n_examples=HUGE)
    pool = skill_pool(facts, 0)
    assert pool is not None and pool < POOL_PROBE
    assert examples_cap(facts, config) == pool
    items = skill_items(facts, config)
    assert asked and max(asked) == POOL_PROBE  # never the 100 million asked
    assert items.n == pool and items.requested == HUGE and items.exhausted
    assert items.examples == draw_items(facts, POOL_PROBE).examples
    assert f"{HUGE} examples asked; using {pool}" in items.shortfall()
    assert skill_items(facts, config) is items  # one item set per request: encoded once


def test_a_plan_beyond_memory_fails_with_the_estimate_before_any_item(monkeypatch):
    def no_draw(*a, **kw):
        raise AssertionError("items drawn before the memory check")

    monkeypatch.setattr(plan_mod, "_drawn_items", no_draw)
    plan = plan_sweep(SweepConfig(skills=("add2", "facts"), n_examples=HUGE))
    with pytest.raises(ConfigError) as e:
        check_plan_memory(plan)
    msg = str(e.value)
    assert "would hold" in msg and "GB of items" in msg and "available" in msg
    assert "not capped for add2" in msg and "Lower --examples" in msg
    assert "capped: --examples 100000000" in msg and "facts 48" in msg
    small = plan_sweep(SweepConfig(skills=("add2", "facts"), n_examples=300))
    assert check_plan_memory(small)["items"] == 2 * 300 * plan_mod.ITEM_BYTES
    capped = plan_sweep(SweepConfig(skills=("facts",), n_examples=HUGE))
    assert check_plan_memory(capped)["items"] == 48 * plan_mod.ITEM_BYTES  # its pool


def test_a_live_evaluation_checks_the_plan_too(toy_series, tmp_path):
    model, tok = CheckpointSeries.from_dir(toy_series)[0].load()
    config = SweepConfig(skills=("add2",), n_examples=HUGE)
    kw = dict(checkpoint="step0", step=0, tokens=0, run="r", fp="f0", progress=False)
    with Store(tmp_path / "run") as store, pytest.raises(ConfigError, match="would hold"):
        evaluate_model(model, tok, config, store=store, **kw)


def test_the_dry_run_says_what_it_capped_and_its_threads(toy_series, tmp_path):
    series = CheckpointSeries.from_dir(toy_series)
    text = dry_run_text(series, SweepConfig(skills=("facts",), n_examples=HUGE), tmp_path / "r")
    assert "capped: --examples 100000000 is above the pool" in text and "facts 48" in text
    assert "threads: " in text and "auto" in text
    # the CPU token cap from the series' own shape (2 blocks x 32 wide), or the one given
    assert "forward passes: at most 64 sequences and 349525 padded tokens (the CPU default " in text
    text = dry_run_text(series, SweepConfig(skills=("facts",), threads=2), tmp_path / "r")
    assert "threads: 2, set (threads=2)" in text and "capped" not in text
    text = dry_run_text(
        series, SweepConfig(skills=("facts",), max_batch_tokens=512), tmp_path / "r"
    )
    assert "forward passes: at most 64 sequences and 512 padded tokens (set)" in text
    with pytest.raises(ConfigError, match="at 3 hooks x 32 wide"):  # the series' own shape
        dry_run_text(series, SweepConfig(skills=("add2",), n_examples=HUGE), tmp_path / "r")


def test_auto_threads_take_the_free_physical_cores(monkeypatch):
    import psutil

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 8)
    monkeypatch.setattr(plan_mod.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    auto = SweepConfig(skills=("facts",))
    assert auto.threads == 0
    monkeypatch.setattr(plan_mod.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert sweep_threads(auto) == {"threads": 8, "chosen": "auto (every physical core, free)"}
    monkeypatch.setattr(plan_mod.os, "getloadavg", lambda: (5.4, 0.0, 0.0))
    assert sweep_threads(auto)["threads"] == 3
    monkeypatch.setattr(plan_mod.os, "getloadavg", lambda: (40.0, 0.0, 0.0))
    assert sweep_threads(auto)["threads"] == 1
    assert sweep_threads(SweepConfig(skills=("facts",), threads=5))["threads"] == 5


def test_the_sweep_records_its_threads_and_keeps_auto_for_a_resume(toy_series, tmp_path):
    caller = torch.get_num_threads()
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="capped: --examples 100000000"):
        sweep(toy_series, out, skills=["facts"], n_examples=HUGE, threads=1, progress=False)
    with Store(out, readonly=True) as s:
        meta = s.get_meta("run:run")
        assert meta["threads_chosen"] == "set (threads=1)" and meta["threads"]["torch"] == 1
        assert len(s.items(skill="facts")) == skill_pool(get_skill("facts"), 0)
    out2 = tmp_path / "auto"
    sweep(toy_series, out2, skills=["facts"], n_examples=40, progress=False)
    assert json.loads((out2 / "sweep_config.json").read_text())["threads"] == 0
    with Store(out2, readonly=True) as s:
        meta = s.get_meta("run:auto")
    assert meta["threads_chosen"].startswith("auto")
    assert meta["config"]["threads"] == meta["threads"]["torch"] >= 1
    assert torch.get_num_threads() == caller  # the caller's count, put back after each sweep
