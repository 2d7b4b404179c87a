"""Tests of curriculens.toy.optimize: strategies on synthetic maps, the CLI, a very short verify."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curriculens.analysis.curriculum import SkillEmergence
from curriculens.cli.main import main
from curriculens.errors import ConfigError, CurriculensError
from curriculens.skills.registry import get_skill
from curriculens.store import Row, Store
from curriculens.toy.optimize import (
    Proposal,
    VerifyConfig,
    map_to_sources,
    propose,
    propose_staged,
    propose_upweight,
)
from curriculens.toy.optimize.verify import _evaluate, _phase_bounds

TOTAL = 1e6
BASE = {"copy": 0.3, "plural": 0.2, "copy_plural": 0.2, "facts": 0.3}


def _em(skill: str, tokens: float | None, final: float = 0.9) -> SkillEmergence:
    return SkillEmergence(
        skill=skill,
        family="",
        components=get_skill(skill).components,
        metric="m",
        behavior_final=final,
        behavior_tokens=tokens,
        probe_final=0.9,
        probe_step0=0.5,
        probe_tokens=None,
        probe_layer=0,
        selectivity_final=0.1,
    )


MAP = [_em("copy", 1e3), _em("facts", 3e4), _em("plural", 2e5), _em("copy_plural", None, 0.1)]


def _changed(p: Proposal) -> list[str]:
    return [s for s in p.baseline if abs(p.proposed[s] - p.baseline[s]) > 1e-9]


# ------------------------------------------------------------------ strategies
def test_upweight_moves_late_skills_up_and_keeps_budget():
    p = propose_upweight(MAP, BASE, total_tokens=TOTAL)
    assert sum(p.proposed.values()) == pytest.approx(1.0)
    assert p.proposed["copy_plural"] > p.baseline["copy_plural"]  # never emerged
    assert p.proposed["plural"] > p.baseline["plural"]  # late
    assert p.proposed["copy"] < p.baseline["copy"]  # first to emerge pays
    # in proportion to delay: the multipliers are ordered like the emergence points
    ratio = {s: p.proposed[s] / p.baseline[s] for s in BASE}
    # (up to the median emergence, 3e4 here, a skill is not late and keeps multiplier 1)
    assert ratio["copy"] == pytest.approx(ratio["facts"])
    assert ratio["facts"] < ratio["plural"] < ratio["copy_plural"]
    assert set(p.reasons) == set(BASE) and all(p.reasons[s] for s in _changed(p))
    assert p.targets[0] == "copy_plural" and "copy" not in p.targets
    assert len(p.phases) == 1 and p.phases[0].mixture == p.proposed


def test_upweight_cap_and_uncovered_sources():
    base = dict(BASE, agreement=0.1)
    p = propose_upweight(MAP, base, total_tokens=TOTAL, strength=20.0, max_share=0.3)
    assert max(p.proposed.values()) <= 0.3 + 1e-9
    assert sum(p.proposed.values()) == pytest.approx(1.0)
    assert "not in the curriculum map" in p.reasons["agreement"]
    assert "Capped" in p.reasons["copy_plural"]


def test_upweight_all_emerged_at_once_changes_nothing():
    flat = [_em(s, 1e3) for s in BASE]
    p = propose_upweight(flat, BASE, total_tokens=TOTAL)
    assert p.proposed == pytest.approx({k: v / sum(BASE.values()) for k, v in BASE.items()})
    assert p.targets == ()


def test_staged_front_loads_components_then_composites():
    p = propose_staged(MAP, BASE, total_tokens=TOTAL, split=0.4)
    (p1, p2) = p.phases
    base = p.baseline
    assert (p1.start, p1.end, p2.start, p2.end) == (0.0, 0.4, 0.4, 1.0)
    for ph in p.phases:
        assert sum(ph.mixture.values()) == pytest.approx(1.0)
    assert p1.mixture["copy"] > base["copy"] and p1.mixture["plural"] > base["plural"]
    assert p1.mixture["copy_plural"] < base["copy_plural"]
    assert p2.mixture["copy_plural"] > base["copy_plural"] > p1.mixture["copy_plural"]
    # the overall share is the token-weighted mean of the phases; the budget is fixed
    assert sum(p.proposed.values()) == pytest.approx(1.0)
    for s in base:
        assert p.proposed[s] == pytest.approx(0.4 * p1.mixture[s] + 0.6 * p2.mixture[s])
    assert p.targets == ("copy_plural",)
    assert "composite" in p.reasons["copy_plural"] and "component" in p.reasons["copy"]


def test_staged_split_from_map_and_errors():
    p = propose_staged(MAP, BASE, total_tokens=TOTAL)
    assert 0.2 <= p.phases[0].end <= 0.5
    with pytest.raises(CurriculensError, match="composite"):
        propose_staged(
            [_em("copy", 1e3), _em("facts", 1e4)], {"copy": 1, "facts": 1}, total_tokens=1
        )
    with pytest.raises(ConfigError, match="boost"):
        propose_staged(MAP, BASE, total_tokens=TOTAL, boost=0.5)


def test_empty_map_and_disjoint_mixture_are_errors():
    with pytest.raises(CurriculensError, match="empty"):
        propose_upweight([], BASE, total_tokens=TOTAL)
    with pytest.raises(ConfigError, match="source"):
        propose_upweight(MAP, {"add2": 1.0}, total_tokens=TOTAL)


def test_map_to_sources():
    p = propose_upweight(MAP, BASE, total_tokens=TOTAL)
    smap = {"copy": "code", "copy_plural": "code", "plural": "web", "facts": "wiki"}
    out = map_to_sources(p, smap, {"code": 0.5, "web": 0.3, "wiki": 0.1, "books": 0.1})
    assert sum(out["proposed"].values()) == pytest.approx(1.0, abs=1e-3)
    assert out["factor"]["books"] == 1.0 and out["skills"]["code"] == ["copy", "copy_plural"]
    assert out["proposed"]["web"] > out["baseline"]["web"]  # plural is late
    assert out["proposed"]["wiki"] < out["baseline"]["wiki"]
    default = map_to_sources(p, smap)  # weights default to the summed toy shares
    assert default["baseline"]["code"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="brackets"):
        map_to_sources(p, {"brackets": "code"})


def test_verify_config_and_phase_bounds():
    assert VerifyConfig(steps=1000).eval_steps()[:2] == [0, 31]
    assert VerifyConfig(steps=1000).eval_steps()[-1] == 1000
    with pytest.raises(ConfigError, match="seeds"):
        VerifyConfig(seeds=0)
    p = propose_staged(MAP, BASE, total_tokens=TOTAL, split=0.25)
    bounds = _phase_bounds(p, 100, p.baseline)
    assert [b[0] for b in bounds] == [25, 100]
    assert _phase_bounds(None, 100, p.baseline) == [[100, p.baseline]]


# ------------------------------------------------------------------ a synthetic run on disk
CURVES = {  # skill -> behavior score per checkpoint
    "copy": [0.0, 0.9, 0.95, 0.95, 0.96],
    "facts": [0.0, 0.1, 0.85, 0.9, 0.9],
    "plural": [0.0, 0.0, 0.2, 0.85, 0.9],
    "copy_plural": [0.0, 0.0, 0.0, 0.1, 0.2],
}
TOKENS = [0, 1000, 10000, 100000, 1000000]


def _synthetic_run(path, with_config: bool = True):
    with Store(path) as store:
        for skill, values in CURVES.items():
            sk = get_skill(skill)
            for t, v in zip(TOKENS, values, strict=True):
                row = Row(
                    run="r",
                    checkpoint=f"step{t}",
                    step=t,
                    tokens=t,
                    fingerprint=f"f{t}",
                    skill=skill,
                    skill_version=sk.version,
                    skill_hash=sk.content_hash,
                    kind="behavior",
                    hook="",
                    layer=-1,
                    metric=sk.primary_metric,
                    value=v,
                    n=10,
                )
                store.write_unit("r", f"f{t}", skill, f"step{t}", [row])
    if with_config:
        cfg = {"mixture": BASE, "d_model": 32, "n_heads": 2, "d_mlp": 64}
        cfg |= {"batch_size": 8, "seq_len": 32, "steps": 10}
        (path / "train_config.json").write_text(json.dumps(cfg))
    return path


def test_cli_json_shape(tmp_path, capsys):
    run = _synthetic_run(tmp_path / "run")
    assert main(["optimize", str(run), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"strategy", "baseline", "proposed", "reasons", "phases", "targets"} <= set(d)
    assert d["strategy"] == "upweight" and set(d["baseline"]) == set(BASE)
    assert sum(d["proposed"].values()) == pytest.approx(1.0, abs=1e-3)
    assert d["proposed"]["copy_plural"] > d["baseline"]["copy_plural"]
    assert d["baseline_source"] == "train_config.json"
    written = json.loads((run / "optimize" / "mixture_upweight.json").read_text())
    assert written == d["proposed"]


def test_cli_staged_text_and_source_map(tmp_path, capsys):
    run = _synthetic_run(tmp_path / "run", with_config=False)
    smap = tmp_path / "map.json"
    smap.write_text(json.dumps({"copy": "code", "copy_plural": "code", "plural": "web"}))
    assert main(["optimize", str(run), "--strategy", "staged", "--source-map", str(smap)]) == 0
    out = capsys.readouterr().out
    assert "phase 1" in out and "DEFAULT_MIXTURE" in out and "your data sources" in out
    plain = json.loads((run / "optimize" / "mixture_staged.json").read_text())
    assert set(plain) == {"code", "web"} and sum(plain.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["optimize", "{tmp}/nope"], "does not exist"),
        (["optimize", "{run}", "--strategy", "upweigth"], "Did you mean 'upweight'"),
        (["optimize", "{empty}"], "No results store"),
        (["optimize", "{run}", "--source-map", "{tmp}/missing.json"], "source-map"),
        (["optimize", "{run}", "--verify", "--train-config", "seed=3"], "--train-config"),
    ],
)
def test_cli_bad_input(tmp_path, capsys, args, message):
    run = _synthetic_run(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    fmt = {"tmp": tmp_path, "run": run, "empty": tmp_path / "empty"}
    assert main([a.format(**fmt) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_propose_reads_a_run(tmp_path):
    run = _synthetic_run(tmp_path / "run")
    p = propose(run, strategy="staged", split=0.3)
    assert p.targets == ("copy_plural",) and p.baseline_source == "train_config.json"


# ------------------------------------------------------------------ a very short verify
def test_in_loop_evaluation_leaves_the_trained_model_alone(tmp_path):
    from transformers import AutoTokenizer

    from curriculens.pipeline.run import SweepConfig
    from curriculens.pipeline.tracker import Tracker
    from curriculens.toy.corpus import build_toy_tokenizer
    from curriculens.toy.trainer import TrainConfig, build_model

    build_toy_tokenizer().save_pretrained(str(tmp_path / "tok"))
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    model = build_model(TrainConfig(d_model=32, n_heads=2, d_mlp=64), len(tok))
    before = [(n, tuple(p.shape)) for n, p in model.named_parameters()]
    tracker = Tracker(tmp_path, tok, config=SweepConfig(skills=("copy",), n_examples=20))
    try:
        _evaluate(tracker, model, step=0, tokens=0)
    finally:
        tracker.close()
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == before
    assert model.training


def test_short_staged_verify_switches_phases(tmp_path, capsys):
    run = _synthetic_run(tmp_path / "run")
    argv = ["optimize", str(run), "--strategy", "staged", "--split", "0.5", "--verify", "--json"]
    argv += ["--seeds", "1", "--train-steps", "4", "--evals", "3", "--examples", "20"]
    argv += ["--skills", "copy_plural", "--jobs", "1", "--bootstrap", "10", "--quiet"]
    assert main(argv) == 0
    v = json.loads(capsys.readouterr().out)["verify"]
    assert v["proposal"]["strategy"] == "staged" and len(v["proposal"]["phases"]) == 2
    assert v["skills"]["copy_plural"]["target"] is True
    summary = json.loads((run / "optimize/verify_staged/proposed_seed0/summary.json").read_text())
    assert summary["phase_steps"] == [2, 4]


def test_short_verify_report_structure(tmp_path, capsys):
    run = _synthetic_run(tmp_path / "run")
    argv = ["optimize", str(run), "--verify", "--json", "--seeds", "1", "--train-steps", "6"]
    argv += ["--evals", "3", "--examples", "20", "--skills", "copy,plural", "--jobs", "1"]
    argv += ["--bootstrap", "20", "--quiet"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    v = d["verify"]
    assert v["seeds"] == [0] and v["tokens_per_run"] == 6 * 8 * 32
    assert set(v["skills"]) == {"copy", "plural"}
    r = v["skills"]["copy"]
    for key in (
        "emergence_shift",
        "emergence_shift_ci",
        "emergence_verdict",
        "final_change",
        "final_change_ci",
        "worse",
        "censored_seeds",
    ):
        assert key in r
    assert len(r["emergence_shift_ci"]) == 2
    loss = v["loss"]["heldout_baseline_mix"]
    assert np.isfinite(loss["baseline"]) and np.isfinite(loss["change"])
    assert set(v["loss"]["by_source"]) == set(BASE)
    assert isinstance(v["helped"], bool) and isinstance(v["worse"], list)
    assert v["headline"].startswith(("Helped", "Did not help", "Not tested", "Nothing"))
    md = (run / "optimize" / "verify_upweight.md").read_text()
    assert "| copy" in md and "Held-out loss" in md
    assert (run / "optimize" / "verify_upweight.json").exists()
