"""The results store: one tidy, resumable SQLite table of every score, plus run metadata.

Each row is one (run, checkpoint, skill, kind, hook, metric) value with its n and, where
bootstrapping needs it, the per-item outcomes as a float32 blob. Metric names say what they are
(``probe_acc``, ``control_acc``, ``majority``, ``exact_match`` ...), and ``layer`` is the
TransformerLens block index of the hook (``blocks.3.*`` is 3, ``hook_embed`` -1; NULL for rows
without a hook: behavior). A row's key holds everything its
value depends on: the checkpoint fingerprint, the skill's content hash (which covers its version)
and ``probe_key``, the hash of the probe and behavior settings. Changing any of them adds rows
beside the old ones and never overwrites them. A value that could not be measured (non-finite
weights or activations) is NULL with its ``reason``. Analysis reads only this table. The tables,
columns and row records are declared in :mod:`curriculens.store_schema` (re-exported here).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np

from curriculens.errors import StoreError
from curriculens.store_migrate import migrate_v1, migrate_v2, stored_version, translated
from curriculens.store_schema import (  # the schema; its names are re-exported here
    AMBIGUOUS_V1,
    COLUMNS,
    DDL,
    ITEM_COLUMNS,
    KINDS,  # noqa: F401
    SCHEMA_VERSION,
    SCORES_DDL,
    VECTOR_COLUMNS,
    Row,
    VectorRow,
    row_tuple,
    vector_tuple,
)
from curriculens.writelock import WriteLock

#: The meta key holding the name of the run a run directory was created for.
RUN_NAME_META_KEY = "run_name"


class Store:
    """The SQLite results store of a run directory (``RUN/results.sqlite``).

    Opening for writing takes the single-writer lock (:mod:`curriculens.writelock`), checks the
    file with ``PRAGMA quick_check`` before anything is written (a corrupt store is never
    touched) and migrates an older store (:mod:`curriculens.store_migrate`). Opening
    ``readonly`` takes no lock and writes nothing (an older store is translated as it is read),
    so finished runs on read-only storage can be read.

    Args:
        path: A run directory or a ``.sqlite`` file. Created when missing (unless readonly).
        readonly: Open read-only (``mode=ro``), without the writer lock.

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
            if not readonly:
                p.mkdir(parents=True, exist_ok=True)
            p = p / "results.sqlite"
        elif readonly and not p.exists():
            raise StoreError(f"No results store at {str(p)!r}.")
        self.path = p
        self.readonly = readonly
        self.conn: sqlite3.Connection | None = None
        self._closed = False
        self._lock: WriteLock | None = None
        self._file: tuple[int, int] | None = None
        fresh = not p.exists() or p.stat().st_size == 0  # nothing stored yet: never "corrupt"
        try:
            if readonly:
                self.conn = self._open_readonly()
                self._check_version()
            else:
                self._lock = WriteLock(p.with_suffix(".lock"), p).acquire()
                self.conn = sqlite3.connect(str(p), timeout=30)
                self._check_integrity()
                self._check_version()
                self.conn.execute("PRAGMA journal_mode=WAL")
                self._migrate()
                self.conn.executescript(DDL)
                self._set_meta("schema_version", SCHEMA_VERSION)
                st = os.stat(p)
                self._file = (st.st_ino, st.st_dev)
        except sqlite3.DatabaseError as e:
            self.close()
            if _storage_failed(e, p) or (fresh and not readonly):
                raise self._write_failed(e) from None  # the disk, not a corrupt store
            raise StoreError(self._unreadable(e)) from None
        except OSError as e:
            self.close()
            err = StoreError(f"Cannot open the store {str(p)!r}: {e}.")
            err.exit_code = 1  # the environment (permissions, full disk), not the request
            raise err from None
        except BaseException:
            self.close()
            raise

    def _failed(self, e: Exception) -> StoreError:
        """The error of a failed read: the storage (a full disk, I/O; exit 1), else the file."""
        if isinstance(e, sqlite3.Error) and _storage_failed(e, self.path):
            return self._write_failed(e)
        return StoreError(self._unreadable(e))

    def _unreadable(self, e: Exception) -> str:
        return (
            f"Cannot read the store {str(self.path)!r} ({e}): it is not a curriculens "
            "results.sqlite, or it is corrupt or truncated. It was left untouched; restore it "
            "from a copy, or sweep into a new directory."
        )

    def _open_readonly(self) -> sqlite3.Connection:
        """``mode=ro``; on read-only storage a WAL-mode file without its ``-shm`` needs
        ``immutable=1``, which is safe only when no write-ahead log holds unmerged pages."""
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as e:
            conn.close()
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"Cannot open {str(self.path)!r} read-only ({e}): its write-ahead log "
                    f"{str(wal)!r} holds results not yet merged into it, and they cannot be "
                    "read without write access to the folder. Copy the run directory to "
                    "writable storage and read it there."
                ) from None
        conn = sqlite3.connect(uri + "&immutable=1", uri=True)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn

    def _check_integrity(self) -> None:
        try:
            found = [r[0] for r in self.conn.execute("PRAGMA quick_check(5)").fetchall()]
        except sqlite3.DatabaseError as e:
            found = [str(e)]
        if found != ["ok"]:
            raise StoreError(
                f"The store {str(self.path)!r} is corrupt ({'; '.join(found[:3])}); it was left "
                "untouched. Restore it from a copy, or sweep into a new directory."
            )

    def _check_version(self) -> None:
        ver = self._meta_value("schema_version")
        if ver is None:
            return
        try:
            ver = int(ver)
        except (TypeError, ValueError):
            raise StoreError(self._unreadable(f"schema_version {ver!r}")) from None
        if ver > SCHEMA_VERSION:
            raise StoreError(
                f"Store {str(self.path)!r} has schema version {ver}, written by a newer "
                f"curriculens; this one reads versions 1 to {SCHEMA_VERSION}. Upgrade "
                "curriculens to read it."
            )

    def _score_columns(self) -> list[str]:
        return [r[1] for r in self.conn.execute("PRAGMA table_info(scores)")]

    def _version(self) -> int:
        """The schema the ``scores`` table was written in (1, 2 or 3)."""
        have = set(self._score_columns_safe())
        return stored_version(self.conn, self._meta_value("schema_version"), have)

    def _migrate(self) -> None:
        """Bring an older store to :data:`SCHEMA_VERSION`, each step in one transaction."""
        version = self._version()
        if version < 2:
            migrate_v1(self.conn, SCORES_DDL, COLUMNS, AMBIGUOUS_V1)
        if version < 3:
            migrate_v2(self.conn, SCORES_DDL, COLUMNS)

    def close(self) -> None:
        """Close the connection and release the lock (safe to call twice)."""
        if self.conn is not None and not self._closed:
            if not self.readonly and self._file is not None and self._same_file():
                # leave a single file (no -wal/-shm), readable later on read-only storage
                try:
                    self.conn.execute("PRAGMA busy_timeout=0")
                    self.conn.execute("PRAGMA journal_mode=DELETE")
                except sqlite3.Error:
                    pass  # a reader has it open: it stays in WAL mode
            self.conn.close()
        self._closed = True
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ writing
    def _same_file(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_ino, st.st_dev) == self._file

    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"Store {str(self.path)!r} was opened readonly.")
        if not self._same_file():
            raise StoreError(
                f"The results file {str(self.path)!r} was deleted or replaced while this "
                "process was writing it; results written since then went with it and nothing "
                "more is written. Re-run the same command to sweep into a fresh store."
            )

    def _write_failed(self, e: sqlite3.Error) -> StoreError:
        if _disk_full(e, self.path):
            err = StoreError(
                f"The disk is full: cannot write {str(self.path)!r} ({e}). The unit being "
                "written was rolled back and every finished unit is kept; free some space "
                "and re-run the same command to resume."
            )
            err.exit_code = 1  # the environment, not the request (issue 29)
            return err
        err = StoreError(f"Cannot write the store {str(self.path)!r} ({e}).")
        if _storage_failed(e, self.path):
            err = StoreError(
                f"Cannot write the store {str(self.path)!r} ({e}): the storage refused the "
                "write. Check that the folder is writable and has free space, then re-run the "
                "same command; every finished unit is kept."
            )
            err.exit_code = 1  # the environment, not the request
        return err

    def _set_meta(self, key: str, value) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
        )
        self.conn.commit()

    def set_meta(self, key: str, value) -> None:
        self._writable()
        try:
            self._set_meta(key, value)
        except sqlite3.Error as e:
            raise self._write_failed(e) from None

    def write_unit(
        self, run: str, fingerprint: str, unit: str, checkpoint: str, rows: Sequence[Row]
    ) -> None:
        """Write a finished unit's rows and mark it done, in one transaction.

        ``rows`` holds score :class:`Row` s and, for a few-shot skill, its :class:`VectorRow` s.
        """
        self._writable()
        cols = (*COLUMNS, "items")
        vectors = [r for r in rows if isinstance(r, VectorRow)]
        try:
            with self.conn:
                self.conn.executemany(
                    f"INSERT OR REPLACE INTO scores ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' * len(cols))})",
                    [row_tuple(r) for r in rows if not isinstance(r, VectorRow)],
                )
                self.conn.executemany(
                    f"INSERT OR REPLACE INTO vectors ({', '.join(VECTOR_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(VECTOR_COLUMNS))})",
                    [vector_tuple(v) for v in vectors],
                )
                self.conn.execute(
                    "INSERT OR REPLACE INTO units VALUES (?,?,?,?)",
                    (run, fingerprint, unit, checkpoint),
                )
        except sqlite3.Error as e:
            raise self._write_failed(e) from None

    # ------------------------------------------------------------ meta
    def _meta_value(self, key: str):
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return None
            raise
        return json.loads(row[0]) if row else None

    def get_meta(self, key: str, default=None):
        try:
            value = self._meta_value(key)
        except (sqlite3.DatabaseError, ValueError) as e:
            raise self._failed(e) from None
        return default if value is None else value

    def meta(self) -> dict:
        """Every meta key of the store with its decoded value."""
        try:
            return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return {}
            raise self._failed(e) from None
        except (sqlite3.DatabaseError, ValueError) as e:
            raise self._failed(e) from None

    # ------------------------------------------------------------ units (resumability)
    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise self._failed(e) from None
        except sqlite3.DatabaseError as e:
            raise self._failed(e) from None

    def done_units(self, run: str, fingerprint: str) -> set[str]:
        rows = self._query(
            "SELECT unit FROM units WHERE run=? AND fingerprint=?", (run, fingerprint)
        )
        return {r[0] for r in rows}

    def done_units_by_fingerprint(self, run: str) -> dict[str, set[str]]:
        """Finished units of ``run`` per checkpoint fingerprint, in one query."""
        done: dict[str, set[str]] = {}
        for fp, unit in self._query("SELECT fingerprint, unit FROM units WHERE run=?", (run,)):
            done.setdefault(fp, set()).add(unit)
        return done

    # ------------------------------------------------------------ reading
    def rows(self, *, items: bool = False, **where) -> list[dict]:
        """Every row as a dict, optionally filtered by equality on columns (``skill="facts"``).

        This is the raw table, rows of every configuration and skill version included;
        :func:`curriculens.analysis.table.read_rows` selects the run's current results.
        """
        cols = list(COLUMNS) + (["items"] if items else [])
        bad = sorted(set(where) - set(COLUMNS))
        if bad:
            raise StoreError(f"Unknown column(s) {bad}; columns are {', '.join(COLUMNS)}.")
        have = set(self._score_columns_safe())
        # older stores (read without migrating) are translated to the current schema as read
        sel = translated(cols, have, self._version() if have else SCHEMA_VERSION)
        sql = f"SELECT * FROM (SELECT {', '.join(sel)} FROM scores)"
        if where:
            sql += " WHERE " + " AND ".join(f"{k}=?" for k in where)
        sql += (
            " ORDER BY run, tokens, step, checkpoint, fingerprint, skill, skill_hash, probe_key, "
            "kind, layer, hook, metric"
        )
        if not have:
            return []
        out = []
        for r in self._query(sql, tuple(where.values())):
            d = dict(zip(cols, r, strict=True))
            if items:
                d["items"] = None if d["items"] is None else np.frombuffer(d["items"], np.float32)
            out.append(d)
        return out

    def _score_columns_safe(self) -> list[str]:
        return [r[1] for r in self._query("PRAGMA table_info(scores)")]

    def groups(self) -> list[dict]:
        """Each distinct (run, probe_key, skill, skill_hash) with its number of rows."""
        have = set(self._score_columns_safe())
        if not have:
            return []
        key = "probe_key" if "probe_key" in have else "'' AS probe_key"
        rows = self._query(
            f"SELECT run, {key}, skill, skill_hash, COUNT(*) FROM scores "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        )
        names = ("run", "probe_key", "skill", "skill_hash", "rows")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def run_fingerprints(self) -> dict[str, frozenset[str]]:
        """Each run's checkpoint fingerprints (two runs with the same ones and the same settings
        are the same run measured twice, e.g. a copied run directory)."""
        if "fingerprint" not in set(self._score_columns_safe()):
            return {}
        out: dict[str, set[str]] = {}
        for run, fp in self._query("SELECT DISTINCT run, fingerprint FROM scores"):
            out.setdefault(run, set()).add(fp)
        return {k: frozenset(v) for k, v in out.items()}

    def duplicate_runs(self, groups: dict[str, set]) -> dict[str, str]:
        """``{run: the earlier run it duplicates}`` among ``groups`` (run -> the (probe_key,
        skill, skill_hash) groups read of it): two runs with the same groups and the same
        checkpoint fingerprints are one run measured twice, e.g. a copied run directory. Runs
        without fingerprints (imported curves) are never called duplicates: nothing shows they
        measured the same weights."""
        if len(groups) < 2:
            return {}
        fps = self.run_fingerprints()
        first: dict[tuple, str] = {}
        out = {}
        for run in sorted(groups):
            mine = fps.get(run, frozenset())
            if not mine or not all(f and not f.startswith("import:") for f in mine):
                continue  # no real weights behind these rows (imported curves)
            sig = (frozenset(groups[run]), mine)
            out.update({run: first[sig]} if sig in first else {})
            first.setdefault(sig, run)
        return out

    def run_name(self, default: str) -> str:
        """The name of the run this store's directory holds: the one recorded when the run was
        created (``run_name`` meta), so a copied or renamed directory resumes as the same run.
        A store of older code that holds exactly one run adopts that run's name; a new store
        records ``default`` (the caller's name for it, e.g. its folder's name)."""
        name = self.get_meta(RUN_NAME_META_KEY)
        if isinstance(name, str) and name:
            return name
        runs = sorted(k[len("run:") :] for k in self.meta() if k.startswith("run:"))
        name = runs[0] if len(runs) == 1 else default
        if not self.readonly:
            self.set_meta(RUN_NAME_META_KEY, name)
        return name

    def count(self) -> int:
        """Number of score rows."""
        found = self._query("SELECT COUNT(*) FROM scores")
        return int(found[0][0]) if found else 0

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
        self._writable()
        try:
            with self.conn:
                self.conn.executemany(
                    "INSERT OR IGNORE INTO items VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(run, skill, skill_hash, probe_key, *it) for it in items],
                )
        except sqlite3.Error as e:
            raise self._write_failed(e) from None

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
        # a store written before items were kept has no such table: no items
        found = self._query(sql, tuple(where.values()))
        return [dict(zip(ITEM_COLUMNS, r, strict=True)) for r in found]

    # ------------------------------------------------------------ task vectors
    def vectors(self, **where) -> list[dict]:
        """Task vectors as dicts (columns :data:`VECTOR_COLUMNS`, ``data`` a float32 array),
        filtered by equality; a store written before vectors were kept has none."""
        bad = sorted(set(where) - set(VECTOR_COLUMNS))
        if bad:
            raise StoreError(f"Unknown column(s) {bad}; columns are {', '.join(VECTOR_COLUMNS)}.")
        sql = f"SELECT {', '.join(VECTOR_COLUMNS)} FROM vectors"
        if where:
            sql += " WHERE " + " AND ".join(f"{k}=?" for k in where)
        sql += " ORDER BY run, tokens, step, fingerprint, skill, skill_hash, probe_key, layer, hook"
        out = []
        for r in self._query(sql, tuple(where.values())):
            d = dict(zip(VECTOR_COLUMNS, r, strict=True))
            d["data"] = np.frombuffer(d["data"], np.float32)
            out.append(d)
        return out


#: Free bytes below which a failed write is taken for a full disk (SQLite may report only a
#: "disk I/O error" when its write-ahead index cannot grow).
_NEARLY_FULL = 1 << 20


def _disk_full(e: sqlite3.Error, path: Path) -> bool:
    """Whether ``e`` says, or the disk under ``path`` shows, that there was no room."""
    if getattr(e, "sqlite_errorname", "") == "SQLITE_FULL" or "is full" in str(e):
        return True
    if not _storage_failed(e, path):
        return False
    try:
        return shutil.disk_usage(path.parent).free < _NEARLY_FULL
    except OSError:
        return False


def _storage_failed(e: sqlite3.Error, path: Path) -> bool:
    """Whether SQLite failed in the storage below it (full, read-only, I/O), not in the file's
    content: an environment problem, never a corrupt store."""
    name = getattr(e, "sqlite_errorname", "")
    text = str(e)
    return (
        name in ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_CANTOPEN")
        or name.startswith(("SQLITE_IOERR", "SQLITE_READONLY_"))
        or "is full" in text
        or "disk I/O error" in text
        or "readonly database" in text
    )
