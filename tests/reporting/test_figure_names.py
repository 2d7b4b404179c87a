"""Figures get collision-free file names (issue 29, item 4): two models whose names reduce to
one file name never share figure files."""

from __future__ import annotations

from curriculens.cli.main import main
from curriculens.reporting.figures import file_stems


def test_names_that_reduce_to_one_stem_get_distinct_stems():
    names = ["pythia 160m", "pythia-160m", "Pythia-160m", "a/pythia-160m", "b/pythia-160m"]
    stems = file_stems(names)
    assert len({s.lower() for s in stems.values()}) == len(names)  # case-insensitive too
    assert file_stems(["EleutherAI/pythia-160m", "x"])["EleutherAI/pythia-160m"] == "pythia-160m"
    assert file_stems(["a/m", "b/m"]) == {"a/m": "a-m", "b/m": "b-m"}


def test_a_report_of_two_colliding_models_keeps_each_ones_figures(tmp_path):
    lines = ["model,tokens,task,score"]
    for model, rise in (("pythia 160m", 100), ("pythia-160m", 10_000)):
        for t in (0, 10, 100, 1000, 10_000, 100_000):
            lines.append(f"{model},{t},a,{0.95 if t >= rise else 0.05}")
    src = tmp_path / "curves.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "rep"
    assert main(["report", str(src), "--out", str(out), "--bootstrap", "0", "--smooth", "0"]) == 0
    behavior = sorted(p.name for p in (out / "figures").glob("behavior-*.svg"))
    assert len(behavior) == 2, behavior
    html = (out / "report.html").read_text()
    for name in behavior:
        assert f"figures/{name}" in html
