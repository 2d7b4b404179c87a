"""Paper-mode function vectors and predictions against a separate implementation written here
from the paper's description (plain torch on the Hugging Face module, plain numpy), on a tiny
GPT-NeoX and a small store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from curriculens.analysis.fv import predict_trajectories
from curriculens.paper_vectors import batch_mean, paper_vector_rows, write_paper_vectors
from curriculens.probes.splits import draw_items
from curriculens.skills.registry import get_skill
from curriculens.store import Store

ELEMENTALS = ["en_icl_uppercase", "en_icl_plural", "en_icl_copy", "en_icl_first"]
COMPOSITE = "en_icl_plural_upper"
BASE = dict(run="tiny", checkpoint="final", step=7, tokens=700, fingerprint="fp", probe_key="k")


def _correct_masks(items_of):
    """Which items count as correct: 25 for most skills, 13 for one (fewer than 20: a short
    last batch), chosen at random."""
    rng = np.random.default_rng(5)
    out = {}
    for name, items in items_of.items():
        k = 13 if name == "en_icl_copy" else min(25, items.n)
        mask = np.zeros(items.n, bool)
        mask[rng.choice(items.n, k, replace=False)] = True
        out[name] = mask
    return out


def _by_hand_vector(model, tok, items, mask, n=20, batch=4):
    """The paper's recipe: the input of the last layer's output projection at the last prompt
    token, each head's slice times its columns of the projection, averaged as the mean of
    4-prompt batch means over the first 20 correct prompts, summed over heads, normalised."""
    dense = model.gpt_neox.layers[-1].attention.dense
    n_heads = model.config.num_attention_heads
    d = model.config.hidden_size
    dh = d // n_heads
    grabbed = {}
    handle = dense.register_forward_pre_hook(lambda m, a: grabbed.__setitem__("x", a[0]))
    per_prompt = []
    try:
        for i in np.flatnonzero(mask)[:n]:
            ex = items.examples[i]
            ids = [tok.bos_token_id or tok.eos_token_id] + tok(ex.prompt, add_special_tokens=False)[
                "input_ids"
            ]
            with torch.no_grad():
                model(torch.tensor([ids]))
            x = grabbed["x"][0, -1]  # [d]
            W = dense.weight.detach()  # [d_out, d_in]
            per_prompt.append(
                torch.stack(
                    [W[:, h * dh : (h + 1) * dh] @ x[h * dh : (h + 1) * dh] for h in range(n_heads)]
                ).numpy()
            )
    finally:
        handle.remove()
    per_prompt = np.array(per_prompt, np.float64)
    means = np.mean(
        [per_prompt[s : s + batch].mean(0) for s in range(0, len(per_prompt), batch)], axis=0
    )
    v = means.sum(0)
    return v / (np.linalg.norm(v) + 1e-10), len(per_prompt)


def _smooth(y):
    r = 4
    w = np.exp(-0.5 * np.arange(-r, r + 1) ** 2)
    w /= w.sum()
    pad = np.concatenate([y[r - 1 :: -1], y, y[: -r - 1 : -1]])
    return np.array([(pad[i : i + 2 * r + 1] * w).sum() for i in range(len(y))])


def test_paper_vectors_and_predictions_match_a_separate_implementation(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    names = ELEMENTALS + [COMPOSITE]
    items_of = {s: draw_items(get_skill(s), 40, seed=0) for s in names}
    masks = _correct_masks(items_of)
    rows, notes = paper_vector_rows(
        model, tok, [(get_skill(s), items_of[s]) for s in names], BASE, correct=masks
    )
    assert notes == {"en_icl_copy": "13 correct prompt(s) of 20 wanted"}
    lib = {r.skill: r for r in rows}
    assert {r.variant for r in rows} == {"paper"} and set(lib) == set(names)
    hand = {}
    for s in names:
        hand[s], n = _by_hand_vector(model, tok, items_of[s], masks[s])
        assert lib[s].n == n == (13 if s == "en_icl_copy" else 20)
        np.testing.assert_allclose(lib[s].data, hand[s], atol=1e-3)
        assert lib[s].hook == "blocks.1.attn.hook_z" and lib[s].layer == 1

    # a small store holds them; predictions read them back
    with Store(tmp_path / "run") as store:
        write_paper_vectors(store, "tiny", "final", rows)
        stored = store.vectors()
    rng = np.random.default_rng(1)
    t = np.arange(1, 13.0)
    mid = dict(zip(ELEMENTALS, [3.0, 7.0, 5.0, 9.0], strict=True))
    acc = {s: 1 / (1 + np.exp(-(t - m))) for s, m in mid.items()}
    acc[COMPOSITE] = np.clip(
        acc["en_icl_plural"] * acc["en_icl_uppercase"] + rng.normal(0, 0.03, len(t)), 0, 1
    )
    curves = pd.DataFrame(
        [("tiny", tt, s, y) for s, ys in acc.items() for tt, y in zip(t, ys, strict=True)],
        columns=["model", "tokens", "task", "score"],
    )
    comps = {COMPOSITE: ("en_icl_plural", "en_icl_uppercase")}
    p = predict_trajectories(curves, comps, stored, method="paper", scoring="paper")
    (c,) = p.composites
    assert p.scoring == "paper" and "fv_product" in p.methods

    # by hand: cosine weights, the weighted geometric mean of the smoothed components
    cos = {e: float(hand[COMPOSITE] @ hand[e]) for e in ELEMENTALS}
    y = _smooth(acc[COMPOSITE])
    parts = [_smooth(acc[e]) for e in comps[COMPOSITE]]
    w = np.abs([cos[e] for e in comps[COMPOSITE]])
    geo = np.prod(
        [np.maximum(a, 1e-6) ** (wi / w.sum()) for a, wi in zip(parts, w, strict=True)], 0
    )
    mean = sum(wi * a for a, wi in zip(parts, w, strict=True)) / w.sum()
    assert c.weights["fv_product"] == pytest.approx(
        dict(zip(comps[COMPOSITE], [cos[e] for e in comps[COMPOSITE]], strict=True)), abs=1e-3
    )
    np.testing.assert_allclose(c.predicted["fv_product"], geo, atol=1e-3)
    np.testing.assert_allclose(c.predicted["fv_mean"], mean, atol=1e-3)
    assert c.r2_pearson["fv_product"] == pytest.approx(np.corrcoef(y, geo)[0, 1] ** 2, abs=1e-3)
    found = sorted((e for e in ELEMENTALS if abs(cos[e]) >= 0.1), key=lambda e: -abs(cos[e]))[:5]
    assert list(c.weights.get("discovered_product", {})) == found
    # the decoy null: every other pair of the four elementals (5 of them)
    d = c.decoys["fv_product"]["r2_pearson"]
    assert d.n == 5 and 1 <= d.rank <= 6


def test_batch_mean_is_the_mean_of_batch_means():
    x = np.arange(6.0)[:, None]
    assert batch_mean(x, 4).tolist() == [(1.5 + 4.5) / 2]


def _by_hand_effects(model, tok, prompts, controls, answers):
    """The paper's head effect, as its HeadSwap does it: in the input of the last layer's output
    projection, replace head h's slice at the prompt's last token by the control prompt's slice
    at its last token; the mean drop of log p(answer's first token)."""
    dense = model.gpt_neox.layers[-1].attention.dense
    n_heads = model.config.num_attention_heads
    dh = model.config.hidden_size // n_heads
    bos = tok.bos_token_id or tok.eos_token_id

    def ids_of(text):
        return [bos] + tok(text, add_special_tokens=False)["input_ids"]

    def run(ids, pre=None):
        handle = dense.register_forward_pre_hook(pre) if pre else None
        try:
            with torch.no_grad():
                return torch.log_softmax(model(torch.tensor([ids])).logits[0, -1], -1)
        finally:
            if handle:
                handle.remove()

    drop = np.zeros(n_heads)
    grabbed = {}
    for prompt, ctrl, ans in zip(prompts, controls, answers, strict=True):
        run(ids_of(ctrl), lambda m, a: grabbed.__setitem__("x", a[0][0, -1].clone()))
        ids = ids_of(prompt)
        full = tok(prompt + " " + ans, add_special_tokens=False)["input_ids"]
        gold = full[len(ids) - 1]
        base = float(run(ids)[gold])
        for h in range(n_heads):

            def swap(m, a, h=h):
                x = a[0].clone()
                x[0, -1, h * dh : (h + 1) * dh] = grabbed["x"][h * dh : (h + 1) * dh]
                return (x,)

            drop[h] += base - float(run(ids, swap)[gold])
    return drop / len(prompts)


def test_top_k_heads_follow_the_papers_head_effect(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curriculens.activations import encode_skill, load_bridge
    from curriculens.paper_vectors import PaperVectors, head_effects, prompt_ids
    from curriculens.taskvectors import control_examples

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    bridge = load_bridge(model, tok)
    skill = get_skill("en_icl_plural")
    items = draw_items(skill, 40, seed=0)
    idx = np.arange(6)
    ctl = control_examples(items, idx, seed=0)
    enc = encode_skill(skill, [items.examples[i] for i in idx], tok)
    enc_ctl = encode_skill(skill, ctl, tok)
    answer = [enc.seqs[i][int(enc.cont_start[i])] for i in np.flatnonzero(enc.candidate == 0)]
    got = head_effects(bridge, prompt_ids(enc), prompt_ids(enc_ctl), answer, 1)
    want = _by_hand_effects(
        model,
        tok,
        [items.examples[i].prompt for i in idx],
        [c.prompt for c in ctl],
        [items.examples[i].target for i in idx],
    )
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert np.abs(want).max() > 1e-4  # a head that matters

    # the top-1 variant sums the one head with the largest effect over the elementals
    pv = PaperVectors(BASE, heads="both", k=1)
    pv.add(bridge, tok, skill, items, correct=np.isin(np.arange(items.n), idx))
    rows = pv.rows(2)["en_icl_plural"]
    assert [r.variant for r in rows] == ["paper", "paper_topk"]
    assert pv.top_heads() == [int(np.argmax(want))]
    assert all(np.linalg.norm(r.data) == pytest.approx(1.0, abs=1e-5) for r in rows)


def test_a_swept_run_gets_paper_vectors_at_its_last_checkpoint(
    tmp_path, bpe_tokenizer, write_tiny_neox
):
    """Through a sweep: the run's items and its last checkpoint; a random tiny model answers
    nothing correctly, so each skill is named with 0 correct prompts and gets no vector, and
    the paper method then says what is missing."""
    import json

    from curriculens.analysis.table import read_vectors
    from curriculens.cli.main import main
    from curriculens.errors import ConfigError
    from curriculens.paper_vectors import paper_vectors_for_run

    root = tmp_path / "checkpoints"
    for i in range(2):
        d = write_tiny_neox(root / f"step{10 * i}", bpe_tokenizer, seed=i)
        (d / "curriculens_checkpoint.json").write_text(
            json.dumps({"step": 10 * i, "tokens": 640 * i})
        )
    out = tmp_path / "run"
    skills = "en_icl_uppercase,en_icl_plural,en_icl_plural_upper"
    argv = ["sweep", str(root), "--out", str(out), "--skills", skills, "--examples", "20"]
    assert main([*argv, "--quiet", "--no-task-vectors"]) == 0
    (got,) = paper_vectors_for_run(out)
    assert (got["checkpoint"], got["tokens"]) == ("step10", 640)
    assert got["notes"] == {s: "0 correct prompt(s) of 20 wanted" for s in skills.split(",")}
    assert got["skills"] == {}
    with pytest.raises(ConfigError, match="No paper-mode vectors"):
        predict_trajectories(
            pd.DataFrame({"model": ["x"], "tokens": [1], "task": ["a"], "score": [0.0]}),
            {},
            read_vectors(out),
            method="paper",
        )
    with pytest.raises(ConfigError, match="checkpoint='step99'"):
        paper_vectors_for_run(out, checkpoint="step99")
    # the command computes them when the run has none, and says why it cannot predict
    assert main(["predict", str(out), "--fv-method", "paper"]) == 2
