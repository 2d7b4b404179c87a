"""Where a command may write: never over what it reads, never over a run's own files, never over
an existing file unless ``--force`` says so; and every file lands whole
(:func:`curriculens.atomic.atomic_path`: a temporary file, then a rename).

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "t.csv").write_text("old")
>>> check_output(d / "t.csv", force=True) == d / "t.csv"
True
>>> check_output(d / "t.csv")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
curriculens.errors.ConfigError: -o '.../t.csv' exists; pass --force to replace it, ...
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from curriculens.atomic import atomic_path
from curriculens.errors import ConfigError
from curriculens.params import flag

__all__ = ["REPORT_FILES", "RUN_FILES", "atomic_path", "check_output", "check_report_dest"]

#: The files that make a run directory a run: its store (and SQLite's side files), its lock,
#: its identity and configuration. No command's output may replace one of them, ``--force`` or
#: not.
RUN_FILES = (
    "results.sqlite",
    "results.sqlite-wal",
    "results.sqlite-shm",
    "results.sqlite-journal",
    "results.lock",
    "run.json",
    "sweep_config.json",
    "sweep.toml",
)


def _run_dir_of(path: Path) -> Path | None:
    """The run directory ``path`` lies in (a folder holding ``results.sqlite``), or ``None``."""
    for parent in path.parents:
        if (parent / "results.sqlite").exists():
            return parent
    return None


def _store_files(reads: Path) -> set[Path]:
    """The store ``reads`` names (a run directory or a ``.sqlite`` file), with its side files."""
    store = reads / "results.sqlite" if reads.is_dir() else reads
    store = store.resolve()
    return {store} | {store.with_name(store.name + s) for s in ("-wal", "-shm", "-journal")}


def check_output(
    out: str | Path,
    *,
    reads: Iterable[str | Path] = (),
    owned: Iterable[str] = (),
    force: bool = False,
) -> Path:
    """``out`` when this command may write it; else a :class:`ConfigError` naming the file and
    the fix.

    Refused, ``--force`` or not: the store the command reads (and its SQLite side files), a
    folder, any file of :data:`RUN_FILES` in a run directory, and any existing file inside a run
    directory whose name is not one of ``owned`` (the command's own default outputs, which it
    regenerates from the store). Refused without ``--force``: any other existing file.

    Args:
        out: The file the command will write.
        reads: The inputs (a run directory or a store file) it reads.
        owned: File names inside a run directory that this command writes by default.
        force: Whether ``--force`` was given.
    """
    out = Path(out)
    target = out.resolve()
    for r in reads:
        if target in _store_files(Path(r)):
            raise ConfigError(
                f"-o {str(out)!r} is the results store this command reads; writing there would "
                "destroy every stored result. Give another path, e.g. -o results.csv."
            )
        if target == Path(r).resolve():
            raise ConfigError(
                f"-o {str(out)!r} is the input this command reads; give another path."
            )
    if out.is_dir():
        raise ConfigError(f"-o {str(out)!r} is a folder; give a file path, e.g. {out / 'x.csv'}.")
    run_dir = _run_dir_of(target)
    if run_dir is not None and target.parent == run_dir and target.name in RUN_FILES:
        raise ConfigError(
            f"-o {str(out)!r} is a file of the run directory {str(run_dir)!r} (its store, lock "
            "or configuration); no command writes over it. Give another path."
        )
    if out.exists() or out.is_symlink():
        if run_dir is not None and target.name not in set(owned):
            raise ConfigError(
                f"-o {str(out)!r} exists inside the run directory {str(run_dir)!r} and was not "
                "written by this command; give a new file name or a path outside the run."
            )
        if not force and not (run_dir is not None and target.name in set(owned)):
            raise ConfigError(
                f"-o {str(out)!r} exists; pass {flag('force')} to replace it, or give a new path."
            )
        if not out.is_file():
            raise ConfigError(f"-o {str(out)!r} exists and is not a regular file; give a new path.")
    return out


#: The files a report writes into its folder (and ``figures/``), and a line each holds near its
#: start: a file of that name without it was not written by curriculens.
REPORT_FILES = {"report.html": "<title>Curriculum report: ", "report.md": "# Curriculum report: "}


def _is_report(path: Path, mark: str) -> bool:
    try:
        with path.open("rb") as f:
            return mark.encode() in f.read(4096)
    except OSError:
        return False


def check_report_dest(dest: str | Path, *, reads: str | Path, force: bool = False) -> Path:
    """``dest``, created, when a report of ``reads`` may be written there; else one error.

    Refused, ``--force`` or not: a file in place of the folder, and another run's directory
    (its report is its own). Refused without ``--force``: a ``report.html`` or ``report.md``
    there that curriculens did not write. A folder that cannot be created or written (read-only
    storage, no permission, a full disk) is an :class:`EnvironmentProblem` (exit 1), found
    before anything is computed.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{flag('out')} {str(dest)!r} is a file; give a folder for the report.")
    if (dest / "results.sqlite").exists() and dest.resolve() != Path(reads).resolve():
        raise ConfigError(
            f"{flag('out')} {str(dest)!r} is another run's directory, whose report is its own; "
            "give a new folder."
        )
    for name, mark in REPORT_FILES.items():
        f = dest / name
        if (f.exists() or f.is_symlink()) and not force and not _is_report(f, mark):
            raise ConfigError(
                f"{str(f)!r} exists and was not written by curriculens; pass {flag('force')} to "
                f"replace it, or give another {flag('out')} folder."
            )
    from curriculens.reporting.page import writable_dest  # the one write check; lazily, as
    # reporting loads matplotlib, which the other commands using this module do not need

    return writable_dest(dest)
