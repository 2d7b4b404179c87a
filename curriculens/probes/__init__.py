"""Linear probes on activations: the fused batched engine, the estimator, and the sweep contract."""

from curriculens.probes.fused import BatchProbeResult, carve_validation, fit_logistic_batch
from curriculens.probes.tasks import ProbeResult, ProbeTask, fit_probe_tasks, shuffle_labels

__all__ = [
    "BatchProbeResult",
    "ProbeResult",
    "ProbeTask",
    "carve_validation",
    "fit_logistic_batch",
    "fit_probe_tasks",
    "shuffle_labels",
]
