"""Tests of the report: its three opening answers, its tables and figures, and their agreement."""

import html
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from curriculens.analysis.curriculum import load_table
from curriculens.analysis.leadlag import lead_lag
from curriculens.reporting.plots import (
    VERDICT_COLORS,
    plot_behavior,
    plot_lead_lag,
    plot_probe_heatmaps,
    plot_timeline,
)
from curriculens.reporting.writer import analyze, answers, write_report


def _leadlag_module():
    spec = importlib.util.spec_from_file_location(
        "_leadlag_tests", Path(__file__).parents[1] / "analysis" / "test_leadlag.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _planted(tmp_path):
    """Four skills: a lead, a lag, a probe decodable from init, a behavior that never emerges."""
    m = _leadlag_module()
    skills = {
        "a_lead": (m.rising(8), m.probe_rising(3)),
        "b_lag": (m.rising(3), m.probe_rising(8)),
        "c_init": (m.rising(7), lambda j, lay: 0.95),
        "d_never": (lambda j: 0.001, m.probe_rising(4)),
    }
    return m._store(tmp_path / "planted", skills, n=300)


def test_report_opens_with_three_answers_and_their_evidence(tmp_path):
    run = _planted(tmp_path)
    a = analyze(run, n_boot=200)
    when, order, leads = answers(a)
    assert when.startswith("When do skills emerge? 3 of 4 skills emerged")
    assert "d_never (final exact_match" in when and "Criterion paper:" in when
    assert order.startswith("In what order? b_lag") and "steps between consecutive groups" in order
    assert leads.startswith("Do representations lead? Probe selectivity leads behavior in 1 of 4")
    assert "(a_lead +" in leads and "lags in 1 (b_lag -" in leads
    assert "already at the first checkpoint, so no lead is measurable (c_init)" in leads
    assert "never emerged (d_never)" in leads and "paper-relative" in leads
    page = write_report(run, n_boot=200)
    md = (run / "report.md").read_text()
    assert md.splitlines()[2] == f"- {when}" and md.splitlines()[4] == f"- {leads}"
    assert html.escape(leads) in page.read_text()


def test_lead_lag_table_and_figure_show_the_same_verdicts(tmp_path):
    run = _planted(tmp_path)
    results = lead_lag(run, n_boot=200)
    assert [r.verdict for r in results] == ["leads", "lags", "present_at_init", "not_emerged"]
    fig = plot_lead_lag(results)
    (ax,) = fig.axes
    shown = [t.get_text() for t in ax.texts]
    assert shown == [r.verdict for r in results]
    assert [t.get_color() for t in ax.texts] == [VERDICT_COLORS[r.verdict] for r in results]
    assert [t.get_text() for t in ax.get_yticklabels()] == [r.skill for r in results]
    write_report(run, n_boot=200)
    md = (run / "report.md").read_text()
    table = md.split("## Representation vs behavior", 1)[1].split("\n## ", 1)[0]
    rows = [ln.strip("|").split(" | ") for ln in table.splitlines() if ln.startswith("| ")][1:]
    assert [(r[0].strip(), r[-1].strip()) for r in rows] == [(r.skill, r.verdict) for r in results]


def test_report_writes_html_markdown_and_figures(tiny_run):
    out, _, _ = tiny_run
    page = write_report(out)
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 4  # one run: no consistency matrix
    assert "Representation vs behavior" in text
    for skill in ("agreement", "facts", "add1", "copy"):
        assert html.escape(skill) in text
    md = (out / "report.md").read_text()
    assert "| # | skill |" in md and "When do skills emerge?" in md
    assert "In what order?" in md and "Do representations lead?" in md
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == [
        "behavior.png",
        "leadlag.png",
        "probes.png",
        "timeline.png",
    ]


def test_plot_functions_take_an_axis_and_return_the_figure(tiny_run):
    import matplotlib.pyplot as plt

    out, _, _ = tiny_run
    df = load_table(out)
    fig, ax = plt.subplots()
    assert plot_behavior(df, ax=ax) is fig
    assert plot_probe_heatmaps(df, ["facts"]).axes
    assert plot_timeline([]).axes
    assert np.isfinite(ax.get_xlim()).all()
    plt.close("all")


def test_several_seeds_are_pooled_and_their_orders_compared(tmp_path):
    m = _leadlag_module()
    skills = {
        "a_lead": (m.rising(8), m.probe_rising(3)),
        "b_early": (m.rising(4), m.probe_rising(4)),
    }
    run = m._store(tmp_path / "seeds", skills, n=200, runs=("seed0", "seed1"))
    a = analyze(run, n_boot=100)
    assert {r.run for r in a.leads} == {"seed0+seed1"}
    (pair,) = a.consistency.pairs
    assert pair.n == 2 and pair.n_both == 2 and pair.spearman == pytest.approx(1.0)
    when, order, _ = answers(a)
    assert "(curves averaged over 2 runs)" in when
    assert "across the 2 runs the orders agree with Spearman rho 1.00" in order
    write_report(run, n_boot=100)
    md = (run / "report.md").read_text()
    assert "## Order consistency across runs" in md and "| both emerged |" in md
    assert "## Emergence per run (paper)" in md


def test_the_analysis_reads_one_open_store_into_one_typed_object(tiny_run, monkeypatch):
    """Every analysis of the report reads the one store analyze() opens (no re-opening from
    the path), and the result is a RunAnalysis, not a dict."""
    from curriculens.reporting.run_analysis import RunAnalysis
    from curriculens.store import Store

    opened = []
    init = Store.__init__

    def counting(self, path, **kw):
        opened.append(path)
        init(self, path, **kw)

    monkeypatch.setattr(Store, "__init__", counting)
    a = analyze(tiny_run[0], n_boot=20)
    assert isinstance(a, RunAnalysis) and len(opened) == 1
    assert a.leads and a.baselines and a.emergence and a.consistency is None
    assert {e.skill for e in a.emergence} <= set(a.df.skill)


def test_a_section_renders_the_same_table_in_markdown_and_html():
    from curriculens.reporting.sections import Section

    s = Section("A <b> & B", [["x", "y|z"], ["<i>1</i>", "2"]], "note &amp; <br>")
    md = "\n".join(s.markdown([], {}))
    assert "## &lt;b> & B" not in md and "## A &lt;b> & B" in md
    assert "| x | y\\|z |" in md and "| &lt;i>1&lt;/i> | 2 |" in md
    assert "note &amp;amp; &lt;br>" in md
    page = s.html([], {})
    assert page.startswith("<h2>A &lt;b&gt; &amp; B</h2><p>note &amp;amp; &lt;br&gt;</p>")
    assert "<td>&lt;i&gt;1&lt;/i&gt;</td>" in page and "<th>y|z</th>" in page
