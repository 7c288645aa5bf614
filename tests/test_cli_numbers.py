"""Numbers on the command line: every size and rate flag takes ASCII, finite, positive,
bounded values and refuses anything else with one line and exit status 2."""

from __future__ import annotations

import pytest

from cascade import main
from einsum import CascadeError
from sim import FixedType

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


@pytest.mark.parametrize("value", ["٤٠٩٦", "4_096", "-1", "4096.0", " 4096"])
def test_seq_is_an_ascii_whole_number(capsys: pytest.CaptureFixture[str], value: str) -> None:
    argv = ["map", "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", value]
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"cascade: error: --seq must be a positive whole "
                                       f"number, not {value!r}\n")


def test_a_buffer_that_rounds_to_nothing_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*MAP, "--buffer-mib", "1e-300"]) == 2
    assert capsys.readouterr().err == ("cascade: error: global_buffer.capacity_bytes must be a "
                                       "positive whole number (at most 2**50), not 0\n")


@pytest.mark.parametrize(("flag", "value", "low", "high"), [
    ("--lengths", "1099511627776", 1, 65536),
    ("--lengths", "0", 1, 65536),
    ("--widths", "4096", 8, 64),
    ("--table-bits", "30", 1, 16),
    ("--table-bits", ",".join(["4"] * 17), 1, 16),
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
