import dataclasses
import json

import pytest

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import (
    behavior_curve,
    curriculum,
    load_table,
    probe_matrix,
    skill_emergence,
)
from curriculens.analysis.emergence import behavior_emergence
from curriculens.errors import CurriculensError
from curriculens.store import Row, Store

RAW = Criterion(threshold=0.8)  # no smoothing, every checkpoint kept


def _write(store, skill, tokens, beh, probe0, probe1, metric="exact_match", n=1000):
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
        rows = [Row(**meta, kind="behavior", hook="", layer=-1, metric=metric, value=b, n=n)]
        for layer, p in ((0, p0), (1, p1)):
            rows.append(
                Row(
                    **meta,
                    kind="probe",
                    hook=f"h{layer}",
                    layer=layer,
                    metric="probe_acc",
                    value=p,
                    n=n,
                )
            )
            rows.append(
                Row(
                    **meta,
                    kind="control",
                    hook=f"h{layer}",
                    layer=layer,
                    metric="control_acc",
                    value=0.5,
                    n=n,
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
    em = skill_emergence(planted, criterion=RAW, n_boot=0)
    assert [e.skill for e in em] == ["facts", "add1", "copy"]
    assert [e.behavior_tokens for e in em] == [100, 10000, None]
    assert [e.behavior_state for e in em] == ["emerged", "emerged", "not_emerged"]
    assert (em[0].behavior_lo, em[0].behavior_hi) == (10, 100)  # the bracket, no items here
    assert not em[2].emerged and em[2].behavior_lo == 10000 and em[2].behavior_hi is None
    facts = em[0]
    assert facts.probe_layer == 1 and facts.probe_state == "emerged"
    assert facts.selectivity_final == pytest.approx(0.45)
    assert all(e.criterion == "custom" for e in em)


def test_curriculum_is_a_dataframe_of_the_same_map(planted):
    objects = skill_emergence(planted, criterion=RAW, n_boot=0)
    df = curriculum(planted, criterion=RAW, n_boot=0)
    assert df.skill.tolist() == ["facts", "add1", "copy"]  # sorted by emergence, censored last
    assert df.behavior_state.tolist() == [e.behavior_state for e in objects]
    assert df.behavior_tokens.tolist()[:2] == [100, 10000] and df.behavior_tokens.isna().iloc[2]
    assert df.loc[0, "probe_layer"] == 1 and df.probe_layer.dtype == "Int64"
    assert df.loc[0, "selectivity_final"] == pytest.approx(0.45)
    assert df.to_dict("records")[1] == dataclasses.asdict(objects[1])  # add1: no NaN field


def test_default_criterion_is_the_papers(planted):
    em = {e.skill: e for e in skill_emergence(planted)}
    assert {e.criterion for e in em.values()} == {"paper"}
    # smoothed (sigma 1 checkpoint) and the 0-token checkpoint dropped
    assert em["facts"].behavior_tokens == 1000 and em["facts"].behavior_state == "emerged"
    assert em["add1"].behavior_state == "not_emerged"  # 0.9 only at the last checkpoint


def test_probe_decodable_at_init_is_censored_not_an_early_emergence(planted):
    em = {e.skill: e for e in skill_emergence(planted)}
    assert em["add1"].probe_step0 == pytest.approx(0.9)
    assert em["add1"].probe_state == "present_at_init"
    assert em["add1"].leadlag == "present_at_init"  # never a lead
    assert em["copy"].probe_state == "emerged" and em["copy"].probe_tokens == 10000


def test_curriculum_report_and_cli_agree_on_every_point(planted, capsys):
    from curriculens.cli.main import main

    for crit in (None, "paper-relative", RAW):
        cur = {e.skill: e.behavior_tokens for e in skill_emergence(planted, criterion=crit)}
        cis = behavior_emergence(planted, criterion=crit, n_boot=0)["r"]
        assert cur == {s: ci.point for s, ci in cis.items()}
    assert main(["emergence", str(planted), "--json", "--bootstrap", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["emergence"]["r"] == {e.skill: e.behavior_tokens for e in skill_emergence(planted)}


def test_curves_and_matrix(planted):
    df = load_table(planted)
    assert list(behavior_curve(df, "facts").index) == [0, 10, 100, 1000, 10000]
    assert probe_matrix(df, "copy").shape == (2, 5)


def test_empty_store_is_a_clear_error(tmp_path):
    Store(tmp_path).close()
    with pytest.raises(CurriculensError, match="has no rows yet"):
        load_table(tmp_path)
