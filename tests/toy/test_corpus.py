import pytest

from curriculens.errors import ConfigError
from curriculens.skills.builtin.toy import NOUNS, PETS, TOY_SKILLS, toy_vocabulary
from curriculens.skills.fewshot import SEPARATOR
from curriculens.toy.corpus import DEFAULT_MIXTURE, ToyCorpus, build_toy_tokenizer


def test_documents_are_deterministic_per_seed():
    a = ToyCorpus(seed=3).documents(200)
    assert a == ToyCorpus(seed=3).documents(200)
    assert a != ToyCorpus(seed=4).documents(200)


def test_every_source_appears_and_mixture_weights_steer_it():
    docs = ToyCorpus(seed=0).documents(3000)
    assert any(" lives in " in d for d in docs)
    pets = {p: NOUNS[i] for p, i in PETS.items()}
    assert any(
        d.split()[:3] == ["pp", p, "->"] and d.split()[3] == pair[1]
        for d in docs
        for p, pair in pets.items()
    )
    only_pet = ToyCorpus(mixture={"pet": 1.0}, seed=0).documents(50)
    assert all(d.split()[:3:2] == ["pet", "->"] and d.split()[1] in pets for d in only_pet)


def test_few_shot_documents_are_solved_pairs_as_a_k_shot_prompt_writes_them():
    """A few-shot source's document is 3-6 pairs of that skill, joined as demonstrations are."""
    docs = ToyCorpus(mixture={"copy_plural": 1.0}, seed=1).documents(200)
    plural = dict(NOUNS)
    counts = set()
    for d in docs:
        assert d.endswith(" .")
        pairs = d[: -len(" .")].split(SEPARATOR)
        counts.add(len(pairs))
        for pair in pairs:
            src, out = pair.split(" -> ")
            assert src.split()[0] == "cp"  # the task's marker
            assert out.split() == [plural[w] for w in src.split()[1:]]
    assert counts == {3, 4, 5, 6}


def test_tokenizer_round_trips_every_document_and_word():
    tok = build_toy_tokenizer()
    docs = ToyCorpus(seed=0).documents(500)
    for d in docs:
        ids = tok(d, add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id not in ids
        assert tok.decode(ids) == " ".join(d.split())  # demonstrations' newlines: one space
    vocab = toy_vocabulary()
    assert len(set(vocab)) == len(vocab)
    assert len(tok) == len(vocab) + 3


def test_batches_are_packed_and_start_documents_with_eos():
    tok = build_toy_tokenizer()
    batch = next(ToyCorpus(seed=0).batches(tok, 4, 16))
    assert batch.shape == (4, 16)
    assert int(batch[0, 0]) == tok.eos_token_id


def test_mixture_is_validated():
    with pytest.raises(ConfigError, match="unknown source 'copi'. Did you mean 'copy'"):
        ToyCorpus(mixture={"copi": 1.0})
    with pytest.raises(ConfigError, match="weights must be finite and >= 0"):
        ToyCorpus(mixture={"copy": -1.0})
    with pytest.raises(ConfigError, match="sum to 0"):
        ToyCorpus(mixture={"copy": 0.0})
    assert set(DEFAULT_MIXTURE) == set(TOY_SKILLS)
