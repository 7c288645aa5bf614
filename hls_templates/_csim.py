"""C simulation of an emitted project with g++ and the ap_types headers of the hls4ml wheel,
compared bit for bit with the vectors of the Python golden model."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim import Fixed, FixedType, ap_types_include

from ._render import HlsError

__all__ = ["CsimResult", "Mismatch", "compile_flags", "csim"]

# -O0: g++ 12 at -O1 and above reports -Wuninitialized false positives inside the vendor's
# ap_private.h (a default-constructed temporary in operator+); the project's code is clean.
_FLAGS = ("-std=c++14", "-O0", "-Wall", "-Wextra")


def compile_flags() -> list[str]:
    return [*_FLAGS, "-isystem", str(ap_types_include())]


@dataclass(frozen=True)
class Mismatch:
    case: str
    port: str
    index: int
    got: float
    expected: float
    got_raw: int
    expected_raw: int

    def __str__(self) -> str:
        return (f"{self.case}: {self.port}[{self.index}] = {self.got!r} (raw {self.got_raw}), "
                f"expected {self.expected!r} (raw {self.expected_raw})")


@dataclass
class CsimResult:
    folder: Path
    compared: int = 0
    warnings: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.compared > 0 and not self.mismatches


def _values(path: Path, t: FixedType) -> list[tuple[int, float]]:
    words = [int(w) for w in path.read_text().split()]
    fixed = Fixed.from_raw([w - (1 << t.width) if t.signed and w >> (t.width - 1) else w
                            for w in words], t)
    return list(zip(words, fixed.to_float().tolist(), strict=True))


def csim(folder: Path, *, progress: Callable[[str], None] = lambda _phase: None) -> CsimResult:
    """Compile ``folder``'s kernel and testbench, run every case, compare every output word;
    ``progress`` hears the name of each phase as it starts."""
    meta_path = folder / "cascade.json"
    if not meta_path.is_file():
        raise HlsError(f"{folder} is not an emitted HLS project (no cascade.json)")
    meta = json.loads(meta_path.read_text())
    build = folder / "build"
    (build / "out").mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p) for p in (folder / "src").glob("*.cpp"))
    program = build / "csim"
    progress("compiling")
    compiled = subprocess.run(["g++", *compile_flags(), "-I", str(folder / "src"), *sources,
                               str(folder / "tb" / "tb.cpp"), "-o", str(program)],
                              capture_output=True, text=True)
    if compiled.returncode != 0:
        first = next((line for line in compiled.stderr.splitlines() if "error" in line),
                     compiled.stderr.strip()[:300])
        raise HlsError(f"g++ failed on {folder}: {first}")
    result = CsimResult(folder, warnings=[line for line in compiled.stderr.splitlines()
                                          if "warning:" in line])
    progress("running the testbench")
    ran = subprocess.run([str(program), str(folder / "tb" / "vectors"), str(build / "out")],
                         capture_output=True, text=True, timeout=600)
    if ran.returncode not in (0, 1):
        why = f"signal {-ran.returncode}" if ran.returncode < 0 else f"status {ran.returncode}"
        detail = ran.stderr.strip().splitlines()[:1]
        raise HlsError(f"the testbench of {folder} stopped with {why}"
                       + (f": {detail[0]}" if detail else ""))
    progress("comparing")
    for case in meta["cases"]:
        for port in meta["outputs"]:
            t = FixedType.parse(meta["types"][port])
            got = _values(build / "out" / f"{case}_{port}.txt", t)
            want = _values(folder / "tb" / "vectors" / case / f"{port}.txt", t)
            result.compared += len(want)
            result.mismatches.extend(
                Mismatch(case, port, i, g[1], w[1], g[0], w[0])
                for i, (g, w) in enumerate(zip(got, want, strict=True)) if g[0] != w[0])
    return result
