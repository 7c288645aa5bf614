"""Commands that make and verify hardware: ``emit-hls`` and ``csim`` (a Vitis HLS project
and its C simulation), ``emit-rtl`` and ``verify-rtl`` (Verilog units and their cocotb
testbenches)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from einsum import CascadeError, parse_shape_text
from hls_templates import (
    KERNELS,
    RTL_UNITS,
    csim,
    emit_hls,
    emit_rtl,
    load_numerics,
    synthesize,
    verify_rtl,
)

from . import _api
from ._cli_args import add_arch, add_command, add_out, add_workload, print_json, seed, whole
from ._progress import Progress

__all__ = ["add_hardware_commands"]


def add_hardware_commands(commands: Any) -> None:
    emitting = add_command(
        commands, "emit-hls", _emit_hls, summary="a Vitis HLS project whose C simulation is "
                                                 "bit-exact with the Python model",
        description="A Vitis HLS project (kernel, testbench with vectors from the Python "
                    "model, run_hls.tcl) for one kernel, sized from a model and sequence "
                    "length or from --shape, with parallelism from the mapping search on "
                    "the FPGA architecture.",
        example="cascade emit-hls fusemax --arch zcu102 --shape P=64,M=197,E=64,F=64,M0=32 "
                "--out prj/")
    emitting.add_argument("kernel", metavar="KERNEL", help=f"one of {', '.join(KERNELS)}")
    add_arch(emitting, what="an FPGA architecture")
    add_workload(emitting, batch=False)
    emitting.add_argument("--numerics", metavar="FILE.yaml",
                          help="attention types: io, score, weight, sum, accumulator "
                               "(e.g. 'ap_fixed<16,6>'), table_bits")
    emitting.add_argument("--array", type=whole, help="PEs per array axis")
    emitting.add_argument("--seed", type=seed, default=0, help="seed of the random vectors")
    emitting.add_argument("--name", help="project (and C++ identifier) name; default KERNEL")
    add_out(emitting, help="project folder")

    simulating = add_command(
        commands, "csim", _csim, summary="compile and run an emitted project's C testbench; "
                                         "compare with the Python model",
        description="g++ C simulation of an emitted project against the vendor ap_fixed "
                    "headers, every output word compared bit for bit with the Python model.",
        example="cascade csim prj/")
    simulating.add_argument("project", metavar="DIR")

    rtl = add_command(
        commands, "emit-rtl", _emit_rtl, summary="Verilog for a datapath unit (lint-clean, "
                                                 "bit-exact with the Python model)",
        description="Verilog for one datapath unit with its cocotb testbench; --synth also "
                    "runs Yosys synth_xilinx and reports resources.",
        example="cascade emit-rtl softmax --param width=24 --out rtl/ --synth")
    rtl.add_argument("unit", metavar="UNIT", help=f"one of {', '.join(RTL_UNITS)}")
    rtl.add_argument("--param", action="append", default=[], metavar="K=V",
                     help="a unit parameter, e.g. width=24, rows=8, a='ap_fixed<8,4>'")
    add_out(rtl, help="output folder")
    rtl.add_argument("--synth", action="store_true",
                     help="also run Yosys synth_xilinx (UltraScale+) and report resources")

    verifying = add_command(
        commands, "verify-rtl", _verify_rtl, summary="lint and simulate an emitted unit with "
                                                     "its cocotb testbench (Verilator)",
        description="verilator --lint-only -Wall, then the unit's cocotb testbench under "
                    "Verilator (built once per parameter set).",
        example="cascade verify-rtl rtl/")
    verifying.add_argument("folder", metavar="DIR")


def _kernel_sizes(args: argparse.Namespace) -> dict[str, int]:
    """Kernel sizes from --shape, or from a model and --seq (attention over the sequence,
    linear layers of the model's FFN)."""
    sizes: dict[str, int] = {}
    workload = _api.model_and_seq(model=args.model, model_config=args.model_config,
                                  seq=args.seq)
    if workload is not None:
        preset, seq = workload
        sizes = {"P": seq, "M": seq, "E": preset.head_dim, "F": preset.head_dim, "T": seq,
                 "K": preset.model_dim, "N": preset.ffn_dim, "D": preset.model_dim,
                 "H": preset.heads, "FF": preset.ffn_dim}
    if args.shape is not None:
        sizes.update(parse_shape_text(args.shape))
    if not sizes:
        raise CascadeError("give --model and --seq, or --shape like P=8,M=64,E=16,F=16")
    return sizes


def _emit_hls(args: argparse.Namespace) -> int:
    numerics = load_numerics(args.numerics) if args.numerics else None
    arch = _api.resolve_architecture(args.arch, array=args.array)
    with Progress(3, label="emit-hls", unit="step") as bar:
        summary = emit_hls(args.kernel, arch, _kernel_sizes(args), out=Path(args.out),
                           force=args.force, seed=args.seed, numerics=numerics,
                           project=args.name, progress=bar.phase)
    if args.json:
        print_json(summary)
    else:
        sizes = ", ".join(f"{k}={v}" for k, v in summary["sizes"].items())
        parallel = ", ".join(f"{k}={v}" for k, v in summary["parallelism"].items())
        print(f"{summary['kernel']} ({sizes}; parallelism {parallel}) -> {args.out}: "
              f"{len(summary['files'])} files, test cases {', '.join(summary['cases'])}")
    return 0


def _csim(args: argparse.Namespace) -> int:
    with Progress(3, label="csim", unit="step") as bar:
        result = csim(Path(args.project), progress=bar.phase)
    if args.json:
        print_json({"project": args.project, "compared": result.compared,
                    "passed": result.passed, "warnings": result.warnings,
                    "mismatches": [vars(m) for m in result.mismatches]})
    else:
        for w in result.warnings:
            print(f"warning: {w}")
        for m in result.mismatches[:20]:
            print(f"MISMATCH {m}")
        count = len(result.mismatches)
        verdict = "bit-exact" if result.passed else \
            f"{count:,} mismatch{'es' if count != 1 else ''}"
        print(f"{args.project}: {result.compared:,} output words compared with the Python "
              f"model: {verdict}")
    return 0 if result.passed else 1


def _rtl_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CascadeError(f"--param takes KEY=VALUE, not {pair!r}")
        params[key.strip()] = value.strip()
    return params


def _emit_rtl(args: argparse.Namespace) -> int:
    summary = emit_rtl(args.unit, _rtl_params(args.param), out=Path(args.out),
                       force=args.force)
    if args.synth:
        summary["synthesis"] = synthesize(Path(args.out), summary["top"]).to_json()
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['unit']} ({summary['top']}) -> {args.out}: "
              f"{', '.join(summary['files'])}")
        if "synthesis" in summary:
            r = summary["synthesis"]
            print(f"synth_xilinx (xcup): {r['lut']:,} LUT, {r['ff']:,} FF, {r['dsp']} DSP48E2, "
                  f"{r['bram36']:g} BRAM36, {r['carry']} CARRY")
    return 0


def _verify_rtl(args: argparse.Namespace) -> int:
    result = verify_rtl(Path(args.folder))
    if args.json:
        print_json(result)
    else:
        print(f"{args.folder}: lint clean; {result['tests']} cocotb tests passed under "
              f"Verilator ({result['testbench']})")
        for line in result["cycles"]:  # the testbench's cycle checks, model against RTL
            print(f"  cycles, {line['case']}: model {line['model']:,}, measured "
                  f"{line['measured']:,} ({line['measured'] / line['model'] - 1:+.2%})")
    return 0


