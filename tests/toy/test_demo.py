import json
import subprocess
import sys

import pytest

from curriculens.cli.main import main
from curriculens.errors import ConfigError
from curriculens.toy.demo import DemoConfig, run_demo


def test_demo_end_to_end_with_few_steps(tmp_path):
    out = tmp_path / "demo"
    info = run_demo(
        DemoConfig(out=str(out), steps=12, n_checkpoints=3, n_examples=40), progress=False
    )
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step0", "step1", "step12"]
    saved = json.loads((out / "demo.json").read_text())
    assert saved["steps"] == 12 and saved["total_seconds"] == info["total_seconds"]
    # every source of the designed curriculum is measured, and the design is kept in the run
    from curriculens.analysis.curriculum import load_table
    from curriculens.toy.curriculum import DESIGN, Design, compare_with_design

    assert set(load_table(out).skill) == set(DESIGN.names)
    assert Design.load(out) == DESIGN
    (comparison,) = compare_with_design(out)
    assert comparison.n_skills == len(DESIGN.names)
    assert len(comparison.composite_pairs) == 2 * len(DESIGN.components())
    assert saved["design"] == [comparison.to_dict()]  # demo.json carries the comparison
    md = (out / "report.md").read_text()  # and the report shows it, with the design itself
    assert "## Recovered vs designed order" in md and "## The designed curriculum" in md


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--train-steps", "0"], "--train-steps: 0 is too small"),
        (["demo", "--train-steps", "-3"], "--train-steps: -3 is too small"),
        (["demo", "--steps", "7"], "unrecognized arguments: --steps"),
        (["demo", "--examples", "5"], "--examples: 5 is too small; expected an integer >= 20"),
        (["demo", "--seed", "1.5"], "--seed: '1.5' is not an integer"),
        (["demo", "--seed", "abc"], "--seed: 'abc' is not an integer"),
        (["demo", "--threads", "-1"], "--threads: -1"),
    ],
)
def test_cli_rejects_bad_numbers_without_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_out_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "taken.txt"
    f.write_text("keep me")
    r = subprocess.run(
        [sys.executable, "-m", "curriculens", "demo", "--out", str(f)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "is an existing file; give a directory path" in r.stderr
    assert "Traceback" not in r.stderr
    assert f.read_text() == "keep me"


def test_cli_threads_sets_the_training_threads_and_timings_are_kept_per_seed(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--train-steps", "4", "--checkpoints", "2"]
    assert main([*argv, "--examples", "30", "--threads", "1", "--quiet", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    (seed,) = info["per_seed"]
    assert seed["seed"] == 0 and seed["threads"] == 1
    assert json.loads((out / "train_summary.json").read_text())["threads"] == 1
    assert seed["train_seconds"] == pytest.approx(info["train_seconds"], abs=0.1)


def test_demo_refuses_to_overwrite_unless_forced(tmp_path):
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(ConfigError, match="already holds files"):
        DemoConfig(out=str(tmp_path))
    with pytest.raises(ConfigError, match="not a curriculens run directory"):
        DemoConfig(out=str(tmp_path), force=True)


@pytest.mark.slow
def test_demo_with_several_seeds_reports_order_consistency(tmp_path):
    out = tmp_path / "seeds"
    run_demo(
        DemoConfig(out=str(out), steps=6, n_checkpoints=3, n_examples=30, seeds=2), progress=False
    )
    md = (out / "report.md").read_text()
    assert "## Order consistency across runs" in md
    assert "| seed0 | seed1 |" in md
    assert "## Emergence per run" in md
    assert (out / "figures" / "consistency.png").exists()
    assert (out / "seed0" / "checkpoints").is_dir() and (out / "seed1" / "checkpoints").is_dir()


def test_cli_prints_the_design_comparison_per_seed(tmp_path, monkeypatch, capsys):
    """`curriculens demo` prints, per seed, how the recovered order compares with the design."""
    import curriculens.toy.demo as demo_mod
    from curriculens.cli.main import main

    info = {
        "total_seconds": 1.0, "train_seconds": 0.5, "sweep_seconds": 0.4, "report_seconds": 0.1,
        "report": str(tmp_path / "report.html"),
        "design": [{
            "run": "seed0", "spearman": 0.8185, "n_emerged": 16, "n_skills": 17,
            "composite_pairs": [["cp", "copy", True], ["cp", "plural", False], ["pp", "pet", None]],
            "distinct_elementals": 4, "distinct_fewshot_elementals": 3,
        }],
    }  # fmt: skip
    monkeypatch.setattr(demo_mod, "run_demo", lambda cfg, progress=True: info)
    assert main(["demo", "-o", str(tmp_path / "d"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (
        "seed0: recovered vs designed order, Spearman 0.82 (16 of 17 skills emerged, raw "
        "curves); composites after their components in 1 of 2 pairs; elementals on 4 distinct "
        "checkpoints (3 few-shot)"
    ) in out
    info["design"][0]["spearman"] = None  # too few skills emerged to rank (a very short run)
    assert main(["demo", "-o", str(tmp_path / "d"), "--quiet"]) == 0
    assert "Spearman n/a (16 of 17" in capsys.readouterr().out
