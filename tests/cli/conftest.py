"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import pytest

from curriculens.pipeline.run import SweepConfig, sweep


@pytest.fixture(scope="module")
def add1_run(toy_series, tmp_path_factory):
    """A finished run of the toy series with one skill (add1, 40 examples), one per test module."""
    out = tmp_path_factory.mktemp("add1_run") / "run"
    sweep(toy_series, out, config=SweepConfig(skills=("add1",), n_examples=40), run="r",
          progress=False)  # fmt: skip
    return out
