"""The layout of the package, checked by reading every import in it (``ast``, nothing imported).

1. The import rule of docs/architecture.md: cli → toy → pipeline → reporting → analysis →
   {store, activations, behavior, probes, taskvectors} → {skills, checkpoints, writelock} →
   errors. A module imports only from its own stage or stages after it; nothing imports ``cli``;
   nothing outside ``toy/`` and ``cli/`` imports ``toy``.
2. No import cycle between any two modules, inside one folder too. Imports are of two kinds,
   counted separately: *module-level* imports run when the module is imported, so a cycle of
   them is an error always (it works or fails by import order); *deferred* imports (inside a
   function, or under ``if TYPE_CHECKING:``, which is how the package root names its lazy
   exports) run later or never, but a cycle through one still ties two modules into one, so it
   is an error too, except for the edges of :data:`ALLOWED_CYCLE_EDGES`. An import names the
   most specific module it reaches (``from curriculens.skills import blimp`` is an edge to
   ``skills.blimp``, ``from curriculens.skills import list_skills`` one to the package
   ``skills``); the parent packages Python runs on the way are not counted, since a package's
   ``__init__`` importing its own modules is the layout, not a cycle.
3. No module imports an underscore name from another module (``from m import _x``, or
   ``m._x`` on an imported module ``m``), and a private module (``probes/_kernels.py``) is
   imported only inside its own package, except for :data:`ALLOWED_PRIVATE_IMPORTS`.
4. No module is over 600 lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
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
    "store_schema": 3,
    "activations": 3,
    "behavior": 3,
    "probes": 3,
    "taskvectors": 3,
    "paper_vectors": 3,
    "skills": 2,
    "checkpoints": 2,
    "writelock": 2,
    "errors": 1,
    "params": 1,  # the parameter table: imports errors alone
    "_version": 1,  # __version__ alone, imports nothing
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


#: ALLOW-LIST (the coordinator of issue 23 empties it at merge): modules being split by other
#: helpers of the issue (pipeline/run.py into plan/measure/record/run; the report's sections).
ALLOWED_LONG: set[str] = set()


def test_no_module_is_too_long():
    lengths = {str(p.relative_to(PKG)): len(p.read_text().splitlines()) for p in PKG.rglob("*.py")}
    long = {m: n for m, n in lengths.items() if n > 600 and m not in ALLOWED_LONG}
    assert not long, f"modules over 600 lines (split them along a seam): {long}"
    assert {m for m in ALLOWED_LONG if lengths.get(m, 0) <= 600} == set(), "stale ALLOWED_LONG"


# ---------------------------------------------------------------- cycles and private names
# ALLOW-LISTS: empty since issue 23 landed. Each entry would be a known fault, not a permission;
# add none.

#: (importer, imported) edges that close a cycle today; the cycle check runs without them.
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()

#: (importer, imported module, name) underscore imports across modules, known today.
ALLOWED_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` imports ``target`` (a module of the package) at ``line``;
    ``name`` is the underscore name it takes from ``target``, if any."""

    source: str
    target: str
    line: int
    deferred: bool  # inside a function or under TYPE_CHECKING
    name: str | None = None


