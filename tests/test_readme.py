"""The README's probe example runs as written and shows what it claims."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_probe_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("### Probes on your own activations") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation
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
