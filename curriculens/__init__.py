"""curriculens: map the implicit curriculum of language-model pretraining.

Names load lazily, so ``curriculens --help`` and light imports stay fast.

>>> import curriculens as cl
>>> run = cl.sweep("runs/demo/checkpoints", "runs/demo")  # doctest: +SKIP
>>> cl.curriculum(run)[0].skill  # doctest: +SKIP
'facts'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "analysis": ("curriculens.analysis", None),
    "curriculum": ("curriculens.analysis.curriculum", "curriculum"),
    "load_table": ("curriculens.analysis.curriculum", "load_table"),
    "lead_lag": ("curriculens.analysis.leadlag", "lead_lag"),
    "Checkpoint": ("curriculens.checkpoints", "Checkpoint"),
    "DuplicateCheckpointWarning": ("curriculens.checkpoints", "DuplicateCheckpointWarning"),
    "fingerprint": ("curriculens.checkpoints", "fingerprint"),
    "read_state_dict": ("curriculens.checkpoints", "read_state_dict"),
    "evaluate_model": ("curriculens.pipeline.run", "evaluate_model"),
    "CurriculensCallback": ("curriculens.pipeline.callback", "CurriculensCallback"),
    "export_table": ("curriculens.cli.sweep", "export_table"),
    "CheckpointSeries": ("curriculens.checkpoints", "CheckpointSeries"),
    "ToyCorpus": ("curriculens.toy.corpus", "ToyCorpus"),
    "build_toy_tokenizer": ("curriculens.toy.corpus", "build_toy_tokenizer"),
    "CurriculensError": ("curriculens.errors", "CurriculensError"),
    "report": ("curriculens.reporting.writer", "write_report"),
    "LinearProbe": ("curriculens.probes.linear", "LinearProbe"),
    "fit_logistic_batch": ("curriculens.probes.fused", "fit_logistic_batch"),
    "fit_probe_tasks": ("curriculens.probes.tasks", "fit_probe_tasks"),
    "control_labels": ("curriculens.probes.controls", "control_labels"),
    "Example": ("curriculens.skills.registry", "Example"),
    "Skill": ("curriculens.skills.registry", "Skill"),
    "get_skill": ("curriculens.skills.registry", "get_skill"),
    "list_skills": ("curriculens.skills.registry", "list_skills"),
    "load_skill_file": ("curriculens.skills.files", "load_skill_file"),
    "register_skill": ("curriculens.skills.registry", "register_skill"),
    "Store": ("curriculens.store", "Store"),
    "SweepConfig": ("curriculens.pipeline.run", "SweepConfig"),
    "Tracker": ("curriculens.pipeline.run", "Tracker"),
    "sweep": ("curriculens.pipeline.run", "sweep"),
    "TrainConfig": ("curriculens.toy.trainer", "TrainConfig"),
    "train": ("curriculens.toy.trainer", "train"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curriculens' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
