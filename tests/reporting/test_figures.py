"""Tests of the report's figures: three formats, captions that name the criterion, each figure
after its table, the timeline legend outside the bars and the heatmaps' true token axis."""

import re

import numpy as np
import pytest

from curriculens.analysis.curriculum import SkillEmergence, load_table
from curriculens.reporting.figures import AFTER, FORMATS
from curriculens.reporting.plots import (
    plot_behavior,
    plot_probe_heatmaps,
    plot_timeline,
    token_edges,
)
from curriculens.reporting.writer import analyze, write_report


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):
    run, _, _ = tiny_run
    out = tmp_path_factory.mktemp("report")
    page = write_report(run, out=out, n_boot=50)
    return run, out, page.read_text(), (out / "report.md").read_text()


def test_every_figure_is_saved_as_svg_pdf_and_a_300_dpi_png(report):
    _, out, _, _ = report
    names = {p.stem for p in (out / "figures").iterdir()}
    assert names == {"behavior", "timeline", "probes", "leadlag"}
    for name in names:
        for fmt in FORMATS:
            assert (out / "figures" / f"{name}.{fmt}").stat().st_size > 1000
        assert (out / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert b"<svg" in (out / "figures" / f"{name}.svg").read_bytes()[:2000]
        png = (out / "figures" / f"{name}.png").read_bytes()
        # pHYs chunk: pixels per metre, 300 dpi = 11811
        i = png.index(b"pHYs")
        assert int.from_bytes(png[i + 4 : i + 8], "big") == 11811


def test_captions_state_what_each_figure_shows_and_the_criterion(report):
    run, _, page, md = report
    a = analyze(run, n_boot=50)
    caps = re.findall(r"^\*Figure (\d)\.\* (.*)$", md, flags=re.M)
    assert [int(n) for n, _ in caps] == [1, 2, 3, 4]
    for _, cap in caps:
        assert "criterion" in cap.lower()
        assert (
            a.criterion.label().split(":")[0] in cap
            or a.probe_criterion.label().split(":")[0] in cap
        )
    behavior = [cap for _, cap in caps if f"riterion {a.criterion.name}:" in cap]
    assert len(behavior) >= 3  # timeline, behavior and heatmaps print the definition too
    assert page.count("<figcaption><b>Figure ") == 4
    assert 'href="figures/behavior.svg"' in page and 'href="figures/behavior.pdf"' in page


def test_each_figure_sits_after_its_table(report):
    _, _, page, md = report
    sections = re.split(r"^## ", md, flags=re.M)[1:]
    where = {
        m: s.split("\n", 1)[0] for s in sections for m in re.findall(r"\(figures/(\w+)\.png\)", s)
    }
    assert where == {name: AFTER[name][0] for name in where}
    for s in sections:
        if "](figures/" in s:  # the figure comes after the table's last row
            assert s.rindex("\n| ") < s.index("![Figure")
    assert "## Figures" not in md and "<h2>Figures</h2>" not in page
    # html: the same order, the JSON collapsed at the end
    assert page.index("<h2>Curriculum</h2>") < page.index('id="figure-timeline"')
    assert page.index('id="figure-timeline"') < page.index("<h2>Probes beside their baselines")
    assert page.index("<h2>Representation vs behavior") < page.index('id="figure-leadlag"')
    assert "<details><summary>" in page and page.index("<details>") > page.index("figure-leadlag")


def test_timeline_legend_sits_outside_the_axes():
    em = [
        SkillEmergence(skill=f"s{i}", family="f", components=(), metric="acc",
                       behavior_tokens=10.0**i, behavior_lo=10.0 ** (i - 1), behavior_hi=10.0**i,
                       behavior_final=1.0, probe_state="present_at_init", probe_tokens=0.0)
        for i in range(2, 7)
    ]  # fmt: skip
    fig = plot_timeline(em)
    (ax,) = fig.axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1


def test_behavior_is_faceted_by_family_on_a_shared_log_token_axis(report):
    run, _, _, _ = report
    a = analyze(run, n_boot=50)
    fig = plot_behavior(a.df, emergence=a.emergence, criterion=a.criterion)
    families = {e.family for e in a.emergence}
    shown = [ax for ax in fig.axes if ax.axison]
    assert {ax.get_title() for ax in shown} == families
    assert all(ax.get_xscale() == "symlog" for ax in shown)
    assert len({ax.get_xlim() for ax in shown}) == 1
    for ax in shown:  # each panel draws only its family's skills
        labels = {t.get_text() for t in ax.get_legend().get_texts()} - {"threshold 0.8"}
        assert labels == {e.skill for e in a.emergence if e.family == ax.get_title()}


def test_heatmaps_have_a_true_token_axis_and_a_selectivity_panel(report):
    run, _, _, _ = report
    df = load_table(run)
    fig = plot_probe_heatmaps(df, ["facts"])
    probe, sel = (ax for ax in fig.axes if ax.get_title().startswith("facts"))
    assert probe.get_title() == "facts: probe accuracy" and sel.get_title() == "facts: selectivity"
    tokens = sorted(df.tokens.unique())
    (mesh,) = probe.collections
    edges = np.unique(mesh.get_coordinates()[..., 0])
    assert np.allclose(edges, token_edges(tokens))
    assert probe.get_xscale() == "symlog"
    # every checkpoint lies inside its own cell
    assert all(lo < t < hi for t, lo, hi in zip(tokens[1:], edges[1:-1], edges[2:], strict=True))


def test_token_edges_centre_each_cell_on_its_checkpoint():
    e = token_edges([0, 100, 10_000])
    assert e[0] == 0 and e[2] == pytest.approx(1000) and e[3] == pytest.approx(100_000)
    lo, hi = token_edges([0])  # one checkpoint: a cell around it all the same
    assert lo == 0 < hi
    lo, hi = token_edges([100])
    assert lo < 100 < hi


def test_every_figure_the_report_references_exists_and_decodes(report):
    """Without a browser: each SVG, PDF and PNG the HTML or Markdown names is on disk and is
    what it says (SVG: XML with drawing elements; PDF: a complete file; PNG: 300 dpi), and each
    PNG embedded in the HTML decodes."""
    import base64
    import io
    import xml.etree.ElementTree as ET

    from PIL import Image

    _, out, page, md = report
    refs = set(re.findall(r'href="(figures/[^"]+)"', page))
    refs |= set(re.findall(r"\]\((figures/[^)]+)\)", md))
    stems = {r.rsplit(".", 1)[0] for r in refs}
    assert len(stems) == 4 and refs == {f"{s}.{fmt}" for s in stems for fmt in FORMATS}
    for ref in sorted(refs):
        path = out / ref
        data = path.read_bytes()
        if ref.endswith(".svg"):
            root = ET.fromstring(data)
            assert root.tag.endswith("svg")
            drawn = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("path", "use", "text")]
            assert len(drawn) > 20, ref
        elif ref.endswith(".pdf"):
            assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), ref
        else:
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                assert im.format == "PNG" and min(im.size) > 200
                assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(stems)
    for b64 in embedded:
        with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
            im.load()
            assert im.size[0] > 100
