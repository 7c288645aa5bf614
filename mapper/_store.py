"""The results store: one SQLite file (WAL) of evaluated design points.

``results`` holds one row per point, keyed by a hash of everything the evaluation depends on
(cascade, architecture, workload, objective, code version), so a point is computed once
whichever sweep asks for it. ``sweeps`` records each sweep's spec and constraints and
``members`` which keys belong to it. Rows are written with ``INSERT OR IGNORE`` in short
transactions: a killed writer loses at most its open transaction, and two writers of one
file neither corrupt it nor duplicate a row.

The file is marked as ours (SQLite's ``application_id``) with a schema version
(``user_version``). Opening checks the file before changing anything: a missing folder, a
read-only file or folder, a file that is not SQLite, another program's database and a
store of a newer schema are refused with a :class:`StoreError`; the unmarked layout
written before the marks existed (schema 1) is migrated in place.

>>> import tempfile, os
>>> store = ResultStore(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
>>> store.add([{"key": "k1", "algorithm": "fusemax", "status": "ok"}])
1
>>> store.add([{"key": "k1", "algorithm": "fusemax", "status": "ok"}])
0
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from einsum import CascadeError

__all__ = ["COLUMNS", "SCHEMA_VERSION", "ResultStore", "StoreError", "storable"]

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

SCHEMA_VERSION = 2
"""1: the unmarked layout of the first stores; 2: the same tables, marked as ours."""
_APPLICATION_ID = 0x43534344  # "CSCD": tells our files from other programs' databases
_TABLES: dict[str, str] = {
    "results": "(" + ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items()) + ")",
    "sweeps": "(name TEXT PRIMARY KEY, spec TEXT, constraints TEXT, points INTEGER, "
              "updated REAL)",
    "members": "(sweep TEXT, key TEXT, position INTEGER, PRIMARY KEY (sweep, key))",
}
_SWEEP_COLUMNS = {"sweeps": {"name", "spec", "constraints", "points", "updated"},
                  "members": {"sweep", "key", "position"}}
_CHUNK = 500  # SQLite's limit on bound variables is far above this
_HEADER = b"SQLite format 3\x00"
_INT64 = (-(2**63), 2**63 - 1)


class StoreError(CascadeError):
    """A results file that cannot be opened or written, or is not a cascade store."""


def storable(value: Any) -> bool:
    """Whether SQLite keeps ``value`` as it is: integers within 64 bits, floats not NaN
    (SQLite stores NaN as NULL)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, float):
        return not math.isnan(value)
    return True


