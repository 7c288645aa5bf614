"""Render an HLS project folder from a kernel (cascade, mapping, numerics, FPGA target).

The kernel's plan is checked against its device first (every multiplier, table copy,
array and FIFO its code instantiates); a kernel that does not fit is refused with the
numbers and nothing is written. Writing is all or nothing and deterministic: the same
inputs give byte-identical files.

>>> import tempfile
>>> from pathlib import Path
>>> from sim import architecture
>>> out = Path(tempfile.mkdtemp()) / "gelu"
>>> summary = emit_hls("gelu", architecture("zcu102"), {"N": 32}, out=out)
>>> sorted(p.name for p in (out / "src").iterdir())
['gelu.cpp', 'kernel.h', 'tables.h', 'units.h']
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jinja2

from einsum import CascadeError, staged_folder
from sim import (
    Architecture,
    AttentionNumerics,
    DesignResources,
    dsp_per_multiplier,
)

from ._kernels import Kernel, build_kernel, check_kernel, dram_cycles
from ._units import words

__all__ = ["HlsError", "check_fit", "emit_hls", "kernel_resources", "render_sources",
           "write_vectors"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CPP_KEYWORDS = frozenset("""alignas alignof and asm auto bool break case catch char class const
constexpr continue default delete do double else enum explicit export extern false float for
friend goto if inline int long mutable namespace new noexcept not nullptr operator or private
protected public register return short signed sizeof static struct switch template this throw
true try typedef typename union unsigned using virtual void volatile while xor""".split())


class HlsError(CascadeError):
    """An HLS project that cannot be emitted or simulated."""


def _environment() -> jinja2.Environment:
    folder = resources.files("hls_templates").joinpath("hls")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["py"] = repr  # Python literals in the emitted cocotb test
    return env


def check_identifier(name: str, what: str) -> str:
    """A name that will reach C++ must be a legal identifier and not a keyword."""
    if not _IDENTIFIER.match(name) or name in _CPP_KEYWORDS:
        raise HlsError(f"{what} {name!r} is not a legal C++ identifier")
    return name


def _version() -> str:
    try:
        return metadata.version("cascade-attention")
    except metadata.PackageNotFoundError:
        return "unknown"


def _type_name(kernel: Kernel, port_type: Any) -> str:
    for name, t in kernel.types.items():
        if t == port_type:
            return name
    raise AssertionError(f"no typedef for {port_type}")


def write_vectors(kernel: Kernel, folder: Path) -> None:
    """Raw two's-complement words, one per line, per case and port (the same vectors the
    RTL testbenches use), and per case the overflow counts the golden model predicts."""
    kernel.vectors()
    for case, values in kernel.cases.items():
        (folder / case).mkdir(parents=True)
        for port in kernel.ports:
            if port.role == "scratch":
                continue
            (folder / case / f"{port.name}.txt").write_text(
                "".join(f"{w}\n" for w in words(values[port.name], port.type)))
        counts = kernel.overflows.get(case, {})
        (folder / case / "overflows.txt").write_text(
            "".join(f"{site} {counts.get(site, 0)}\n" for site in kernel.sites))


def kernel_resources(kernel: Kernel, arch: Architecture) -> DesignResources:
    """What the emitted code instantiates, against ``arch``'s device."""
    if arch.device is None:
        raise HlsError(f"architecture {arch.name} is not an FPGA design")
    return kernel.resources(arch.device)


def check_fit(kernel: Kernel, arch: Architecture, used: DesignResources) -> None:
    """Refuse a kernel whose instantiated resources exceed the device, with the numbers
    and the part that needs the most of the first resource exceeded."""
    if used.fits:
        return
    assert arch.device is not None
    keys = [k for k in ("dsp", "bram36", "uram", "lut", "ff")
            if getattr(used.total, k) > getattr(used.available, k)]
    over = ", ".join(f"{k} {getattr(used.total, k):,} > {getattr(used.available, k):,}"
                     for k in keys)
    parts = {**used.units, **used.buffers}
    worst = max(parts, key=lambda n: getattr(parts[n], keys[0]))
    raise HlsError(f"the {kernel.name} kernel does not fit {arch.device.name}: {over} "
                   f"(most: {worst}, {keys[0]} {getattr(parts[worst], keys[0]):,})")


def _resource_rows(used: DesignResources) -> list[list[str]]:
    rows = [[name, f"{r.dsp:,}", f"{r.bram36:,}", f"{r.lut:,}", f"{r.ff:,}"]
            for name, r in [*used.units.items(), *used.buffers.items()]]
    t, a = used.total, used.available
    rows.append(["**total**", f"{t.dsp:,}", f"{t.bram36:,}", f"{t.lut:,}", f"{t.ff:,}"])
    rows.append(["available", f"{a.dsp:,}", f"{a.bram36:,}", f"{a.lut:,}", f"{a.ff:,}"])
    return rows


