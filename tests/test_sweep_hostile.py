"""Hostile and careless input to sweeps: spec values, results files, Dask addresses and
killed parents each end in one line (a SweepError or StoreError; exit 2 from the command
line), and nothing outside the sweep's own database is changed.

The process tests start real ``cascade sweep`` processes, kill the parent and watch its
pool workers through /proc."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascade import code_version, evaluate_points, main, point_key, run_sweep
from einsum import load, model
from mapper import (
    COLUMNS,
    SCHEMA_VERSION,
    ArchitectureAxes,
    Point,
    ResultStore,
    StoreError,
    SweepError,
    SweepSpec,
    load_sweep,
    parse_sweep,
)

BASE = "algorithms: [fusemax]\narchitectures: [{preset: fusemax}]\nmodels: [bert]\nseq: [1024]\n"


def _with_arch(text: str) -> str:
    return BASE.replace("{preset: fusemax}", text)


def _refused(text: str) -> str:
    with pytest.raises(SweepError) as caught:
        parse_sweep(text, file="s.yaml")
    return str(caught.value)


# ----- spec values, each with its line


@pytest.mark.parametrize(("text", "message"), [
    # integers the store cannot hold (beyond 2**63 - 1), directly or as a product
    (BASE.replace("[1024]", "[1180591620717411303424]"),
     "s.yaml:4: seq must be a whole number from 1 to 2**40, not 1180591620717411303424"),
    (BASE + "batch: [1, 1180591620717411303424]\n",
     "s.yaml:5: batch must be a whole number from 1 to 2**40, not 1180591620717411303424"),
    (_with_arch("{preset: fusemax, array: 1099511627776}"),
     "s.yaml:2: unit array2d: shape [1099511627776, 1099511627776] gives 2**80 or more PEs; "
     "at most 2**40"),
    (BASE.replace("[1024]", "[1024, 1099511627776]"),
     "s.yaml:4: seq 1099511627776 is too long for model bert with batch 64: fusemax would "
     "count ~2**96.6 operations per point, more than the 2**62 the cost model counts"),
    (BASE.replace("[1024]", "[1048576]") + "batch: [1048576]\n",
     "s.yaml:4: seq 1048576 is too long for model bert with batch 1048576: fusemax would "
     "count ~2**70.6 operations per point, more than the 2**62 the cost model counts"),
    # non-finite, absurd, negative and zero floats
    (_with_arch("{preset: fusemax, clock_mhz: .inf}"),
     "s.yaml:2: clock_mhz inf is out of range; expected 1 to 100000 MHz"),
    (_with_arch("{preset: fusemax, clock_mhz: .nan}"),
     "s.yaml:2: clock_mhz must be a positive number, not nan"),
    (_with_arch("{preset: fusemax, clock_mhz: 1e-300}"),  # text to PyYAML (YAML 1.1)
     "s.yaml:2: clock_mhz 1e-300 is out of range; expected 1 to 100000 MHz"),
    (_with_arch("{preset: fusemax, clock_mhz: -5}"),
     "s.yaml:2: clock_mhz must be a positive number, not -5"),
    (_with_arch("{preset: fusemax, clock_mhz: 0}"),
     "s.yaml:2: clock_mhz must be a positive number, not 0"),
    (_with_arch("{preset: fusemax, clock_mhz: '1e3'}"),  # quoted: text, not a number
     "s.yaml:2: clock_mhz must be a positive number, not '1e3'"),
    (_with_arch("{preset: fusemax, bandwidth_gib_s: 1.0e-300}"),
     "s.yaml:2: bandwidth_gib_s 1e-300 is out of range; expected 2**-10 to 2**20 GiB/s"),
    (_with_arch("{preset: fusemax, buffer_mib: 1e300}"),
     "s.yaml:2: buffer_mib 1e+300 is out of range; expected 2**-20 to 2**20 MiB (a byte to "
     "a TiB)"),
    (_with_arch("{preset: zcu102, clock_mhz: [250, -.inf]}"),
     "s.yaml:2: clock_mhz must be a positive number, not -inf"),
    (BASE + "constraints: {power_w: .inf}\n",
     "s.yaml:5: power_w inf is out of range; expected at most 1e12 W"),
    # text the store would truncate or refuse
    ('name: "a\\0b"\n' + BASE, "s.yaml:1: name 'a\\x00b' has control characters"),
    ('name: "\\udc80"\n' + BASE,
     "s.yaml:1: name '\\udc80' is not valid Unicode (a lone surrogate)"),
    ("name: [1, 2]\n" + BASE, "s.yaml:1: name must be text, not a list"),
    ("name: ''\n" + BASE, "s.yaml:1: name must be text, not ''"),
    (BASE.replace("[fusemax]", '["fuse\\0max"]'),
     "s.yaml:1: algorithm 'fuse\\x00max' has control characters"),
    # an error message never prints a whole nested value
    (BASE.replace("[1024]", "[[1024, [2048]]]"),
     "s.yaml:4: seq must be a whole number from 1 to 2**40, not a list"),
    # one parameter twice in one architecture
    (_with_arch("{preset: fusemax, array: 64, array: 128}"),
     "s.yaml:2: architecture parameter 'array' is given twice"),
])
def test_bad_spec_values(text: str, message: str) -> None:
    assert _refused(text) == message


def test_yaml_12_floats_are_numbers() -> None:
    spec = parse_sweep(_with_arch("{preset: fusemax, clock_mhz: 1e3, buffer_mib: 5E0}"))
    point = spec.points()[0]
    assert (point.clock_mhz, point.buffer_mib) == (1000.0, 5.0)


def test_model_config_sizes_are_bounded(tmp_path: Path) -> None:
    config = tmp_path / "huge" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"hidden_size": 256, "num_attention_heads": 4,
                                  "num_hidden_layers": 2**70}))
    spec = tmp_path / "s.yaml"
    spec.write_text(BASE.replace("[bert]", "[{config: huge/config.json}]"))
    with pytest.raises(SweepError) as caught:
        load_sweep(spec)
    # The model loader bounds its sizes too (its file, no line); the sweep's own check is the
    # guard of the values it stores. Either way, one exact line.
    assert str(caught.value) in (
        f"{spec}:3: model huge: layers 1180591620717411303424 is larger than 2**40",
        f"{config}: model huge: layers 1180591620717411303424 is larger than the limit 2**40")


def test_spec_must_be_a_small_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    with pytest.raises(SweepError) as caught:
        load_sweep(fifo)  # would block for ever on read
    assert str(caught.value) == f"{fifo}: cannot read sweep spec: not a regular file"
    big = tmp_path / "big.yaml"
    big.write_text(BASE + "#" * (1 << 20))
    with pytest.raises(SweepError) as caught:
        load_sweep(big)
    assert str(caught.value) == (f"{big}: cannot read sweep spec: {big.stat().st_size:,} bytes, "
                                 "more than the 1,048,576 a spec may have")


# ----- one design once: stored once and reported once


@pytest.mark.parametrize(("arches", "message"), [
    ("\n  - {preset: fusemax}\n  - {preset: fusemax}",
     "s.yaml:5: architectures list fusemax with its preset values more than once (also at "
     "line 4)"),
    ("\n  - {preset: fusemax, array: [64, 128]}\n  - {preset: fusemax, array: [128, 256]}",
     "s.yaml:5: architectures list fusemax with array 128 more than once (also at line 4)"),
    ("\n  - {preset: fusemax, array: [64, 64]}",
     "s.yaml:4: architectures list fusemax with array 64 more than once"),
    ("\n  - {preset: fusemax}\n  - {preset: fusemax, array: 256}",  # 256 is the preset's
     "s.yaml:5: architectures list fusemax with array 256, the same design as fusemax with "
     "its preset values at line 4"),
])
def test_duplicate_designs_are_refused(arches: str, message: str) -> None:
    text = f"name: d\nalgorithms: [fusemax]\narchitectures:{arches}\nmodels: [bert]\nseq: [1024]\n"
    assert _refused(text) == message


def test_a_point_given_twice_is_stored_and_reported_once(tmp_path: Path) -> None:
    # Built directly (the spec parser refuses this): the sweep still counts keys, not entries.
    spec = SweepSpec(name="twice", algorithms=("fusemax",),
                     architectures=(ArchitectureAxes(preset="fusemax"),
                                    ArchitectureAxes(preset="fusemax")),
                     models=(model("bert"),), seq=(1024,))
    summary = run_sweep(spec, tmp_path / "r.sqlite")
    store = ResultStore(tmp_path / "r.sqlite")
    assert (summary.points, summary.computed, summary.statuses) == (1, 1, {"ok": 1})
    assert store.count() == 1 and len(store.rows("twice")) == 1
    assert store.sweeps()[0]["points"] == 1


# ----- overflow during evaluation: stored as unmappable, the sweep goes on


def _point(**changes: object) -> Point:
    fields: dict[str, object] = dict(algorithm="fusemax", preset="fusemax", array=None,
                                     buffer_mib=None, bandwidth_gib_s=None, clock_mhz=None,
                                     device=None, model=model("bert"), seq=1024, batch=64,
                                     objective="latency")
    fields.update(changes)
    return Point(**fields)  # type: ignore[arg-type]


def test_overflowing_points_are_kept_as_unmappable(tmp_path: Path) -> None:
    code = code_version()
    cascades = {"fusemax": load("fusemax")}
    huge = _point(seq=2**16, batch=2**30)  # 2**71.6 points: past exact counting
    # A 1-PE array with starved bandwidth: DRAM time past 2**62 cycles on some loop orders,
    # which the search drops; others stay within it.
    starved = _point(seq=2**20, batch=64, array=1, bandwidth_gib_s=2**-10, clock_mhz=1e5)
    fine = _point()
    rows = evaluate_points([(p, point_key(p, cascades["fusemax"], code))
                            for p in (huge, starved, fine)], cascades, code)
    assert [r["status"] for r in rows] == ["unmappable", "ok", "ok"]
    assert rows[0]["error"] == ("fusemax at these shapes iterates over about 2**71.6 points; "
                                "the cost model counts exactly up to 2**59 (use a smaller "
                                "sequence, batch or head count)")
    assert rows[0].get("cycles") is None and rows[0]["seq"] == 2**16
    assert rows[1]["cycles"] == 648_806_400_000_000_000 < 2**62
    store = ResultStore(tmp_path / "r.sqlite")
    assert store.add(rows) == 3


def test_store_refuses_values_it_would_change(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    with pytest.raises(StoreError) as caught:
        store.add([{"key": "k", "status": "ok", "cycles": 2**70}])
    assert str(caught.value) == (f"{tmp_path / 'r.sqlite'}: cannot store cycles = "
                                 "1180591620717411303424 of point k: beyond 64-bit integers or "
                                 "NaN")
    with pytest.raises(StoreError, match="cannot store seconds = nan of point k"):
        store.add([{"key": "k", "status": "ok", "seconds": float("nan")}])
    assert store.count() == 0


# ----- two sweeps of one name


NAMED = "name: shared\n" + BASE


def test_a_sweep_name_is_not_taken_over(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    run_sweep(parse_sweep(NAMED, file="a.yaml"), db)
    other = parse_sweep(NAMED.replace("[1024]", "[1024, 2048]"), file="b.yaml")
    with pytest.raises(SweepError) as caught:
        run_sweep(other, db)
    assert str(caught.value) == (f"b.yaml:1: sweep 'shared' is already in {db} with other axes "
                                 "(seq [1024] there, [1024, 2048] here); give this sweep "
                                 "another name")
    store = ResultStore(db)
    assert store.count() == 1 and store.sweeps()[0]["spec"]["seq"] == [1024]
    store.close()
    # the same axes from another file (a moved spec) resume; replace=True takes the name over
    again = run_sweep(parse_sweep(NAMED + "constraints: {area_mm2: 10}\n", file="c.yaml"), db)
    assert (again.points, again.reused) == (1, 1)
    taken = run_sweep(other, db, replace=True)
    assert (taken.points, taken.reused, taken.computed) == (2, 1, 1)
    assert len(ResultStore(db).rows("shared")) == 2


def test_the_store_itself_guards_a_name(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    store.register("s", spec={"file": "a", "seq": [1]}, constraints={}, keys=["k1"])
    with pytest.raises(StoreError) as caught:
        store.register("s", spec={"file": "b", "seq": [2]}, constraints={}, keys=["k2"])
    assert str(caught.value) == (f"{tmp_path / 'r.sqlite'}: sweep 's' is already stored with "
                                 "other axes (seq [1] there, [2] here); give this sweep another "
                                 "name")
    store.register("s", spec={"file": "c", "seq": [1]}, constraints={}, keys=["k1", "k1"])
    assert store.sweeps()[0]["points"] == 1


# ----- results files


def _store_error(path: Path, *, create: bool = True) -> str:
    with pytest.raises(StoreError) as caught:
        ResultStore(path, create=create)
    return str(caught.value)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_db_in_a_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "none" / "r.sqlite"
    assert _store_error(path) == (f"{path}: cannot create the results database: no folder "
                                  f"{tmp_path / 'none'}")
    assert not (tmp_path / "none").exists()
    under_file = tmp_path / "file"
    under_file.write_text("x")
    assert _store_error(under_file / "r.sqlite") == (
        f"{under_file / 'r.sqlite'}: cannot create the results database: {under_file} is not "
        "a folder")


def test_read_only_database_and_folder(tmp_path: Path) -> None:
    # Permission bits are honoured even for root, so these hold whoever runs the tests.
    path = tmp_path / "r.sqlite"
    ResultStore(path).add([{"key": "k", "status": "ok"}])
    path.chmod(0o444)
    try:
        assert _store_error(path) == f"{path}: the results database is read-only (no write " \
                                     "permission)"
        reader = ResultStore(path, create=False)  # a report only reads
        assert reader.readonly and [r["key"] for r in reader.rows()] == ["k"]
        reader.close()
    finally:
        path.chmod(0o644)
    folder = tmp_path / "locked"
    folder.mkdir()
    ResultStore(folder / "r.sqlite").close()
    folder.chmod(0o555)
    try:
        assert _store_error(folder / "r.sqlite") == (
            f"{folder / 'r.sqlite'}: folder {folder} is read-only; SQLite needs to write the "
            "database's journal (-wal and -shm files) beside it")
        assert _store_error(folder / "new.sqlite") == (
            f"{folder / 'new.sqlite'}: cannot create the results database: folder {folder} is "
            "read-only")
    finally:
        folder.chmod(0o755)
    assert not (folder / "new.sqlite").exists()


def test_random_bytes_are_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    noise = bytes((i * 7919 + 13) % 256 for i in range(8192))
    path.write_bytes(noise)
    assert _store_error(path) == (f"{path}: not a results database: file is not a database (no "
                                  "SQLite header)")
    assert _files(tmp_path) == {"r.sqlite": noise}


def test_a_damaged_store_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    data = bytearray(path.read_bytes())
    data[100:len(data)] = b"\xff" * (len(data) - 100)  # the schema page and all after it
    path.write_bytes(bytes(data))
    assert _store_error(path) == (f"{path}: cannot read the results database: database disk "
                                  "image is malformed")


def test_another_programs_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE notes (x)")
        con.execute("INSERT INTO notes VALUES ('mine')")
    con.close()
    before = _files(tmp_path)
    assert _store_error(path) == (f"{path}: not a cascade results database (its tables: notes); "
                                  "left as it was")
    assert _files(tmp_path) == before  # no tables added, not switched to WAL, no journal
    marked = tmp_path / "marked.sqlite"
    with sqlite3.connect(marked) as con:
        con.execute("PRAGMA application_id = 1234")
    con.close()
    assert _store_error(marked) == (f"{marked}: not a cascade results database (another "
                                    "program's SQLite file); left as it was")


def test_an_empty_file_is_not_a_store_to_read(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 0")
    con.close()
    assert _store_error(path, create=False) == (f"{path}: not a cascade results database (it "
                                                "has no tables)")


def test_files_that_are_not_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert _store_error(fifo) == f"{fifo}: not a regular file, so not a results database"
    assert _store_error(Path(os.devnull)) == (f"{os.devnull}: not a regular file, so not a "
                                              "results database")
    assert _store_error(tmp_path) == f"{tmp_path}: is a folder, not a results database"


def _schema_1(path: Path, *, missing: tuple[str, ...] = (), extra: str = "") -> None:
    """A store as an older cascade wrote it: no marks, some columns not there yet."""
    columns = [f'"{c}" {t}' for c, t in COLUMNS.items() if c not in missing]
    with sqlite3.connect(path) as con:
        con.execute(f"CREATE TABLE results ({', '.join(columns)}{extra})")
        con.execute("CREATE TABLE sweeps (name TEXT PRIMARY KEY, spec TEXT, constraints TEXT, "
                    "points INTEGER, updated REAL)")
        con.execute("CREATE TABLE members (sweep TEXT, key TEXT, position INTEGER, "
                    "PRIMARY KEY (sweep, key))")
        con.execute("INSERT INTO results (key, algorithm, status, cycles) VALUES "
                    "('old', 'fusemax', 'ok', 7)")
        con.execute("INSERT INTO sweeps VALUES ('before', '{}', '{}', 1, 0)")
        con.execute("INSERT INTO members VALUES ('before', 'old', 0)")
    con.close()


def test_an_older_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _schema_1(path, missing=("kv_heads", "mappings_evaluated", "eval_seconds"))
    store = ResultStore(path)
    (row,) = store.rows("before")
    assert (row["key"], row["cycles"], row["kv_heads"], row["eval_seconds"]) == ("old", 7,
                                                                                 None, None)
    assert store.add([{"key": "new", "status": "ok", "kv_heads": 8, "eval_seconds": 0.5}]) == 1
    store.close()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert {r[1] for r in con.execute("PRAGMA table_info(results)")} == set(COLUMNS)
    con.close()
    # the whole run on a migrated store
    summary = run_sweep(parse_sweep(BASE), path)
    assert (summary.computed, ResultStore(path).count()) == (1, 3)


def test_an_older_schema_it_cannot_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.sqlite"
    _schema_1(path, extra=', "colour" TEXT')
    assert _store_error(path) == (f"{path}: not a cascade results database (results has columns "
                                  "colour); left as it was")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    assert _store_error(path) == (f"{path}: written by a newer cascade (store schema "
                                  f"{SCHEMA_VERSION + 1}; this one reads schemas 1 to "
                                  f"{SCHEMA_VERSION})")


def test_cli_store_errors_are_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(BASE)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not sqlite at all" * 10)
    assert main(["sweep", str(spec), "--db", str(bad), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {bad}: not a results database: file is "
                                       "not a database (no SQLite header)\n")
    spec.write_text(_with_arch("{preset: fusemax, clock_mhz: .inf}"))
    assert main(["sweep", str(spec), "--db", str(tmp_path / "r.sqlite")]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {spec}:2: clock_mhz inf is out of "
                                       "range; expected 1 to 100000 MHz\n")
    assert not (tmp_path / "r.sqlite").exists()


# ----- Dask addresses


@pytest.mark.parametrize(("address", "message"), [
    ("tcp://127.0.0.1:1", "no Dask scheduler answered within 5 s"),
    ("nonsense", "not a Dask scheduler address: missing port number in address 'nonsense'"),
])
def test_unreachable_dask_is_one_line(tmp_path: Path, address: str, message: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(BASE)
    db = tmp_path / "r.sqlite"
    done = subprocess.run([sys.executable, "-m", "cascade", "sweep", str(spec), "--db", str(db),
                           "--dask", address], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"cascade: error: --dask {address}: {message}\n"
    assert not db.exists()  # the scheduler is tried before the database is touched


# ----- killing the parent


LONG = """name: long
algorithms: [fusemax, three_pass, two_pass_online]
architectures: [{preset: fusemax, array: [16, 32, 64, 128, 256], buffer_mib: [2, 4, 16]}]
models: [bert, t5, trxl, xlm]
seq: [512, 1024, 2048, 4096, 8192]
objective: [latency, energy]
"""  # 3,600 points: far longer than it takes to see the workers and kill their parent


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _children(parent: int) -> dict[int, str]:
    """Live children of ``parent``, each with its start time (a reused pid is another)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == parent and fields[0] != "Z":
                found[int(entry.name)] = fields[19]
    return found


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[19] == started and fields[0] not in ("Z", "X")


