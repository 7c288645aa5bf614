"""Numbers on the command line: every size and rate flag takes ASCII, finite, positive,
bounded values and refuses anything else with one line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascade import main
from cascade._api import sequence_length
from einsum import CascadeError
from sim import MAX_CYCLES, FixedType, MappingError, architecture, check_cycles

MAP = ("map", "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", "1024")
LARGEST = 2**40


@pytest.mark.parametrize("flag", ["--buffer-mib", "--bandwidth-gib-s", "--clock-mhz"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e400", "٤", "x", ""])
def test_rates_and_sizes_are_finite_positive_ascii(capsys: pytest.CaptureFixture[str],
                                                   flag: str, value: str) -> None:
    assert main([*MAP, f"{flag}={value}"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"cascade: error: argument {flag}: must be a number above 0 and at most "
                   f"{LARGEST}, not {value!r}\n")


@pytest.mark.parametrize("value", ["0", "-4", "1_0", "٤", "\uff11\uff16", "16.0",
                                   "99999999999999999"])
def test_array_is_an_ascii_whole_number(capsys: pytest.CaptureFixture[str], value: str) -> None:
    assert main([*MAP, f"--array={value}"]) == 2
    assert capsys.readouterr().err == (f"cascade: error: argument --array: must be a whole "
                                       f"number 1..{LARGEST}, not {value!r}\n")


@pytest.mark.parametrize("value", ["٤٠٩٦", "4_096", "-1", "4096.0", " 4096", "8kk", "k", "8 k",
                                   "4K0", "8g", "1e3"])
def test_seq_is_an_ascii_whole_number(capsys: pytest.CaptureFixture[str], value: str) -> None:
    argv = ["map", "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", value]
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"cascade: error: --seq must be a positive whole "
                                       f"number such as 4096 or 8k, not {value!r}\n")


@pytest.mark.parametrize(("value", "length"), [("8k", 8192), ("8K", 8192), ("1m", 2**20),
                                               ("4096", 4096), ("64k", 65536)])
def test_seq_takes_a_binary_size_suffix(value: str, length: int) -> None:
    assert sequence_length(value) == length


def test_a_seq_past_the_largest_shape_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["map", "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", "99999999999m"]
    assert main(argv) == 2
    assert capsys.readouterr().err == ("cascade: error: shape seq=104857599998951424 is "
                                       "larger than the limit 2**40\n")


def test_a_buffer_that_rounds_to_nothing_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*MAP, "--buffer-mib", "1e-300"]) == 2
    assert capsys.readouterr().err == ("cascade: error: global_buffer.capacity_bytes must be a "
                                       "positive whole number (at most 2**50), not 0\n")


@pytest.mark.parametrize(("flag", "value", "low", "high"), [
    ("--lengths", "1099511627776", 1, 4096),
    ("--lengths", "0", 1, 4096),
    ("--widths", "64", 8, 32),
    ("--table-bits", "16", 1, 12),
    ("--table-bits", ",".join(["4"] * 17), 1, 12),
])
def test_numerics_study_sizes_are_bounded_before_anything_is_built(
        capsys: pytest.CaptureFixture[str], flag: str, value: str, low: int, high: int) -> None:
    assert main(["numerics", flag, value]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {flag} must be at most 16 whole "
                                       f"numbers {low}..{high} separated by commas, "
                                       f"not {value!r}\n")


def test_fixed_point_types_take_ascii_digits_only() -> None:
    with pytest.raises(CascadeError, match=r"^not a fixed-point type: 'ap_fixed<\u0661\u0666,6>'"):
        FixedType.parse("ap_fixed<\u0661\u0666,6>")


def test_table_out_writes_a_file_and_refuses_anything_else(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {tmp_path} is a folder; --out names "
                                       "the file to write\n")
    (tmp_path / "link.md").symlink_to(tmp_path / "elsewhere.md")
    assert main(["table", "--out", str(tmp_path / "link.md")]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {tmp_path / 'link.md'} is a symbolic "
                                       "link; --out must name a regular file\n")
    assert not (tmp_path / "elsewhere.md").exists()
    assert main(["table", "--out", "/dev/null"]) == 2
    assert capsys.readouterr().err == ("cascade: error: /dev/null is a device, FIFO or socket, "
                                       "not a file\n")
    table = tmp_path / "t.md"
    table.write_text("old")
    assert main(["table", "--out", str(table)]) == 0
    assert table.read_text().startswith("<!--") or "| algorithm" in table.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.md", "t.md"]


def test_numerics_out_is_an_output_folder(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["numerics", "--lengths", "64", "--widths", "16", "--table-bits", "4", "--json"]
    (tmp_path / "file").write_text("mine")
    assert main([*argv, "--out", str(tmp_path / "file")]) == 2
    # under --json the error is a JSON document on standard output
    assert json.loads(capsys.readouterr().out) == {
        "schema": 1, "error": f"{tmp_path / 'file'} is a file, not a folder; --force replaces "
                              "only folders cascade wrote"}
    assert (tmp_path / "file").read_text() == "mine"
    out = tmp_path / "study"
    assert main([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [".cascade-output", "numerics.json",
                                                    "softmax_error.png"]
    assert main([*argv[:-1], "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {out} exists and is not empty; pass "
                                       "--force to replace it\n")
    assert main([*argv, "--out", str(out), "--force"]) == 0


def test_numerics_study_work_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["numerics", "--lengths", "4096,4095", "--widths", "16,24", "--table-bits", "4,6"]
    assert main(argv) == 2
    assert capsys.readouterr().err == ("cascade: error: the numerics study would take 32,764 "
                                       "key-designs (summed lengths x widths x table sizes); "
                                       "at most 7,680\n")


@pytest.mark.parametrize(("flag", "message"), [
    ("--bandwidth-gib-s=1e-300", "dram.bandwidth_bytes_per_s must be at least 1, not "
                                 "1.073741824e-291"),
    ("--clock-mhz=1e-300", "clock_mhz must be at least 1e-06, not 1e-300"),
])
def test_rates_too_small_to_count_are_refused(capsys: pytest.CaptureFixture[str], flag: str,
                                              message: str) -> None:
    assert main([*MAP, flag]) == 2
    assert capsys.readouterr().err == f"cascade: error: {message}\n"


def test_sizes_beyond_exact_counting_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["map", "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", str(LARGEST)]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "cascade: error: einsum/library/fusemax.yaml: fusemax at these shapes iterates over "
        "about 2**95.6 points; the cost model counts exactly up to 2**59 (use a smaller "
        "sequence, batch or head count)\n")


def test_latency_beyond_exact_counting_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["map", "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", "1048576",
            "--array", "1", "--bandwidth-gib-s", "1", "--clock-mhz", "100000"]
    assert main(argv) == 0  # some loop orders stay within 2**62 cycles
    capsys.readouterr()
    with pytest.raises(MappingError) as caught:
        check_cycles(MAX_CYCLES + 1, architecture("fusemax"), "fusemax")
    assert str(caught.value) == ("fusemax takes about 2**62.0 cycles on fusemax, more than the "
                                 "2**62 the cost model counts (more bandwidth, PEs or a lower "
                                 "clock)")
