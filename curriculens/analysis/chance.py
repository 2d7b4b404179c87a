"""Chance levels of imported tasks: a relative emergence criterion starts from chance.

A multiple-choice task scored by accuracy sits at ``1 / n_choices`` before the model learns
anything; read from 0, half of its maximum is already reached at init. lm-evaluation-harness
result files do not record how many choices a task has, so the known tasks are listed here (the
task's dataset defines it); any other task has no chance level (None: read from 0).

>>> task_chance("arc_easy"), task_chance("hendrycksTest-anatomy"), task_chance("lambada_openai")
(0.25, 0.25, None)
"""

from __future__ import annotations

import re
from dataclasses import replace

from curriculens.analysis.criterion import Criterion

__all__ = ["MAJORITY", "N_CHOICES", "task_chance", "with_chance"]

#: lm-evaluation-harness task (a regex on its name) -> number of answer choices.
N_CHOICES: dict[str, int] = {
    r"arc_(easy|challenge)": 4,
    r"(hendrycksTest|mmlu)[-_].*": 4,
    r"mmlu": 4,
    r"sciq": 4,
    r"logiqa.*": 4,
    r"hellaswag": 4,
    r"openbookqa": 4,
    r"piqa": 2,
    r"winogrande": 2,
    r"wsc(273)?": 2,
    r"boolq": 2,
    r"copa": 2,
    r"crows_pairs_.*": 2,
    r"blimp_.*": 2,
}


#: Tasks whose labels are imbalanced: chance is the majority class's share, the accuracy of
#: always giving the commoner answer (SuperGLUE WSC validation: 66 of 104 are False).
MAJORITY: dict[str, float] = {r"wsc": 66 / 104}


def task_chance(task: str) -> float | None:
    """Chance accuracy of a known lm-evaluation-harness task (1 / its choices, or its majority
    class's share where the labels are imbalanced), else None."""
    for pattern, share in MAJORITY.items():
        if re.fullmatch(pattern, str(task)):
            return share
    for pattern, n in N_CHOICES.items():
        if re.fullmatch(pattern, str(task)):
            return 1.0 / n
    return None


def with_chance(crit: Criterion, chance: float | None) -> Criterion:
    """``crit`` reading from ``chance`` when it is a relative criterion without its own chance.

    The name is kept: starting from chance is part of what a relative criterion means (its
    description says so), not a change of the criterion.
    """
    if crit.method != "relative" or crit.chance is not None or not chance:
        return crit
    if not 0.0 < float(chance) < 1.0:
        return crit
    return replace(crit, chance=float(chance), name=crit.name)
