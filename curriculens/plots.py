"""``curriculens.plots``: the figures of the report, for notebooks (docs/plots.md).

Each function takes a DataFrame (``cl.load_table(run)``, ``cl.curriculum(run)``, or a derived
table of :mod:`curriculens.analysis.derived`) and an optional ``ax``, and returns the
``matplotlib.figure.Figure``; nothing is saved or shown. They live in
:mod:`curriculens.reporting.plots`; this module is their public name.

>>> import curriculens.plots as clp
>>> sorted(clp.__all__)[:2]
['plot_behavior', 'plot_consistency']
"""

from curriculens.reporting.plots import (
    plot_behavior,
    plot_consistency,
    plot_lead_lag,
    plot_probe_heatmaps,
    plot_timeline,
)

__all__ = [
    "plot_behavior",
    "plot_consistency",
    "plot_lead_lag",
    "plot_probe_heatmaps",
    "plot_timeline",
]
