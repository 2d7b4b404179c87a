"""Analysis of the results table: emergence, curriculum order, consistency, lead/lag, importers."""

from curriculens.analysis.consistency import (
    Consistency,
    PairConsistency,
    composite_check,
    paper_emergence,
    rank_consistency,
)
from curriculens.analysis.curriculum import (
    SkillEmergence,
    behavior_curve,
    curriculum,
    load_table,
    probe_matrix,
)
from curriculens.analysis.emergence import (
    EmergenceCI,
    behavior_emergence,
    bootstrap_emergence,
    emergence_point,
    emergence_table,
    smooth_curve,
)
from curriculens.analysis.importers import load_curves, read_lm_eval, read_tidy_csv, write_store
from curriculens.analysis.leadlag import LeadLag, lead_lag

__all__ = [
    "Consistency",
    "EmergenceCI",
    "LeadLag",
    "PairConsistency",
    "SkillEmergence",
    "behavior_curve",
    "behavior_emergence",
    "bootstrap_emergence",
    "composite_check",
    "curriculum",
    "emergence_point",
    "emergence_table",
    "lead_lag",
    "load_curves",
    "load_table",
    "paper_emergence",
    "probe_matrix",
    "rank_consistency",
    "read_lm_eval",
    "read_tidy_csv",
    "smooth_curve",
    "write_store",
]
