"""One table of parameters (curriculens/params.py): one check for the CLI, TOML and Python, one
flag per concept, parsers that import nothing heavy, and docs/cli.md generated from them."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import defaultdict

import pytest

from curriculens import params
from curriculens.cli.docs import DOC, render
from curriculens.cli.main import COMMANDS, build_parser, main
from curriculens.errors import ConfigError


def test_one_check_names_the_argument_the_flag_or_the_file_key():
    assert params.check("n_examples", 20) == 20
    with pytest.raises(
        ConfigError, match=r"^n_examples = 5 is too small; expected an integer >= 20"
    ):
        params.check("n_examples", 5)
    with pytest.raises(ConfigError, match=r"^--examples 5 is too small"):
        params.check("n_examples", 5, via="cli")
    with pytest.raises(ConfigError, match=r"^\[sweep\] n_examples = 5 in the config file"):
        params.check_all({"n_examples": 5}, via="toml", prefix="[sweep] ")
    with pytest.raises(ConfigError, match="is not an integer"):
        params.check("n_examples", 40.0)
    with pytest.raises(ConfigError, match="is not an integer"):
        params.check("n_examples", True)
    with pytest.raises(ConfigError, match="one of float32, bfloat16, float16"):
        params.check("dtype", "float64")
    with pytest.raises(ConfigError, match="expected a number > 0"):
        params.check("probe_C", 0.0)
    assert params.check("max_batch_tokens", None) is None
    assert params.flag("n_boot") == "--bootstrap" and params.flag("train_steps") == "--train-steps"


def test_python_configs_check_through_the_table(tmp_path):
    from curriculens.pipeline.config import SweepConfig
    from curriculens.toy.demo import DemoConfig
    from curriculens.toy.optimize.verify import VerifyConfig

    with pytest.raises(ConfigError, match=r"^n_examples = 5 is too small; expected an integer"):
        SweepConfig(skills=("facts",), n_examples=5)
    with pytest.raises(ConfigError, match=r"^n_examples = 5 is too small"):
        DemoConfig(out=str(tmp_path / "d"), n_examples=5)
    with pytest.raises(ConfigError, match=r"^steps = 0 is too small"):
        DemoConfig(out=str(tmp_path / "d"), steps=0)
    with pytest.raises(ConfigError, match=r"^n_evals = 2 is too small"):
        VerifyConfig(n_evals=2)
    with pytest.raises(ConfigError, match=r"--train-config \(model\) names \['seed'\]"):
        VerifyConfig(model={"seed": 3})


def test_demo_rejects_a_bad_value_before_training(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run(
        [sys.executable, "-m", "curriculens", "demo", "--examples", "5", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2, r.stderr
    assert "--examples: 5 is too small; expected an integer >= 20" in r.stderr
    assert not out.exists()  # nothing trained, nothing written


def test_sweep_toml_values_are_checked_before_loading(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text('out = "o"\n[series]\ndir = "missing"\n[sweep]\nn_examples = 5\n')
    assert main(["sweep", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "[sweep] n_examples = 5 in the config file is too small" in err


def _flags(p: argparse.ArgumentParser, seen: dict, where: str) -> None:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                _flags(sp, seen, f"{where} {name}")
        elif a.option_strings and a.dest != "help":
            for f in a.option_strings:
                seen["flag"][f].add(a.dest)
            seen["dest"][a.dest].add(tuple(a.option_strings))
            seen["where"][a.dest].add(where)


def test_one_flag_per_concept_and_one_concept_per_flag():
    seen = {"flag": defaultdict(set), "dest": defaultdict(set), "where": defaultdict(set)}
    _flags(build_parser(), seen, "curriculens")
    assert {f: d for f, d in seen["flag"].items() if len(d) > 1} == {}
    assert {d: f for d, f in seen["dest"].items() if len(f) > 1} == {}
    for dest, flags in seen["dest"].items():  # a parameter of the table has the table's flag
        if dest in params.PARAMS and params.PARAMS[dest].flag:
            assert params.flag(dest) in next(iter(flags)), dest
    for alias in ("--n-examples", "--boot", "--output"):
        assert alias not in seen["flag"]
    assert seen["dest"]["out"] == {("-o", "--out")}
    assert seen["where"]["out"] >= {
        f"curriculens {c}" for c in ("demo", "sweep", "report", "export")
    }
    assert seen["flag"]["--steps"] == {"steps"} and seen["where"]["steps"] == {"curriculens sweep"}
    assert seen["where"]["model"] == {"curriculens sweep"}


def test_choices_declared_in_the_table_match_the_library():
    from curriculens.analysis.consistency import TASK_SETS
    from curriculens.analysis.criterion import METHODS, PRESETS, RELATIVE_TO
    from curriculens.analysis.long_format import DUPLICATES
    from curriculens.analysis.predict import MIN_POINTS
    from curriculens.checkpoints import DTYPES
    from curriculens.cli.predict import _EPILOG
    from curriculens.toy.optimize.strategies import STRATEGIES

    assert tuple(PRESETS) == params.CRITERIA and params.METHODS == METHODS
    assert params.RELATIVE_TO == RELATIVE_TO and params.TASK_SETS == TASK_SETS
    assert params.DUPLICATES == DUPLICATES and params.DTYPES == DTYPES
    assert params.STRATEGIES == STRATEGIES
    assert f"at least {MIN_POINTS}," in _EPILOG


def test_parsers_import_nothing_heavy():
    """Every parser is built without torch, transformers, sklearn or matplotlib, so ``--help``
    answers at once (the modules are imported inside the commands)."""
    code = (
        "import sys\n"
        "from curriculens.cli.main import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'matplotlib')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_of_every_command(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0 and "usage: curriculens" in capsys.readouterr().out


def test_docs_cli_md_is_generated_from_the_parsers():
    assert DOC.read_text() == render(), "docs/cli.md is stale: run python -m curriculens.cli.docs"
    text = DOC.read_text()
    for command in COMMANDS:
        assert f"## `curriculens {command}" in text
