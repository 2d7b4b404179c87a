"""What a sweep stores beside every probe: the control as the mean and SD of its draws, the test
set's chance, and a lexical baseline (a probe on the prompt's mean input embeddings) per skill."""

from __future__ import annotations

import numpy as np
import pytest

from curriculens.pipeline.config import SweepConfig
from curriculens.probes.controls import CONTROL_DRAWS
from curriculens.probes.lexical import LEXICAL_HOOK, LEXICAL_METRIC
from curriculens.store import Store


def test_every_probe_has_mean_control_sd_chance_and_a_lexical_row(tiny_run):
    out, _, _ = tiny_run
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
        items = s.items()
    probes = [r for r in rows if r["kind"] == "probe" and r["metric"] == "probe_acc"]
    assert probes
    by = {(r["fingerprint"], r["skill"], r["hook"], r["metric"]): r for r in rows}
    for p in probes:
        key = (p["fingerprint"], p["skill"], p["hook"])
        ctrl, sd = by[(*key, "control_acc")], by[(*key, "control_sd")]
        chance = by[(*key, "chance")]
        assert sd["kind"] == "baseline" and sd["n"] == CONTROL_DRAWS
        assert len(sd["items"]) == CONTROL_DRAWS  # each draw's accuracy
        assert sd["value"] == pytest.approx(np.std(sd["items"], ddof=1), abs=1e-5)
        assert ctrl["value"] == pytest.approx(float(np.mean(sd["items"])), abs=1e-5)
        shares = np.asarray(ctrl["items"])  # per held-out item: the share of draws right
        assert len(shares) == len(p["items"]) and shares.min() >= 0 and shares.max() <= 1
        assert shares.mean() == pytest.approx(ctrl["value"], abs=1e-5)
        test = [int(i["label"]) for i in items if i["skill"] == p["skill"] and i["split"] == "test"]
        assert chance["value"] == pytest.approx(np.bincount(test).max() / len(test))
    skills = {p["skill"] for p in probes}
    fps = {p["fingerprint"] for p in probes}
    lexical = [r for r in rows if r["metric"] == LEXICAL_METRIC]
    got = {(r["fingerprint"], r["skill"]) for r in lexical}
    assert got == {(f, k) for f in fps for k in skills}
    for r in lexical:
        assert r["kind"] == "baseline" and r["hook"] == LEXICAL_HOOK and r["layer"] is None
        assert 0.0 <= r["value"] <= 1.0 and len(r["items"]) == r["n"] > 0


def test_probe_key_names_the_control_draws():
    settings = SweepConfig(skills=("facts",)).probe_settings()
    assert settings["control_draws"] == CONTROL_DRAWS and settings["control_version"] == 5
