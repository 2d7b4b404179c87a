"""The results store: one tidy, resumable SQLite table of every score, plus run metadata.

Each row is one (run, checkpoint, skill, kind, hook, metric) value with its n and, where
bootstrapping needs it, the per-item outcomes as a float32 blob. Analysis reads only this table.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curriculens.errors import StoreError

SCHEMA_VERSION = 1
COLUMNS = (
    "run",
    "checkpoint",
    "step",
    "tokens",
    "fingerprint",
    "skill",
    "skill_version",
    "skill_hash",
    "kind",
    "hook",
    "layer",
    "metric",
    "value",
    "n",
)
KINDS = ("behavior", "probe", "control", "baseline")

_DDL = """
CREATE TABLE IF NOT EXISTS scores (
    run TEXT NOT NULL, checkpoint TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, skill TEXT NOT NULL, skill_version INTEGER NOT NULL,
    skill_hash TEXT NOT NULL, kind TEXT NOT NULL, hook TEXT NOT NULL, layer INTEGER NOT NULL,
    metric TEXT NOT NULL, value REAL, n INTEGER NOT NULL, items BLOB,
    PRIMARY KEY (run, fingerprint, skill, skill_hash, kind, hook, metric)
);
CREATE TABLE IF NOT EXISTS units (
    run TEXT NOT NULL, fingerprint TEXT NOT NULL, unit TEXT NOT NULL, checkpoint TEXT NOT NULL,
    PRIMARY KEY (run, fingerprint, unit)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    run TEXT NOT NULL, skill TEXT NOT NULL, skill_hash TEXT NOT NULL, probe_key TEXT NOT NULL,
    item INTEGER NOT NULL, prompt TEXT NOT NULL, grp TEXT NOT NULL, label INTEGER NOT NULL,
    split TEXT NOT NULL, control_label INTEGER NOT NULL,
    PRIMARY KEY (run, skill, skill_hash, probe_key, item)
);
"""
#: Columns of the probe items table, in export order (``group`` is stored as ``grp``).
ITEM_COLUMNS = (
    "run",
    "skill",
    "skill_hash",
    "probe_key",
    "item",
    "prompt",
    "group",
    "label",
    "split",
    "control_label",
)


@dataclass(frozen=True, kw_only=True)
class Row:
    """One tidy score. ``layer`` is -1 for behavior rows; ``hook`` is '' there."""

    run: str
    checkpoint: str
    step: int
    tokens: int
    fingerprint: str
    skill: str
    skill_version: int
    skill_hash: str
    kind: str
    hook: str
    layer: int
    metric: str
    value: float
    n: int
    items: np.ndarray | None = None


class Store:
    """The SQLite results store of a run directory (``RUN/results.sqlite``).

    Args:
        path: A run directory or a ``.sqlite`` file. Created when missing.
        readonly: Open without taking the writer lock.

    >>> import tempfile
    >>> with Store(tempfile.mkdtemp()) as s:
    ...     len(s.rows())
    0
    """

    def __init__(self, path: str | Path, *, readonly: bool = False):
        p = Path(path)
        if p.suffix not in (".sqlite", ".db"):
            if p.exists() and not p.is_dir():
                raise StoreError(
                    f"Store path {str(p)!r} is a file but not a .sqlite store; give a run "
                    "directory or a .sqlite file."
                )
            if readonly and not (p / "results.sqlite").exists():
                raise StoreError(
                    f"No results store at {str(p / 'results.sqlite')!r}; run a sweep (or "
                    "`curriculens demo`) into that directory first."
                )
            p.mkdir(parents=True, exist_ok=True)
            p = p / "results.sqlite"
        elif readonly and not p.exists():
            raise StoreError(f"No results store at {str(p)!r}.")
        self.path = p
        self.readonly = readonly
        self._lock: Path | None = None
        if not readonly:
            self._take_lock()
        self.conn = sqlite3.connect(str(p), timeout=30)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            if not readonly:
                self.conn.executescript(_DDL)
                self.set_meta("schema_version", SCHEMA_VERSION)
            ver = self.get_meta("schema_version")
        except sqlite3.DatabaseError as e:
            self.close()
            raise StoreError(
                f"Cannot read the store {str(p)!r} ({e}); expected a curriculens results.sqlite."
            ) from None
        if ver is not None and int(ver) != SCHEMA_VERSION:
            raise StoreError(
                f"Store {str(p)!r} has schema version {ver}; this curriculens reads version "
                f"{SCHEMA_VERSION}. Re-run the sweep into a new directory."
            )

    # ------------------------------------------------------------ single-writer lock
    def _take_lock(self) -> None:
        lock = self.path.with_suffix(".lock")
        try:
            fd = os.open(str(lock), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise StoreError(
                    f"Store {str(self.path)!r} is being written by process {pid}. Only one "
                    "writer is allowed: wait for it to finish, or open with readonly=True."
                ) from None
            lock.unlink(missing_ok=True)  # stale lock of a dead process
            fd = os.open(str(lock), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        self._lock = lock

    def close(self) -> None:
        self.conn.close()
        if self._lock is not None:
            self._lock.unlink(missing_ok=True)
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ meta
    def set_meta(self, key: str, value) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
        )
        self.conn.commit()

    def get_meta(self, key: str, default=None):
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return default
        return json.loads(row[0]) if row else default

    def meta(self) -> dict:
        """Every meta key of the store with its decoded value."""
        try:
            return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        except sqlite3.OperationalError:
            return {}

    # ------------------------------------------------------------ units (resumability)
    def done_units(self, run: str, fingerprint: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT unit FROM units WHERE run=? AND fingerprint=?", (run, fingerprint)
        )
        return {r[0] for r in rows}

    def done_units_by_fingerprint(self, run: str) -> dict[str, set[str]]:
        """Finished units of ``run`` per checkpoint fingerprint, in one query."""
        done: dict[str, set[str]] = {}
        for fp, unit in self.conn.execute(
            "SELECT fingerprint, unit FROM units WHERE run=?", (run,)
        ):
            done.setdefault(fp, set()).add(unit)
        return done

    def write_unit(
        self, run: str, fingerprint: str, unit: str, checkpoint: str, rows: Sequence[Row]
    ) -> None:
        """Write a finished unit's rows and mark it done, in one transaction."""
        if self.readonly:
            raise StoreError(f"Store {str(self.path)!r} was opened readonly.")
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [_as_tuple(r) for r in rows],
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO units VALUES (?,?,?,?)",
                (run, fingerprint, unit, checkpoint),
            )

    # ------------------------------------------------------------ reading
    def rows(self, *, items: bool = False, **where) -> list[dict]:
        """Rows as dicts, optionally filtered by equality on columns (``skill="facts"``)."""
        cols = list(COLUMNS) + (["items"] if items else [])
        bad = sorted(set(where) - set(COLUMNS))
        if bad:
            raise StoreError(f"Unknown column(s) {bad}; columns are {', '.join(COLUMNS)}.")
        sql = f"SELECT {', '.join(cols)} FROM scores"
        if where:
            sql += " WHERE " + " AND ".join(f"{k}=?" for k in where)
        sql += (
            " ORDER BY run, tokens, step, checkpoint, fingerprint, skill, skill_hash, kind, "
            "layer, hook, metric"
        )
        try:
            found = self.conn.execute(sql, tuple(where.values())).fetchall()
        except sqlite3.Error as e:
            raise StoreError(
                f"Cannot read the store {str(self.path)!r} ({e}); expected a curriculens "
                "results.sqlite."
            ) from None
        out = []
        for r in found:
            d = dict(zip(cols, r, strict=True))
            if items:
                d["items"] = None if d["items"] is None else np.frombuffer(d["items"], np.float32)
            out.append(d)
        return out

    def count(self) -> int:
        """Number of score rows."""
        return int(self.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    # ------------------------------------------------------------ probe items
    def write_items(
        self,
        run: str,
        skill: str,
        skill_hash: str,
        probe_key: str,
        items: Sequence[tuple[int, str, str, int, str, int]],
    ) -> None:
        """Store a skill's probe items ``(item, prompt, group, label, split, control_label)``.

        Items depend only on the skill and the probe settings, so writing them again is a no-op.
        """
        if self.readonly:
            raise StoreError(f"Store {str(self.path)!r} was opened readonly.")
        with self.conn:
            self.conn.executemany(
                "INSERT OR IGNORE INTO items VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run, skill, skill_hash, probe_key, *it) for it in items],
            )

    def items(self, **where) -> list[dict]:
        """Probe items as dicts (columns :data:`ITEM_COLUMNS`), filtered by equality."""
        bad = sorted(set(where) - set(ITEM_COLUMNS))
        if bad:
            raise StoreError(f"Unknown column(s) {bad}; columns are {', '.join(ITEM_COLUMNS)}.")
        cols = ", ".join("grp" if c == "group" else c for c in ITEM_COLUMNS)
        sql = f"SELECT {cols} FROM items"
        if where:
            sql += " WHERE " + " AND ".join(f"{'grp' if k == 'group' else k}=?" for k in where)
        sql += " ORDER BY run, skill, skill_hash, probe_key, item"
        try:
            found = self.conn.execute(sql, tuple(where.values())).fetchall()
        except sqlite3.OperationalError:  # a store written before items were kept
            return []
        return [dict(zip(ITEM_COLUMNS, r, strict=True)) for r in found]


def _as_tuple(r: Row) -> tuple:
    items = None if r.items is None else np.asarray(r.items, np.float32).tobytes()
    return (
        r.run,
        r.checkpoint,
        int(r.step),
        int(r.tokens),
        r.fingerprint,
        r.skill,
        int(r.skill_version),
        r.skill_hash,
        r.kind,
        r.hook,
        int(r.layer),
        r.metric,
        None if r.value is None or not np.isfinite(r.value) else float(r.value),
        int(r.n),
        items,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