def _files(kernel: Kernel, arch: Architecture, project: str,
           used: DesignResources) -> dict[str, str]:
    env = _environment()
    assert arch.device is not None
    period = 1000.0 / arch.clock_mhz
    ports = [{"name": p.name, "role": p.role, "size": p.size, "type": _type_name(kernel, p.type),
              "bundle": p.bundle, "word": p.word, "words": p.layout.words,
              "bits": p.layout.bits, "layout": p.layout.context(),
              "width": p.type.width} for p in kernel.ports]
    source = kernel.template[:-3]
    context: dict[str, Any] = {
        "project": project, "guard": project.upper(), "title": kernel.title,
        "version": _version(), "source": f"hls_templates/hls/src/{kernel.template}",
        "top": kernel.top, "sizes": kernel.sizes,
        "types": {n: t.c_type() for n, t in kernel.types.items()},
        "types_w": {n: t.width for n, t in kernel.types.items()},
        "words": kernel.words, "words_note": ", ".join(
            f"{p.name} {p.layout.lanes} x {p.layout.container} bits" for p in kernel.ports),
        "ports": ports, "tables": kernel.tables, "cases": list(kernel.cases),
        "sites": kernel.sites, "allow_overflow": kernel.allow_overflow,
        "arch": arch.name, "part": arch.device.part, "clock_mhz": f"{arch.clock_mhz:g}",
        "period_ns": f"{period:.4g}", "sources": [source], "parallelism": kernel.parallelism,
        "loops": kernel.loops, "latency": kernel.latency, "latency_how": kernel.latency_how,
        "latency_us": f"{kernel.latency / arch.clock_mhz:,.1f}", "notes": kernel.notes,
        "dram_mb": f"{kernel.dram_bits / 8e6:,.3f}", "dram_cycles": dram_cycles(arch, kernel.loops),
        "dram_gbs": f"{arch.dram.bandwidth_bytes_per_s / 1e9:g}",
        "resources": _resource_rows(used), "device": arch.device.name,
        "multiplier_rows": [[name, f"{n:,}", f"{a} x {b}", str(dsp_per_multiplier(a, b)),
                             f"{n * dsp_per_multiplier(a, b):,}"]
                            for name, (n, a, b) in kernel.multipliers.items()],
        **kernel.units, **kernel.context,
    }
    cores = {f"src/{h[:-3]}": env.get_template(f"src/{h}").render(context)
             for h in kernel.headers}
    return {
        **cores,
        "src/kernel.h": env.get_template("src/kernel.h.j2").render(context),
        "src/units.h": env.get_template("src/units.h.j2").render(context),
        "src/tables.h": env.get_template("src/tables.h.j2").render(context),
        f"src/{source}": env.get_template(f"src/{kernel.template}").render(context),
        "tb/tb.cpp": env.get_template("tb/tb.cpp.j2").render(context),
        "run_hls.tcl": env.get_template("run_hls.tcl.j2").render(context),
        "cocotb/test_kernel.py": env.get_template("cocotb/test_kernel.py.j2").render(context),
        "cocotb/Makefile": env.get_template("cocotb/Makefile.j2").render(context),
        "README.md": env.get_template("README.md.j2").render(context),
    }


def render_sources(kernel: Kernel, arch: Architecture, project: str) -> dict[str, str]:
    """The project's files as ``emit_hls`` renders them (path -> text), without running the
    golden model: the code of a kernel of any size, cheaply."""
    return _files(kernel, arch, check_identifier(project, "project name"),
                  kernel_resources(kernel, arch))


def emit_hls(kernel_name: str, arch: Architecture, sizes: dict[str, int], *, out: Path,
             force: bool = False, seed: int = 0, project: str | None = None,
             numerics: AttentionNumerics | None = None,
             progress: Callable[[str], None] = lambda _phase: None) -> dict[str, Any]:
    """Write the project for ``kernel_name`` on ``arch`` (an FPGA design) into ``out``;
    ``progress`` hears the name of each phase as it starts."""

    check_kernel(kernel_name)
    project = check_identifier(project or kernel_name, "project name")
    if arch.device is None:
        raise HlsError(f"architecture {arch.name} is not an FPGA design; emit-hls needs one "
                       "(zcu102, u50, u250)")
    kernel = build_kernel(kernel_name, arch, sizes, seed=seed, numerics=numerics)
    used = kernel_resources(kernel, arch)
    check_fit(kernel, arch, used)
    progress("test vectors from the Python model")
    kernel.vectors()
    progress("rendering")
    files = _files(kernel, arch, project, used)
    progress("writing")
    with staged_folder(out, force=force) as staging:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)
        write_vectors(kernel, staging / "tb" / "vectors")
        (staging / "cascade.json").write_text(json.dumps(
            {"kernel": kernel.name, "top": kernel.top, "architecture": arch.name,
             "sizes": kernel.sizes, "parallelism": kernel.parallelism,
             "cases": list(kernel.cases), "seed": seed,
             "outputs": [p.name for p in kernel.ports if p.role == "out"],
             "types": {p.name: p.type.c_type() for p in kernel.ports},
             "sites": kernel.sites, "allow_overflow": kernel.allow_overflow,
             "latency": kernel.latency,
             "resources": {k: getattr(used.total, k) for k in ("dsp", "bram36", "lut", "ff")}},
            indent=2, sort_keys=True) + "\n")
    return {"project": project, "kernel": kernel.name, "out": str(out),
            "files": sorted([*files, "cascade.json"]), "cases": list(kernel.cases),
            "parallelism": kernel.parallelism, "sizes": kernel.sizes}
