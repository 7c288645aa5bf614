"""HLS C++ projects from mappings (jinja2 templates in ``hls/``), and their C simulation.

>>> from hls_templates import KERNELS
>>> list(KERNELS)
['fusemax', 'softmax', 'gelu', 'linear', 'linear_gelu', 'encoder']
"""

from __future__ import annotations

from ._csim import CsimResult, Mismatch, csim
from ._kernels import KERNELS, Kernel, Loop, Port, build_kernel
from ._layout import Layout, pack, unpack
from ._numerics import load_numerics
from ._render import HlsError, emit_hls, kernel_resources, render_sources, write_vectors
from ._rtl import (
    ENGINE_CASES,
    RTL_UNITS,
    STREAMING_EINSUMS,
    RtlError,
    RtlUnit,
    emit_rtl,
    engine_sizes,
    engine_streams,
    engine_vectors,
    rtl_unit,
    softmax_unit,
    softmax_vectors,
    systolic_types,
    unit_params,
    unit_vectors,
    vector_types,
    verify_rtl,
)
from ._rtl_model import (
    EngineSchedule,
    array_cycles,
    engine_cycles,
    engine_schedule,
    streaming_cycles,
)
from ._synth import Synthesis, synthesize, yosys_command
from ._verilator import RTL_TESTS, build_dir, lint, run_testbench, verilator_bin

__all__ = [
    "ENGINE_CASES",
    "KERNELS",
    "RTL_TESTS",
    "RTL_UNITS",
    "STREAMING_EINSUMS",
    "CsimResult",
    "EngineSchedule",
    "HlsError",
    "Kernel",
    "Layout",
    "Loop",
    "Mismatch",
    "Port",
    "RtlError",
    "RtlUnit",
    "Synthesis",
    "array_cycles",
    "build_dir",
    "build_kernel",
    "csim",
    "emit_hls",
    "emit_rtl",
    "engine_cycles",
    "engine_schedule",
    "engine_sizes",
    "engine_streams",
    "engine_vectors",
    "kernel_resources",
    "lint",
    "load_numerics",
    "pack",
    "render_sources",
    "rtl_unit",
    "run_testbench",
    "softmax_unit",
    "softmax_vectors",
    "streaming_cycles",
    "synthesize",
    "systolic_types",
    "unit_params",
    "unit_vectors",
    "unpack",
    "vector_types",
    "verify_rtl",
    "verilator_bin",
    "write_vectors",
    "yosys_command",
]
