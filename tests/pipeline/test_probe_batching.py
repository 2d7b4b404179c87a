"""Issue 28: a checkpoint's probes are solved by shape in batches of bounded memory, so a skill's
stored probe scores do not depend on which other skills are swept with it, nor on the budget."""

from __future__ import annotations

import numpy as np
import torch

import curriculens.probes.tasks as tasks_mod
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.store import Store

torch.set_num_threads(1)


def _probe_rows(out, skill: str) -> dict:
    """The skill's stored probe-side rows (``probe_acc``, controls, lexical), with items."""
    with Store(out, readonly=True) as s:
        rows = s.rows(items=True)
    keep = {"probe_acc", "control_acc", "control_sd", "lexical_acc", "majority", "chance"}
    return {
        (r["checkpoint"], r["hook"], r["metric"]): (
            r["value"],
            None if r["items"] is None else np.asarray(r["items"]).tolist(),
        )
        for r in rows
        if r["skill"] == skill and r["metric"] in keep
    }


def test_a_skills_probes_do_not_depend_on_the_other_skills_or_the_budget(
    toy_series, tmp_path, monkeypatch
):
    """``facts`` swept alone, with two other skills, and with those in calls of one task each:
    the same stored probe, control and lexical rows, value for value and item for item."""
    alone = tmp_path / "alone"
    sweep(toy_series, alone, config=SweepConfig(skills=("facts",), n_examples=40), progress=False)
    both = tmp_path / "both"
    config = SweepConfig(skills=("facts", "plural", "add1"), n_examples=40)
    sweep(toy_series, both, config=config, progress=False)
    monkeypatch.setattr(tasks_mod, "FIT_BUDGET_BYTES", 1)  # a fused call per task
    tiny = tmp_path / "tiny"
    sweep(toy_series, tiny, config=config, progress=False)
    ref = _probe_rows(alone, "facts")
    assert len(ref) > 0 and any(k[2] == "probe_acc" for k in ref)
    assert _probe_rows(both, "facts") == ref
    assert _probe_rows(tiny, "facts") == ref
    assert _probe_rows(tiny, "plural") == _probe_rows(both, "plural")
