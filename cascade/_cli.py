"""The ``cascade`` command line.

Every error a user can cause prints one line, ``cascade: error: <file>:<line>: <what>``,
and exits with status 2; ``cascade check`` exits 1 when a numerical check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from einsum import (
    TOLERANCE,
    Analysis,
    Cascade,
    CascadeError,
    Model,
    analyze,
    catalog,
    check_cascade,
    check_shape,
    library_document,
    load,
    model,
    model_from_config,
    model_names,
    parse_shape_text,
    staged_folder,
    write_file,
)
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
from mapper import OBJECTIVES, dse, load_sweep, map_network, network, network_names, search
from sim import Architecture, Report, architecture, architecture_names, design_resources

from ._numerics import numerics_study, plot
from ._report import write_report
from ._reproduce import reproduce_fusemax
from ._sweep import default_workers, run_sweep

__all__ = ["main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cascade", description="Attention accelerators from Einsum cascades.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list library algorithms or model presets")
    listing.add_argument("what", nargs="?", default="algorithms",
                         choices=("algorithms", "architectures", "models", "networks"))
    listing.add_argument("--json", action="store_true")

    analysis = commands.add_parser("analyze", help="passes, op counts, footprints")
    analysis.add_argument("cascade", metavar="ALGO|FILE")
    _workload_arguments(analysis)
    analysis.add_argument("--json", action="store_true")

    checking = commands.add_parser("check", help="execute against exact attention")
    checking.add_argument("cascade", metavar="ALGO|FILE")
    checking.add_argument("--seed", type=_seed, default=0)
    checking.add_argument("--json", action="store_true")

    mapping = commands.add_parser("map", help="search the best mapping and report its cost")
    mapping.add_argument("cascade", metavar="ALGO|FILE|NETWORK")
    mapping.add_argument("--arch", required=True,
                         help=f"architecture ({', '.join(architecture_names())})")
    _workload_arguments(mapping)
    mapping.add_argument("--objective", default="latency", choices=OBJECTIVES)
    mapping.add_argument("--array", type=_whole, help="PEs per array axis")
    mapping.add_argument("--buffer-mib", type=_real, help="global buffer size in MiB")
    mapping.add_argument("--bandwidth-gib-s", type=_real, help="DRAM bandwidth in GiB/s")
    mapping.add_argument("--clock-mhz", type=_real, help="clock in MHz")
    mapping.add_argument("--json", action="store_true")

    exploring = commands.add_parser("dse", help="FPGA parallelism sweep: Pareto front of "
                                                "latency vs DSPs among designs that fit")
    exploring.add_argument("network", help=f"network preset ({', '.join(network_names())})")
    exploring.add_argument("--arch", required=True, help="an FPGA architecture (zcu102, ...)")
    exploring.add_argument("--json", action="store_true")

    sweeping = commands.add_parser("sweep", help="evaluate every point of a sweep spec into a "
                                                 "results database (resumable)")
    sweeping.add_argument("spec", metavar="SPEC.yaml")
    sweeping.add_argument("--db", required=True, metavar="FILE.sqlite",
                          help="results database (created if missing, shared by sweeps)")
    sweeping.add_argument("--workers", type=_whole, default=default_workers(),
                          help="local processes (default: the cores this process may use)")
    sweeping.add_argument("--dask", metavar="ADDRESS",
                          help="run on a dask.distributed scheduler, e.g. tcp://host:8786")
    sweeping.add_argument("--replace", action="store_true",
                          help="a sweep of the same name with other axes is in the database: "
                               "let this spec's axes replace its membership")
    sweeping.add_argument("--json", action="store_true")

    reporting = commands.add_parser("report", help="HTML report with plots, CSV and Parquet "
                                                   "from a results database")
    reporting.add_argument("db", metavar="FILE.sqlite")
    reporting.add_argument("--out", required=True, help="output folder")
    reporting.add_argument("--sweep", help="one sweep of the database (default: all)")
    reporting.add_argument("--force", action="store_true", help="replace --out")
    reporting.add_argument("--json", action="store_true")

    emitting = commands.add_parser("emit-hls", help="a Vitis HLS project whose C simulation "
                                                    "is bit-exact with the Python model")
    emitting.add_argument("kernel", metavar="KERNEL", help=f"one of {', '.join(KERNELS)}")
    emitting.add_argument("--arch", required=True, help="an FPGA architecture (zcu102, ...)")
    _workload_arguments(emitting)
    emitting.add_argument("--numerics", metavar="FILE.yaml",
                          help="attention types: io, score, weight, sum, accumulator "
                               "(e.g. 'ap_fixed<16,6>'), table_bits")
    emitting.add_argument("--array", type=_whole, help="PEs per array axis")
    emitting.add_argument("--seed", type=_seed, default=0, help="seed of the random vectors")
    emitting.add_argument("--name", help="project (and C++ identifier) name; default KERNEL")
    emitting.add_argument("--out", required=True, help="project folder")
    emitting.add_argument("--force", action="store_true", help="replace --out")
    emitting.add_argument("--json", action="store_true")

    simulating = commands.add_parser("csim", help="compile and run an emitted project's C "
                                                  "testbench; compare with the Python model")
    simulating.add_argument("project", metavar="DIR")
    simulating.add_argument("--json", action="store_true")

    rtl = commands.add_parser("emit-rtl", help="Verilog for a datapath unit (lint-clean, "
                                                "bit-exact with the Python model)")
    rtl.add_argument("unit", metavar="UNIT", help=f"one of {', '.join(RTL_UNITS)}")
    rtl.add_argument("--param", action="append", default=[], metavar="K=V",
                     help="a unit parameter, e.g. width=24, rows=8, a='ap_fixed<8,4>'")
    rtl.add_argument("--out", required=True, help="output folder")
    rtl.add_argument("--force", action="store_true", help="replace --out")
    rtl.add_argument("--synth", action="store_true",
                     help="also run Yosys synth_xilinx (UltraScale+) and report resources")
    rtl.add_argument("--json", action="store_true")

    verifying = commands.add_parser("verify-rtl", help="lint and simulate an emitted unit "
                                                       "with its cocotb testbench (Verilator)")
    verifying.add_argument("folder", metavar="DIR")
    verifying.add_argument("--json", action="store_true")

    tabling = commands.add_parser("table", help="the algorithm library as a Markdown table: "
                                                "passes, ops per kind, live state")
    tabling.add_argument("--out", help="write the table to this file (default: print it)")
    tabling.add_argument("--json", action="store_true")

    numbers = commands.add_parser("numerics", help="fixed-point error of softmax and GELU "
                                                   "choices, beside hls4ml's default")
    numbers.add_argument("--lengths", default="64,256", help="sequence lengths, e.g. 64,4096")
    numbers.add_argument("--widths", default="16,18,24,32", help="bit widths to try")
    numbers.add_argument("--table-bits", default="4,6,8", help="log2 of table sizes to try")
    numbers.add_argument("--out", help="folder for softmax_error.png and numerics.json")
    numbers.add_argument("--force", action="store_true", help="replace --out")
    numbers.add_argument("--json", action="store_true")

    reproducing = commands.add_parser("reproduce", help="reproduce a published study")
    reproducing.add_argument("study", choices=("fusemax",))
    reproducing.add_argument("--out", required=True, help="output folder")
    reproducing.add_argument("--force", action="store_true", help="replace --out")
    reproducing.add_argument("--json", action="store_true")
    return parser


def _workload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help=f"model preset ({', '.join(model_names())})")
    parser.add_argument("--model-config", metavar="PATH",
                        help="a HuggingFace config.json instead of a preset (batch 1)")
    parser.add_argument("--seq", help="sequence length (M = P)")
    parser.add_argument("--shape", help="rank sizes, e.g. E=64,F=64,M=4096,P=4096")


_LARGEST = 2**40
"""Largest number a size flag takes (array axes, MiB, GiB/s, MHz, workers): beyond it the
cost model's integers would leave exact float range."""


