"""Fixtures shared by the analysis tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_calibration.py"


@pytest.fixture(scope="module")
def bench():
    """``benchmarks/bench_calibration.py`` as a module: its planted suites serve the tests too."""
    spec = importlib.util.spec_from_file_location("bench_calibration", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_calibration"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("bench_calibration", None)
