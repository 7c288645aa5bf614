"""Sweeps: spec validation, point evaluation, the results store, resume and concurrency.

The kill tests start real ``cascade sweep`` processes and kill them (SIGKILL, SIGINT)."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascade import Progress, code_version, main, point_key, run_sweep
from einsum import library_names, load, model
from mapper import ResultStore, StoreError, SweepError, load_sweep, parse_sweep, search

BASE = "algorithms: [fusemax]\narchitectures: [{preset: fusemax}]\nmodels: [bert]\nseq: [1024]\n"

SMALL = """name: small
algorithms: [fusemax, three_pass]
architectures:
  - {preset: fusemax, array: [64, 128]}
  - {preset: zcu102}
models: [bert, llama-3-8b]
seq: [256, 1024]
objective: [latency, energy]
constraints: {area_mm2: 400, fit_device: true}
"""


def _spec_file(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("algorithms: [fusemax]\narchitectures: [{preset: fusemax}]\nmodels: [bert]\n",
     "s.yaml:1: missing field 'seq'"),
    (BASE + "sequence: [4]\n", "s.yaml:5: unknown field 'sequence'; known: name, "
     "algorithms, architectures, models, seq, batch, objective, constraints"),
    (BASE + "seq: [5]\n", "s.yaml:5: field 'seq' is given twice"),
    (BASE.replace("[fusemax]\n", "[fusemax, nope]\n", 1),
     f"s.yaml:1: no library cascade or file named 'nope'; library: "
     f"{', '.join(library_names())}"),
    (BASE.replace("{preset: fusemax}", "{preset: tpu}"),
     "s.yaml:2: unknown architecture 'tpu'; known: edge-moe, flat, fusemax, tpu-v4i, u250, u50, "
     "unfused, zcu102, or a .yaml file"),
    (BASE.replace("{preset: fusemax}", "{preset: fusemax, array: [64, -1]}"),
     "s.yaml:2: array must be a whole number from 1 to 2**40, not -1"),
    (BASE.replace("{preset: fusemax}", "{preset: fusemax, buffer_mib: 0}"),
     "s.yaml:2: buffer_mib must be a positive number, not 0"),
    (BASE.replace("{preset: fusemax}", "{preset: fusemax, lanes: 4}"),
     "s.yaml:2: unknown architecture parameter 'lanes'; expected preset, array, buffer_mib, "
     "bandwidth_gib_s, clock_mhz, device"),
    (BASE.replace("{preset: fusemax}", "{preset: fusemax, device: [u50]}"),
     "s.yaml:2: architecture fusemax is not an FPGA design; it has no device to change"),
    (BASE.replace("{preset: fusemax}", "{preset: zcu102, device: [vu9p]}"),
     "s.yaml:2: unknown device 'vu9p'; known: zcu102, u50, u250"),
    (BASE.replace("{preset: fusemax}", "{array: 4}"), "s.yaml:2: an architecture needs a preset"),
    (BASE.replace("[{preset: fusemax}]", "[fusemax]"),
     "s.yaml:2: an architecture is a mapping with a preset and parameter axes"),
    (BASE.replace("[bert]", "[gpt9]"), "s.yaml:3: unknown model 'gpt9'; known: bert, trxl, t5, "
     "xlm, bert-base, llama-3-8b, mistral-7b, vit-b-16"),
    (BASE.replace("[1024]", "[1024, 0]"), "s.yaml:4: seq must be a whole number from 1 to "
     "2**40, not 0"),
    (BASE.replace("[1024]", "[1024, 1024]"), "s.yaml:4: seq lists 1024 more than once"),
    (BASE + "objective: [speed]\n", "s.yaml:5: unknown objective 'speed'; known: latency, "
     "energy, edp"),
    (BASE.replace("{preset: fusemax}", "{preset: zcu102}") + "objective: energy\n",
     "s.yaml:2: architecture zcu102 has no energy model, so objective energy leaves it no "
     "point; add latency"),
    (BASE + "constraints: {area: 4}\n",
     "s.yaml:5: unknown constraint 'area'; expected area_mm2, power_w, fit_device"),
    (BASE + "constraints: {fit_device: yes please}\n",
     "s.yaml:5: fit_device must be true or false, not 'yes please'"),
    (BASE + "constraints: {power_w: -3}\n", "s.yaml:5: power_w must be a positive number, "
     "not -3"),
    (BASE + "models: []\n", "s.yaml:5: field 'models' is given twice"),
    (BASE.replace("[bert]", "[]"), "s.yaml:3: models is empty"),
    ("- a\n- b\n", "s.yaml:1: a sweep spec must be a mapping of axes"),
    ("algorithms: [fusemax\n", "s.yaml:2: YAML syntax error: expected ',' or ']', but got "
     "'<stream end>'"),
    (BASE + "batch: !!python/object:os.system x\n",
     "s.yaml:5: YAML tag !!python/object:os.system is not allowed (only plain data)"),
])
def test_bad_spec(text: str, message: str) -> None:
    with pytest.raises(SweepError) as caught:
        parse_sweep(text, file="s.yaml")
    assert str(caught.value) == message


def test_missing_model_config_points_at_the_spec(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, BASE.replace("[bert]", "[{config: nothing.json}]"))
    with pytest.raises(SweepError) as caught:
        load_sweep(path)
    assert str(caught.value) == (f"{path}:3: no model config file 'nothing.json' (looked in "
                                 f"{tmp_path})")


def test_points_of_a_spec(tmp_path: Path) -> None:
    config = tmp_path / "tiny" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"hidden_size": 256, "num_attention_heads": 4,
                                  "num_hidden_layers": 2}))
    spec = load_sweep(_spec_file(tmp_path, SMALL.replace("[bert, llama-3-8b]",
                                                         "[bert, {config: tiny/config.json}]")))
    points = spec.points()
    # fusemax presets: 2 arrays x 2 models x 2 lengths x 2 objectives; zcu102: latency only
    assert len(points) == 2 * (2 * 2 * 2 * 2 + 2 * 2)
    assert [p.model.name for p in points[:8:2]] == ["bert", "bert", "tiny", "tiny"]
    assert {p.objective for p in points if p.preset == "zcu102"} == {"latency"}
    assert points[0].batch == 64 and points[4].batch == 1  # each model's own batch


def test_device_axis_swaps_the_part() -> None:
    spec = parse_sweep(BASE.replace("{preset: fusemax}", "{preset: zcu102, device: [u250], "
                                                         "clock_mhz: 250}"))
    arch = spec.points()[0].architecture()
    assert (arch.device.name if arch.device else None, arch.clock_mhz) == ("u250", 250)


def test_point_row_matches_a_direct_search(tmp_path: Path) -> None:
    spec = parse_sweep(SMALL)
    run_sweep(spec, tmp_path / "r.sqlite")
    store = ResultStore(tmp_path / "r.sqlite")
    rows = store.rows("small")
    assert len(rows) == len(spec.points())
    row = next(r for r in rows if (r["algorithm"], r["model"], r["seq"], r["array"],
                                   r["objective"]) == ("fusemax", "llama-3-8b", 1024, 64,
                                                       "energy"))
    direct = search(load("fusemax"), spec.points()[0].architecture().replace(array=64),
                    model("llama-3-8b").shapes(1024), batch=1, heads=32, objective="energy")
    assert (row["cycles"], row["energy_j"], row["dram_bytes"]) == (
        direct.report.cycles, direct.report.energy_j, direct.report.dram_bytes)
    assert row["power_w"] == pytest.approx(direct.report.energy_j / direct.report.seconds)
    fpga = next(r for r in rows if r["architecture"] == "zcu102")
    assert (fpga["dsp"], fpga["fits"], fpga["energy_j"]) == (912, 1, None)
    assert {r["status"] for r in rows} == {"ok"}


def test_keys_depend_on_inputs_and_code() -> None:
    spec = parse_sweep(SMALL)
    points = spec.points()
    cascade = load("fusemax")
    keys = {point_key(p, cascade, "v1") for p in points[:16]}
    assert len(keys) == 16
    assert point_key(points[0], cascade, "v1") != point_key(points[0], cascade, "v2")
    assert point_key(points[0], cascade, "v1") == point_key(points[0], load("fusemax"), "v1")
    assert len(code_version()) == 16


def test_rerun_and_overlapping_sweeps_reuse_points(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    first = run_sweep(parse_sweep(SMALL), db)
    assert (first.computed, first.reused) == (40, 0)
    wider = parse_sweep(SMALL.replace("name: small", "name: wider").replace(
        "seq: [256, 1024]", "seq: [256, 1024, 2048]"))
    second = run_sweep(wider, db, workers=2)
    assert (second.points, second.reused, second.computed) == (60, 40, 20)
    store = ResultStore(db)
    assert store.count() == 60 and store.statuses("small") == {"ok": 40}
    assert [s["name"] for s in store.sweeps()] == ["small", "wider"]


def test_unmappable_points_are_stored_with_the_reason(tmp_path: Path) -> None:
    spec = parse_sweep(BASE.replace("{preset: fusemax}", "{preset: fusemax, buffer_mib: "
                                                         "0.0001}"))
    summary = run_sweep(spec, tmp_path / "r.sqlite")
    row = ResultStore(tmp_path / "r.sqlite").rows(spec.name)[0]
    assert summary.statuses == {"unmappable": 1}
    assert row["status"] == "unmappable" and row["cycles"] is None
    assert "global buffer" in row["error"]


def test_store_refuses_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match=r"other\.sqlite: not a cascade results database"):
        ResultStore(other, create=False)
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 200)
    with pytest.raises(StoreError, match=r"notes\.txt: not a results database: file is not "
                                         r"a database"):
        ResultStore(text)


def test_progress_draws_only_when_enabled() -> None:
    quiet, shown = io.StringIO(), io.StringIO()
    for stream, enabled in ((quiet, None), (shown, True)):
        with Progress(200, label="s", stream=stream, enabled=enabled) as bar:
            bar.update(50)
            bar._bar.refresh()
            assert bar.done == 50
    assert quiet.getvalue() == ""  # a StringIO is not a terminal
    assert "s:  25%" in shown.getvalue() and "50/200" in shown.getvalue()


# ----- killing real processes


KILLABLE = """name: long
algorithms: [fusemax, three_pass, two_pass_online]
architectures: [{preset: fusemax, array: [32, 64, 128, 256], buffer_mib: [4, 16]}]
models: [bert, t5]
seq: [512, 1024, 2048, 4096, 8192]
objective: [latency, energy]
"""  # 480 points: a few seconds, long enough to be killed half-way


def _sweep_process(spec: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cascade", "sweep", str(spec), "--db",
                             str(db), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _rows_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=10) as con:
            return int(con.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet


def _wait_for_rows(db: Path, process: subprocess.Popen[str], at_least: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        count = _rows_in(db)
        if count >= at_least:
            return count
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("no rows appeared")


def _resume(spec: Path, db: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "cascade", "sweep", str(spec), "--db",
                           str(db), "--workers", "2", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check_complete(db: Path, total: int) -> None:
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM results"
                                      ).fetchone()
        assert count == distinct == total
        assert con.execute("SELECT COUNT(*) FROM results WHERE status != 'ok'").fetchone() == (0,)


def test_sigkill_then_resume(tmp_path: Path) -> None:
    spec, db = _spec_file(tmp_path, KILLABLE), tmp_path / "r.sqlite"
    process = _sweep_process(spec, db, "--workers", "2")
    try:
        _wait_for_rows(db, process, 32)
        process.send_signal(signal.SIGKILL)  # the parent only, as `kill -9 PID` would
        process.wait(timeout=30)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # orphaned pool workers, if any remain
    kept = _rows_in(db)
    assert 32 <= kept < 480
    summary = _resume(spec, db)
    assert (summary["reused"], summary["computed"], summary["points"]) == (kept, 480 - kept,
                                                                            480)
    _check_complete(db, 480)


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    spec, db = _spec_file(tmp_path, KILLABLE), tmp_path / "r.sqlite"
    process = _sweep_process(spec, db, "--workers", "2")
    _wait_for_rows(db, process, 32)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    out, err = process.communicate(timeout=60)
    kept = _rows_in(db)
    assert process.returncode == 130
    assert out.startswith("long: 480 points, 0 already stored, ") and f"stored: {kept} ok" in out
    assert err == (f"cascade: interrupted; {kept} of 480 points are stored; run again to "
                   "resume\n")
    summary = _resume(spec, db)
    assert (summary["reused"], summary["computed"]) == (kept, 480 - kept)
    _check_complete(db, 480)


def test_two_sweeps_write_one_database_at_once(tmp_path: Path) -> None:
    first = _spec_file(tmp_path, KILLABLE, "a.yaml")
    # shares the bert half of the points with the first, adds 240 of its own
    second = _spec_file(tmp_path, KILLABLE.replace("name: long", "name: other").replace(
        "[bert, t5]", "[bert, trxl]"), "b.yaml")
    db = tmp_path / "r.sqlite"
    processes = [_sweep_process(first, db, "--workers", "1", "--json"),
                 _sweep_process(second, db, "--workers", "1", "--json")]
    summaries = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        summaries.append(json.loads(out))
    assert [s["points"] for s in summaries] == [480, 480]
    _check_complete(db, 720)
    store = ResultStore(db)
    assert store.statuses("long") == {"ok": 480} and store.statuses("other") == {"ok": 480}


def test_cli_sweep_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _spec_file(tmp_path, BASE + "seq: [5]\n")
    assert main(["sweep", str(bad), "--db", str(tmp_path / "r.sqlite")]) == 2
    assert capsys.readouterr().err == f"cascade: error: {bad}:5: field 'seq' is given twice\n"
    assert not (tmp_path / "r.sqlite").exists()
    assert main(["sweep", str(tmp_path / "none.yaml"), "--db", "x.sqlite"]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {tmp_path / 'none.yaml'}: cannot "
                                       "read sweep spec: No such file or directory\n")
    good = _spec_file(tmp_path, BASE, "good.yaml")
    assert main(["sweep", str(good), "--db", "x.sqlite", "--workers", "0"]) == 2
    assert capsys.readouterr().err == ("cascade: error: argument --workers: must be a whole "
                                       "number 1..1099511627776, not '0'\n")
