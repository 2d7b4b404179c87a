"""The import rule of docs/architecture.md, checked by reading every import in the package.

cli → toy → pipeline → reporting → analysis → {store, activations, behavior, probes, taskvectors}
→ {skills, checkpoints, writelock} → errors. A module imports only from its own stage or stages
after it; nothing imports ``cli``; nothing outside ``toy/`` and ``cli/`` imports ``toy``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import curriculens

PKG = Path(curriculens.__file__).parent
TIER = {
    "cli": 8,
    "toy": 7,
    "pipeline": 6,
    "reporting": 5,
    "plots": 5,  # the public name of reporting.plots
    "analysis": 4,
    "store": 3,
    "store_migrate": 3,
    "activations": 3,
    "behavior": 3,
    "probes": 3,
    "taskvectors": 3,
    "paper_vectors": 3,
    "skills": 2,
    "checkpoints": 2,
    "writelock": 2,
    "errors": 1,
}


def _stage(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "curriculens" else None


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            yield node.lineno, next((n for n in names[1:] if _stage(n) in TIER), names[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name


def _violations() -> list[str]:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel in (Path("__init__.py"), Path("__main__.py")):  # API names; the CLI entry
            continue  # the lazy public API names its targets as strings only
        own = rel.parts[0].removesuffix(".py")
        assert own in TIER, f"{rel}: module outside the known stages; add it to docs and TIER"
        for line, name in _imports(path):
            other = _stage(name)
            if other is None or other == own:
                continue
            where = f"{rel}:{line} imports {name}"
            if other == "cli":
                bad.append(f"{where}: nothing imports the command line")
            elif other == "toy" and own != "cli":
                bad.append(f"{where}: only cli/ may import toy/")
            elif TIER[other] > TIER[own]:
                bad.append(f"{where}: {own} may not import the later stage {other}")
    return bad


def test_imports_flow_one_way():
    assert _violations() == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    fake = tmp_path / "curriculens"
    (fake / "analysis").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "analysis" / "x.py").write_text(
        "def f():\n    from curriculens.pipeline.run import sweep\n    import curriculens.cli\n"
    )
    monkeypatch.setattr(f"{__name__}.PKG", fake)
    found = _violations()
    assert len(found) == 2 and "later stage pipeline" in found[0] and "command line" in found[1]


def test_no_module_is_too_long():
    long = {
        str(p.relative_to(PKG)): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 800
    }
    assert not long, long
