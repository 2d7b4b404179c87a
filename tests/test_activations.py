import numpy as np
import pytest
import torch

from curriculens.activations import (
    capture,
    check_hooks,
    encode_skill,
    hook_layer,
    load_bridge,
    resid_hooks,
)
from curriculens.checkpoints import CheckpointSeries
from curriculens.errors import HookNameError
from curriculens.skills import get_skill


@pytest.fixture(scope="module")
def loaded(tiny_run):
    out, _, _ = tiny_run
    ck = CheckpointSeries.from_dir(out / "checkpoints")[-1]
    model, tok = ck.load()
    return model, tok, load_bridge(model, tok)


def test_bridge_activations_equal_hf_hidden_states(loaded):
    """Read-position activations from the bridge hooks = HF hidden_states of the same checkpoint."""
    model, tok, bridge = loaded
    skill = get_skill("facts")
    enc = encode_skill(skill, skill.examples(12, seed=0), tok)
    hooks = resid_hooks(model.config.num_hidden_layers)
    cap = capture(bridge, enc, hooks, batch_size=5)
    n_layers = model.config.num_hidden_layers
    with torch.no_grad():
        for i, seq in enumerate(enc.seqs):
            hs = model(torch.tensor([seq]), output_hidden_states=True).hidden_states
            pos = enc.read_pos[i]
            for h in hooks:
                layer = hook_layer(h)  # TransformerLens block index, -1 for the embedding
                want = hs[layer + 1][0, pos]  # HF's hidden_states[0] is the embedding output
                if layer + 1 == n_layers:  # HF applies the final layer norm to the last state
                    resid = torch.from_numpy(cap.acts[h][enc.owner[i]])
                    got = model.gpt_neox.final_layer_norm(resid)
                else:
                    got = torch.from_numpy(cap.acts[h][enc.owner[i]])
                torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_logprobs_match_a_plain_hf_forward(loaded):
    model, tok, bridge = loaded
    skill = get_skill("agreement")  # choice format: two sequences per example
    enc = encode_skill(skill, skill.examples(6, seed=1), tok)
    cap = capture(bridge, enc, ["hook_embed"], batch_size=4)
    assert len(enc.seqs) == 12
    with torch.no_grad():
        for i, seq in enumerate(enc.seqs):
            lp = torch.log_softmax(model(torch.tensor([seq])).logits[0], -1)
            s = enc.cont_start[i]
            want = lp[s - 1 : len(seq) - 1].gather(-1, torch.tensor(seq[s:])[:, None])[:, 0]
            np.testing.assert_allclose(cap.token_logprob[i], want.numpy(), atol=1e-4)


