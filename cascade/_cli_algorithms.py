"""Commands about algorithms and presets: ``list``, ``show``, ``table``, ``analyze`` and
``check``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from einsum import (
    TOLERANCE,
    Analysis,
    analyze,
    catalog,
    library_document,
    load,
    model,
    model_names,
    write_file,
)
from einsum import to_yaml as cascade_yaml
from mapper import network, network_names
from sim import architecture, architecture_names, architecture_yaml

from . import _api
from ._cli_args import add_command, add_workload, print_json, seed, workload_of

__all__ = ["add_algorithm_commands"]


def add_algorithm_commands(commands: Any) -> None:
    listing = add_command(
        commands, "list", _list, summary="list library algorithms or presets",
        description="The library's algorithms (passes, op growth in the sequence length), "
                    "or the architecture, model or network presets.",
        example="cascade list architectures")
    listing.add_argument("what", nargs="?", default="algorithms",
                         choices=("algorithms", "architectures", "models", "networks"))

    showing = add_command(
        commands, "show", _show, summary="print a preset as a file you can edit and load",
        description="An architecture as complete YAML that --arch FILE.yaml loads back "
                    "unchanged, or an algorithm as its cascade file.",
        example="cascade show arch fusemax > my.yaml && cascade map fusemax --arch my.yaml "
                "--model bert --seq 1k")
    showing.add_argument("what", choices=("arch", "algorithm"))
    showing.add_argument("name", metavar="NAME|FILE")

    tabling = add_command(
        commands, "table", _table, summary="the algorithm library as a Markdown table",
        description="Passes, ops per kind and live state of every library algorithm.",
        example="cascade table --out docs/algorithms.md")
    tabling.add_argument("--out", help="write the table to this file (default: print it)")

    analysis = add_command(
        commands, "analyze", _analyze, summary="passes, op counts, footprints",
        description="Pass analysis of a cascade on a workload: passes and their boundaries, "
                    "ops per kind, tensor footprints and the state kept on chip.",
        example="cascade analyze three_pass --model xlm --seq 4k")
    analysis.add_argument("cascade", metavar="ALGO|FILE")
    add_workload(analysis)

    checking = add_command(
        commands, "check", _check, summary="execute against a reference formula",
        description="Execute the cascade in float64 on random inputs and compare with a "
                    f"reference (relative error <= {TOLERANCE:g}): the library algorithm's "
                    "formula, exact attention, or your own numpy function (--reference).",
        example="cascade check my.cascade --reference my_ref.py:attention "
                "--shape E=8,F=8,M=40,P=40")
    checking.add_argument("cascade", metavar="ALGO|FILE")
    checking.add_argument("--seed", type=seed, default=0)
    checking.add_argument("--reference", metavar="MODULE:FUNCTION",
                          help="a numpy function of the inputs (dict of arrays) returning the "
                               "outputs; MODULE may be a .py file")
    checking.add_argument("--shape", action="append",
                          help="sizes to check --reference at (repeat for several)")


def _list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]]
    if args.what == "networks":
        rows = [{"name": n, "title": network(n).title, "blocks": len(network(n).blocks)}
                for n in network_names()]
        lines = [f"{r['name']:<14} {r['title']}" for r in rows]
    elif args.what == "architectures":
        rows = []
        for name in architecture_names():
            arch = architecture(name)
            rows.append({"name": name, "title": arch.title, "clock_mhz": arch.clock_mhz,
                         "units": {u.name: list(u.shape) for u in arch.units.values()},
                         "buffer_bytes": arch.global_buffer.capacity_bytes})
        lines = [f"{r['name']:<9} {r['title']}" for r in rows]
    elif args.what == "models":
        rows = [vars(model(n)) for n in model_names()]
        lines = [f"{r['name']:<11} {r['title']:<28} heads={r['heads']:<3} "
                 f"kv_heads={r['kv_heads']:<3} head_dim={r['head_dim']:<4} "
                 f"model_dim={r['model_dim']:<5} ffn={r['ffn_dim']:<6} layers={r['layers']:<3} "
                 f"batch={r['batch']}" for r in rows]
    else:
        rows = catalog()
        lines = [f"{r['name']:<24} {r['passes']} pass{'es' if r['passes'] > 1 else '  '} "
                 f"{r['growth']:<11} {r['title']}" for r in rows]
    if args.json:
        print_json({args.what: rows})
    else:
        print("\n".join(lines))
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.what == "arch":
        text = architecture_yaml(architecture(args.name))
    else:
        text = cascade_yaml(load(args.name))
    if args.json:
        print_json({args.what: args.name, "yaml": text})
    else:
        print(text, end="")
    return 0


def _table(args: argparse.Namespace) -> int:
    rows = catalog()
    if args.json:
        print_json({"algorithms": rows})
        return 0
    text = library_document(rows)
    if args.out:
        write_file(Path(args.out), text)
        print(f"{len(rows)} algorithms -> {args.out}")
    else:
        print(text, end="")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    cascade = load(args.cascade)
    w = _api.resolve_workload(cascade, **workload_of(args))
    result = analyze(cascade, w.shapes, batch=w.batch, heads=w.heads)
    if args.json:
        data = result.to_json()
        if w.model is not None:
            data["model"] = w.model
        print_json(data)
    else:
        _print_analysis(result)
    return 0


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


def _check(args: argparse.Namespace) -> int:
    cascade = load(args.cascade)
    results = _api.check(cascade, reference=args.reference, shape=args.shape, seed=args.seed)
    ok = all(r.passed for r in results)
    if args.json:
        print_json({"cascade": cascade.name, "tolerance": TOLERANCE, "passed": ok,
                    "runs": [{"shapes": r.shapes, "relative_error": r.relative_error,
                              "passed": r.passed} for r in results]})
    else:
        for r in results:
            shapes = " ".join(f"{k}={v}" for k, v in r.shapes.items())
            verdict = "ok" if r.passed else "MISMATCH"
            print(f"{cascade.name}: {shapes}: relative error {r.relative_error:.2e} {verdict}")
    return 0 if ok else 1
