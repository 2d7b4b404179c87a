"""The README is one page that answers what it promises, and its probe examples (the README's
and the full one in docs/probes.md) run as written and show what they claim.

Every block of every page also runs in tests/test_docs_examples.py; this file checks the
numbers the probe examples print."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_is_one_page_with_the_three_questions_a_figure_and_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    for question in ("**When**", "**In what order**", "**Do representations lead behavior?**"):
        assert question in text
    assert "![" in text and (ROOT / "docs" / "img" / "timeline.png").is_file()
    assert "curriculens demo --out runs/demo" in text
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest -q'
    assert test_command in text and test_command in ci
    assert "## On your own checkpoints" in text and "--model EleutherAI/pythia-160m" in text
    for page in ("docs/index.md", "docs/results.md", "docs/limits.md", "docs/cli.md"):
        assert f"]({page})" in text, page


def test_readme_probe_example_runs(capsys):
    code = next(b for b in _python_blocks(README.read_text()) if "fit_logistic_batch" in b)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation
    res = scope["res"]
    assert all(f is None for row in res.failure for f in row)
    assert (res.acc[:, 0] > 0.75).all()  # a planted linear signal
    assert (
        scope["probe"].score(scope["X"][0][~scope["train"][0]], scope["y"][0][~scope["train"][0]])
        > 0.75
    )
    assert capsys.readouterr().out.count("\n") >= 2


def test_docs_probe_example_runs(capsys):
    text = (ROOT / "docs" / "probes.md").read_text()
    code = next(b for b in _python_blocks(text) if "control_labels" in b)
    scope: dict = {}
    exec(compile(code, "docs/probes.md", "exec"), scope)  # noqa: S102 - our own documentation
    res, selectivity = scope["res"], scope["selectivity"]
    assert all(f is None for row in res.failure for f in row)
    assert (res.acc[:, 0] > 0.75).all()  # a planted linear signal
    assert np.abs(res.acc[:, 1] - 0.5).max() < 0.2  # token types are not in these X: chance
    assert (selectivity > 0.2).all()
    assert set(np.unique(res.C)) <= {0.01, 0.1, 1, 10}
    assert (
        scope["probe"].score(scope["X"][0][~scope["train"][0]], scope["y"][0][~scope["train"][0]])
        > 0.75
    )
    assert capsys.readouterr().out.count("\n") >= 2
