"""Linear probes on activations: the task/ control contract used by the sweep."""

from curriculens.probes.tasks import ProbeResult, ProbeTask, fit_probe_tasks

__all__ = ["ProbeResult", "ProbeTask", "fit_probe_tasks"]
