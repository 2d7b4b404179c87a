"""docs/plots.md runs as written, notebook-style, and every plot function keeps its contract:
a DataFrame and an optional ``ax`` in, the figure out (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

DOC = Path(__file__).resolve().parents[2] / "docs" / "plots.md"


def _seeds_store(path: Path) -> None:
    """Two runs of one store (as ``demo --seeds``), from planted curves."""
    from curriculens.analysis.importers import write_store
    from curriculens.store import Store

    rows = [
        dict(model=f"seed{s}", tokens=t, task=task, score=float(t >= rise))
        for s, shift in ((0, 1), (1, 10))
        for task, rise in (("a", 100 * shift), ("b", 1000 * shift), ("c", 10**9))
        for t in (10, 100, 1000, 10_000, 100_000)
    ]
    with Store(path) as st:
        write_store(pd.DataFrame(rows), st)


@pytest.fixture
def notebook(tiny_run, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "demo").symlink_to(tiny_run[0])
    _seeds_store(tmp_path / "runs" / "seeds")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_docs_plots_runs_as_written(notebook, capsys):
    import matplotlib.pyplot as plt

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 4
    scope: dict = {}
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"docs/plots.md block {i + 1}", "exec"), scope)  # noqa: S102
            if "fig" in scope:
                assert isinstance(scope["fig"], Figure)
    finally:
        plt.close("all")
    for name in ("behavior.svg", "timeline.pdf", "probes.png", "side_by_side.svg",
                 "consistency.svg"):  # fmt: skip
        assert (notebook / name).stat().st_size > 1000, name
    cur, df = scope["cur"], scope["df"]
    assert list(cur.columns[:2]) == ["skill", "family"] and len(cur) == 4
    assert (df.metric == "selectivity").any() and set(df.layer.dropna()) <= {-1, 0, 1}
    assert len(scope["leads"]) >= 1 and len(scope["pairs"]) == 1
    assert "behavior_state" in capsys.readouterr().out


def test_every_plot_takes_an_ax_and_returns_its_figure(tiny_run):
    import curriculens as cl
    import curriculens.plots as clp

    df, cur = cl.load_table(tiny_run[0]), cl.curriculum(tiny_run[0], n_boot=0)
    probed = cur.skill[cur.probe_layer.notna()].tolist()[:1]
    fig = Figure()
    axes = fig.subplots(1, 4)
    assert clp.plot_behavior(df, emergence=cur, ax=axes[0]) is fig
    assert clp.plot_timeline(cur, ax=axes[1]) is fig
    assert clp.plot_probe_heatmaps(df, probed, emergence=cur, ax=axes[2:]) is fig
    labels = [t.get_text() for t in axes[2].get_yticklabels()]
    assert labels[0] == "embed" and labels[1:] == ["0", "1"]  # TransformerLens block numbers
