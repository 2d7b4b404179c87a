"""The entry point: every command and subcommand through ``main([...])``, one error format."""

from __future__ import annotations

import subprocess
import sys

import pytest

from curriculens import __version__
from curriculens.cli.main import COMMANDS, build_parser, main

SUBCOMMANDS = [[c] for c in COMMANDS] + [["skills", s] for s in ("list", "show", "validate")]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"curriculens {__version__}"


def test_help_imports_no_heavy_module():
    """``curriculens --help`` stays under a second by loading no command module."""
    code = (
        "import sys, contextlib, io\n"
        "from curriculens.cli.main import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'pandas', 'numpy')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=" ".join)
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    assert "usage: curriculens " + " ".join(argv) in capsys.readouterr().out


def test_full_parser_builds_every_command():
    names = build_parser()._subparsers._group_actions[0].choices
    assert set(names) == set(COMMANDS)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("demo", "skills")])
def test_results_commands_take_json(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--json" in capsys.readouterr().out


def test_no_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: curriculens" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "/nonexistent/run"],
        ["export", "/nonexistent/run"],
        ["emergence", "/nonexistent/file.csv"],
        ["optimize", "/nonexistent/run"],
        ["sweep", "/nonexistent/dir"],
        ["skills", "show", "agrement"],
    ],
    ids=lambda a: a[0],
)
def test_errors_are_one_line_with_exit_2(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"curriculens {argv[0]}: error: ") and "Traceback" not in err


def test_one_flag_per_concept_and_no_hidden_aliases(capsys):
    p = build_parser()
    assert p.parse_args(["demo", "--train-steps", "7"]).train_steps == 7
    assert p.parse_args(["optimize", "R", "--train-steps", "9"]).train_steps == 9
    assert p.parse_args(["optimize", "R", "--bootstrap", "5"]).n_boot == 5
    assert p.parse_args(["sweep", "D", "--examples", "40"]).n_examples == 40
    for argv in (
        ["demo", "--steps", "7"],  # --steps is only for checkpoint steps (sweep)
        ["optimize", "R", "--boot", "5"],
        ["optimize", "R", "--model", "d_model=32"],  # --model is only a hub repo
        ["sweep", "D", "--n-examples", "40"],
        ["export", "R", "--output", "x.csv"],
    ):
        with pytest.raises(SystemExit):
            p.parse_args(argv)
    capsys.readouterr()
    for argv in (["demo"], ["sweep", "D"], ["report", "R"], ["export", "R"]):
        assert p.parse_args([*argv, "-o", "X"]).out == "X"


@pytest.mark.slow
def test_demo_seeds_flag_trains_every_seed(tmp_path, capsys):
    """``demo --seeds 2`` was parsed and then dropped; it now trains both seeds."""
    out = tmp_path / "d"
    argv = ["demo", "--seeds", "2", "--train-steps", "6", "--checkpoints", "3"]
    argv += ["--examples", "30", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert (out / "seed0" / "checkpoints").is_dir() and (out / "seed1" / "checkpoints").is_dir()
    md = (out / "report.md").read_text()
    assert "## Order consistency across runs" in md and "| seed0 | seed1 |" in md
    assert "2 seeds" in capsys.readouterr().out
