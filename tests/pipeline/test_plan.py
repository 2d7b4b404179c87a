"""The sweep's plan: skills resolved once (nothing below the plan reads the registry), the work
left by checkpoint, and the ``--dry-run`` text."""

from __future__ import annotations

import torch

from curriculens.checkpoints import CheckpointSeries
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.plan import dry_run_text, plan_sweep, unit_key
from curriculens.pipeline.run import evaluate_model, sweep
from curriculens.skills.registry import _REGISTRY, get_skill
from curriculens.store import Store

torch.set_num_threads(1)

CONFIG = SweepConfig(skills=("add2", "facts"), n_examples=40)


def test_the_plan_holds_the_skills_and_their_units():
    plan = plan_sweep(CONFIG)
    assert [s.name for s in plan.skills] == ["add2", "facts"]
    assert plan.skills == (get_skill("add2"), get_skill("facts"))
    assert list(plan.units) == [unit_key(s, CONFIG) for s in plan.skills]
    first = next(iter(plan.units))
    assert [s.name for s in plan.todo({first})] == ["facts"]
    assert plan.todo(set(plan.units)) == []


def test_measurement_and_records_never_read_the_registry(toy_series, tmp_path, monkeypatch):
    plan = plan_sweep(CONFIG)
    saved = dict(_REGISTRY)  # restored in order afterwards: suites list skills in that order
    monkeypatch.setattr(
        "curriculens.skills.registry._REGISTRY",
        {k: v for k, v in saved.items() if k not in CONFIG.skills},  # only the plan knows them
    )
    model, tokenizer = CheckpointSeries.from_dir(toy_series)[0].load()
    with Store(tmp_path / "run") as store:
        # the bridge rewires the model in place, so the fingerprint is given, not recomputed
        kw = dict(checkpoint="step0", step=0, tokens=0, run="r", store=store, fp="f0")
        assert evaluate_model(model, tokenizer, plan, progress=False, **kw) == 2
        assert (
            evaluate_model(model, tokenizer, plan, progress=False, **kw) == 0
        )  # finished units are skipped
        rows = store.rows()
    assert {r["skill"] for r in rows} == {"add2", "facts"}
    assert {r["kind"] for r in rows} >= {"behavior", "probe", "control", "baseline"}


def test_dry_run_counts_the_work_left_and_a_finished_sweep_leaves_none(toy_series, tmp_path):
    out = tmp_path / "run"
    series = CheckpointSeries.from_dir(toy_series)
    before = dry_run_text(series, CONFIG, out)
    lines = before.splitlines()
    assert lines[0] == f"series: {series.source} (3 checkpoints), executor: local"
    assert sum(line.endswith("2 skills") for line in lines) == 3
    seqs = int(lines[-1].split("work left: ")[1].split()[0])
    assert seqs > 0 and "0 probe fits" not in lines[-1]
    sweep(series, out, config=CONFIG, run="run", progress=False)
    after = dry_run_text(CheckpointSeries.from_dir(toy_series), plan_sweep(CONFIG), out)
    assert sum(line.endswith("0 skills") for line in after.splitlines()) == 3
    assert after.splitlines()[-1].startswith("work left: 0 forward sequences, 0 probe fits")
    assert "add2@" in after and f"probe_key: {CONFIG.probe_key()}" in after


def test_sweep_checks_keyword_settings_before_reading_the_series(tmp_path):
    """A bad setting passed to cl.sweep names the argument, before the (missing) series is read;
    an unknown one gets a did-you-mean, and nothing is written."""
    import pytest

    import curriculens as cl
    from curriculens.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"n_examples = 5 is too small; expected an integer >= 20"
    ):
        cl.sweep(tmp_path / "missing", tmp_path / "out", n_examples=5)
    with pytest.raises(ConfigError, match="Did you mean 'n_examples'"):
        cl.sweep(tmp_path / "missing", tmp_path / "out", n_exmaples=100)
    assert not (tmp_path / "out").exists()
