"""The public API: every exported name resolves, and no submodule import shadows a function."""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import curriculens as cl


def test_every_public_name_resolves():
    for name in cl.__all__:
        assert getattr(cl, name) is not None


def test_public_api_is_small():
    assert len(cl.__all__) <= 22


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cl.nope  # noqa: B018


def test_no_module_shadows_an_exported_function():
    """The bug this guards: touching cl.SweepConfig imported a module named sweep, so cl.sweep
    became the module and ``cl.sweep(...)`` raised "'module' object is not callable"."""
    for name in cl.__all__:
        getattr(cl, name)
    for mod in pkgutil.walk_packages(cl.__path__, "curriculens."):
        if mod.name.startswith(("curriculens.cli", "curriculens.__main__")) or "ray" in mod.name:
            continue
        importlib.import_module(mod.name)
    top = {m.name for m in pkgutil.iter_modules(cl.__path__)}
    assert not top & set(cl.__all__), top & set(cl.__all__)
    assert callable(cl.sweep) and callable(cl.report) and callable(cl.curriculum)


def test_sweep_and_report_run_after_touching_everything(tmp_path, tiny_run):
    run_dir, _, _ = tiny_run
    for name in cl.__all__:
        getattr(cl, name)
    import curriculens.pipeline.run  # noqa: F401
    import curriculens.reporting.writer  # noqa: F401

    out = tmp_path / "resweep"
    cl.sweep(
        run_dir / "checkpoints",
        out,
        config=cl.SweepConfig(skills=("facts",), n_examples=40),
        progress=False,
    )
    assert (out / "results.sqlite").exists()
    assert cl.report(out).exists()


def test_the_issue_one_liner_prints_true_true():
    code = (
        "import curriculens as cl; cl.SweepConfig; cl.Tracker; "
        "print(callable(cl.sweep), callable(cl.report))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True True"
