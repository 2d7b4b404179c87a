"""Files that land whole: written to a temporary file beside their place and renamed over it, so
a crash or a full disk leaves the old file (or none), never half of one; a failed write is an
:class:`~curriculens.errors.EnvironmentProblem` that names the file and the fix.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> with atomic_path(d / "t.csv") as tmp:
...     _ = tmp.write_text("a,b\\n")
>>> (d / "t.csv").read_text()
'a,b\\n'
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from curriculens.errors import EnvironmentProblem


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed over ``path`` when the block ends
    without an error, removed when it raises (the old file, if any, is left as it was)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole (see :func:`atomic_path`); a failed write raises
    :class:`EnvironmentProblem`."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as e:
        raise write_failed(path, e) from None
    return path


def write_failed(path: str | Path, e: OSError) -> EnvironmentProblem:
    """The one-line error of a write that the machine refused (full disk, read-only, ...)."""
    full = e.errno in (errno.ENOSPC, errno.EDQUOT)
    fix = "free some space" if full else "check the permissions, or write elsewhere"
    return EnvironmentProblem(
        f"Cannot write {str(path)!r} ({e.strerror or e}); nothing was half-written. Then {fix} "
        "and run the same command again."
    )
