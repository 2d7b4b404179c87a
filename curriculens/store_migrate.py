"""Older results stores, read as they are and migrated to the current schema when written.

The store's schema history (:data:`curriculens.store.SCHEMA_VERSION`):

- **1**: no ``probe_key`` or ``reason`` columns.
- **2**: ``probe_key`` (in the key) and ``reason``. Probe and control rows share
  ``metric="acc"``; ``layer`` is 0 for the embedding and ``L + 1`` for ``blocks.L.*``, -1 for
  rows without a hook (behavior).
- **3**: metric names say what they are: ``probe_acc`` (kind probe) and ``control_acc`` (kind
  control); ``layer`` is the TransformerLens block index (``blocks.L.*`` is ``L``), -1 for the
  embedding, and NULL for rows without a hook (behavior and its chance baseline). Imported probe
  rows keep ``hook == f"layer{layer}"``.

A read-only open of an older store translates every row to schema 3 as it is read
(:func:`translated`), so the file is never touched; a writable open migrates it once, in one
transaction (:func:`migrate_v1`, then :func:`migrate_v2`). This is the only module besides
:mod:`curriculens.store` that runs SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

#: SQL expressions that read a schema-2 row as schema 3, per column (others are read as stored).
V2_TO_V3 = {
    "metric": (
        "CASE WHEN metric = 'acc' AND kind = 'probe' THEN 'probe_acc' "
        "WHEN metric = 'acc' AND kind = 'control' THEN 'control_acc' ELSE metric END"
    ),
    "layer": "CASE WHEN hook = '' THEN NULL ELSE layer - 1 END",
    # imported curves name their hook after the layer: keep the two equal
    "hook": (
        "CASE WHEN hook GLOB 'layer[0-9]*' AND NOT substr(hook, 6) GLOB '*[^0-9]*' "
        "THEN 'layer' || (CAST(substr(hook, 6) AS INTEGER) - 1) ELSE hook END"
    ),
}
#: Defaults of the columns a schema-1 store lacks.
V1_DEFAULTS = {"probe_key": "''", "reason": "NULL"}


def translated(columns: Sequence[str], have: set[str], version: int) -> list[str]:
    """``SELECT`` expressions that read ``columns`` of a schema-``version`` table as schema 3.

    >>> translated(["run", "probe_key"], {"run"}, 1)
    ['run', "'' AS probe_key"]
    """
    out = []
    for c in columns:
        if c not in have and c in V1_DEFAULTS:
            out.append(f"{V1_DEFAULTS[c]} AS {c}")
        elif version < 3 and c in V2_TO_V3:
            out.append(f"{V2_TO_V3[c]} AS {c}")
        else:
            out.append(c)
    return out


def migrate_v1(conn: sqlite3.Connection, scores_ddl: str, columns: Sequence[str], ambiguous: str):
    """Version 1 → 2 in one transaction: add ``probe_key`` and ``reason``, nothing dropped.

    A version-1 row's ``probe_key`` is the probe config of its unit when exactly one was done
    for its (checkpoint, skill version). With several, version 1 overwrote one with the other
    and the row holds whichever came last: such rows are kept as ``ambiguous`` and their units
    are forgotten, so the next sweep recomputes them. The table is created with ``scores_ddl``
    (the current one); its values keep schema-2 meanings until :func:`migrate_v2`.
    """
    keys: dict[tuple[str, str, str, str], set[str]] = {}
    for run, fp, unit in conn.execute("SELECT run, fingerprint, unit FROM units"):
        skill, sep, rest = unit.partition("@")
        version_hash, bar, key = rest.partition("|")
        if sep and bar:
            h = version_hash.partition("+")[2]
            keys.setdefault((run, fp, skill, h), set()).add(key)
    old = [c for c in columns if c not in ("probe_key", "reason")] + ["items"]
    with _transaction(conn):
        conn.execute("ALTER TABLE scores RENAME TO scores_v1")
        conn.execute(scores_ddl)
        groups = conn.execute(
            "SELECT DISTINCT run, fingerprint, skill, skill_hash FROM scores_v1"
        ).fetchall()
        for g in groups:
            found = keys.get(tuple(g), set())
            key = next(iter(found)) if len(found) == 1 else ""
            if len(found) > 1:
                key = ambiguous
                run, fp, skill, h = g
                conn.execute(
                    "DELETE FROM units WHERE run=? AND fingerprint=? AND unit LIKE ?",
                    (run, fp, f"{skill}@%+{h}|%"),
                )
            conn.execute(
                f"INSERT INTO scores ({', '.join(old)}, probe_key) SELECT {', '.join(old)}, ? "
                "FROM scores_v1 WHERE run=? AND fingerprint=? AND skill=? AND skill_hash=?",
                (key, *g),
            )
        conn.execute("DROP TABLE scores_v1")
        _set_version(conn, 2)


def migrate_v2(conn: sqlite3.Connection, scores_ddl: str, columns: Sequence[str]) -> None:
    """Version 2 → 3 in one transaction: rename probe and control metrics, renumber layers
    (and imported ``layer{L}`` hooks), allow NULL layers; nothing dropped."""
    cols = [*columns, "items"]
    have = {r[1] for r in conn.execute("PRAGMA table_info(scores)")}
    with _transaction(conn):
        conn.execute("ALTER TABLE scores RENAME TO scores_v2")
        conn.execute(scores_ddl)
        conn.execute(
            f"INSERT INTO scores ({', '.join(cols)}) "
            f"SELECT {', '.join(translated(cols, have, 2))} FROM scores_v2"
        )
        conn.execute("DROP TABLE scores_v2")
        _set_version(conn, 3)


def stored_version(conn: sqlite3.Connection, meta_version, have: set[str]) -> int:
    """The schema a store's ``scores`` table was written in: its recorded version, else 1
    without ``probe_key`` and 2 with it (stores written before versions were recorded)."""
    if meta_version is not None:
        return int(meta_version)
    return 1 if have and "probe_key" not in have else (2 if have else 3)


def _set_version(conn: sqlite3.Connection, version: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))


class _transaction:
    """BEGIN … COMMIT around DDL and DML alike (Python's implicit transactions skip DDL, so a
    crash mid-migration would otherwise leave a renamed table behind); ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.commit()
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
