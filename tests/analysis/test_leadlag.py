"""Tests of curriculens.analysis.leadlag: planted leads are found, censoring is never a lead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.leadlag import VERDICTS, holm, lead_lag
from curriculens.errors import ConfigError
from curriculens.reporting.formatting import format_lead_lag
from curriculens.store import Row, Store

TOKENS = [0] + [2**k * 1_000_000 for k in range(11)]  # 12 checkpoints, log-spaced after 0
HOOKS = ["hook_embed"] + [f"blocks.{i}.hook_resid_post" for i in range(3)]
CHANCE = 0.05


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _skill_rows(meta, rng, j, *, behavior, probe, n, lexical=None):
    """Rows of one skill at checkpoint j: behavior (exact match and per-item log-probability of
    the target) and, per layer, probe and control correctness on the same held-out items; with
    ``lexical(j)``, the lexical baseline's accuracy and the test set's chance (0.5)."""
    mu = behavior(j)  # the target's probability
    lp = np.log(np.clip(mu * np.exp(rng.normal(0, 0.3, n)), 1e-6, 1.0)).astype(np.float32)
    em = (rng.random(n) < mu).astype(np.float32)
    rows = [
        Row(**meta, kind="behavior", hook="", layer=-1, metric="exact_match",
            value=float(em.mean()), n=n, items=em),
        Row(**meta, kind="behavior", hook="", layer=-1, metric="logprob",
            value=float(lp.mean()), n=n, items=lp),
    ]  # fmt: skip
    for lay, hook in enumerate(HOOKS, start=-1):  # TransformerLens block index; embed -1
        p_acc = probe(j, lay + 1)
        p = (rng.random(n) < p_acc).astype(np.float32)
        c = (rng.random(n) < 0.5).astype(np.float32)
        rows += [
            Row(**meta, kind="probe", hook=hook, layer=lay, metric="probe_acc",
                value=float(p.mean()), n=n, items=p),
            Row(**meta, kind="control", hook=hook, layer=lay, metric="control_acc",
                value=float(c.mean()), n=n, items=c),
        ]  # fmt: skip
    if lexical is not None:
        x = (rng.random(n) < lexical(j)).astype(np.float32)
        rows += [
            Row(**meta, kind="baseline", hook="lexical.embed_mean", metric="lexical_acc",
                value=float(x.mean()), n=n, items=x),
            Row(**meta, kind="baseline", hook=HOOKS[1], layer=0, metric="chance", value=0.5, n=n),
        ]  # fmt: skip
    return rows


def rising(mid, top=0.9, floor=0.001):
    return lambda j: floor + top * _sig(2.0 * (j - mid))


def probe_rising(mid, gain=0.45):
    """Layer 2 is the best layer; the others rise later and less."""
    return lambda j, lay: 0.5 + (gain if lay == 2 else 0.2) * _sig(2.0 * (j - mid - (lay != 2)))


def _store(path, skills: dict, *, seed=0, n=300, runs=("toy",), lexical=None):
    """skills: name -> (behavior(j), probe(j, layer)). Chance 0.05, continuation format.
    ``lexical``: name -> the lexical baseline's accuracy at checkpoint j."""
    rng = np.random.default_rng(seed)
    with Store(path) as s:
        s.set_meta(
            "skills",
            {k: {"primary_metric": "exact_match", "chance": CHANCE, "format": "continuation",
                 "family": "toy", "components": []} for k in skills},
        )  # fmt: skip
        for run in runs:
            for j, tok in enumerate(TOKENS):
                for skill, (behavior, probe) in skills.items():
                    meta = dict(run=run, checkpoint=f"c{j}", step=j, tokens=tok,
                                fingerprint=f"{run}{j}", skill=skill, skill_version=1,
                                skill_hash="h")  # fmt: skip
                    lex = (lexical or {}).get(skill)
                    rows = _skill_rows(
                        meta, rng, j, behavior=behavior, probe=probe, n=n, lexical=lex
                    )
                    s.write_unit(run, f"{run}{j}", skill, f"c{j}", rows)
    return path


def _one(results, skill="toyskill"):
    (r,) = [r for r in results if r.skill == skill]
    return r


def test_a_clear_lead_of_several_checkpoints_is_found(tmp_path):
    src = _store(tmp_path / "lead", {"toyskill": (rising(8), probe_rising(3))})
    r = _one(lead_lag(src, n_boot=300))
    assert r.verdict == "leads", r
    assert r.behavior_state == r.probe_state == "emerged"
    assert r.layer == 1 and r.hook == "blocks.1.hook_resid_post" and r.first_layer == 1
    assert r.lead_log10 > 1.0 and r.lo > 0 and r.hi >= r.lead_log10
    assert r.p_holm < 0.05 and r.n_boot == 300 and r.resampling == "items"
    assert r.behavior_metric == "target probability above chance 0.05"
    assert r.criterion == "paper-relative"


