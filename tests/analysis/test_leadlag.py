"""Tests of curriculens.analysis.leadlag: planted representation leads are found, none invented."""

from __future__ import annotations

import numpy as np
import pytest

from curriculens.analysis.leadlag import lead_lag
from curriculens.errors import ConfigError
from curriculens.reporting.formatting import format_lead_lag
from curriculens.store import Row, Store

TOKENS = [0] + [2**k * 1_000_000 for k in range(11)]  # 12 checkpoints
HOOKS = ["hook_embed"] + [f"blocks.{i}.hook_resid_post" for i in range(3)]


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _store(path, *, probe_mid: float, behavior_mid: float = 7.0, seed: int = 0, items=True):
    """Skill 'toyskill': behavior rises at checkpoint behavior_mid; layer 2 probe at probe_mid."""
    rng = np.random.default_rng(seed)
    n_b, n_p = 300, 300
    idx = np.arange(len(TOKENS))
    with Store(path) as s:
        for j, tok in enumerate(TOKENS):
            meta = dict(
                run="toy",
                checkpoint=f"c{j}",
                step=j,
                tokens=tok,
                fingerprint=f"f{j}",
                skill="toyskill",
                skill_version=1,
                skill_hash="h",
            )
            pb = 0.02 + 0.9 * _sig(2.0 * (idx[j] - behavior_mid))
            b = (rng.random(n_b) < pb).astype(np.float32)
            rows = [
                Row(
                    **meta,
                    kind="behavior",
                    hook="",
                    layer=-1,
                    metric="exact_match",
                    value=float(b.mean()),
                    n=n_b,
                    items=b if items else None,
                )
            ]
            for lay, hook in enumerate(HOOKS):
                mid = probe_mid if lay == 2 else probe_mid + 2 + lay  # layer 2 is best and first
                gain = 0.4 if lay == 2 else 0.25
                pp = 0.55 + gain * _sig(2.0 * (idx[j] - mid))
                p = (rng.random(n_p) < pp).astype(np.float32)
                ctrl = (rng.random(n_p) < 0.5).astype(np.float32)
                rows += [
                    Row(**meta, kind="probe", hook=hook, layer=lay, metric="acc",
                        value=float(p.mean()), n=n_p, items=p if items else None),
                    Row(**meta, kind="control", hook=hook, layer=lay, metric="acc",
                        value=float(ctrl.mean()), n=n_p, items=ctrl if items else None),
                    Row(**meta, kind="baseline", hook=hook, layer=lay, metric="majority",
                        value=0.5, n=n_p),
                ]  # fmt: skip
            s.write_unit("toy", f"f{j}", "u", f"c{j}", rows)


def _by_rep(results):
    return {r.representation: r for r in results}


def test_detects_planted_representation_lead(tmp_path):
    _store(tmp_path / "lead", probe_mid=3.0)
    res = _by_rep(lead_lag(tmp_path / "lead", n_boot=300))
    assert set(res) == {"probe", "selectivity", "gain"}
    for r in res.values():
        assert r.skill == "toyskill" and r.layer == 2 and r.hook == "blocks.1.hook_resid_post"
        assert r.verdict == "leads", r
        assert r.lead_tokens > 0 and r.lo > 0 and r.lead_log10 > 0.5
        assert r.first_layer == 2
        assert r.layers[2] < r.layers[3]
        assert r.n_boot == 300 and r.censored == 0.0
    assert res["gain"].behavior_tokens in (TOKENS[7], TOKENS[8])
    assert res["gain"].representation_tokens in (TOKENS[3], TOKENS[4])


def test_no_lead_where_none_is_planted(tmp_path):
    _store(tmp_path / "same", probe_mid=7.0, seed=1)
    for r in lead_lag(tmp_path / "same", n_boot=300):
        assert r.verdict == "together", r
        assert r.lo <= 0 <= r.hi


def test_representation_lag_is_detected(tmp_path):
    _store(tmp_path / "lag", probe_mid=7.0, behavior_mid=3.0, seed=2)
    res = _by_rep(lead_lag(tmp_path / "lag", n_boot=200, representations=["gain"]))
    assert res["gain"].verdict == "lags" and res["gain"].hi < 0


def test_point_only_without_items_and_table(tmp_path):
    _store(tmp_path / "noitems", probe_mid=3.0, items=False)
    res = lead_lag(tmp_path / "noitems", n_boot=100)
    assert all(r.n_boot == 0 and r.lo is None and r.verdict == "leads" for r in res)
    text = format_lead_lag(res)
    assert "toyskill" in text and "leads" in text


def test_bad_arguments(tmp_path):
    _store(tmp_path / "s", probe_mid=3.0, items=False)
    with pytest.raises(ConfigError, match="representations"):
        lead_lag(tmp_path / "s", representations=["raw"])
    with pytest.raises(ConfigError, match="run='nope'"):
        lead_lag(tmp_path / "s", run="nope")
    with pytest.raises(ConfigError, match="lack behavior or probe"):
        lead_lag(tmp_path / "s", skills=["other"])
