"""curriculens: map the implicit curriculum of language-model pretraining.

The public API is the names in ``__all__``; subpackages (``curriculens.probes``,
``curriculens.analysis``, ``curriculens.skills``, ``curriculens.toy``) hold the rest. Names load
lazily, so ``curriculens --help`` and light imports stay fast, and type checkers see them through
the ``TYPE_CHECKING`` imports below. No submodule shares a name with an exported function, so
importing any module never replaces ``cl.sweep`` or ``cl.report``.

>>> import curriculens as cl
>>> run = cl.sweep("runs/demo/checkpoints", "runs/demo")  # doctest: +SKIP
>>> cl.curriculum(run).skill.iloc[0]  # doctest: +SKIP
'agreement'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from curriculens._version import __version__

#: exported name -> (module, attribute)
_EXPORTS = {
    # checkpoints -> sweep
    "CheckpointSeries": ("curriculens.checkpoints", "CheckpointSeries"),
    "SweepConfig": ("curriculens.pipeline.run", "SweepConfig"),
    "sweep": ("curriculens.pipeline.run", "sweep"),
    "Tracker": ("curriculens.pipeline.tracker", "Tracker"),
    "CurriculensCallback": ("curriculens.pipeline.tracker", "CurriculensCallback"),
    # results -> analysis -> report
    "load_table": ("curriculens.analysis.table", "load_table"),
    "export_table": ("curriculens.analysis.table", "export_table"),
    "curriculum": ("curriculens.analysis.curriculum", "curriculum"),
    "lead_lag": ("curriculens.analysis.leadlag", "lead_lag"),
    "report": ("curriculens.reporting.writer", "write_report"),
    # skills
    "Example": ("curriculens.skills.registry", "Example"),
    "Skill": ("curriculens.skills.registry", "Skill"),
    "register_skill": ("curriculens.skills.registry", "register_skill"),
    "get_skill": ("curriculens.skills.registry", "get_skill"),
    "list_skills": ("curriculens.skills.registry", "list_skills"),
    "load_skill_file": ("curriculens.skills.files", "load_skill_file"),
    # probes on your own activations
    "LinearProbe": ("curriculens.probes.linear", "LinearProbe"),
    "fit_logistic_batch": ("curriculens.probes.fused", "fit_logistic_batch"),
    "CurriculensError": ("curriculens.errors", "CurriculensError"),
}
__all__ = [
    "CheckpointSeries",
    "CurriculensCallback",
    "CurriculensError",
    "Example",
    "LinearProbe",
    "Skill",
    "SweepConfig",
    "Tracker",
    "__version__",
    "curriculum",
    "export_table",
    "fit_logistic_batch",
    "get_skill",
    "lead_lag",
    "list_skills",
    "load_skill_file",
    "load_table",
    "register_skill",
    "report",
    "sweep",
]

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time the names load on first use
    from curriculens.analysis.curriculum import curriculum
    from curriculens.analysis.leadlag import lead_lag
    from curriculens.analysis.table import export_table, load_table
    from curriculens.checkpoints import CheckpointSeries
    from curriculens.errors import CurriculensError
    from curriculens.pipeline.run import SweepConfig, sweep
    from curriculens.pipeline.tracker import CurriculensCallback, Tracker
    from curriculens.probes.fused import fit_logistic_batch
    from curriculens.probes.linear import LinearProbe
    from curriculens.reporting.writer import write_report as report
    from curriculens.skills.files import load_skill_file
    from curriculens.skills.registry import (
        Example,
        Skill,
        get_skill,
        list_skills,
        register_skill,
    )


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curriculens' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