@pytest.mark.parametrize("skill_name", ["add1", "agreement", "copy"])
def test_logits_only_at_scored_positions_equal_the_full_logits(loaded, monkeypatch, skill_name):
    """Issue 18: the unembedding runs only at the positions a batch scores; the scores are those
    of the full logits (multi-token continuations, choices, ragged batches)."""
    import curriculens.activations as act_mod

    model, tok, bridge = loaded
    skill = get_skill(skill_name)
    enc = encode_skill(skill, skill.examples(16, seed=2), tok)
    kept = []
    real = bridge.run_with_hooks

    def spy(ids, **kw):
        kept.append((ids.shape[1], kw.get("logits_to_keep")))
        return real(ids, **kw)

    monkeypatch.setattr(bridge, "run_with_hooks", spy)
    fast = capture(bridge, enc, ["hook_embed"], batch_size=5)
    assert kept and all(k is not None for _, k in kept)
    assert sum(len(k) for _, k in kept) < sum(n for n, _ in kept)  # fewer positions than all
    monkeypatch.setattr(act_mod, "_takes_logits_to_keep", lambda b: False)
    kept.clear()
    full = capture(bridge, enc, ["hook_embed"], batch_size=5)
    assert kept and all(k is None for _, k in kept)
    for a, b in zip(fast.token_logprob, full.token_logprob, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(fast.token_correct, full.token_correct, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.acts["hook_embed"], full.acts["hook_embed"])


def test_read_positions_and_labels(loaded):
    _, tok, _ = loaded
    skill = get_skill("agreement_attractor")
    exs = skill.examples(5, seed=0)
    enc = encode_skill(skill, exs, tok)
    for i, ex in enumerate(exs):
        seq = enc.seqs[2 * i]
        # BOS, then 'the <subject> <prep> the <attractor>': the read token is the attractor,
        # the token before the verb
        assert tok.decode([seq[enc.read_pos[2 * i]]]) == ex.prompt.split()[-1]
    np.testing.assert_array_equal(enc.labels, [e.label for e in exs])


def test_wrong_hook_name_lists_the_valid_ones(loaded):
    _, _, bridge = loaded
    with pytest.raises(
        HookNameError,
        match=r"Unknown hook name 'blocks.9.hook_resid_post'.*"
        r"blocks.0.hook_resid_post",
    ):
        check_hooks(bridge, ["blocks.9.hook_resid_post"])


@pytest.mark.parametrize("skill_name", ["agreement", "facts", "copy_plural", "brackets"])
def test_batched_encoding_equals_one_tokenizer_call_per_text(loaded, skill_name):
    """encode_skill tokenizes a skill's prompts and continuations in two batch calls: the same
    sequences and read positions as tokenizing each text alone (prompt, then prompt + continuation
    with the prompt's tokens as prefix), minimal pairs (no prompt) included."""
    from curriculens.skills.registry import resolve_read_position

    _, tok, _ = loaded
    skill = get_skill(skill_name)
    exs = skill.examples(12, seed=3)
    enc = encode_skill(skill, exs, tok)
    head = [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id]
    k = 0
    for ex in exs:
        ids, pos = resolve_read_position(tok, ex)  # one call per prompt (or good sentence)
        prompt = ids if ex.prompt else []
        for cont in (ex.target, *ex.choices):
            text = f"{ex.prompt} {cont}" if ex.prompt else cont
            full = tok(text, add_special_tokens=False)["input_ids"]
            tail = (
                full[len(prompt) :]
                if full[: len(prompt)] == prompt and len(full) > len(prompt)
                else tok(" " + cont, add_special_tokens=False)["input_ids"]
            )
            assert enc.seqs[k] == head + prompt + tail
            assert enc.read_pos[k] == len(head) + pos
            k += 1
    assert k == len(enc.seqs)


def test_scores_by_block_equal_one_log_softmax_per_row(monkeypatch):
    """_score_columns takes the log-softmax of blocks of rows (at most SCORE_FLOATS): the same
    bits as one log-softmax per row, whatever the block size."""
    import curriculens.activations as act_mod

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, 301, generator=g) * 4
    target = torch.randint(0, 301, (7, 5), generator=g)
    want_lp = np.stack(
        [torch.log_softmax(logits[r], -1).gather(-1, target[r][:, None])[:, 0] for r in range(7)]
    )
    want_ok = (logits.argmax(-1) == target).numpy()
    for floats in (5 * 301, 3 * 5 * 301, 2**22):  # one row, three rows, all rows per block
        monkeypatch.setattr(act_mod, "SCORE_FLOATS", floats)
        lp, ok = act_mod._score_columns(logits, target)
        np.testing.assert_array_equal(lp, want_lp)
        np.testing.assert_array_equal(ok, want_ok)


def test_content_hash_is_computed_once_per_skill(monkeypatch):
    """A sweep reads a skill's hash for every row; it draws 32 examples, so it is cached."""
    from dataclasses import replace

    registered = get_skill("facts").content_hash
    skill = replace(get_skill("facts"))  # a fresh object: nothing cached yet
    calls = []
    real = type(skill).examples

    def counted(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(type(skill), "examples", counted)
    assert skill.content_hash == skill.content_hash == registered
    assert len(calls) == 1


def test_encodings_are_shared_by_loads_of_one_tokenizer(tiny_run):
    """A sweep loads the tokenizer with each checkpoint: encode_items encodes a skill's items
    once for all of them (the same object back), and equals encode_skill."""
    from curriculens.activations import encode_items, tokenizer_key
    from curriculens.pipeline.config import SweepConfig
    from curriculens.pipeline.plan import skill_items

    out, _, _ = tiny_run
    series = CheckpointSeries.from_dir(out / "checkpoints")
    tok_a, tok_b = series[0].load()[1], series[-1].load()[1]
    assert tok_a is not tok_b and tokenizer_key(tok_a) == tokenizer_key(tok_b)
    skill = get_skill("copy_plural")
    items = skill_items(skill, SweepConfig(skills=("copy_plural",), n_examples=30))
    first = encode_items(skill, items, tok_a)
    assert encode_items(skill, items, tok_b) is first
    again = encode_skill(skill, list(items.examples), tok_a)
    assert first.seqs == again.seqs
    np.testing.assert_array_equal(first.read_pos, again.read_pos)
    derived = encode_items(skill, items, tok_a, lambda: list(items.examples)[:5], tag="five")
    assert len(derived.examples) == 5 and encode_items(skill, items, tok_b, tag="five") is derived
    tok_b.add_tokens(["zzqq"])  # a different tokenizer now: its own key, its own encodings
    assert tokenizer_key(tok_b) != tokenizer_key(tok_a)
    assert encode_items(skill, items, tok_b) is not first
