import pandas as pd
import pytest

from curriculens.analysis.curriculum import (
    _probe_emergence,
    behavior_curve,
    curriculum,
    load_table,
    probe_matrix,
)
from curriculens.errors import CurriculensError
from curriculens.store import Row, Store


def _write(store, skill, tokens, beh, probe0, probe1, metric="exact_match"):
    for t, b, p0, p1 in zip(tokens, beh, probe0, probe1, strict=True):
        meta = dict(
            run="r",
            checkpoint=f"step{t}",
            step=t,
            tokens=t,
            fingerprint=f"f{t}",
            skill=skill,
            skill_version=1,
            skill_hash="h",
        )
        rows = [Row(**meta, kind="behavior", hook="", layer=-1, metric=metric, value=b, n=10)]
        for layer, p in ((0, p0), (1, p1)):
            rows.append(
                Row(
                    **meta, kind="probe", hook=f"h{layer}", layer=layer, metric="acc", value=p, n=10
                )
            )
            rows.append(
                Row(
                    **meta,
                    kind="control",
                    hook=f"h{layer}",
                    layer=layer,
                    metric="acc",
                    value=0.5,
                    n=10,
                )
            )
        store.write_unit("r", f"f{t}", skill, f"step{t}", rows)


@pytest.fixture()
def planted(tmp_path):
    tokens = [0, 10, 100, 1000, 10000]
    with Store(tmp_path) as s:
        _write(
            s, "facts", tokens, [0, 0.1, 0.9, 0.95, 0.95], [0.5] * 5, [0.5, 0.6, 0.93, 0.95, 0.95]
        )
        _write(s, "add1", tokens, [0, 0, 0.1, 0.5, 0.9], [0.9] * 5, [0.9] * 5)
        _write(
            s,
            "copy",
            tokens,
            [0, 0, 0, 0.1, 0.2],
            [0.3] * 5,
            [0.3, 0.3, 0.3, 0.4, 0.9],
            metric="token_acc",
        )
    return tmp_path


def test_order_emergence_and_censoring(planted):
    em = curriculum(planted)
    assert [e.skill for e in em] == ["facts", "add1", "copy"]
    assert [e.behavior_tokens for e in em] == [100, 10000, None]
    assert not em[2].emerged
    facts = em[0]
    assert facts.probe_tokens == 100 and facts.probe_layer == 1
    assert facts.selectivity_final == pytest.approx(0.45)


def test_probe_decodable_at_init_is_censored_not_an_early_emergence(planted):
    em = {e.skill: e for e in curriculum(planted)}
    assert em["add1"].probe_step0 == pytest.approx(0.9)
    assert em["add1"].probe_tokens is None  # no gain over step 0
    assert em["copy"].probe_tokens == 10000


def test_probe_emergence_rule():
    s = pd.Series([0.5, 0.55, 0.88, 0.9], index=[0, 1, 2, 3])
    assert _probe_emergence(s, 0.8, 0.9, 0.05) == 2
    assert _probe_emergence(s, 0.95, 0.9, 0.05) is None


def test_curves_and_matrix(planted):
    df = load_table(planted)
    assert list(behavior_curve(df, "facts").index) == [0, 10, 100, 1000, 10000]
    assert probe_matrix(df, "copy").shape == (2, 5)


def test_empty_store_is_a_clear_error(tmp_path):
    Store(tmp_path).close()
    with pytest.raises(CurriculensError, match="has no rows yet"):
        load_table(tmp_path)
