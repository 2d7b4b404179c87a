import html

from curriculens.analysis.curriculum import load_table
from curriculens.reporting.plots import plot_behavior, plot_probe_heatmaps, plot_timeline
from curriculens.reporting.writer import write_report


def test_report_writes_html_markdown_and_figures(tiny_run):
    out, _, _ = tiny_run
    page = write_report(out)
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 4  # one run: no consistency matrix
    assert "Representation vs behavior" in text
    for skill in ("agreement", "facts", "add1", "copy"):
        assert html.escape(skill) in text
    md = (out / "report.md").read_text()
    assert "| # | skill |" in md and "Never emerged in this run:" in md
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
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
    plt.close("all")
