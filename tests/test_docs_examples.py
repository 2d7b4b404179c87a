"""Every fenced example of the README and docs/*.md runs as written, in a temporary folder.

A page's Python blocks run in order in one namespace (a later block may use an earlier one's
names), its shell blocks with ``bash -euo pipefail`` and ``curriculens`` as
``python -m curriculens``, and its ``console`` blocks command by command (``$ `` lines): a command
shown with an ``error:`` line must fail with that message, any other must succeed. A JSON block
whose first line is a skill header is a skill file: it is written to ``NAME.jsonl`` and must pass
``curriculens skills validate``.

An HTML comment on the line above a fence marks what a block needs:

- ``<!-- needs: hub -->``, ``gpu``, ``own-data``: never run here (a download, a GPU, a file of
  the reader's own);
- ``<!-- needs: slow -->``: installs or long runs, never run by a test;
- ``<!-- needs: demo -->``: reads ``runs/demo``; run by the slow test after a short demo;
- ``<!-- needs: shared-data -->``: reads ``../shared/data``; run when the checkout has it;
- ``<!-- excerpt -->``: a fragment of a file (not a complete skill file), not run;
- ``<!-- file: NAME -->``: the block's text is written to ``NAME`` before the page's blocks run.

Blocks without a language (trees, tables, CSV shown as text) are not code and are not run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = ROOT.parent / "shared" / "data"
KNOWN = {"hub", "gpu", "slow", "demo", "shared-data", "own-data"}
RUNNABLE = {"python", "bash", "sh", "shell", "console", "json", "jsonl"}
_FENCE = re.compile(r"^```([\w-]*)\s*$")
_MARK = re.compile(r"^<!--\s*(needs|file|excerpt)\s*:?\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    needs: set[str] = field(default_factory=set)
    file: str | None = None
    excerpt: bool = False

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def skill_file(self) -> bool:
        if self.lang not in ("json", "jsonl") or self.excerpt:
            return False
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        return '"curriculens_skill"' in first


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, with the marks on the lines above each."""
    lines = page.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang, body = i, m.group(1).lower(), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        b = Block(page, start + 1, lang, "\n".join(body) + "\n")
        j = start - 1
        while j >= 0 and (mark := _MARK.match(lines[j].strip())):
            kind, value = mark.groups()
            if kind == "needs":
                b.needs |= {v.strip() for v in value.split(",") if v.strip()}
            elif kind == "file":
                b.file = value
            else:
                b.excerpt = True
            j -= 1
        out.append(b)
    return out


ALL = [b for p in PAGES for b in blocks_of(p)]


def test_marks_are_known():
    bad = [f"{b.where}: {sorted(b.needs - KNOWN)}" for b in ALL if b.needs - KNOWN]
    assert not bad, f"unknown <!-- needs: --> marks (known: {sorted(KNOWN)}): {bad}"


def test_skill_examples_are_complete_files():
    """A JSONL block that looks like a skill (a header, or BLiMP fields) is a complete file or is
    marked as an excerpt."""
    loose = [
        b.where
        for b in ALL
        if b.lang in ("json", "jsonl")
        and not b.excerpt
        and not b.skill_file
        and '"sentence_good"' in b.code
    ]
    assert not loose, f"mark these BLiMP excerpts <!-- excerpt -->: {loose}"


def _runnable(b: Block, allowed: set[str]) -> bool:
    return (b.lang in RUNNABLE and not b.excerpt and b.needs <= allowed) and (
        b.lang not in ("json", "jsonl") or b.skill_file
    )