class ResultStore:
    """A results file, created if missing; safe to open from several processes at once.
    ``create=False`` opens an existing store only, read-only when the file is."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.readonly = self._check_file(create)
        try:
            if self.readonly:
                self._db = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode=ro",
                                           uri=True, timeout=60.0, isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as error:
            raise self._error(f"cannot open the results database: {error}") from None
        try:
            self._prepare(create)
        except BaseException:
            self._db.close()
            raise

    # ----- opening: look before touching

    def _error(self, message: str) -> StoreError:
        return StoreError(message, file=str(self.path))

    def _check_file(self, create: bool) -> bool:
        """Refuse what SQLite would fail on, or change, before it opens the file; return
        whether it is to be opened read-only."""
        folder = self.path.absolute().parent
        try:
            info = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            if not create:
                raise self._error("no such results file") from None
            try:
                folder_info = os.stat(folder)
            except OSError:
                raise self._error(f"cannot create the results database: no folder {folder}"
                                  ) from None
            if not stat.S_ISDIR(folder_info.st_mode):
                raise self._error(f"cannot create the results database: {folder} is not a "
                                  "folder") from None
            if _protected(folder, folder_info, os.W_OK | os.X_OK):
                raise self._error(f"cannot create the results database: folder {folder} is "
                                  "read-only") from None
            return False
        except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
            reason = error.strerror if isinstance(error, OSError) else str(error)
            raise self._error(f"cannot open the results database: {reason}") from None
        if stat.S_ISDIR(info.st_mode):
            raise self._error("is a folder, not a results database")
        if not stat.S_ISREG(info.st_mode):
            raise self._error("not a regular file, so not a results database")
        if info.st_size:
            try:
                with open(self.path, "rb") as file:
                    header = file.read(len(_HEADER))
            except OSError as error:
                raise self._error(f"cannot read the results database: {error.strerror}"
                                  ) from None
            if header != _HEADER:
                raise self._error("not a results database: file is not a database (no SQLite "
                                  "header)")
        # SQLite writes its -wal and -shm files beside the database. Permission bits are
        # honoured even for root, who could write anyway: a write-protected store is
        # left alone.
        file_protected = _protected(self.path, info, os.W_OK)
        folder_protected = _protected(folder, os.stat(folder), os.W_OK | os.X_OK)
        if not create and (file_protected or folder_protected):
            return True
        if file_protected:
            raise self._error("the results database is read-only (no write permission)")
        if folder_protected:
            raise self._error(f"folder {folder} is read-only; SQLite needs to write the "
                              "database's journal (-wal and -shm files) beside it")
        return False

    def _prepare(self, create: bool) -> None:
        """Inspect the file; create the schema in an empty one or migrate an older one,
        each under the write lock; then WAL mode."""
        with self._guard("cannot read the results database"):
            self._db.execute("PRAGMA busy_timeout = 60000")
            state = self._inspect(create)
        if state != "current":
            if self.readonly:
                raise self._error(f"an older results database (schema 1) that needs migrating "
                                  f"to schema {SCHEMA_VERSION}, but it is read-only")
            with self._guard("cannot set up the results database"), self._transaction():
                state = self._inspect(create)  # again: another process may have done it
                if state == "empty":
                    for table, columns in _TABLES.items():
                        self._db.execute(f"CREATE TABLE {table} {columns}")
                elif state == "older":
                    self._migrate()
                if state != "current":
                    self._db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if not self.readonly:
            self._wal()

    def _inspect(self, create: bool) -> str:
        """empty, older or current; anything else is refused here."""
        application = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if application == _APPLICATION_ID:
            if version > SCHEMA_VERSION:
                raise self._error(f"written by a newer cascade (store schema {version}; this "
                                  f"one reads schemas 1 to {SCHEMA_VERSION})")
            if version == SCHEMA_VERSION and set(_TABLES) <= tables and \
                    set(COLUMNS) <= self._columns("results"):
                return "current"
            if version == SCHEMA_VERSION:
                raise self._error("a damaged results database (tables or columns missing)")
            return self._older(tables)
        if application != 0 or version != 0:
            raise self._error("not a cascade results database (another program's SQLite "
                              "file); left as it was")
        if not tables:
            if not create:
                raise self._error("not a cascade results database (it has no tables)")
            return "empty"
        return self._older(tables)

    def _older(self, tables: set[str]) -> str:
        """Schema 1 (no marks): our three tables, results with known columns and its key."""
        if "results" not in tables or not tables <= set(_TABLES):
            raise self._error(f"not a cascade results database (its tables: "
                              f"{', '.join(sorted(tables))}); left as it was")
        results = self._columns("results")
        unknown = sorted(results - set(COLUMNS))
        if "key" not in results or unknown:
            raise self._error(f"not a cascade results database (results has columns "
                              f"{', '.join(unknown) or 'but no key'}); left as it was")
        for table, wanted in _SWEEP_COLUMNS.items():
            if table in tables and self._columns(table) != wanted:
                raise self._error(f"not a cascade results database (its {table} table has "
                                  "other columns); left as it was")
        if self.readonly and set(COLUMNS) <= results and set(_TABLES) <= tables:
            return "current"  # readable as it is
        return "older"

    def _migrate(self) -> None:
        """Schema 1 to 2: add the tables and result columns it lacks (NULL in old rows)."""
        have = self._columns("results")
        for column, kind in COLUMNS.items():
            if column not in have:
                self._db.execute(f'ALTER TABLE results ADD COLUMN "{column}" '
                                 f"{kind.replace(' PRIMARY KEY', '')}")
        for table, columns in _TABLES.items():
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} {columns}")

    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}

    def _wal(self) -> None:
        """Switching to WAL while another process creates the same file can fail at once
        with "database is locked" (SQLite does not wait on that lock), so it is retried."""
        deadline = time.monotonic() + 60.0
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise self._error(f"cannot set up the results database: {error}"
                                      ) from None
                time.sleep(0.05)
            except sqlite3.Error as error:
                raise self._error(f"cannot set up the results database: {error}") from None

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """SQLite's errors (disk full, I/O error, a malformed file) as one-line StoreErrors."""
        try:
            yield
        except sqlite3.Error as error:
            raise self._error(f"{what}: {error}") from None

    # ----- use

    def close(self) -> None:
        self._db.close()

    def conflict(self, sweep: str, spec: dict[str, Any]) -> str | None:
        """How ``spec`` differs from the stored spec of the sweep named ``sweep``, or None
        when there is no such sweep or it has the same axes. A sweep's identity is its spec
        apart from ``file``, the path it was read from."""
        with self._guard("cannot read the results database"):
            found = self._db.execute("SELECT spec FROM sweeps WHERE name = ?", (sweep,)
                                     ).fetchone()
        if found is None:
            return None
        old = {k: v for k, v in json.loads(found[0]).items() if k != "file"}
        new = {k: v for k, v in json.loads(json.dumps(spec, sort_keys=True)).items()
               if k != "file"}
        differences = [f"{k} {_brief(old.get(k))} there, {_brief(new.get(k))} here"
                       for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
        return "; ".join(differences) or None

    def register(self, sweep: str, *, spec: dict[str, Any], constraints: dict[str, Any],
                 keys: Sequence[str], replace: bool = False) -> None:
        """Record a sweep and the keys of its points (in order, each once). A sweep of the
        same name with other axes (see :meth:`conflict`) is refused unless ``replace``:
        two sweeps never share one name's membership."""
        with self._guard("cannot write the results database"), self._transaction():
            difference = self.conflict(sweep, spec)
            if difference and not replace:
                raise self._error(f"sweep {sweep!r} is already stored with other axes "
                                  f"({difference}); give this sweep another name")
            self._db.execute("INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?, ?)",
                             (sweep, json.dumps(spec, sort_keys=True),
                              json.dumps(constraints, sort_keys=True),
                              len(dict.fromkeys(keys)), time.time()))
            self._db.execute("DELETE FROM members WHERE sweep = ?", (sweep,))
            self._db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)",
                                 ((sweep, k, i) for i, k in enumerate(dict.fromkeys(keys))))

    def finished(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` that already have a row."""
        keys = list(keys)
        found: set[str] = set()
        with self._guard("cannot read the results database"):
            for start in range(0, len(keys), _CHUNK):
                part = keys[start:start + _CHUNK]
                marks = ",".join("?" * len(part))
                found.update(r[0] for r in self._db.execute(
                    f"SELECT key FROM results WHERE key IN ({marks})", part))
        return found

    def add(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows (missing columns are NULL) in one transaction; return how many were
        new. A row whose key is already stored is left as it was. A value the store cannot
        keep as it is (see :func:`storable`) is refused before anything is written."""
        names = list(COLUMNS)
        quoted = ", ".join(f'"{c}"' for c in names)
        sql = f"INSERT OR IGNORE INTO results ({quoted}) VALUES ({', '.join('?' * len(names))})"
        values = [tuple(_cell(row.get(c)) for c in names) for row in rows]
        for row in values:
            for name, value in zip(names, row, strict=True):
                if not storable(value):
                    raise self._error(f"cannot store {name} = {value!r} of point {row[0]}: "
                                      "beyond 64-bit integers or NaN")
        with self._guard("cannot write the results database"), self._transaction():
            before = self._db.total_changes
            self._db.executemany(sql, values)
            return self._db.total_changes - before

    def count(self) -> int:
        with self._guard("cannot read the results database"):
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def statuses(self, sweep: str) -> dict[str, int]:
        """How many of a sweep's points are stored, by status (ok, unmappable)."""
        with self._guard("cannot read the results database"):
            cursor = self._db.execute(
                "SELECT r.status, COUNT(*) FROM members m JOIN results r ON r.key = m.key "
                "WHERE m.sweep = ? GROUP BY r.status ORDER BY r.status", (sweep,))
            return dict(cursor.fetchall())

    def sweeps(self) -> list[dict[str, Any]]:
        with self._guard("cannot read the results database"):
            cursor = self._db.execute("SELECT name, spec, constraints, points, updated FROM "
                                      "sweeps ORDER BY updated")
            return [{"name": n, "spec": json.loads(s), "constraints": json.loads(c),
                     "points": p, "updated": u} for n, s, c, p, u in cursor]

    def rows(self, sweep: str | None = None) -> list[dict[str, Any]]:
        """Stored rows, of one sweep (in its point order) or all; JSON columns decoded."""
        with self._guard("cannot read the results database"):
            if sweep is None:
                cursor = self._db.execute("SELECT * FROM results ORDER BY created, key")
            else:
                cursor = self._db.execute(
                    "SELECT r.* FROM members m JOIN results r ON r.key = m.key "
                    "WHERE m.sweep = ? ORDER BY m.position", (sweep,))
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


def _protected(path: Path, info: os.stat_result, access: int) -> bool:
    return not os.access(path, access) or not info.st_mode & 0o222


def _brief(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


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
