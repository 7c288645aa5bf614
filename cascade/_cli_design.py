"""Commands that cost a design: ``map`` (an algorithm or a network on an architecture,
searched or with a given mapping) and ``dse`` (FPGA parallelism that fits)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from einsum import CascadeError, check_output_folder
from mapper import OBJECTIVES, dse, explore, load_explore, network_names

from . import _api
from ._cli_args import (
    add_arch,
    add_command,
    add_out,
    add_workload,
    print_json,
    real,
    whole,
    workload_of,
)
from ._progress import Progress

__all__ = ["add_design_commands"]


def add_design_commands(commands: Any) -> None:
    mapping = add_command(
        commands, "map", _map, summary="search the best mapping and report its cost",
        description="Map an algorithm (or a network preset) onto an architecture: search "
                    "the best mapping by the objective, or cost the mapping you give "
                    "(--mapping), and report cycles, energy, DRAM traffic and utilisation. "
                    "--out writes mapping.yaml, architecture.yaml, report.json and a "
                    "one-page design.html.",
        example="cascade map fusemax --arch fusemax --model bert --seq 64k --out design/")
    mapping.add_argument("cascade", metavar="ALGO|FILE|NETWORK",
                         help=f"an algorithm, a cascade file or a network "
                              f"({', '.join(network_names())})")
    add_arch(mapping)
    add_workload(mapping)
    mapping.add_argument("--objective", default="latency", choices=OBJECTIVES)
    mapping.add_argument("--mapping", metavar="FILE.yaml",
                         help="cost this mapping instead of searching (map --out writes one)")
    mapping.add_argument("--array", type=whole, help="PEs per array axis")
    mapping.add_argument("--buffer-mib", type=real, help="global buffer size in MiB")
    mapping.add_argument("--bandwidth-gib-s", type=real, help="DRAM bandwidth in GiB/s")
    mapping.add_argument("--clock-mhz", type=real, help="clock in MHz")
    mapping.add_argument("--experts", metavar="uniform|skewed[:S]|FILE",
                         help="a network's token distribution over experts: uniform, skewed "
                              "(Zipf, exponent S) or a histogram file")
    mapping.add_argument("--top-k", type=whole, help="experts each token picks (networks)")
    mapping.add_argument("--task", help="the task whose gate routes tokens (networks)")
    mapping.add_argument("--expert-count", type=whole, help="experts per MoE layer (networks)")
    add_out(mapping, required=False, metavar="DIR", help="write the design into this folder")

    exploring = add_command(
        commands, "dse", _dse, summary="FPGA design space of a network: Pareto front of "
                                       "latency vs DSPs among designs that fit",
        description="Every linear-unit size and attention parallelism of an FPGA design "
                    "for a network (NETWORK --arch FPGA), or every point of an exploration "
                    "spec (parallelism, port width, experts, top-k, boards; see "
                    "benchmarks/sweep_edge_moe.yaml): the designs that fit their device and "
                    "the Pareto front of latency against DSPs.",
        example="cascade dse benchmarks/sweep_edge_moe.yaml")
    exploring.add_argument("network", metavar="NETWORK|SPEC.yaml",
                           help=f"a network preset ({', '.join(network_names())}) or an "
                                "exploration spec")
    exploring.add_argument("--arch", metavar="NAME|FILE.yaml",
                           help="an FPGA architecture (with a network preset)")


def _arch_changes(args: argparse.Namespace) -> dict[str, Any]:
    return {"array": args.array, "buffer_mib": args.buffer_mib,
            "bandwidth_gib_s": args.bandwidth_gib_s, "clock_mhz": args.clock_mhz}


def _map(args: argparse.Namespace) -> int:
    workload = {k: v for k, v in workload_of(args).items() if v is not None}
    if args.out is not None:
        if args.cascade in network_names():
            raise CascadeError("--out writes one design; a network's blocks are printed "
                               "with --json")
        check_output_folder(Path(args.out), force=args.force)  # before the work, not after
    with Progress(1, label="search", unit="loop order") as bar:
        result = _api.map(args.cascade, arch=args.arch, **workload, **_arch_changes(args),
                          objective=args.objective, mapping=args.mapping,
                          experts=args.experts, top_k=args.top_k, task=args.task,
                          expert_count=args.expert_count, progress=bar.step)
    written: list[str] = []
    if isinstance(result, _api.MapResult) and args.out is not None:
        written = result.write(args.out, force=args.force)
    if args.json:
        print_json(result.to_dict())
    elif isinstance(result, _api.NetworkResult):
        _print_network(result.document)
    else:
        _print_design(result)
    if written and not args.json:
        print(f"wrote {args.out}/: {', '.join(written)}")
    return 0


def _print_design(result: _api.MapResult) -> None:
    report, arch = result.report, result.arch
    resources = result.resources
    energy = f"{report.energy_j:.6g} J" if report.energy_modelled else "energy not modelled"
    size = (f"area {report.area_mm2:.5g} mm^2" if report.area_mm2 is not None else
            f"{resources['total']['dsp']:,} DSPs" if resources else "area not modelled")
    print(f"{result.cascade.name} on {arch.name}: {report.cycles:,} cycles = "
          f"{report.seconds:.6g} s, {energy}, {report.dram_bytes:,} B from DRAM, {size}")
    if result.search is None:
        print("mapping given (no search)")
    else:
        s = result.search
        print(f"searched {s['evaluated']:,} mappings ({s['pruned']:,} spatial bindings pruned) "
              f"in {s['seconds']:.2f} s, objective {result.objective}")
    loops = " -> ".join(result.mapping.dram_loops) or "(none)"
    print(f"DRAM loops {loops}; tiles {report.tiles or '-'}; "
          f"buffer {report.buffer_bytes:,} of {report.buffer_capacity_bytes:,} B")
    if len(report.levels) > 1:
        # every on-chip level: what it holds of its share and what crosses its link
        print(f"{'level':<14} {'share B':>14} {'occupancy B':>14} {'bytes in':>18} "
              f"{'link cycles':>14}  tiles")
        for name, level in report.levels.items():
            print(f"{name:<14} {level['share_bytes']:>14,} {level['occupancy_bytes']:>14,} "
                  f"{level['bytes_in']:>18,} {level['link_cycles']:>14,}  "
                  f"{level['tiles'] or '-'}")
    names = list(dict.fromkeys([*report.buffer_bytes_by_tensor, *report.dram_bytes_by_tensor]))
    # Where each tensor lives: nothing is hidden behind the one-line summary.
    print(f"{'tensor':<8} {'buffer B':>14} {'DRAM B':>18}  spilled")
    for t in names:
        spilled = report.spilled.get(t, 0.0)
        note = f"{spilled:.1%} of its tile" if spilled else "-"
        print(f"{t:<8} {report.buffer_bytes_by_tensor.get(t, 0):>14,} "
              f"{report.dram_bytes_by_tensor.get(t, 0):>18,}  {note}")
    print()
    # cycles/head includes each fold's fill and drain; "once" is paid once for all heads
    # by an array whose folds overlap
    print(f"{'einsum':<8} {'unit':<9} {'spatial':<10} {'dataflow':<8} {'folds':>10} "
          f"{'cycles/head':>14} {'once':>8}")
    for e in report.einsums:
        b = result.mapping.bindings[e.name]
        print(f"{e.name:<8} {e.unit:<9} {','.join(b.spatial):<10} {e.dataflow or '-':<8} "
              f"{e.folds:>10,} {e.cycles:>14,} {e.fill_cycles:>8,}")
    print()
    for unit, util in report.utilisation.items():
        print(f"{unit}: {report.unit_cycles[unit]:,} busy cycles, utilisation {util:.4f}")
    print("accesses: " + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(report.accesses.items())))
    print("energy (J): " + ", ".join(f"{k} {v * 1e-12:.4g}"
                                     for k, v in sorted(report.energy_pj.items())))
    for c in result.runners_up:
        print(f"runner-up: {c['cycles']:,} cycles, {c['energy_j']:.6g} J")


def _print_network(result: dict[str, Any]) -> None:
    latency = result["latency"]
    print(f"{result['network']} on {result['architecture']} at {result['clock_mhz']:g} MHz: "
          f"{latency['cycles_per_image']:,} cycles = {latency['seconds_per_image'] * 1e3:.3f} "
          f"ms per image ({latency['images_per_second']:.1f} images/s)"
          + (f", {result['dram_bytes_per_image']:,} B from DRAM"
             if "dram_bytes_per_image" in result else ""))
    moe = result.get("moe")
    if moe:
        tasks = "; ".join(f"{name} {t['seconds_per_image'] * 1e3:.3f} ms"
                          for name, t in moe["tasks"].items())
        print(f"mixture of experts: {moe['experts']} experts, top-{moe['top_k']}, routing "
              f"{moe['routing']}, routed by {moe['task']}'s gate; per task: {tasks}")
    print()
    print(f"{'block':<12} {'cascade':<16} {'count':>5} {'cycles each':>12} {'total':>12} "
          f"{'DRAM B':>14}  bound")
    for b in result["blocks"]:
        print(f"{b['name']:<12} {b['cascade']:<16} {b['count']:>5} {b['cycles_each']:>12,} "
              f"{b['cycles_total']:>12,} {b.get('dram_bytes', 0):>14,}  {b['bound_by']}")
    if result.get("layers"):
        print()
        print(f"{'layer':>5} {'kind':<6} {'cycles':>12} {'DRAM B':>14}  bound  experts")
        for layer in result["layers"]:
            active = layer.get("experts", {}).get("active")
            print(f"{layer['layer']:>5} {layer['kind']:<6} {layer['cycles']:>12,} "
                  f"{layer['dram_bytes']:>14,}  {layer['bound_by']:<6} "
                  f"{'-' if active is None else len(active)}")
    print()
    for name, u in result["units"].items():
        print(f"{name:<11} {'x'.join(map(str, u['shape'])):<7} busy {u['busy_cycles']:>12,} "
              f"cycles, utilisation {u['utilisation']:.3f}")
    if "resources" in result:
        r = result["resources"]
        used = ", ".join(f"{k} {r['total'][k]:,}/{r['available'][k]:,} ({v:.1%})"
                         for k, v in r["utilisation"].items())
        print(f"resources on {result['device']['part']}: {used}; "
              f"{'fits' if r['fits'] else 'DOES NOT FIT'}")


def _dse(args: argparse.Namespace) -> int:
    if args.network.endswith((".yaml", ".yml")):
        return _explore(args)
    if args.arch is None:
        raise CascadeError("dse of a network preset needs --arch (an FPGA architecture)")
    result = dse(args.network, _api.resolve_architecture(args.arch))
    if args.json:
        print_json(result)
        return 0
    fitting = sum(p["fits"] for p in result["points"])
    print(f"{args.network} on {args.arch}: {len(result['points'])} designs, {fitting} fit; "
          "Pareto front (latency vs DSPs):")
    for p in result["pareto"]:
        print(f"  linear {p['linear']:>2}x{p['linear']:<2} attention {p['queries']}x"
              f"{p['lanes']:<3} DSP {p['dsp']:>5}  BRAM36 {p['bram36']:>4}  "
              f"{p['seconds_per_image'] * 1e3:8.3f} ms per image")
    return 0


def _explore(args: argparse.Namespace) -> int:
    if args.arch is not None:
        raise CascadeError("an exploration spec names its architecture; --arch does not "
                           "apply to it")
    spec = load_explore(args.network)
    with Progress(1, label=spec.name, unit="design") as bar:
        result = explore(spec, progress=bar.step)
    if args.json:
        print_json(result)
        return 0
    points = result["points"]
    print(f"{result['name']}: {result['network']} on {result['architecture']}: "
          f"{len(points):,} designs, {sum(p['fits'] for p in points):,} fit their board")
    for device, models in result["pareto"].items():
        for label, front in models.items():
            print(f"\n{device}, {label}: Pareto front (latency vs DSPs)")
            for p in front:
                print(f"  linear {p['linear']:>2}x{p['linear']:<2} queries {p['query_group']:>3} "
                      f"ports {p['port_bits']:>4}-bit  DSP {p['dsp']:>5}  BRAM36 "
                      f"{p['bram36']:>4}  {p['seconds_per_image'] * 1e3:8.3f} ms per image  "
                      f"{p['bound_by']}")
    return 0
