"""Task vectors: shuffled-demonstration controls, and the vectors a sweep stores for few-shot
core-en skills on a tiny local GPT-NeoX series (on by default, off with --no-task-vectors,
resumable)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from curriculens.cli.main import main
from curriculens.errors import ConfigError
from curriculens.pipeline.config import SweepConfig
from curriculens.probes.splits import draw_items
from curriculens.skills.registry import get_skill
from curriculens.store import Store
from curriculens.taskvectors import control_examples, prompt_subset

SKILLS = "en_icl_uppercase,en_icl_plural,en_icl_plural_upper,en_capital"
FEW_SHOT = {"en_icl_uppercase", "en_icl_plural", "en_icl_plural_upper"}


def _demos(prompt: str) -> list[tuple[str, str]]:
    """(input, output) of each demonstration line of a k-shot prompt (the last line is the
    query)."""
    return [tuple(line.split(" -> ")) for line in prompt.split("\n")[:-1]]


def test_controls_shuffle_the_outputs_among_the_demonstrations():
    items = draw_items(get_skill("en_icl_plural"), 40, seed=0)
    idx = prompt_subset(items, seed=0)
    controls = control_examples(items, idx, seed=0)
    assert controls == control_examples(items, idx, seed=0)  # seeded, deterministic
    moved = 0
    for i, ctrl in zip(idx, controls, strict=True):
        orig = items.examples[i]
        assert ctrl.prompt.split("\n")[-1] == orig.prompt.split("\n")[-1]  # the same query
        assert ctrl.target == orig.target and ctrl.label == orig.label
        assert ctrl.prompt[ctrl.read_from :] == orig.prompt[orig.read_from :]
        before, after = _demos(orig.prompt), _demos(ctrl.prompt)
        assert [x for x, _ in after] == [x for x, _ in before]  # same inputs, same order
        assert sorted(y for _, y in after) == sorted(y for _, y in before)  # same outputs ...
        assert all(a != b for (_, a), (_, b) in zip(after, before, strict=True))  # ... moved
        moved += 1
    assert moved == len(idx) == items.n  # 32 queries: all of them, under MAX_PROMPTS
    assert control_examples(items, idx, seed=1) != controls


def test_one_demonstration_takes_another_prompts_output():
    skill = replace(get_skill("en_icl_uppercase"), shots=1)
    items = draw_items(skill, 40, seed=0)
    idx = prompt_subset(items, seed=0)
    controls = control_examples(items, idx, seed=0)
    outputs = [_demos(c.prompt)[0][1] for c in controls]
    own = [_demos(items.examples[i].prompt)[0][1] for i in idx]
    assert outputs == own[1:] + own[:1]


def test_a_skill_without_demonstrations_has_no_controls():
    items = draw_items(get_skill("en_capital"), 40, seed=0)
    with pytest.raises(ValueError, match="not few-shot"):
        control_examples(items, [0], seed=0)


def test_the_setting_is_checked():
    with pytest.raises(ConfigError, match="task_vectors"):
        SweepConfig(skills=("facts",), task_vectors="yes")
    assert SweepConfig.from_dict({"skills": ["facts"]}).task_vectors is True


@pytest.fixture(scope="module")
def icl_series(tmp_path_factory, bpe_tokenizer, write_tiny_neox):
    """Three tiny random GPT-NeoX checkpoints (steps 0, 10, 20) with the BPE tokenizer."""
    root = tmp_path_factory.mktemp("icl_series") / "checkpoints"
    for i in range(3):
        d = write_tiny_neox(root / f"step{10 * i}", bpe_tokenizer, seed=i)
        (d / "curriculens_checkpoint.json").write_text(
            json.dumps({"step": 10 * i, "tokens": 640 * i})
        )
    return root


def _sweep(series, out, *flags):
    args = ["sweep", str(series), "--out", str(out), "--skills", SKILLS, "--examples", "20"]
    assert main([*args, "--quiet", *flags]) == 0


def _vectors(out) -> list[dict]:
    with Store(out, readonly=True) as s:
        return s.vectors()


def _units(out) -> set[str]:
    with sqlite3.connect(out / "results.sqlite") as c:
        return {u for (u,) in c.execute("SELECT unit FROM units")}


@pytest.mark.slow
def test_a_sweep_stores_each_few_shot_skills_vectors(icl_series, tmp_path):
    out = tmp_path / "run"
    _sweep(icl_series, out)
    rows = _vectors(out)
    hooks = ["hook_embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    keys = {(r["skill"], r["hook"], r["tokens"]) for r in rows}
    assert keys == {(s, h, t) for s in FEW_SHOT for h in hooks for t in (0, 640, 1280)}
    assert len(rows) == len(keys)
    for r in rows:
        assert r["dim"] == 32 and r["variant"] == "resid" and r["n"] == 20
        if r["hook"] == "hook_embed":  # both prompts end on '->': no direction there
            assert r["norm"] == 0.0
        else:
            assert r["norm"] > 0
            assert np.linalg.norm(r["data"]) == pytest.approx(1.0, abs=1e-5)
    # the skills differ in direction (and a checkpoint differs from another)
    at = {(r["skill"], r["tokens"]): r["data"] for r in rows if r["hook"] == hooks[2]}
    assert abs(float(at["en_icl_plural", 640] @ at["en_icl_uppercase", 640])) < 0.999
    assert abs(float(at["en_icl_plural", 640] @ at["en_icl_plural", 1280])) < 0.999
    # a second sweep writes nothing new; a second run dir gives the same vectors
    _sweep(icl_series, out)
    assert len(_vectors(out)) == len(rows)
    again = tmp_path / "again"
    _sweep(icl_series, again)
    for a, b in zip(rows, _vectors(again), strict=True):
        assert (a["skill"], a["hook"], a["tokens"]) == (b["skill"], b["hook"], b["tokens"])
        np.testing.assert_array_equal(a["data"], b["data"])
    # predict reads them (random weights: every curve is flat, so no score is defined)
    assert main(["predict", str(out), "--json"]) in (0, 2)


@pytest.mark.slow
def test_no_task_vectors_skips_them_and_a_later_sweep_adds_them(icl_series, tmp_path):
    out = tmp_path / "run"
    _sweep(icl_series, out, "--no-task-vectors")
    assert _vectors(out) == []
    assert not any(u.endswith("|tv1") for u in _units(out))
    assert json.loads((out / "sweep_config.json").read_text())["task_vectors"] is False
    _sweep(icl_series, out, "--no-task-vectors")  # nothing left to do
    assert _vectors(out) == []
    with Store(out, readonly=True) as s:
        scores = s.count()
    _sweep(icl_series, out)  # a resume without the flag keeps the run's setting
    assert _vectors(out) == []
    # --task-vectors computes them, for the few-shot units only
    _sweep(icl_series, out, "--task-vectors")
    assert {r["skill"] for r in _vectors(out)} == FEW_SHOT
    with Store(out, readonly=True) as s:
        assert s.count() == scores  # the same score rows, rewritten in place
    assert {u.split("@")[0] for u in _units(out) if u.endswith("|tv1")} == FEW_SHOT


def test_head_contributions_add_up_to_the_attention_output(tiny_model_dir):
    """Each head's output z_h W_O^h at the read position sums (with b_O) to the layer's
    attention output, the answer's log-probability matches the sweep's capture, and patching a
    head changes it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curriculens.activations import capture, encode_skill, load_bridge
    from curriculens.taskvectors import _z_forward, head_effects

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    bridge = load_bridge(model, tok)
    skill = get_skill("en_icl_plural")
    items = draw_items(skill, 40, seed=0)
    idx = prompt_subset(items, seed=0)
    icl = encode_skill(skill, [items.examples[i] for i in idx], tok)
    ctl = encode_skill(skill, control_examples(items, idx, seed=0), tok)
    z, lp = _z_forward(bridge, ctl, 2, 16)
    cap = capture(bridge, ctl, ["blocks.1.attn.hook_out"], batch_size=16)
    attn = bridge.blocks[1].attn
    rebuilt = np.einsum("nhd,hdm->nm", z[1], attn.W_O.detach().numpy()) + attn.b_O.detach().numpy()
    np.testing.assert_allclose(rebuilt, cap.acts["blocks.1.attn.hook_out"], atol=1e-5)
    np.testing.assert_allclose(lp, [x[0] for x in cap.token_logprob], atol=1e-5)
    _, patched = _z_forward(bridge, ctl, 0, 16, patch=(1, 0, torch.zeros(16)))
    assert np.abs(patched - lp).max() > 1e-4
    diff, effect = head_effects(bridge, icl, ctl, batch_size=16)
    assert diff.shape == (2, 2, 32) and effect.shape == (2, 2)
    assert np.isfinite(effect).all() and np.abs(effect).max() > 0


@pytest.mark.slow
def test_the_head_variant_is_stored_beside_the_residual_one(icl_series, tmp_path, capsys):
    out = tmp_path / "run"
    _sweep(icl_series, out, "--task-vector-heads", "2")
    heads = [r for r in _vectors(out) if r["variant"] == "heads"]
    assert {(r["skill"], r["tokens"]) for r in heads} == {
        (s, t) for s in FEW_SHOT for t in (0, 640, 1280)
    }
    assert all(r["hook"] == "attn.top2_heads" and r["layer"] == -1 for r in heads)
    assert all(np.linalg.norm(r["data"]) == pytest.approx(1.0, abs=1e-5) for r in heads)
    assert {u.split("@")[0] for u in _units(out) if u.endswith("|tv1h2")} == FEW_SHOT
    with pytest.raises(SystemExit) as e:  # argparse's one-line usage error
        main(["sweep", str(icl_series), "--out", str(tmp_path / "x"), "--task-vector-heads", "-1"])
    assert e.value.code == 2 and "--task-vector-heads: -1 is too small" in capsys.readouterr().err
