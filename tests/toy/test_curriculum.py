import math

import pandas as pd
import pytest

from curriculens.errors import ConfigError
from curriculens.skills.builtin.toy import (
    CHAINS,
    COMPOSITES,
    FEWSHOT_ELEMENTALS,
    ITEM_MAPS,
    NOUNS,
    PETS,
    TASK_MARKERS,
)
from curriculens.skills.builtin.toy_icl import zipf_weights
from curriculens.skills.builtin.toy_words import NOUN_MAPS
from curriculens.skills.registry import get_skill
from curriculens.toy.curriculum import (
    DESIGN,
    DESIGN_V5,
    Design,
    Source,
    compare_crossings,
    compare_with_design,
)


def _design(*rows):
    return Design(sources=tuple(Source(name=n, weight=w, wave=k, enters=e) for n, w, k, e in rows))


SMALL = _design(
    ("agreement", 1.0, 0, 0.0),
    ("plural", 1.0, 0, 0.0),
    ("copy", 1.0, 1, 0.1),
    ("pet", 1.0, 2, 0.2),
    ("copy_plural", 0.5, 3, 0.3),
    ("pet_plural", 0.5, 4, 0.4),
)


def test_default_design_covers_eight_chains_each_after_its_components():
    comps = DESIGN.components()
    assert set(comps) == set(CHAINS) and len(comps) >= 8
    rank, weight = DESIGN.designed_rank(), DESIGN.mixture()
    entry = DESIGN.entry_steps(1400)
    for comp, parts in comps.items():
        assert len(parts) == 2
        for part in parts:
            # a chain enters with its cohort, one wave after it, rarer than its components
            assert rank[comp] > rank[part] and entry[comp] >= entry[part]
            assert weight[comp] < weight[part]
    # no two composites share both components, so decoy pairs differ from declared ones
    assert len({frozenset(p) for p in comps.values()}) == len(comps)
    assert set(ITEM_MAPS) | {"pet", "plural", "category"} <= set(DESIGN.elementals())
    # the previous design (version 5) stays valid for re-making its runs
    assert set(DESIGN_V5.components()) == set(COMPOSITES) and DESIGN_V5.version == 5
    assert set(FEWSHOT_ELEMENTALS) <= set(DESIGN_V5.elementals())


def test_phases_add_each_source_at_its_entry_step():
    phases = SMALL.phases(100)
    assert [end for end, _ in phases] == [10, 20, 30, 40, 100]
    assert set(phases[0][1]) == {"agreement", "plural"}
    assert set(phases[-1][1]) == set(SMALL.names)
    # entry steps that round together give one phase
    assert [end for end, _ in SMALL.phases(4)][-1] == 4


def test_design_round_trips_through_the_run_directory(tmp_path):
    DESIGN.save(tmp_path)
    assert Design.load(tmp_path) == DESIGN
    with pytest.raises(ConfigError, match="holds no designed curriculum"):
        Design.load(tmp_path / "nothing")


@pytest.mark.parametrize(
    "rows, match",
    [
        ([("agreement", 1.0, 0, 0.0), ("agreement", 1.0, 1, 0.1)], "twice"),
        ([("agrement", 1.0, 0, 0.0)], "not a toy skill"),
        ([("agreement", 0.0, 0, 0.0)], "expected > 0"),
        ([("agreement", 1.0, 0, 1.5)], r"\[0, 1\)"),
        ([("copy", 1.0, 0, 0.0), ("copy_plural", 1.0, 1, 0.1)], "needs 'plural'"),
        (
            [("copy", 1.0, 0, 0.0), ("plural", 1.0, 1, 0.2), ("copy_plural", 1.0, 1, 0.2)],
            "must enter after its component 'plural'",
        ),
    ],
)
def test_bad_designs_are_named(rows, match):
    with pytest.raises(ConfigError, match=match):
        _design(*rows)


def test_a_recovered_order_that_matches_the_design_scores_one():
    crossings = {"agreement": 1e4, "plural": 2e4, "copy": 3e4, "pet": 4e4}
    crossings |= {"copy_plural": 5e4, "pet_plural": 6e4}
    c = compare_crossings(crossings, SMALL)
    assert c.spearman == pytest.approx(0.986, abs=1e-3)  # the designed tie costs a little
    assert c.disagreeing == () and c.not_emerged == ()
    assert c.composite_later_rate == 1.0 and len(c.composite_pairs) == 4
    assert c.distinct_elementals == 4 and c.distinct_fewshot_elementals == 3
    assert "no pair disagrees" in c.describe()


def test_swapped_skills_are_named_and_ties_with_components_are_not_later():
    crossings = {"agreement": 1e4, "plural": 1e4, "copy": 4e4, "pet": 3e4}
    crossings |= {"copy_plural": 4e4, "pet_plural": None}
    c = compare_crossings(crossings, SMALL)
    assert c.disagreeing == (("copy", "pet"),)
    assert c.not_emerged == ("pet_plural",)
    # copy_plural ties with copy (not later), is after plural; pet_plural never emerged: not later
    assert dict(((a, b), v) for a, b, v in c.composite_pairs) == {
        ("copy_plural", "copy"): False,
        ("copy_plural", "plural"): True,
        ("pet_plural", "pet"): False,
        ("pet_plural", "plural"): False,
    }
    assert c.composite_later_rate == 0.25
    assert c.distinct_elementals == 3  # agreement and plural share a checkpoint
    assert "pet before copy" in c.describe()
    reversed_ = compare_crossings({k: 1e5 - v for k, v in crossings.items() if v}, SMALL)
    assert reversed_.spearman < 0


