"""The command line end to end: ``cascade emit-rtl`` with ``--param`` values (strings on the
command line) then ``cascade verify-rtl`` on the folder, relative to the working folder, as a
user types them; failures are one-line errors with exit status 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cascade._cli import main


def test_unsigned_systolic_operands_verify_from_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["emit-rtl", "systolic", "--param", "b=ap_ufixed<18,1>", "--out", "s"]) == 0
    meta = json.loads(Path("s/cascade_rtl.json").read_text())
    assert meta["params"] == {"b": "ap_ufixed<18,1,AP_TRN,AP_WRAP>"}
    capsys.readouterr()
    assert main(["verify-rtl", "s"]) == 0
    out = capsys.readouterr().out
    assert "cocotb tests passed" in out and "model" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # nothing written elsewhere


def test_a_failing_testbench_is_a_one_line_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["emit-rtl", "exp", "--param", "width=16", "--out", "e"]) == 0
    # break the emitted Verilog's table: the unit no longer matches its golden model
    text = Path("e/exp_unit.v").read_text()
    broken = re.sub(r"(7'd1: power_table = \d+)'d\d+", r"\1'd0", text)
    assert broken != text
    Path("e/exp_unit.v").write_text(broken)
    capsys.readouterr()
    assert main(["verify-rtl", "e"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tests failed" in err[0] and "bit_exact" in err[0], err