_RUNNER = textwrap.dedent(
    r"""
    import json, os, re, subprocess, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    ns = {"__name__": "__main__"}
    env = dict(os.environ)
    py = sys.executable
    prelude = f'set -euo pipefail\ncurriculens() {{ "{py}" -m curriculens "$@"; }}\n'
    failures = []
    for b in blocks:
        try:
            if b["lang"] == "python":
                exec(compile(b["code"], b["where"], "exec"), ns)
            elif b["lang"] in ("bash", "sh", "shell"):
                r = subprocess.run(["bash", "-c", prelude + b["code"]], capture_output=True,
                                   text=True, env=env)
                if r.returncode:
                    raise RuntimeError(f"exit {r.returncode}\n{r.stdout[-2000:]}\n"
                                       f"{r.stderr[-3000:]}")
            elif b["lang"] == "console":
                lines = b["code"].splitlines()
                for k, line in enumerate(lines):
                    if not line.startswith("$ "):
                        continue
                    shown = []
                    for nxt in lines[k + 1:]:
                        if nxt.startswith("$ "):
                            break
                        shown.append(nxt)
                    cmd = line[2:].split("  #")[0]
                    r = subprocess.run(["bash", "-c", prelude + cmd], capture_output=True,
                                       text=True, env=env)
                    errors = [s for s in shown if "error:" in s]
                    if errors:
                        msg = errors[0].split("error:", 1)[1].strip()
                        if r.returncode == 0 or msg not in r.stderr:
                            raise RuntimeError(f"{cmd!r} should fail with {msg!r}; exit "
                                               f"{r.returncode}, stderr {r.stderr[-2000:]!r}")
                    elif r.returncode:
                        raise RuntimeError(f"{cmd!r}: exit {r.returncode}\n{r.stderr[-3000:]}")
                    else:
                        for s in shown:
                            if s.strip() and "..." not in s and s.strip().endswith(": ok"):
                                if s.strip() not in r.stdout:
                                    raise RuntimeError(f"{cmd!r} printed {r.stdout!r}, not {s!r}")
            else:  # a skill file
                header = json.loads(b["code"].strip().splitlines()[0])["curriculens_skill"]
                path = f"{header['name']}.jsonl"
                with open(path, "w") as f:
                    f.write(b["code"])
                r = subprocess.run([py, "-m", "curriculens", "skills", "validate", path],
                                   capture_output=True, text=True, env=env)
                if r.returncode:
                    raise RuntimeError(f"skills validate {path}: exit {r.returncode}\n"
                                       f"{r.stdout}{r.stderr}")
        except BaseException:
            failures.append(f"{b['where']} ({b['lang']}):\n{traceback.format_exc()[-4000:]}")
    for f in failures:
        print("FAILED", f)
    sys.exit(1 if failures else 0)
    """
)


def run_page(page: Path, tmp_path: Path, allowed: set[str], setup=None) -> None:
    blocks = blocks_of(page)
    todo = [b for b in blocks if _runnable(b, allowed)]
    if not todo:
        pytest.skip(f"{page.name}: no block runs with {sorted(allowed) or 'no marks'}")
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED.parent, target_is_directory=True)
    for b in blocks:
        if b.file:
            (work / b.file).write_text(b.code)
    if setup is not None:
        setup(work)
    spec = [{"where": b.where, "lang": b.lang, "code": b.code} for b in todo]
    (tmp_path / "blocks.json").write_text(json.dumps(spec))
    (tmp_path / "runner.py").write_text(_RUNNER)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")  # fmt: skip
    r = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json")],
        cwd=work, capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    assert r.returncode == 0, (
        f"{page.name}: {len(todo)} blocks run\n{r.stdout[-8000:]}\n{r.stderr[-3000:]}"
    )
    assert not list(ROOT.glob("*.svg")) and not list(ROOT.glob("*.png")), (
        "an example wrote into the repository root"
    )


DEFAULT = {"shared-data"} if SHARED.is_dir() else set()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page, tmp_path):
    run_page(page, tmp_path, DEFAULT)


_DEMO_PAGES = [p for p in PAGES if any("demo" in b.needs for b in blocks_of(p))]


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory):
    """A short demo run (200 steps, 8 checkpoints): enough for every example that reads it."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    cmd = [sys.executable, "-m", "curriculens", "demo", "--out", str(out), "--quiet",
           "--train-steps", "200", "--checkpoints", "8", "--examples", "60"]  # fmt: skip
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("page", _DEMO_PAGES, ids=[p.name for p in _DEMO_PAGES])
def test_page_examples_run_on_the_demo(page, tmp_path, short_demo):
    import shutil

    def setup(work: Path) -> None:
        shutil.copytree(short_demo, work / "runs" / "demo")

    run_page(page, tmp_path, DEFAULT | {"demo"}, setup)


def test_readme_fits_a_page_and_keeps_the_ci_command():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    ci = (ROOT / ".ci" / "run").read_text()
    command = 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest -q'
    assert command in ci and command in text
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert figures and all((ROOT / f).is_file() for f in figures)


def test_docs_index_links_every_page():
    index = (ROOT / "docs" / "index.md").read_text()
    linked = set(re.findall(r"\]\(([\w.-]+\.md)", index))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages <= linked, f"docs/index.md does not link {sorted(pages - linked)}"
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / target).exists(), target


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for m in re.finditer(r"\]\(([^)#\s]+)(#[^)]*)?\)", page.read_text()):
            target = m.group(1)
            web = target.startswith(("http://", "https://", "mailto:"))
            if not web and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