def _digits(text: str | None, longest: int) -> int | None:
    """The number at most ``longest`` ASCII digits spell, or None (``int`` also takes other
    scripts' digits, signs, spaces and underscores, which a typo should not turn into a size)."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > longest:
        return None
    return int(text)


def _whole(text: str) -> int:
    """A positive whole number up to :data:`_LARGEST`, in ASCII digits."""
    value = _digits(text, 15)
    if value is None or not 0 < value <= _LARGEST:
        raise argparse.ArgumentTypeError(f"must be a whole number 1..{_LARGEST}, not {text!r}")
    return value


def _seed(text: str) -> int:
    value = _digits(text, 9)
    if value is None:
        raise argparse.ArgumentTypeError(f"must be a whole number 0..999999999, not {text!r}")
    return value


def _real(text: str) -> float:
    """A positive, finite number in ASCII (no nan, inf or exponents beyond the range)."""
    try:
        value = float(text) if text.isascii() and len(text) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= _LARGEST):
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most {_LARGEST}, "
                                         f"not {text!r}")
    return value


def _seq(text: str | None) -> int:
    value = _digits(text, 15)
    if value is None:
        raise CascadeError(f"--seq must be a positive whole number, not {text!r}")
    return check_shape("seq", value)


def _model_of(args: argparse.Namespace) -> Model | None:
    if args.model is not None and args.model_config is not None:
        raise CascadeError("give --model or --model-config, not both")
    if args.model_config is not None:
        return model_from_config(args.model_config)
    return None if args.model is None else model(args.model)


def _model_and_seq(args: argparse.Namespace) -> tuple[Model, int] | None:
    """The model and sequence length given (they go together), or None."""
    preset = _model_of(args)
    if (preset is None) != (args.seq is None):
        raise CascadeError("--model (or --model-config) and --seq go together")
    return None if preset is None else (preset, _seq(args.seq))


def _workload(args: argparse.Namespace, cascade: Cascade
              ) -> tuple[dict[str, int], int, int, Model | None]:
    """Shapes, batch, heads and the model (if one was named) of analyze and map."""
    workload = _model_and_seq(args)
    shapes: dict[str, int] = {}
    batch = heads = 1
    if workload is not None:
        preset, seq = workload
        # Head ranks a cascade carries itself (GQA's G and R) are sized from the model and
        # not multiplied again.
        shapes, instances = preset.workload(cascade, seq)
        batch, heads = preset.batch, instances // preset.batch
    if args.shape is not None:
        shapes.update(parse_shape_text(args.shape))
    if not shapes:
        raise CascadeError("give --model and --seq, or --shape like E=64,F=64,M=4096,P=4096")
    return shapes, batch, heads, None if workload is None else workload[0]


def _print_analysis(a: Analysis) -> None:
    shapes = " ".join(f"{k}={v}" for k, v in a.shapes.items())
    print(f"{a.cascade}: {shapes}; batch {a.batch} x heads {a.heads}")
    print(f"passes: {a.passes}" + (f" ({'; '.join(a.boundaries)})" if a.boundaries else ""))
    per_head = "  ".join(f"{k}={v:,}" for k, v in a.ops.items() if v)
    total = "  ".join(f"{k}={v * a.batch * a.heads:,}" for k, v in a.ops.items() if v)
    print(f"ops per (batch, head): {per_head}")
    print(f"ops total:             {total}")
    state = a.live_state
    row = f" (per query row: {state['per_query_row']})" if "per_query_row" in state else ""
    grows = "grows with" if state["grows_with_stream"] else "does not grow with"
    print(f"live on-chip state: {state['expr']} = {state['words']:,} words{row}; {grows} M")
    print()
    width = max(len(c.text) for c in a.einsums)
    print(f"{'einsum':<{width}}  pass  {'points':>16}  ops")
    for c in a.einsums:
        ops = " ".join(f"{k}={v:,}" for k, v in c.ops.items()) or "-"
        print(f"{c.text:<{width}}  {c.level:>4}  {c.points:>16,}  {ops}")
    print()
    print("footprints (words per batch and head):")
    for tensor, fp in a.footprints.items():
        print(f"  {tensor:<6} {fp['expr']:<16} {fp['words']:>16,}")


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        return _list(args)
    if args.command == "reproduce":
        summary = reproduce_fusemax(Path(args.out), force=args.force)
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            _print_reproduction(summary, args.out)
        return 0
    if args.command == "dse":
        return _dse(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "table":
        rows = catalog()
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        text = library_document(rows)
        if args.out:
            write_file(Path(args.out), text)
            print(f"{len(rows)} algorithms -> {args.out}")
        else:
            print(text, end="")
        return 0
    if args.command == "emit-hls":
        return _emit_hls(args)
    if args.command == "csim":
        return _csim(args)
    if args.command == "emit-rtl":
        return _emit_rtl(args)
    if args.command == "verify-rtl":
        return _verify_rtl(args)
    if args.command == "report":
        return _report(args)
    if args.command == "numerics":
        return _numerics(args)
    if args.command == "map" and args.cascade in network_names():
        return _map_network(args)
    cascade = load(args.cascade)
    if args.command == "map":
        return _map(args, cascade)
    if args.command == "analyze":
        shapes, batch, heads, preset = _workload(args, cascade)
        result = analyze(cascade, shapes, batch=batch, heads=heads)
        if args.json:
            data = result.to_json()
            if preset is not None:
                data["model"] = preset.name
            print(json.dumps(data, indent=2))
        else:
            _print_analysis(result)
        return 0
    results = check_cascade(cascade, seed=args.seed)
    ok = all(r.passed for r in results)
    if args.json:
        print(json.dumps({"cascade": cascade.name, "tolerance": TOLERANCE, "passed": ok,
                          "runs": [{"shapes": r.shapes, "relative_error": r.relative_error,
                                    "passed": r.passed} for r in results]}, indent=2))
    else:
        for r in results:
            shapes = " ".join(f"{k}={v}" for k, v in r.shapes.items())
            verdict = "ok" if r.passed else "MISMATCH"
            print(f"{cascade.name}: {shapes}: relative error {r.relative_error:.2e} {verdict}")
    return 0 if ok else 1


def _map(args: argparse.Namespace, cascade: Cascade) -> int:
    shapes, batch, heads, _preset = _workload(args, cascade)
    arch = _arch_from(args)
    found = search(cascade, arch, shapes, batch=batch, heads=heads, objective=args.objective)
    report = found.report
    resources = design_resources(arch).to_json() if arch.device is not None else None
    if args.json:
        print(json.dumps({"mapping": found.mapping.to_dict(), "report": report.to_json(),
                          "resources": resources,
                          "search": {"evaluated": found.evaluated, "pruned": found.pruned,
                                     "seconds": found.seconds, "objective": args.objective},
                          "runners_up": [{"mapping": c.mapping.to_dict(), "cycles": c.cycles,
                                          "energy_j": c.energy_j} for c in found.runners_up]},
                         indent=2))
        return 0
    energy = f"{report.energy_j:.6g} J" if report.energy_modelled else "energy not modelled"
    size = (f"area {report.area_mm2:.1f} mm^2" if report.area_mm2 is not None else
            f"{resources['total']['dsp'] if resources else '?'} DSPs")
    print(f"{cascade.name} on {arch.name}: {report.cycles:,} cycles = {report.seconds:.6g} s, "
          f"{energy}, {report.dram_bytes:,} B from DRAM, {size}")
    print(f"searched {found.evaluated:,} mappings ({found.pruned:,} spatial bindings pruned) "
          f"in {found.seconds:.2f} s, objective {args.objective}")
    loops = " -> ".join(found.mapping.dram_loops) or "(none)"
    print(f"DRAM loops {loops}; tiles {report.tiles or '-'}; "
          f"buffer {report.buffer_bytes:,} of {report.buffer_capacity_bytes:,} B")
    _print_tensors(report)
    print()
    print(f"{'einsum':<8} {'unit':<9} {'spatial':<10} {'cycles/head':>14}")
    for e in report.einsums:
        b = found.mapping.bindings[e.name]
        print(f"{e.name:<8} {e.unit:<9} {','.join(b.spatial):<10} {e.cycles:>14,}")
    print()
    for unit, util in report.utilisation.items():
        print(f"{unit}: {report.unit_cycles[unit]:,} busy cycles, utilisation {util:.4f}")
    print("accesses: " + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(report.accesses.items())))
    print("energy (J): " + ", ".join(f"{k} {v * 1e-12:.4g}"
                                     for k, v in sorted(report.energy_pj.items())))
    for c in found.runners_up:
        print(f"runner-up: {c.cycles:,} cycles, {c.energy_j:.6g} J")
    return 0


def _print_tensors(report: Report) -> None:
    """Where each tensor lives: bytes held in the buffer, bytes moved to and from DRAM and
    the part of it that spills (nothing is hidden behind a one-line summary)."""
    names = list(dict.fromkeys([*report.buffer_bytes_by_tensor, *report.dram_bytes_by_tensor]))
    print(f"{'tensor':<8} {'buffer B':>14} {'DRAM B':>18}  spilled")
    for t in names:
        spilled = report.spilled.get(t, 0.0)
        note = f"{spilled:.1%} of its tile" if spilled else "-"
        print(f"{t:<8} {report.buffer_bytes_by_tensor.get(t, 0):>14,} "
              f"{report.dram_bytes_by_tensor.get(t, 0):>18,}  {note}")


def _arch_from(args: argparse.Namespace) -> Architecture:
    changes = {k: v for k, v in (("array", getattr(args, "array", None)),
                                 ("buffer_mib", getattr(args, "buffer_mib", None)),
                                 ("bandwidth_gib_s", getattr(args, "bandwidth_gib_s", None)),
                                 ("clock_mhz", getattr(args, "clock_mhz", None)))
               if v is not None}
    return architecture(args.arch, **changes)


def _map_network(args: argparse.Namespace) -> int:
    result = map_network(args.cascade, _arch_from(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    latency = result["latency"]
    print(f"{result['network']} on {result['architecture']} at {result['clock_mhz']:g} MHz: "
          f"{latency['cycles_per_image']:,} cycles = {latency['seconds_per_image'] * 1e3:.3f} "
          f"ms per image ({latency['images_per_second']:.1f} images/s)")
    print()
    print(f"{'block':<12} {'cascade':<16} {'count':>5} {'cycles each':>12} {'total':>12}  bound")
    for b in result["blocks"]:
        print(f"{b['name']:<12} {b['cascade']:<16} {b['count']:>5} {b['cycles_each']:>12,} "
              f"{b['cycles_total']:>12,}  {b['bound_by']}")
    print()
    for name, u in result["units"].items():
        print(f"{name:<10} {'x'.join(map(str, u['shape'])):<7} busy {u['busy_cycles']:>12,} "
              f"cycles, utilisation {u['utilisation']:.3f}")
    if "resources" in result:
        r = result["resources"]
        used = ", ".join(f"{k} {r['total'][k]:,}/{r['available'][k]:,} ({v:.1%})"
                         for k, v in r["utilisation"].items())
        print(f"resources on {result['device']['part']}: {used}; "
              f"{'fits' if r['fits'] else 'DOES NOT FIT'}")
    return 0


def _dse(args: argparse.Namespace) -> int:
    result = dse(args.network, _arch_from(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    fitting = sum(p["fits"] for p in result["points"])
    print(f"{args.network} on {args.arch}: {len(result['points'])} designs, {fitting} fit; "
          "Pareto front (latency vs DSPs):")
    for p in result["pareto"]:
        print(f"  linear {p['linear']:>2}x{p['linear']:<2} attention {p['queries']}x"
              f"{p['lanes']:<3} DSP {p['dsp']:>5}  BRAM36 {p['bram36']:>4}  "
              f"{p['seconds_per_image'] * 1e3:8.3f} ms per image")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    spec = load_sweep(args.spec)
    summary = run_sweep(spec, args.db, workers=args.workers, dask=args.dask, progress=None,
                        replace=args.replace)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        where = f"Dask at {args.dask}" if args.dask else f"{summary.workers} workers"
        rate = summary.computed / summary.seconds if summary.seconds else 0.0
        states = ", ".join(f"{n:,} {s}" for s, n in summary.statuses.items())
        print(f"{summary.sweep}: {summary.points:,} points, {summary.reused:,} already stored, "
              f"{summary.computed:,} computed in {summary.seconds:.1f} s ({rate:,.0f} points/s "
              f"on {where}); stored: {states or 'none'}; results in {args.db}")
    if summary.interrupted:
        print(f"cascade: interrupted; {summary.reused + summary.computed:,} of "
              f"{summary.points:,} points are stored; run again to resume", file=sys.stderr)
        return 130
    return 0


def _kernel_sizes(args: argparse.Namespace) -> dict[str, int]:
    """Kernel sizes from --shape, or from a model and --seq (attention over the sequence,
    linear layers of the model's FFN)."""
    sizes: dict[str, int] = {}
    workload = _model_and_seq(args)
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
    summary = emit_hls(args.kernel, _arch_from(args), _kernel_sizes(args), out=Path(args.out),
                       force=args.force, seed=args.seed, numerics=numerics, project=args.name)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        sizes = ", ".join(f"{k}={v}" for k, v in summary["sizes"].items())
        parallel = ", ".join(f"{k}={v}" for k, v in summary["parallelism"].items())
        print(f"{summary['kernel']} ({sizes}; parallelism {parallel}) -> {args.out}: "
              f"{len(summary['files'])} files, test cases {', '.join(summary['cases'])}")
    return 0


def _csim(args: argparse.Namespace) -> int:

    result = csim(Path(args.project))
    if args.json:
        print(json.dumps({"project": args.project, "compared": result.compared,
                          "passed": result.passed, "warnings": result.warnings,
                          "mismatches": [vars(m) for m in result.mismatches]}, indent=2))
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
        print(json.dumps(summary, indent=2))
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
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.folder}: lint clean; {result['tests']} cocotb tests passed under "
              f"Verilator ({result['testbench']})")
    return 0


