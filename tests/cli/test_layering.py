"""The command line is a thin outer layer: no cli/ module reaches into another package's private
names, and library modules spell a flag only through ``curriculens.params.flag``."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import curriculens

ROOT = Path(curriculens.__file__).parent
#: private names a cli module may still import (none: the sweep planner is pipeline/plan.py)
_PLANNER: set[tuple[str, str]] = set()
#: modules whose flag strings are routed in their own change (pipeline/run.py, reporting/)
_ELSEWHERE = ("pipeline/run.py", "reporting/")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_cli_module_imports_a_private_name_from_outside_cli():
    found = set()
    for path in sorted((ROOT / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("curriculens.cli"):
                    continue
                found |= {(node.module, a.name) for a in node.names if _private(a.name)}
    assert found <= _PLANNER, sorted(found - _PLANNER)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _all_flags(p: argparse.ArgumentParser) -> set[str]:
    out = set()
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sp in a.choices.values():
                out |= _all_flags(sp)
        else:
            out |= {f for f in a.option_strings if f.startswith("--")}
    return out


def test_library_modules_spell_flags_only_through_the_params_mapping():
    from curriculens.cli.main import build_parser

    ours = _all_flags(build_parser())
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("cli/") or rel == "params.py" or rel.startswith(_ELSEWHERE):
            continue
        tree = ast.parse(path.read_text())
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in skip:
                    continue
                found += [(rel, f) for f in _FLAG.findall(node.value) if f in ours]
    assert found == []
