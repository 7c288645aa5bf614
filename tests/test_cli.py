"""The command line: output, JSON keys, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cascade import main
from einsum import library_names

LIBRARY = ", ".join(library_names())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_analyze_fusemax_bert_1k_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "analyze", "fusemax", "--model", "bert", "--seq", "1024",
                           "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    M = P = 1024
    E = F = 64
    M1 = M // 256
    assert data["passes"] == 1
    assert data["model"] == "bert" and (data["batch"], data["heads"]) == (64, 12)
    assert data["shapes"] == {"E": 64, "F": 64, "M": 1024, "M0": 256, "M1": 4, "P": 1024}
    assert data["ops_per_head"] == {
        "mac": 2 * M * P * E, "mul": M1 * P + M1 * P * F,
        "add": M * P + M1 * P + M1 * P * F, "max": M * P + M1 * P,
        "exp": M * P + M1 * P, "div": P * F, "gelu": 0, "other": 0,
    }
    assert data["ops_total"]["mac"] == 64 * 12 * 2 * M * P * E
    points = {e["name"]: e["points"] for e in data["einsums"]}
    assert points["SLNV"] == M * P * F and points["RNV"] == M1 * P * F and points["AV"] == P * F
    assert data["live_state"]["per_query_row"] == "E + F + 2"
    assert set(data) == {"cascade", "shapes", "batch", "heads", "passes", "pass_boundaries",
                         "ops_per_head", "ops_total", "einsums", "footprints", "live_state",
                         "model", "schema"}


def test_analyze_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "analyze", "three_pass", "--shape", "E=64,F=64,M=4096,P=4096")
    assert status == 0
    assert "passes: 3 (SN waits for GM; A waits for SD)" in out
    assert "grows with M" in out and "A[m,p] = SN[m,p] / SD[p]" in out


def test_analyze_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.cascade"
    path.write_text("S[p] = X[m,p] reduce + over m\nY[m,p] = X[m,p] / S[p]\n")
    status, out, _ = run(capsys, "analyze", str(path), "--shape", "M=10,P=3", "--json")
    assert status == 0 and json.loads(out)["passes"] == 2


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "list", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["schema"] == 1
    rows = {r["name"]: r["passes"] for r in data["algorithms"]}
    assert set(rows) == set(library_names())
    assert {n: rows[n] for n in ("fusemax", "one_pass", "three_pass", "two_pass_deferred",
                                 "two_pass_online", "causal", "split_k")} == {
        "fusemax": 1, "one_pass": 1, "three_pass": 3, "two_pass_deferred": 2,
        "two_pass_online": 2, "causal": 1, "split_k": 2}
    status, out, _ = run(capsys, "list", "models")
    assert status == 0 and [line.split()[0] for line in out.splitlines()] == [
        "bert", "trxl", "t5", "xlm", "bert-base", "llama-3-8b", "mistral-7b", "vit-b-16"]


@pytest.mark.parametrize("name", ["three_pass", "two_pass_deferred", "two_pass_online",
                                  "one_pass", "fusemax"])
def test_check_passes_for_library(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", name, "--json", "--seed", "7")
    data = json.loads(out)
    assert status == 0 and data["passed"] and len(data["runs"]) == 5


def test_check_fails_with_status_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nomax.cascade"
    path.write_text("QK[m,p] = Q[e,p] * K[e,m]\nSN[m,p] = exp(QK[m,p])\n"
                    "SD[p] = SN[m,p] reduce + over m\nAV[f,p] = SN[m,p] * V[f,m] / SD[p] * 1.01\n")
    status, out, _ = run(capsys, "check", str(path))
    assert status == 1 and "MISMATCH" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "nosuch"], "cascade: error: no library cascade or file named "
                                f"'nosuch'; library: {LIBRARY}"),
        (["analyze", "fusemax", "--model", "gpt9", "--seq", "8"],
         "cascade: error: unknown model 'gpt9'; known: bert, trxl, t5, xlm, bert-base, "
         "llama-3-8b, mistral-7b, vit-b-16"),
        (["analyze", "fusemax", "--model", "bert"],
         "cascade: error: --model (or --model-config) and --seq go together"),
        (["analyze", "fusemax", "--model", "bert", "--seq", "-5"],
         "cascade: error: --seq must be a positive whole number such as 4096 or 8k, not '-5'"),
        (["analyze", "fusemax", "--model", "bert", "--seq", str(2**41)],
         f"cascade: error: shape seq={2**41} is larger than the limit 2**40"),
        (["analyze", "fusemax", "--shape", "E=64,E=3"],
         "cascade: error: --shape gives rank E twice"),
        (["analyze", "fusemax", "--shape", "E=64,F=64,M=100,P=4,M1=3"],
         "cascade: error: einsum/library/fusemax.yaml:10: rank M1 has two sizes: 3 given, but "
         "M -> M1, M0 with M=100, M0=256 needs 1"),
        (["analyze", "fusemax", "--shape", "E=64,M=100,P=4"],
         "cascade: error: einsum/library/fusemax.yaml: no size for rank(s) F of fusemax; give "
         "them like --shape F=64"),
        (["analyze", "fusemax", "--shape", "E=64,F=64,M=100,P=4,Z=2"],
         "cascade: error: einsum/library/fusemax.yaml: shape given for rank Z, which fusemax "
         "does not use (ranks: E, F, M, M0, M1, P)"),
        (["analyze", "fusemax"], "cascade: error: give --model and --seq, or --shape "
                                 "like E=64,F=64,M=4096,P=4096"),
    ],
)
def test_errors_are_one_line_with_status_2(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out, err) == (2, "", message + "\n")


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "frobnicate")
    assert (status, out) == (2, "")
    assert err.startswith("cascade: error: argument COMMAND: invalid choice: 'frobnicate'")
    assert err.count("\n") == 1


def test_check_refuses_a_cascade_that_is_not_attention(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sum.cascade"
    path.write_text("S[p] = X[m,p] reduce + over m\n")
    status, _, err = run(capsys, "check", str(path))
    assert status == 2
    assert err == (f"cascade: error: {path}: check needs inputs Q[e,p], K[e,m], V[f,m] and "
                   "output AV[f,p]; sum has inputs ['X'] and outputs ['S']\n")


def test_console_script_main_job() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cascade", "analyze", "fusemax", "--model", "bert", "--seq",
         "65536"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "passes: 1" in done.stdout and "per query row: E + F + 2" in done.stdout


def test_map_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "map", "fusemax", "--arch", "fusemax", "--model", "bert",
                           "--seq", "1024", "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    assert set(data) == {"schema", "cascade", "architecture", "workload", "mapping", "report",
                         "resources", "search", "runners_up"}
    assert data["workload"] == {"model": "bert", "seq": 1024, "batch": 64, "heads": 12,
                                "shapes": {"E": 64, "F": 64, "M": 1024, "P": 1024}}
    assert data["resources"] is None  # an ASIC preset: area, not FPGA resources
    assert data["report"]["cycles"] <= 1_892_352
    assert set(data["report"]["utilisation"]) == {"array1d", "array2d"}
    assert {"dram", "global_buffer", "array2d.mac"} <= set(data["report"]["energy_pj"])


def test_map_with_a_smaller_array(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "map", "fusemax", "--arch", "fusemax", "--model", "bert",
                         "--seq", "1024", "--array", "64", "--json")
    assert status == 0 and json.loads(out)["report"]["area_mm2"] < 100


def test_map_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "map", "fusemax", "--arch", "tpu", "--model", "bert",
                           "--seq", "1024")
    assert (status, out) == (2, "")
    assert err == ("cascade: error: unknown architecture 'tpu'; known: edge-moe, flat, fusemax, "
                   "tpu-v4i, u250, u50, unfused, zcu102\n")