def _report(args: argparse.Namespace) -> int:

    summary = write_report(args.db, Path(args.out), sweep=args.sweep, force=args.force)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"report of {summary['rows']:,} points ({', '.join(summary['sweeps'])}) in "
              f"{args.out}: {', '.join(summary['files'])}")
    return 0


def _numbers(text: str, what: str, low: int, high: int) -> tuple[int, ...]:
    """Whole numbers in ``low..high`` separated by commas (the study allocates arrays of
    these sizes, so they are bounded before anything is built)."""
    values = [_digits(part, 9) for part in text.split(",")]
    if len(values) > 16 or not all(v is not None and low <= v <= high for v in values):
        raise CascadeError(f"{what} must be at most 16 whole numbers {low}..{high} separated by "
                           f"commas, not {text!r}")
    return tuple(v for v in values if v is not None)


_NUMERICS_WORK = 2 * (64 + 256) * 4 * 3
"""The most (keys summed over lengths) x widths x table sizes the numerics study takes: twice
the default study (about 8 s here), so no flag makes it run for hours."""


def _numerics(args: argparse.Namespace) -> int:
    lengths = _numbers(args.lengths, "--lengths", 1, 4096)
    widths = _numbers(args.widths, "--widths", 8, 32)
    table_bits = _numbers(args.table_bits, "--table-bits", 1, 12)
    work = sum(lengths) * len(widths) * len(table_bits)
    if work > _NUMERICS_WORK:
        raise CascadeError(f"the numerics study would take {work:,} key-designs (summed "
                           f"lengths x widths x table sizes); at most {_NUMERICS_WORK:,}")
    result = numerics_study(lengths=lengths, widths=widths, table_bits=table_bits)
    if args.out:
        with staged_folder(Path(args.out), force=args.force) as staging:
            plot(result, staging)
            (staging / "numerics.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("softmax: absolute error against float64 (probabilities; outputs P @ V)")
    print(f"{'design':<26} {'bits':>4} {'table':>6} {'p max':>10} {'p mean':>10} "
          f"{'out max':>10} {'out mean':>10}")
    for r in result["softmax"]:
        print(f"{r['design']:<26} {r['width']:>4} {r['table_entries']:>6} {r['prob_max']:>10.3g} "
              f"{r['prob_mean']:>10.3g} {r['out_max']:>10.3g} {r['out_mean']:>10.3g}")
    print()
    print("GELU: max absolute error against erf-GELU")
    for r in result["gelu"]:
        step = "-" if r["step"] is None else f"{r['step']:g}"
        print(f"{r['design']:<26} {r['width']:>4} step {step:<8} {r['max']:.4g}")
    default = result["default"]
    print(f"\ndefault: online softmax, {default['width']}-bit, "
          f"{2**default['table_bits'] + 1}-entry tables")
    return 0


def _print_reproduction(summary: dict[str, object], out: str) -> None:
    paper = summary["published"]
    assert isinstance(paper, dict)
    print(f"wrote {out}/attention.csv, end_to_end.csv, area_sweep.csv, summary.json and plots")
    for key in ("attention_speedup_vs_flat", "attention_energy_vs_flat",
                "end_to_end_speedup_vs_flat", "end_to_end_energy_vs_flat"):
        ours = summary[key]
        assert isinstance(ours, float)
        print(f"{key}: {ours:.3f} (published {paper[key]})")


def _list(args: argparse.Namespace) -> int:
    if args.what == "networks":
        rows = [{"name": n, "title": network(n).title, "blocks": len(network(n).blocks)}
                for n in network_names()]
        if args.json:
            print(json.dumps(rows, indent=2))
        for r in rows if not args.json else []:
            print(f"{r['name']:<14} {r['title']}")
        return 0
    if args.what == "architectures":
        rows = []
        for name in architecture_names():
            arch = architecture(name)
            rows.append({"name": name, "title": arch.title, "clock_mhz": arch.clock_mhz,
                         "units": {u.name: list(u.shape) for u in arch.units.values()},
                         "buffer_bytes": arch.global_buffer.capacity_bytes})
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['name']:<9} {r['title']}")
        return 0
    if args.what == "models":
        rows = [vars(model(n)) for n in model_names()]
        if args.json:
            print(json.dumps(rows, indent=2))
        for r in rows if not args.json else []:
            print(f"{r['name']:<11} {r['title']:<28} heads={r['heads']:<3} "
                  f"kv_heads={r['kv_heads']:<3} head_dim={r['head_dim']:<4} "
                  f"model_dim={r['model_dim']:<5} ffn={r['ffn_dim']:<6} layers={r['layers']:<3} "
                  f"batch={r['batch']}")
        return 0
    rows = catalog()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<24} {r['passes']} pass{'es' if r['passes'] > 1 else '  '} "
                  f"{r['growth']:<11} {r['title']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = _build_parser().parse_args(argv)
        return _run(args)
    except (CascadeError, _UsageError) as error:
        print(f"cascade: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("cascade: interrupted", file=sys.stderr)
        return 130
