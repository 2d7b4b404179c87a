"""Issue 28's memory bounds: forwards without a key/value cache and the C heap trimmed after each
batch, each skill and each checkpoint's probe fits. Neither may change a stored value: a sweep
with them and one without store the same table, value for value."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import curriculens.activations as act_mod
import curriculens.pipeline.loading as loading_mod
import curriculens.pipeline.measure as measure_mod
from curriculens.activations import capture, encode_skill, load_bridge, resid_hooks, trim_heap
from curriculens.checkpoints import CheckpointSeries
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.skills import get_skill
from curriculens.store import Store

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ckdir(tmp_path_factory, write_series):
    return write_series(tmp_path_factory.mktemp("series") / "checkpoints", seeds=(0, 1))


def _table(out: Path) -> list[str]:
    """Every stored row (per-item outcomes too) and task vector as canonical JSON (NaN equal to
    NaN), in a canonical order."""
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
        vectors = s.vectors()
    for r in rows:
        r["items"] = None if r["items"] is None else r["items"].tolist()
    for v in vectors:
        v["data"] = np.asarray(v["data"]).tolist()
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in [*rows, *vectors])


def _old_ways(monkeypatch) -> list[str]:
    """Put back what the sweep did before issue 28: a key/value cache built in every forward,
    and no heap trims; returns the list the (now idle) trims are recorded in."""
    real = act_mod.forward_takes
    monkeypatch.setattr(act_mod, "forward_takes", lambda b, a: a != "use_cache" and real(b, a))
    calls: list[str] = []
    for mod in (act_mod, loading_mod, measure_mod):
        monkeypatch.setattr(mod, "trim_heap", lambda: calls.append("trim") or False)
    return calls


def test_released_memory_changes_no_stored_value(ckdir, tmp_path, monkeypatch):
    """Two checkpoints, a zero-shot and a few-shot skill (task vectors on): the table stored
    with the cache off and the heap trimmed equals, value for value, the one stored before."""
    config = SweepConfig(skills=("facts", "add1", "plural"), n_examples=40)
    trims = []
    real_trim = act_mod.trim_heap

    def counted():
        trims.append(1)
        return real_trim()

    uses = []
    real_run = None

    def spy_bridge(*a, **k):
        nonlocal real_run
        bridge = load_bridge(*a, **k)
        real_run = bridge.run_with_hooks

        def run(ids, **kw):
            uses.append(kw.get("use_cache"))
            return real_run(ids, **kw)

        bridge.run_with_hooks = run
        return bridge

    with monkeypatch.context() as m:
        for mod in (act_mod, loading_mod, measure_mod):
            m.setattr(mod, "trim_heap", counted)
        m.setattr(act_mod, "TRIM_FLOATS", 0)  # trim after every batch, however small
        m.setattr(measure_mod, "load_bridge", spy_bridge)
        sweep(ckdir, tmp_path / "new", config=config, run="r", progress=False)
    assert uses and all(u is False for u in uses)  # every forward, task vectors' included
    assert len(trims) >= 2 * 3 * 2  # after each batch and each skill of each checkpoint
    with monkeypatch.context() as m:
        idle = _old_ways(m)
        m.setattr(measure_mod, "load_bridge", spy_bridge)
        uses.clear()
        sweep(ckdir, tmp_path / "old", config=config, run="r", progress=False)
    assert uses and all(u is None for u in uses) and idle
    new, old = _table(tmp_path / "new"), _table(tmp_path / "old")
    assert len(new) == len(old) > 0
    assert new == old


def test_no_cache_forward_gives_the_same_capture(ckdir, monkeypatch):
    """One skill's capture, with and without the key/value cache: identical arrays."""
    model, tok = CheckpointSeries.from_dir(ckdir)[0].load()
    bridge = load_bridge(model, tok)
    skill = get_skill("add2")
    enc = encode_skill(skill, skill.examples(24, seed=3), tok)
    hooks = resid_hooks(model.config.num_hidden_layers)
    assert act_mod.forward_takes(bridge, "use_cache")
    new = capture(bridge, enc, hooks, batch_size=7)
    real = act_mod.forward_takes
    monkeypatch.setattr(act_mod, "forward_takes", lambda b, a: a != "use_cache" and real(b, a))
    old = capture(bridge, enc, hooks, batch_size=7)
    for h in hooks:
        np.testing.assert_array_equal(new.acts[h], old.acts[h])
    for a, b in zip(new.token_logprob, old.token_logprob, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(new.token_correct, old.token_correct, strict=True):
        np.testing.assert_array_equal(a, b)


def test_trim_heap_says_whether_it_trimmed():
    assert isinstance(trim_heap(), bool)
    assert trim_heap() == (act_mod._malloc_trim() is not None)


def test_cpu_forwards_are_capped_by_default_and_the_cap_moves_no_score(ckdir, tmp_path):
    """On CPU a forward holds at most CPU_PASS_FLOATS activation floats (tokens x (blocks + 1)
    x width) unless a cap or a memory budget is given (on a GPU no default cap); packing by a
    cap gives the same captures."""
    from types import SimpleNamespace

    cfg = CheckpointSeries.from_dir(ckdir)[0]
    smol = SimpleNamespace(d_model=576, n_layers=30, d_vocab=49152)
    base = SweepConfig(skills=("plural",), n_examples=24)
    assert (
        measure_mod._max_batch_tokens(base, smol)
        == 1879
        == measure_mod.cpu_batch_tokens(d_model=576, n_layers=30)
    )
    capped = SweepConfig(skills=("plural",), max_batch_tokens=99)
    assert measure_mod._max_batch_tokens(capped, smol) == 99
    budget = SweepConfig(skills=("plural",), memory_budget_mb=64.0)
    assert measure_mod._max_batch_tokens(budget, smol) == measure_mod.batch_tokens_for_budget(
        64.0, d_model=576, d_vocab=49152, n_layers=30
    )
    assert measure_mod._max_batch_tokens(replace(base, device="cuda"), smol) is None
    run = tmp_path / "run"  # the run's metadata says how its passes were packed
    sweep(ckdir, run, config=replace(base, n_examples=20), run="r", progress=False)
    with Store(run, readonly=True) as s:
        meta = s.get_meta("run:r")
    assert meta["forward_passes"].startswith("at most 64 sequences and ")
    assert "padded tokens (the CPU default for" in meta["forward_passes"]
    model, tok = cfg.load()
    bridge = load_bridge(model, tok)
    skill = get_skill("plural")  # few-shot: the longest prompts of the toy world
    enc = encode_skill(skill, skill.examples(24, seed=3), tok)
    hooks = resid_hooks(model.config.num_hidden_layers)
    whole = capture(bridge, enc, hooks, batch_size=64)
    capped = capture(
        bridge, enc, hooks, batch_size=64, max_batch_tokens=3 * max(map(len, enc.seqs))
    )
    for h in hooks:
        np.testing.assert_allclose(capped.acts[h], whole.acts[h], rtol=1e-5, atol=1e-5)
    for a, b in zip(capped.token_logprob, whole.token_logprob, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(capped.token_correct, whole.token_correct, strict=True):
        np.testing.assert_array_equal(a, b)
