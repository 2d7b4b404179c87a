"""Probe numbers beside their baselines: each planted case gets its own reading."""

from __future__ import annotations

import pandas as pd
import pytest

from curriculens.reporting.probes import baselines_table, meaning, probe_baselines


def _table(
    acc: dict[int, tuple[float, float]], control=0.5, majority=0.5, mdl=None, sd=None, lex=None
):
    """Rows of one skill at tokens 0 and 1000: acc = {layer: (first, final)}; ``sd``: the
    control SD over 30 draws and the test set's chance; ``lex``: the final lexical baseline."""
    rows = []
    for layer, pair in acc.items():
        for tokens, value in zip((0, 1000), pair, strict=True):
            common = dict(skill="s", layer=layer, tokens=tokens, run="r", hook=f"h{layer}", n=40)
            rows.append(dict(common, kind="probe", metric="probe_acc", value=value))
            rows.append(dict(common, kind="control", metric="control_acc", value=control))
            rows.append(dict(common, kind="baseline", metric="majority", value=majority))
            if sd is not None:
                rows.append(dict(common, kind="baseline", metric="control_sd", value=sd, n=30))
                rows.append(dict(common, kind="baseline", metric="chance", value=0.5))
            if mdl is not None:
                rows.append(dict(common, kind="probe", metric="mdl_compression", value=mdl))
    if lex is not None:
        common = dict(skill="s", layer=None, tokens=1000, run="r", hook="lexical.embed_mean", n=40)
        rows.append(dict(common, kind="baseline", metric="lexical_acc", value=lex))
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("acc", "audit", "expect"),
    [
        ({-1: (0.5, 0.5), 1: (0.5, 0.9)}, "ok", "learned, and held at this layer"),
        ({-1: (0.5, 0.5), 1: (0.88, 0.9)}, "ok", "at random init"),
        ({-1: (0.5, 0.5), 1: (0.5, 0.52)}, "ok", "this probe shows nothing"),
        ({-1: (0.5, 0.9), 1: (0.5, 0.9)}, "ok", "a lexical signal"),
        ({-1: (0.5, 0.5), 1: (0.5, 0.9)}, "leaky", "may be memorisation"),
    ],
)
def test_each_planted_case_reads_as_it_should(acc, audit, expect):
    (b,) = probe_baselines(_table(acc), {"s": "the carry bit at '='"}, {"s": audit})
    assert b.layer in (-1, 1)
    text = meaning(b)
    assert expect in text
    assert text.endswith("Probed: the carry bit at '='")


def test_table_shows_every_baseline_and_mdl():
    (b,) = probe_baselines(_table({-1: (0.5, 0.6), 1: (0.5, 0.9)}, mdl=1.7), {}, {"s": "ok"})
    head, row = baselines_table([b])
    got = dict(zip(head, row, strict=True))
    assert got["probe"] == "0.90" and got["selectivity"] == "+0.40"
    assert got["control (mean ± SD)"] == "0.50"  # a store without draws: the one control
    assert got["first checkpoint"] == "0.50 (0)" and got["embeddings"] == "0.60"
    assert got["MDL compression"] == "1.70" and got["audit"] == "ok"
    assert got["best layer"] == "1"  # the block index itself (-1 is the embeddings)


def test_given_layer_is_read_instead_of_the_best_accuracy():
    df = _table({-1: (0.5, 0.6), 1: (0.5, 0.9)})
    (best,) = probe_baselines(df, {}, {})
    (given,) = probe_baselines(df, {}, {}, layers={"s": -1})
    assert (best.layer, best.acc) == (1, 0.9)
    assert (given.layer, given.acc) == (-1, 0.6)


def test_without_an_embedding_probe_its_baseline_is_missing_not_block_0():
    (b,) = probe_baselines(_table({0: (0.5, 0.9), 1: (0.5, 0.6)}), {}, {"s": "ok"})
    head, row = baselines_table([b])
    assert dict(zip(head, row, strict=True))["embeddings"] == "–"
    assert "embeddings" not in meaning(b) and "learned, and held at this layer" in meaning(b)


def test_control_is_mean_and_sd_over_draws_beside_chance_and_the_lexical_baseline():
    df = _table({-1: (0.5, 0.6), 1: (0.5, 0.9)}, control=0.48, sd=0.09, lex=0.93)
    (b,) = probe_baselines(df, {}, {"s": "lexical"}, lexical={"s": True})
    head, row = baselines_table([b])
    got = dict(zip(head, row, strict=True))
    assert got["control (mean ± SD)"] == "0.48 ± 0.09 (30)"
    assert got["chance"] == "0.50" and got["selectivity"] == "+0.42"
    assert got["lexical baseline"] == "0.93 lexical" and got["audit"] == "lexical"
    text = meaning(b)
    assert "(chance 0.50)" in text and "mean input embeddings" in text and "lexical" in text
    (clean,) = probe_baselines(df, {}, {"s": "ok"}, lexical={"s": False})
    row = dict(zip(*baselines_table([clean]), strict=True))
    assert row["lexical baseline"] == "0.93"
    assert "learned, and held at this layer" in meaning(clean)
