"""The report's cache: what a report computed, kept beside it and keyed by everything it read, so
asking again for the same report of unchanged results reads it back instead of computing it.

The key is a SHA-256 over the bytes of the run's store (``results.sqlite`` and its ``-wal``),
the report's settings (criteria, margin, resamples, seed, selection), the curriculens source
files and the versions of the libraries that compute and draw (numpy, pandas, scipy,
matplotlib, scikit-learn): a change to any of them is a miss. A hit also needs every figure
file to hold the bytes it was saved with (their hashes are kept); a figure edited or removed
is a miss. The cache is ``DEST/.curriculens-cache/report.json`` (one entry: the last report
written there), written whole (:mod:`curriculens.atomic`); one that cannot be read or written is
ignored, and the report is computed as without it. It holds the opening sentences, the
sections, each figure's caption and embedded PNG, and the notes the analyses printed (shown
again on a hit); the pages and the run's JSON are written afresh every time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from curriculens import errors
from curriculens.atomic import write_text
from curriculens.reporting.figures import FORMATS, ReportFigure
from curriculens.reporting.sections import Section

__all__ = ["CACHE_DIR", "Cached", "load", "recording_notes", "replay_notes", "report_key", "store"]

#: Folder of the cache inside the report's folder.
CACHE_DIR = ".curriculens-cache"
#: Bumped when the cached document's layout changes (older entries are misses).
FORMAT = 1
#: Libraries whose versions enter the key (their results or drawings may change with them).
_LIBRARIES = ("numpy", "pandas", "scipy", "matplotlib", "scikit-learn", "einops")

Cached = tuple[list[str], list[Section], list[ReportFigure], list[tuple[str, str]]]


def report_key(run: Path, settings: Mapping) -> str:
    """The cache key of the report of ``run`` with ``settings`` (JSON-able, ``repr`` otherwise).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "results.sqlite").write_bytes(b"x")
    >>> report_key(d, {"seed": 0}) == report_key(d, {"seed": 0}) != report_key(d, {"seed": 1})
    True
    """
    h = hashlib.sha256(f"curriculens report cache {FORMAT}\n".encode())
    for name in ("results.sqlite", "results.sqlite-wal"):
        p = run / name
        if p.is_file():
            h.update(name.encode())
            _hash_file(h, p)
    h.update(json.dumps(dict(settings), sort_keys=True, default=repr).encode())
    h.update(_code_digest().encode())
    return h.hexdigest()


def _hash_file(h, path: Path) -> None:
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def _code_digest() -> str:
    """A digest of the curriculens sources and the library versions the report depends on."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # the curriculens package
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib}={version(lib)}".encode())
        except PackageNotFoundError:
            h.update(f"{lib}=none".encode())
    return h.hexdigest()


def _path(dest: Path) -> Path:
    return dest / CACHE_DIR / "report.json"


def _file_hashes(fig_dir: Path, name: str) -> dict[str, str] | None:
    out = {}
    for fmt in FORMATS:
        p = fig_dir / f"{name}.{fmt}"
        if not p.is_file():
            return None
        h = hashlib.sha256()
        _hash_file(h, p)
        out[fmt] = h.hexdigest()
    return out


def load(dest: Path, key: str) -> Cached | None:
    """The cached report in ``dest`` for ``key``, or None (no cache, another key, a figure file
    changed or missing, or a cache that cannot be read)."""
    try:
        doc = json.loads(_path(dest).read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("key") != key:
            return None
        figures = []
        for f in doc["figures"]:
            if _file_hashes(dest / "figures", f["name"]) != f["files"]:
                return None
            png = base64.b64decode(f["png"])
            figures.append(ReportFigure(f["name"], f["caption"], png, float(f["width_in"])))
        sections = [Section(s["title"], s["rows"], s["note"]) for s in doc["sections"]]
        notes = [(str(c), str(m)) for c, m in doc["notes"]]
        return list(doc["summary"]), sections, figures, notes
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(
    dest: Path,
    key: str,
    summary: Sequence[str],
    sections: Sequence[Section],
    figures: Sequence[ReportFigure],
    notes: Sequence[tuple[str, str]],
) -> None:
    """Keep the report just written in ``dest`` under ``key``; a cache that cannot be written is
    skipped (the report itself is already written)."""
    try:
        figs = []
        for f in figures:
            files = _file_hashes(dest / "figures", f.name)
            if files is None:
                return
            png = base64.b64encode(f.png).decode()
            figs.append(
                dict(name=f.name, caption=f.caption, png=png, width_in=f.width_in, files=files)
            )
        doc = dict(
            format=FORMAT,
            key=key,
            summary=list(summary),
            sections=[asdict(s) for s in sections],
            figures=figs,
            notes=[list(n) for n in notes],
        )
        write_text(_path(dest), json.dumps(doc))
    except (OSError, errors.CurriculensError):
        return


@contextlib.contextmanager
def recording_notes() -> Iterator[list[tuple[str, str]]]:
    """Collect the curriculens warnings raised in the block as ``(class name, message)`` while
    letting them show as usual (so a cache hit can show them again)."""
    notes: list[tuple[str, str]] = []
    shown = warnings.showwarning

    def show(message, category, *args, **kw):
        if issubclass(category, errors.CurriculensWarning):
            notes.append((category.__name__, str(message)))
        return shown(message, category, *args, **kw)

    warnings.showwarning = show
    try:
        yield notes
    finally:
        warnings.showwarning = shown


def replay_notes(notes: Sequence[tuple[str, str]]) -> None:
    """Raise again the curriculens warnings a cached report recorded."""
    for name, message in notes:
        category = getattr(errors, name, None)
        if not (isinstance(category, type) and issubclass(category, errors.CurriculensWarning)):
            category = errors.CurriculensWarning
        warnings.warn(message, category, stacklevel=2)