def _module_names(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


class _ImportReader(ast.NodeVisitor):
    """Every import of one module that reaches the package, and every ``m._x`` on an imported
    module ``m``."""

    def __init__(self, module: str, is_package: bool, modules: dict[str, Path]):
        self.module, self.is_package, self.modules = module, is_package, modules
        self.edges: list[Edge] = []
        self.bound: dict[str, str] = {}  # local name -> the package module it is bound to
        self._functions = self._type_checking = 0

    def _within(self, dotted: str) -> str | None:
        """The most specific module of the package that ``dotted`` names (None: not ours)."""
        root = next(iter(self.modules)).split(".")[0]
        if dotted != root and not dotted.startswith(root + "."):
            return None
        while dotted not in self.modules:
            dotted = dotted.rpartition(".")[0]
        return dotted

    def _add(self, target: str, line: int, name: str | None = None) -> None:
        deferred = bool(self._functions or self._type_checking)
        self.edges.append(Edge(self.module, target, line, deferred, name))

    def visit_FunctionDef(self, node):
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node):
        test = node.test
        if getattr(test, "id", getattr(test, "attr", None)) != "TYPE_CHECKING":
            return self.generic_visit(node)
        self._type_checking += 1
        for child in node.body:
            self.visit(child)
        self._type_checking -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node):
        for alias in node.names:
            if (target := self._within(alias.name)) is not None:
                self._add(target, node.lineno)
                if alias.asname:
                    self.bound[alias.asname] = target

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:  # relative: from the module's own package, up level - 1 packages
            package = self.module.split(".")[: None if self.is_package else -1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        if self._within(base) is None:
            return
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in self.modules:  # a submodule
                self._add(full, node.lineno)
                self.bound[alias.asname or alias.name] = full
            else:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                self._add(self._within(base), node.lineno, alias.name if private else None)

    def visit_Attribute(self, node):
        value = node.value
        if (
            isinstance(value, ast.Name)
            and value.id in self.bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and self.bound[value.id] + "." + node.attr not in self.modules
        ):
            self._add(self.bound[value.id], node.lineno, node.attr)
        self.generic_visit(node)


def _import_graph(root: Path | None = None) -> list[Edge]:
    root = root or PKG
    modules = _module_names(root)
    edges = []
    for module, path in modules.items():
        reader = _ImportReader(module, path.name == "__init__.py", modules)
        reader.visit(ast.parse(path.read_text(), filename=str(path)))
        edges += [e for e in reader.edges if e.target != module]
    return edges


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _cycle_report(edges: list[Edge], deferred: bool) -> list[str]:
    """Each cycle, with the imports that close it (file lines), for a failure message."""
    kept = [
        e
        for e in edges
        if (deferred or not e.deferred) and (e.source, e.target) not in ALLOWED_CYCLE_EDGES
    ]
    out = []
    for cycle in _cycles(kept):
        inside = [e for e in kept if e.source in cycle and e.target in cycle]
        where = "; ".join(
            dict.fromkeys(  # one entry per import statement, however many names it takes
                f"{e.source}:{e.line} -> {e.target}{' (deferred)' if e.deferred else ''}"
                for e in inside
            )
        )
        out.append(f"cycle {' <-> '.join(cycle)}: {where}")
    return out


def _private_imports(edges: list[Edge]) -> list[str]:
    bad = []
    for e in edges:
        if e.name is not None and (e.source, e.target, e.name) not in ALLOWED_PRIVATE_IMPORTS:
            bad.append(f"{e.source}:{e.line} uses {e.target}.{e.name}: make it public or move it")
        package, _, leaf = e.target.rpartition(".")
        outside = e.source != package and not e.source.startswith(package + ".")
        if leaf.startswith("_") and not leaf.startswith("__") and outside:
            bad.append(
                f"{e.source}:{e.line} imports {e.target}, private to {package}; "
                "import the package's public module instead"
            )
    return bad


def test_no_import_cycle_among_module_level_imports():
    assert _cycle_report(_import_graph(), deferred=False) == []


def test_no_import_cycle_counting_deferred_imports():
    assert _cycle_report(_import_graph(), deferred=True) == []


def test_no_module_imports_another_modules_private_names():
    assert _private_imports(_import_graph()) == []


def test_the_allow_lists_name_real_imports():
    """Entries disappear as faults are fixed; a stale one is reported here to be deleted."""
    edges = _import_graph()
    pairs = {(e.source, e.target) for e in edges}
    named = {(e.source, e.target, e.name) for e in edges}
    assert pairs >= ALLOWED_CYCLE_EDGES, ALLOWED_CYCLE_EDGES - pairs
    assert named >= ALLOWED_PRIVATE_IMPORTS, ALLOWED_PRIVATE_IMPORTS - named


def test_the_checkers_see_cycles_and_private_imports(tmp_path):
    fake = tmp_path / "curriculens"
    (fake / "a").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/x.py": "from curriculens.a import y\nfrom curriculens.a._h import helper\n",
        "a/y.py": "def f():\n    from curriculens.a.x import _secret\n",
        "a/_h.py": "helper = 1\n",
        "b.py": "from curriculens.a import _h, x\nfrom . import c\nx._secret\n",
        "c.py": "from .b import f\n",
    }
    for name, text in files.items():
        (fake / name).write_text(text)
    edges = _import_graph(fake)
    assert _cycle_report(edges, deferred=False) == [
        "cycle curriculens.b <-> curriculens.c: curriculens.b:2 -> curriculens.c; "
        "curriculens.c:1 -> curriculens.b"
    ]
    deferred = _cycle_report(edges, deferred=True)
    assert len(deferred) == 2 and "curriculens.a.x <-> curriculens.a.y" in deferred[0]
    assert "(deferred)" in deferred[0]
    private = _private_imports(edges)
    assert len(private) == 3, private  # a/x.py may use a/_h.py: its own package's helper
    assert "curriculens.a.y:2 uses curriculens.a.x._secret" in private[0]
    assert "curriculens.b:1 imports curriculens.a._h, private to curriculens.a" in private[1]
    assert "curriculens.b:3 uses curriculens.a.x._secret" in private[2]
