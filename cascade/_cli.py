"""The ``cascade`` command line.

Every error a user can cause prints one line, ``cascade: error: <file>:<line>: <what>``,
and exits with status 2; ``cascade check`` exits 1 when a numerical check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from einsum import Cascade, CascadeError, library_names, load
from einsum._analysis import Analysis, analyze, passes
from einsum._check import TOLERANCE, check_attention
from einsum._loader import check_shape
from einsum._models import model, model_names
from einsum._shapes import parse_shape_text
from einsum._validate import validate

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
                         choices=("algorithms", "models"))
    listing.add_argument("--json", action="store_true")

    analysis = commands.add_parser("analyze", help="passes, op counts, footprints")
    analysis.add_argument("cascade", metavar="ALGO|FILE")
    analysis.add_argument("--model", help=f"model preset ({', '.join(model_names())})")
    analysis.add_argument("--seq", help="sequence length (M = P)")
    analysis.add_argument("--shape", help="rank sizes, e.g. E=64,F=64,M=4096,P=4096")
    analysis.add_argument("--json", action="store_true")

    checking = commands.add_parser("check", help="execute against exact attention")
    checking.add_argument("cascade", metavar="ALGO|FILE")
    checking.add_argument("--seed", type=int, default=0)
    checking.add_argument("--json", action="store_true")
    return parser


def _seq(text: str | None) -> int:
    try:
        value = int(text or "")
    except ValueError:
        raise CascadeError(f"--seq must be a positive whole number, not {text!r}") from None
    return check_shape("seq", value)


def _workload(args: argparse.Namespace, cascade: Cascade) -> tuple[dict[str, int], int, int]:
    if (args.model is None) != (args.seq is None):
        raise CascadeError("--model and --seq go together")
    shapes: dict[str, int] = {}
    batch = heads = 1
    if args.model is not None:
        preset = model(args.model)
        used = set(validate(cascade).all_ranks())
        shapes = {r: v for r, v in preset.shapes(_seq(args.seq)).items() if r in used}
        batch, heads = preset.batch, preset.heads
    if args.shape is not None:
        shapes.update(parse_shape_text(args.shape))
    if not shapes:
        raise CascadeError("give --model and --seq, or --shape like E=64,F=64,M=4096,P=4096")
    return shapes, batch, heads


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
    cascade = load(args.cascade)
    if args.command == "analyze":
        shapes, batch, heads = _workload(args, cascade)
        result = analyze(cascade, shapes, batch=batch, heads=heads)
        if args.json:
            data = result.to_json()
            if args.model is not None:
                data["model"] = args.model.lower()
            print(json.dumps(data, indent=2))
        else:
            _print_analysis(result)
        return 0
    results = check_attention(cascade, seed=args.seed)
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


def _list(args: argparse.Namespace) -> int:
    if args.what == "models":
        rows = [vars(model(n)) for n in model_names()]
        if args.json:
            print(json.dumps(rows, indent=2))
        for r in rows if not args.json else []:
            print(f"{r['name']:<6} {r['title']:<16} heads={r['heads']:<3} "
                  f"head_dim={r['head_dim']:<4} model_dim={r['model_dim']:<5} "
                  f"ffn={r['ffn_dim']:<5} batch={r['batch']}")
        return 0
    rows = []
    for name in library_names():
        c = load(name)
        rows.append({"name": name, "passes": passes(c), "title": c.title, "source": c.source})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<18} {r['passes']} pass{'es' if r['passes'] > 1 else '  '} "
                  f" {r['title']}")
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