def _wait_for(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"still waiting for {what}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_pool_workers_die_with_their_parent(tmp_path: Path, sig: signal.Signals) -> None:
    spec, db = tmp_path / "long.yaml", tmp_path / "r.sqlite"
    spec.write_text(LONG)
    process = subprocess.Popen([sys.executable, "-m", "cascade", "sweep", str(spec), "--db",
                                str(db), "--workers", "2"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        workers: dict[int, str] = {}

        def two_workers() -> bool:
            assert process.poll() is None, process.communicate()
            workers.update(_children(process.pid))
            return len(workers) >= 2

        _wait_for(two_workers, "the pool's workers")
        process.send_signal(sig)  # the parent only, as `kill PID` would
        process.wait(timeout=60)
        _wait_for(lambda: not any(_alive(p, s) for p, s in workers.items()),
                  "the orphaned workers to end")
    finally:  # whatever this test started and is left, if it failed
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == -sig


def test_cli_replace_takes_a_sweep_name_over(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.sqlite"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(NAMED)
    second.write_text(NAMED.replace("[1024]", "[1024, 2048]"))
    assert main(["sweep", str(first), "--db", str(db), "--workers", "1"]) == 0
    assert main(["sweep", str(second), "--db", str(db), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.endswith("give this sweep another name\n") and err.count("\n") == 1
    assert main(["sweep", str(second), "--db", str(db), "--workers", "1", "--replace"]) == 0
    assert len(ResultStore(db).rows("shared")) == 2
