"""Every value keyed by everything it depends on (issue 29, item 2): the weights' dtype, the
device class and the batch packing enter the settings key and the activation cache key, and
the "other configuration" note names what differs."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
import torch

from curriculens.analysis.table import load_table
from curriculens.errors import MixedResultsNote
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.run import sweep
from curriculens.store import Store

torch.set_num_threads(1)
BASE = SweepConfig(skills=("add2",), n_examples=40, task_vectors=False, overlap=False)


def _rows(run, key: str) -> list:
    with Store(run, readonly=True) as s:
        rows = [r for r in s.rows() if r["probe_key"] == key]
    keep = ("checkpoint", "skill", "kind", "hook", "metric", "value", "n")
    return sorted(tuple(r[k] for k in keep) for r in rows)


def test_float32_then_bfloat16_with_one_cache_equals_two_fresh_sweeps(toy_series, tmp_path):
    cache = str(tmp_path / "cache")
    f32, bf16 = replace(BASE, cache_dir=cache), replace(BASE, cache_dir=cache, dtype="bfloat16")
    assert f32.probe_key() != bf16.probe_key()
    shared = tmp_path / "shared"
    sweep(toy_series, shared, config=f32, run="r", progress=False)
    sweep(toy_series, shared, config=bf16, run="r", progress=False)
    fresh32, fresh16 = tmp_path / "fresh32", tmp_path / "fresh16"
    sweep(toy_series, fresh32, config=replace(f32, cache_dir=None), run="r", progress=False)
    sweep(toy_series, fresh16, config=replace(bf16, cache_dir=None), run="r", progress=False)
    assert _rows(shared, f32.probe_key()) == _rows(fresh32, f32.probe_key())
    assert _rows(shared, bf16.probe_key()) == _rows(fresh16, bf16.probe_key())
    # each dtype has its own activations in the cache (one per checkpoint and skill each)
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == 2 * 3
    # the note names the setting that differs
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        load_table(shared)
    notes = [str(w.message) for w in got if issubclass(w.category, MixedResultsNote)]
    assert notes and "dtype=float32" in notes[0] and "dtype=bfloat16" in notes[0], notes


@pytest.mark.parametrize(
    "change",
    [dict(dtype="bfloat16"), dict(max_batch_tokens=64), dict(batch_size=8),
     dict(memory_budget_mb=1.0), dict(device="cuda")],
)  # fmt: skip
def test_settings_that_move_values_change_the_key(change):
    assert replace(BASE, **change).probe_key() != BASE.probe_key()


def test_float32_cpu_default_packing_keeps_its_old_key():
    # the key of the defaults is the one stores written before these settings were keyed hold
    assert BASE.probe_settings().keys() == {
        "n_examples", "train_frac", "probe_C", "seed", "hooks", "mdl", "control_version",
        "control_draws", "split_version",
    }  # fmt: skip
    assert replace(BASE, threads=4, overlap=True).probe_key() == BASE.probe_key()