def test_a_component_that_never_emerged_leaves_its_pair_undecided():
    c = compare_crossings({"copy": None, "plural": 1e4, "copy_plural": 2e4}, SMALL)
    assert dict(((a, b), v) for a, b, v in c.composite_pairs) == {
        ("copy_plural", "copy"): None,
        ("copy_plural", "plural"): True,
    }
    assert math.isnan(c.spearman)  # two emerged skills: no rank correlation


def _frame(curves: dict[str, list[float]], tokens: list[int], run: str = "r") -> pd.DataFrame:
    rows = [
        {
            "run": run,
            "skill": skill,
            "kind": "behavior",
            "metric": "acc",
            "tokens": t,
            "step": t,
            "value": v,
            "layer": None,
        }
        for skill, values in curves.items()
        for t, v in zip(tokens, values, strict=True)
    ]
    return pd.DataFrame(rows)


def test_compare_with_design_reads_raw_curves_per_run():
    tokens = [0, 100, 200, 300, 400]
    curves = {
        "agreement": [0.0, 0.9, 1.0, 1.0, 1.0],
        "plural": [0.0, 0.9, 1.0, 1.0, 1.0],
        "copy": [0.0, 0.1, 0.85, 1.0, 1.0],
        "pet": [0.0, 0.0, 0.1, 0.9, 1.0],
        "copy_plural": [0.0, 0.0, 0.0, 0.81, 1.0],
        # a smoothed curve would cross earlier; raw, it crosses at 400
        "pet_plural": [0.0, 0.0, 0.0, 0.79, 1.0],
    }
    df = pd.concat([_frame(curves, tokens, "a"), _frame(curves, tokens, "b")])
    out = compare_with_design(df, SMALL)
    assert [c.run for c in out] == ["a", "b"]
    assert out[0].crossings["pet_plural"] == 400 and out[0].crossings["copy"] == 200
    assert out[0].disagreeing == ()


def test_composites_need_their_declared_components_in_their_answers():
    """Each composite's answer is its word form applied to what its selection picks; its query
    opens with a marker of its own, not its components' markers."""
    form_of = {
        name: {e.group: e.target for e in get_skill(name).examples(200)}
        for name in ("plural", "category")
    }
    assert all(len(m) == len(NOUNS) for m in form_of.values())
    select = {
        "copy": lambda q: q.split(),
        "middle": lambda q: q.split()[1:2],
        "last": lambda q: q.split()[-1:],
        "pet": lambda q: [NOUNS[PETS[q]][0]],
    }
    for comp in COMPOSITES:
        chosen, form = get_skill(comp).components
        for e in get_skill(comp).examples(30, seed=3):
            query = e.group  # the input without its marker
            assert e.prompt == f"{TASK_MARKERS[comp]} {query} ->"
            assert TASK_MARKERS[comp] not in (TASK_MARKERS[chosen], TASK_MARKERS[form])
            assert e.target.split() == [form_of[form][w] for w in select[chosen](query)]


def test_chains_write_both_component_tasks_out():
    """A chain's answer is its first component's answer, then its second component's query on
    that noun and that query's answer: 'pet kalo -> fox plural fox -> foxes'."""
    answer = {
        name: {e.prompt: e.target for e in get_skill(name).examples(400, seed=1)}
        for name in {*ITEM_MAPS, "pet", "plural", "category"}
    }
    for chain in CHAINS:
        first, second = get_skill(chain).components
        for e in get_skill(chain).examples(40, seed=2):
            assert e.prompt in answer[first]  # the first component's own query
            noun = answer[first][e.prompt]
            hop = f"{TASK_MARKERS[second]} {noun} ->"
            assert e.target == f"{noun} {hop} {answer[second][hop]}"


def test_item_maps_are_arbitrary_and_their_documents_zipfian():
    import numpy as np

    for name in NOUN_MAPS:
        pairs = {e.prompt.split()[1]: e.target for e in get_skill(name).examples(300, seed=0)}
        assert len(pairs) == len(NOUNS) and all(q != a for q, a in pairs.items())
        assert sorted(pairs.values()) == sorted(s for s, _ in NOUNS)  # a permutation
    w = zipf_weights("gift", 48)
    assert w.max() / w.min() == pytest.approx(48.0)
    # documents follow those frequencies: the most frequent person is drawn about 48x the least
    rng = np.random.default_rng(0)
    docs = " ".join(get_skill("gift").document(rng) for _ in range(3000)).split()
    people = [docs[i + 1] for i, w_ in enumerate(docs) if w_ == "gift"]
    top = max(set(people), key=people.count)
    assert people.count(top) / len(people) == pytest.approx(w.max(), rel=0.15)
    # an agreement document holds 3-6 sentences (a source's weight is a share of documents)
    counts = [get_skill("agreement").document(rng).count(" .") for _ in range(200)]
    assert min(counts) == 3 and max(counts) == 6
