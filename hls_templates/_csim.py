"""C simulation of an emitted project with g++ and the ap_types headers of the hls4ml wheel,
compared bit for bit with the vectors of the Python golden model: compiled once (a later
run reuses the build while no source is newer), every case run by one process.

Besides every output word, the testbench reports per checked assignment (``fit<T>`` in
``units.h``) how many values overflowed (wrapped or saturated). A count that differs from
the golden model's is a failure like a wrong word; an overflow at all fails the simulation
(``HlsError``) unless the project was emitted with ``allow_overflow`` (or ``csim`` is told
``allow_overflow=True``), in which case each is reported as a warning.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim import Fixed, FixedType, ap_types_include

from ._render import HlsError

__all__ = ["CsimResult", "Mismatch", "compile_flags", "csim"]

# -O2: the project's headers silence g++ 12's false -Wuninitialized reports inside the
# vendor's ap_private.h (only there), so the project's own code is checked by every warning
# at the optimisation level that makes a BERT layer simulate in seconds.
_FLAGS = ("-std=c++14", "-O2", "-Wall", "-Wextra")


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
    overflows: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per case, per checked assignment: values that overflowed in C simulation."""
    expected_overflows: dict[str, dict[str, int]] = field(default_factory=dict)
    """The same counts from the Python golden model."""

    @property
    def overflow_mismatches(self) -> list[str]:
        return [f"{case}: {site} overflowed {got:,} times, the Python model "
                f"{self.expected_overflows.get(case, {}).get(site, 0):,}"
                for case, sites in self.overflows.items() for site, got in sites.items()
                if got != self.expected_overflows.get(case, {}).get(site, 0)]

    @property
    def overflowed(self) -> int:
        return sum(n for sites in self.overflows.values() for n in sites.values())

    @property
    def passed(self) -> bool:
        return self.compared > 0 and not self.mismatches and not self.overflow_mismatches


def _values(path: Path, t: FixedType) -> list[tuple[int, float]]:
    words = [int(w) for w in path.read_text().split()]
    fixed = Fixed.from_raw([w - (1 << t.width) if t.signed and w >> (t.width - 1) else w
                            for w in words], t)
    return list(zip(words, fixed.to_float().tolist(), strict=True))


def _expected_overflows(folder: Path, cases: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for case in cases:
        path = folder / "tb" / "vectors" / case / "overflows.txt"
        pairs = [line.split() for line in path.read_text().splitlines()] if path.is_file() \
            else []
        out[case] = {site: int(count) for site, count in pairs}
    return out


def _compile(folder: Path, program: Path) -> list[str]:
    """Compile the project into ``program`` (once: a build newer than every source, made
    with the same command, is reused); the compiler's warnings."""
    sources = sorted(str(p) for p in (folder / "src").glob("*.cpp"))
    command = ["g++", *compile_flags(), "-I", str(folder / "src"), *sources,
               str(folder / "tb" / "tb.cpp"), "-o", str(program)]
    log = program.with_suffix(".json")
    inputs = [*(folder / "src").iterdir(), folder / "tb" / "tb.cpp"]
    if program.is_file() and log.is_file():
        built = program.stat().st_mtime
        record = json.loads(log.read_text())
        if record.get("command") == command and all(p.stat().st_mtime <= built
                                                    for p in inputs):
            return list(record["warnings"])
    compiled = subprocess.run(command, capture_output=True, text=True)
    if compiled.returncode != 0:
        first = next((line for line in compiled.stderr.splitlines() if "error" in line),
                     compiled.stderr.strip()[:300])
        raise HlsError(f"g++ failed on {folder}: {first}")
    warnings = [line for line in compiled.stderr.splitlines() if "warning:" in line]
    log.write_text(json.dumps({"command": command, "warnings": warnings}) + "\n")
    return warnings


def csim(folder: Path, *, allow_overflow: bool | None = None,
         progress: Callable[[str], None] = lambda _phase: None) -> CsimResult:
    """Compile ``folder``'s kernel and testbench, run every case, compare every output word
    and overflow count; ``progress`` hears the name of each phase as it starts.
    ``allow_overflow`` (default: as the project was emitted) turns an overflow from a
    failure into a warning."""
    meta_path = folder / "cascade.json"
    if not meta_path.is_file():
        raise HlsError(f"{folder} is not an emitted HLS project (no cascade.json)")
    meta = json.loads(meta_path.read_text())
    if allow_overflow is None:
        allow_overflow = bool(meta.get("allow_overflow", False))
    build = folder / "build"
    (build / "out").mkdir(parents=True, exist_ok=True)
    program = build / "csim"
    progress("compiling")
    result = CsimResult(folder, warnings=_compile(folder, program))
    progress("running the testbench")
    ran = subprocess.run([str(program), str(folder / "tb" / "vectors"), str(build / "out")],
                         capture_output=True, text=True, timeout=600)
    if ran.returncode not in (0, 1):
        why = f"signal {-ran.returncode}" if ran.returncode < 0 else f"status {ran.returncode}"
        detail = ran.stderr.strip().splitlines()[:1]
        raise HlsError(f"the testbench of {folder} stopped with {why}"
                       + (f": {detail[0]}" if detail else ""))
    progress("comparing")
    for line in ran.stdout.splitlines():
        if line.startswith("overflow "):
            _, case, site, count = line.split()
            result.overflows.setdefault(case, {})[site] = int(count)
    result.expected_overflows = _expected_overflows(folder, meta["cases"])
    for case in meta["cases"]:
        for port in meta["outputs"]:
            t = FixedType.parse(meta["types"][port])
            got = _values(build / "out" / f"{case}_{port}.txt", t)
            want = _values(folder / "tb" / "vectors" / case / f"{port}.txt", t)
            result.compared += len(want)
            result.mismatches.extend(
                Mismatch(case, port, i, g[1], w[1], g[0], w[0])
                for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
    happened = [f"{case}: {site} {count:,}" for case, sites in result.overflows.items()
                for site, count in sites.items() if count]
    if happened and allow_overflow:
        result.warnings.extend(f"overflow (allowed) in {h} values" for h in happened)
    elif happened:
        verdict = "bit-exact" if result.passed else "not bit-exact"
        raise HlsError(
            f"C simulation of {folder} overflowed ({'; '.join(happened[:4])}"
            f"{'; ...' if len(happened) > 4 else ''} values wrapped or saturated; outputs "
            f"{verdict} with the Python model): widen the types, or emit with a numerics "
            "file saying allow_overflow: true")
    return result
