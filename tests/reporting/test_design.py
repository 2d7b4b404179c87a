"""Tests of the 'Recovered vs designed order' section, read from a demo run's JSON files."""

import json

from curriculens.reporting.design import design_sections, design_summary


def _demo_run(tmp_path):
    design = {
        "version": 5,
        "sources": [
            {"name": "copy", "weight": 0.2, "wave": 0, "enters": 0.0},
            {"name": "plural", "weight": 0.1, "wave": 1, "enters": 0.1},
            {"name": "copy_plural", "weight": 0.03, "wave": 2, "enters": 0.3},
        ],
        "components": {"copy_plural": ["copy", "plural"]},
    }
    comparison = {
        "run": "seed0",
        "spearman": 0.5,
        "n_emerged": 3,
        "n_skills": 3,
        "disagreeing": [["plural", "copy_plural"]],
        "composite_pairs": [["copy_plural", "copy", True], ["copy_plural", "plural", False]],
        "crossings": {"copy": 1000.0, "plural": 5000.0, "copy_plural": 4000.0},
        "distinct_elementals": 2,
        "distinct_fewshot_elementals": 2,
    }
    (tmp_path / "design.json").write_text(json.dumps(design))
    (tmp_path / "demo.json").write_text(json.dumps({"design": [comparison]}))
    return tmp_path


def test_a_demo_run_gets_the_comparison_and_the_design(tmp_path):
    order, table = design_sections(_demo_run(tmp_path))
    assert order.title == "Recovered vs designed order"
    row = order.rows[1]
    assert row[:3] == ["seed0", "0.50", "3 of 3"]
    assert row[4] == "1 of 2"  # composite later than copy, not than plural
    assert row[5] == "1: plural after copy_plural"
    assert [r[0] for r in table.rows[1:]] == ["copy", "plural", "copy_plural"]
    assert table.rows[3][4] == "copy + plural"
    (sentence,) = design_summary(tmp_path)
    assert "Spearman seed0 0.50" in sentence and "1 of 2 pairs" in sentence


def test_a_run_without_a_design_gets_no_section(tmp_path):
    assert design_sections(tmp_path) == [] and design_summary(tmp_path) == []
    (tmp_path / "demo.json").write_text("not json")
    assert design_sections(tmp_path) == []