def test_a_lead_the_words_alone_reproduce_is_flagged_lexical(tmp_path):
    """The probe (best layer 0.5 -> 0.95) leads behavior; one lexical baseline rises with it
    (same checkpoints, to 0.93), one later and lower (to 0.70, as agreement_attractor's)."""
    skills = {"words": (rising(8), probe_rising(3)), "computed": (rising(8), probe_rising(3))}
    lexical = {
        "words": lambda j: 0.5 + 0.43 * _sig(2.0 * (j - 3)),
        "computed": lambda j: 0.5 + 0.2 * _sig(2.0 * (j - 3)),
    }
    src = _store(tmp_path / "lex", skills, lexical=lexical)
    got = {r.skill: r for r in lead_lag(src, n_boot=200)}
    words, computed = got["words"], got["computed"]
    assert words.verdict == computed.verdict == "leads"
    assert words.lexical is True and words.label == "leads (lexical)"
    assert words.lexical_tokens is not None and words.lexical_tokens <= 2 * words.probe_tokens
    assert computed.lexical is False and computed.label == "leads"
    assert words.to_json()["lexical"] is True
    plain = _one(lead_lag(_store(tmp_path / "none", {"toyskill": skills["words"]}), n_boot=0))
    assert plain.lexical is None  # no lexical rows stored: not measured, not "no"


def test_a_lexical_baseline_that_rises_two_checkpoints_late_is_not_flagged(tmp_path):
    from curriculens.analysis.criterion import Criterion
    from curriculens.analysis.curves import Curve
    from curriculens.analysis.leadlag import lexical_crossing

    crit = Criterion.of("paper-relative")
    t = np.array(TOKENS[1:], float)
    probe = Curve(tokens=t, values=np.where(np.arange(11) >= 4, 0.45, 0.0))
    s = crit.locate(t, probe.values)
    assert s.state == "emerged"
    for delay, flagged in ((-2, True), (0, True), (1, True), (2, False), (5, False)):
        lex = Curve(tokens=t, values=np.where(np.arange(11) >= 4 + delay, 0.45, 0.0))
        flag, at = lexical_crossing(crit, probe, s, lex)
        assert flag is flagged, delay
        assert at is not None
    low = Curve(tokens=t, values=np.where(np.arange(11) >= 4, 0.15, 0.0))  # never the level
    assert lexical_crossing(crit, probe, s, low) == (False, None)
    flat = crit.locate(t, np.zeros(11))
    assert lexical_crossing(crit, Curve(tokens=t, values=np.zeros(11)), flat, probe) == (
        False,
        None,
    )


def test_a_lag_is_found(tmp_path):
    src = _store(tmp_path / "lag", {"toyskill": (rising(3), probe_rising(8))}, seed=2)
    r = _one(lead_lag(src, n_boot=300))
    assert r.verdict == "lags" and r.lead_log10 < -1.0 and r.hi < 0


def test_identical_curves_are_equivalent_or_inconclusive_never_a_lead(tmp_path):
    for seed in range(3):
        src = _store(
            tmp_path / f"same{seed}", {"toyskill": (rising(6), probe_rising(6))}, seed=seed
        )
        r = _one(lead_lag(src, n_boot=300))
        assert r.verdict in ("equivalent", "inconclusive"), r
        assert r.lo < 0 < r.hi  # the checkpoint bracket alone spans zero


def test_probe_decodable_from_init_with_late_behavior_never_leads(tmp_path):
    at_init = lambda j, lay: 0.95  # noqa: E731 - decodable from the random-init model on
    src = _store(tmp_path / "init", {"toyskill": (rising(8), at_init)})
    r = _one(lead_lag(src, n_boot=300))
    assert r.verdict == "present_at_init" and r.probe_state == "present_at_init"
    assert r.behavior_state == "emerged" and r.lead_log10 is None
    assert r.lo is not None and r.lo > 0 and r.hi is None  # at least this early, no more known


def test_behavior_that_never_emerges_never_leads(tmp_path):
    never = lambda j: 0.001  # noqa: E731 - far below chance at every checkpoint
    src = _store(tmp_path / "never", {"toyskill": (never, probe_rising(4))})
    r = _one(lead_lag(src, n_boot=300))
    assert r.verdict == "not_emerged" and r.behavior_state == "not_emerged"
    assert r.probe_state == "emerged" and r.lead_log10 is None


