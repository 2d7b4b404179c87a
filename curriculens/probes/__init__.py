"""Linear probes on activations: the fused batched engine, the estimator, and the sweep contract."""

from curriculens.probes.calibrated import CalibratedResult, fit_calibrated_batch
from curriculens.probes.controls import control_labels
from curriculens.probes.fused import BatchProbeResult, carve_validation, fit_logistic_batch
from curriculens.probes.linear import LinearProbe
from curriculens.probes.mdl import MDLResult, mdl_online_codelength
from curriculens.probes.ridge import fit_ridge_batch
from curriculens.probes.tasks import ProbeResult, ProbeTask, fit_probe_tasks, shuffle_labels

__all__ = [
    "BatchProbeResult",
    "CalibratedResult",
    "LinearProbe",
    "MDLResult",
    "ProbeResult",
    "ProbeTask",
    "carve_validation",
    "control_labels",
    "fit_calibrated_batch",
    "fit_logistic_batch",
    "fit_probe_tasks",
    "fit_ridge_batch",
    "mdl_online_codelength",
    "shuffle_labels",
]
