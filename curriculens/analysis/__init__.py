"""Analysis of the results table: emergence, curriculum order, consistency, lead/lag, importers."""

from curriculens.analysis.consistency import (
    Consistency,
    PairConsistency,
    composite_check,
    paper_emergence,
    rank_consistency,
)
from curriculens.analysis.criterion import PRESETS, STATES, Criterion, Crossing
from curriculens.analysis.curriculum import (
    SkillEmergence,
    behavior_curve,
    curriculum,
    load_table,
    probe_matrix,
    skill_emergence,
)
from curriculens.analysis.curves import Curve
from curriculens.analysis.emergence import (
    EmergenceCI,
    behavior_emergence,
    bootstrap_emergence,
    emergence_interval,
    emergence_intervals,
    emergence_point,
    emergence_table,
    smooth_curve,
)
from curriculens.analysis.importers import (
    load_curves,
    load_rows,
    read_lm_eval,
    read_tidy_csv,
    read_tidy_table,
    write_store,
)
from curriculens.analysis.leadlag import VERDICTS, LeadLag, holm, lead_lag

__all__ = [
    "PRESETS",
    "STATES",
    "VERDICTS",
    "Consistency",
    "Criterion",
    "Crossing",
    "Curve",
    "EmergenceCI",
    "LeadLag",
    "PairConsistency",
    "SkillEmergence",
    "behavior_curve",
    "behavior_emergence",
    "bootstrap_emergence",
    "composite_check",
    "curriculum",
    "emergence_interval",
    "emergence_intervals",
    "emergence_point",
    "emergence_table",
    "holm",
    "lead_lag",
    "load_curves",
    "load_rows",
    "load_table",
    "paper_emergence",
    "probe_matrix",
    "rank_consistency",
    "read_lm_eval",
    "read_tidy_csv",
    "read_tidy_table",
    "skill_emergence",
    "smooth_curve",
    "write_store",
]
