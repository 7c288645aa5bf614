"""What every command-line group shares: the parser class, strict number types, the
workload and architecture flags, and JSON output with its schema version."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from einsum import model_names
from sim import architecture_names

from ._api import SCHEMA, digits

__all__ = ["LARGEST", "Handler", "Parser", "UsageError", "add_arch", "add_command",
           "add_workload", "digits", "print_json", "real", "seed", "whole", "workload_of"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A command line argparse refuses (printed as one line, exit status 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def add_command(commands: Any, name: str, run: Handler, *, summary: str, description: str,
                example: str) -> argparse.ArgumentParser:
    """A subcommand with a one-line summary (``cascade --help``), a description and an
    example (``cascade NAME --help``), dispatched to ``run``."""
    parser = commands.add_parser(name, help=summary, description=description,
                                 epilog=f"example:\n  {example}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (errors too) instead of text")
    return parser


def print_json(document: dict[str, Any]) -> None:
    """Print a JSON document with its schema version first."""
    print(json.dumps({"schema": SCHEMA, **document}, indent=2))


LARGEST = 2**40
"""Largest number a size flag takes (array axes, MiB, GiB/s, MHz, workers): beyond it the
cost model's integers would leave exact float range."""


def whole(text: str) -> int:
    """A positive whole number up to :data:`LARGEST`, in ASCII digits."""
    value = digits(text, 15)
    if value is None or not 0 < value <= LARGEST:
        raise argparse.ArgumentTypeError(f"must be a whole number 1..{LARGEST}, not {text!r}")
    return value


def seed(text: str) -> int:
    value = digits(text, 9)
    if value is None:
        raise argparse.ArgumentTypeError(f"must be a whole number 0..999999999, not {text!r}")
    return value


def real(text: str) -> float:
    """A positive, finite number in ASCII (no nan, inf or exponents beyond the range)."""
    try:
        value = float(text) if text.isascii() and len(text) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= LARGEST):
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most {LARGEST}, "
                                         f"not {text!r}")
    return value


def add_workload(parser: argparse.ArgumentParser, *, batch: bool = True) -> None:
    parser.add_argument("--model", help=f"model preset ({', '.join(model_names())})")
    parser.add_argument("--model-config", metavar="PATH",
                        help="a HuggingFace config.json instead of a preset (batch 1)")
    parser.add_argument("--seq", help="sequence length (M = P), e.g. 4096 or 8k")
    parser.add_argument("--shape", help="rank sizes, e.g. E=64,F=64,M=4096,P=4096")
    if batch:
        parser.add_argument("--batch", type=whole, help="batch size (replaces the model's)")


def add_out(parser: argparse.ArgumentParser, *, help: str, required: bool = True,
            metavar: str | None = None) -> None:
    """``--out`` and the ``--force`` that lets it replace what is there (never anything
    else: see ``einsum.check_output_folder``)."""
    parser.add_argument("--out", required=required, metavar=metavar, help=help)
    parser.add_argument("--force", action="store_true", help="replace --out")


def add_arch(parser: argparse.ArgumentParser, *, what: str = "architecture") -> None:
    parser.add_argument("--arch", required=True, metavar="NAME|FILE.yaml",
                        help=f"{what}: a preset ({', '.join(architecture_names())}) or a "
                             "YAML file (cascade show arch NAME prints one)")


def workload_of(args: argparse.Namespace) -> dict[str, Any]:
    """The workload flags as keyword arguments of :func:`cascade.map` / ``analyze``."""
    return {"model": args.model, "model_config": args.model_config, "seq": args.seq,
            "shape": args.shape, "batch": getattr(args, "batch", None)}
