"""The results store: one SQLite file (WAL) of evaluated design points.

``results`` holds one row per point, keyed by a hash of everything the evaluation depends on
(cascade, architecture, workload, objective, code version), so a point is computed once
whichever sweep asks for it. ``sweeps`` records each sweep's spec and constraints and
``members`` which keys belong to it. Rows are written with ``INSERT OR IGNORE`` in short
transactions: a killed writer loses at most its open transaction, and two writers of one
file neither corrupt it nor duplicate a row.

>>> import tempfile, os
>>> store = ResultStore(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
>>> store.add([{"key": "k1", "algorithm": "fusemax", "status": "ok"}])
1
>>> store.add([{"key": "k1", "algorithm": "fusemax", "status": "ok"}])
0
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from einsum import CascadeError

__all__ = ["COLUMNS", "ResultStore", "StoreError"]

COLUMNS: dict[str, str] = {
    "key": "TEXT PRIMARY KEY",
    "code_version": "TEXT",
    "algorithm": "TEXT",
    "passes": "INTEGER",
    "architecture": "TEXT",
    "device": "TEXT",
    "array": "INTEGER",
    "pes": "INTEGER",
    "buffer_mib": "REAL",
    "bandwidth_gib_s": "REAL",
    "clock_mhz": "REAL",
    "model": "TEXT",
    "seq": "INTEGER",
    "batch": "INTEGER",
    "heads": "INTEGER",
    "kv_heads": "INTEGER",
    "layers": "INTEGER",
    "objective": "TEXT",
    "status": "TEXT",
    "error": "TEXT",
    "cycles": "INTEGER",
    "seconds": "REAL",
    "energy_j": "REAL",
    "power_w": "REAL",
    "area_mm2": "REAL",
    "dram_bytes": "INTEGER",
    "buffer_bytes": "INTEGER",
    "utilisation": "REAL",
    "utilisation_by_unit": "TEXT",
    "energy_pj_by_action": "TEXT",
    "accesses": "TEXT",
    "dsp": "INTEGER",
    "bram36": "INTEGER",
    "uram": "INTEGER",
    "lut": "INTEGER",
    "ff": "INTEGER",
    "fits": "INTEGER",
    "mapping": "TEXT",
    "mappings_evaluated": "INTEGER",
    "eval_seconds": "REAL",
    "created": "REAL",
}
"""Columns of ``results``; JSON text for the nested ones."""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS results ({", ".join(f'"{c}" {t}' for c, t in COLUMNS.items())});
CREATE TABLE IF NOT EXISTS sweeps (name TEXT PRIMARY KEY, spec TEXT, constraints TEXT,
                                   points INTEGER, updated REAL);
CREATE TABLE IF NOT EXISTS members (sweep TEXT, key TEXT, position INTEGER,
                                    PRIMARY KEY (sweep, key));
"""
_CHUNK = 500  # SQLite's limit on bound variables is far above this


class StoreError(CascadeError):
    """A results file that cannot be opened or is not a cascade store."""


class ResultStore:
    """A results file, created if missing; safe to open from several processes at once."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError("no such results file", file=str(self.path))
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        tables = self._prepare(create)
        if not {"results", "sweeps", "members"} <= tables:
            raise StoreError("not a cascade results database (no results table)",
                             file=str(self.path))

    def _prepare(self, create: bool) -> set[str]:
        """WAL mode and the schema. Switching to WAL while another process creates the same
        file can fail at once with "database is locked" (SQLite does not wait on that
        lock), so the setup is retried for a while."""
        deadline = time.monotonic() + 60.0
        while True:
            try:
                self._db.execute("PRAGMA busy_timeout = 60000")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                if create:
                    self._db.executescript(_SCHEMA)
                return {r[0] for r in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise StoreError(f"not a results database: {error}", file=str(self.path)
                                     ) from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as error:
                raise StoreError(f"not a results database: {error}", file=str(self.path)
                                 ) from None

    def close(self) -> None:
        self._db.close()

    def register(self, sweep: str, *, spec: dict[str, Any], constraints: dict[str, Any],
                 keys: Sequence[str]) -> None:
        """Record a sweep and the keys of its points (in order)."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?, ?)",
                             (sweep, json.dumps(spec, sort_keys=True),
                              json.dumps(constraints, sort_keys=True), len(keys), time.time()))
            self._db.execute("DELETE FROM members WHERE sweep = ?", (sweep,))
            self._db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)",
                                 ((sweep, k, i) for i, k in enumerate(keys)))

    def finished(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` that already have a row."""
        keys = list(keys)
        found: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            part = keys[start:start + _CHUNK]
            marks = ",".join("?" * len(part))
            found.update(r[0] for r in self._db.execute(
                f"SELECT key FROM results WHERE key IN ({marks})", part))
        return found

    def add(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows (missing columns are NULL) in one transaction; return how many were
        new. A row whose key is already stored is left as it was."""
        names = list(COLUMNS)
        quoted = ", ".join(f'"{c}"' for c in names)
        sql = f"INSERT OR IGNORE INTO results ({quoted}) VALUES ({', '.join('?' * len(names))})"
        values = [tuple(_cell(row.get(c)) for c in names) for row in rows]
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(sql, values)
            return self._db.total_changes - before

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def statuses(self, sweep: str) -> dict[str, int]:
        """How many of a sweep's points are stored, by status (ok, unmappable)."""
        cursor = self._db.execute(
            "SELECT r.status, COUNT(*) FROM members m JOIN results r ON r.key = m.key "
            "WHERE m.sweep = ? GROUP BY r.status ORDER BY r.status", (sweep,))
        return dict(cursor.fetchall())

    def sweeps(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT name, spec, constraints, points, updated FROM sweeps "
                                  "ORDER BY updated")
        return [{"name": n, "spec": json.loads(s), "constraints": json.loads(c), "points": p,
                 "updated": u} for n, s, c, p, u in cursor]

    def rows(self, sweep: str | None = None) -> list[dict[str, Any]]:
        """Stored rows, of one sweep (in its point order) or all; JSON columns decoded."""
        if sweep is None:
            cursor = self._db.execute("SELECT * FROM results ORDER BY created, key")
        else:
            cursor = self._db.execute(
                "SELECT r.* FROM members m JOIN results r ON r.key = m.key WHERE m.sweep = ? "
                "ORDER BY m.position", (sweep,))
        names = [d[0] for d in cursor.description]
        return [_decoded(dict(zip(names, r, strict=True))) for r in cursor]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error: takes the write lock up front so
    concurrent writers queue (busy timeout) instead of failing mid-way."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


_JSON_COLUMNS = ("utilisation_by_unit", "energy_pj_by_action", "accesses", "mapping")


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return int(value)
    return value


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for column in _JSON_COLUMNS:
        if row.get(column) is not None:
            row[column] = json.loads(row[column])
    return row