def test_a_flat_noisy_probe_does_not_emerge(tmp_path):
    noise = lambda j, lay: 0.5  # noqa: E731 - probe at control level: no selectivity
    results = [
        _one(lead_lag(_store(tmp_path / f"n{seed}", {"toyskill": (rising(6), noise)}, seed=seed,
                             n=100), n_boot=200))
        for seed in range(20)
    ]  # fmt: skip
    # the best of 4 noise layers passes the detection gate at about the 5% level, no more...
    assert sum(r.probe_state != "not_emerged" for r in results) <= 2
    # ...and noise is never read as a lead or a lag
    assert not {r.verdict for r in results} & {"leads", "lags"}


def test_holm_across_skills_and_seeds_pooled(tmp_path):
    skills = {
        "aa_lead": (rising(8), probe_rising(3)),
        "bb_same": (rising(6), probe_rising(6)),
        "cc_init": (rising(7), lambda j, lay: 0.95),
    }
    src = _store(tmp_path / "many", skills, runs=("seed0", "seed1"), n=200)
    res = {r.skill: r for r in lead_lag(src, n_boot=300)}
    assert {r.run for r in res.values()} == {"seed0+seed1"}
    assert res["aa_lead"].verdict == "leads" and res["aa_lead"].runs == ("seed0", "seed1")
    assert res["bb_same"].verdict in ("equivalent", "inconclusive")
    assert res["cc_init"].verdict == "present_at_init"
    # two tested skills: each adjusted p is at least its raw two-sided p
    raw = min(1.0, 2 * min(res["aa_lead"].p_lead, res["aa_lead"].p_lag))
    assert res["aa_lead"].p_holm >= raw
    assert res["cc_init"].p_holm is None  # censored skills are not tested
    one = _one(lead_lag(src, run="seed1", n_boot=100), "aa_lead")
    assert one.run == "seed1" and one.verdict == "leads"


def test_holm_adjustment():
    assert holm([0.01, 0.04, None, 0.03]) == [0.03, 0.06, None, 0.06]
    assert holm([0.5, 0.5]) == [1.0, 1.0]
    assert holm([]) == []


def test_point_only_without_resamples_is_never_a_verdict_beyond_inconclusive(tmp_path):
    src = _store(tmp_path / "pt", {"toyskill": (rising(8), probe_rising(3))})
    r = _one(lead_lag(src, n_boot=0))
    assert r.verdict == "inconclusive" and r.n_boot == 0 and r.p_holm is None
    assert r.lead_log10 > 1.0  # the point is there; the test is not
    text = format_lead_lag([r])
    assert "toyskill" in text and "inconclusive" in text


def _csv_curves(tmp_path, *, with_n: bool):
    rows = []
    for j, tok in enumerate(TOKENS[1:], start=1):
        b = 0.9 * _sig(2.0 * (j - 8))
        p = 0.5 + 0.45 * _sig(2.0 * (j - 3))
        n = {"n": 2000} if with_n else {}
        rows += [
            dict(model="ext", tokens=tok, task="t", kind="behavior", layer=None, score=b, **n),
            dict(model="ext", tokens=tok, task="t", kind="probe", layer=4, score=p, **n),
            dict(model="ext", tokens=tok, task="t", kind="control", layer=4, score=0.5, **n),
        ]
    path = tmp_path / f"curves_{with_n}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_lead_lag_on_imported_curves(tmp_path):
    r = _one(lead_lag(_csv_curves(tmp_path, with_n=True), n_boot=300), "t")
    assert r.verdict == "leads" and r.resampling == "binomial" and r.hook == "layer4"
    r = _one(lead_lag(_csv_curves(tmp_path, with_n=False), n_boot=300), "t")
    assert r.verdict == "inconclusive" and r.resampling == "none" and r.lead_log10 > 1.0


def test_bad_arguments(tmp_path):
    src = _store(tmp_path / "s", {"toyskill": (rising(8), probe_rising(3))}, n=30)
    with pytest.raises(ConfigError, match="run='nope'"):
        lead_lag(src, run="nope")
    with pytest.raises(ConfigError, match="lack behavior, probe or control"):
        lead_lag(src, skills=["other"])
    with pytest.raises(ConfigError, match="Unknown emergence criterion"):
        lead_lag(src, criterion="halfmax")
    with pytest.raises(ConfigError, match="n_boot"):
        lead_lag(src, n_boot=-1)
    assert set(VERDICTS) == {
        "leads", "lags", "equivalent", "inconclusive", "present_at_init", "not_emerged"
    }  # fmt: skip
