"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import pytest

from curriculens.cli.main import main
from curriculens.pipeline.run import SweepConfig, sweep


@pytest.fixture(scope="module")
def add1_run(toy_series, tmp_path_factory):
    """A finished run of the toy series with one skill (add1, 40 examples), one per test module."""
    out = tmp_path_factory.mktemp("add1_run") / "run"
    sweep(toy_series, out, config=SweepConfig(skills=("add1",), n_examples=40), run="r",
          progress=False)  # fmt: skip
    return out


@pytest.fixture
def one_error_line(capsys):
    """``check(argv, code, *needles)``: run the CLI and return its one ``error:`` line, after
    checking the exit code, that no traceback was printed and that the line holds each needle."""

    def check(argv, code: int, *needles: str) -> str:
        capsys.readouterr()
        assert main([str(a) for a in argv]) == code
        err = capsys.readouterr().err
        assert "Traceback" not in err
        lines = [ln for ln in err.splitlines() if "error:" in ln]
        assert len(lines) == 1, err
        for n in needles:
            assert n in lines[0], (n, lines[0])
        return lines[0]

    return check
