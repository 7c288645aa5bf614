"""The ``cascade`` command line: a thin layer over the Python API, one module per command
group.

Every error a user can cause prints one line, ``cascade: error: <file>:<line>: <what>``,
and exits with status 2 (under ``--json``, the document ``{"schema": 1, "error": ...}`` on
standard output instead); ``cascade check`` exits 1 when a numerical check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import metadata

from einsum import CascadeError

from ._api import SCHEMA
from ._cli_algorithms import add_algorithm_commands
from ._cli_args import Parser, UsageError
from ._cli_design import add_design_commands
from ._cli_explore import add_explore_commands
from ._cli_hardware import add_hardware_commands

__all__ = ["main", "version"]


def version() -> str:
    """The installed package's version (``cascade --version``)."""
    try:
        return metadata.version("cascade-attention")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cascade", description="Attention accelerators from Einsum cascades: "
                    "analyse an algorithm, map it onto an architecture, explore designs, "
                    "emit verified HLS and RTL. 'cascade COMMAND --help' shows a command's "
                    "options and an example.")
    parser.add_argument("--version", action="version", version=f"cascade {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                     metavar="COMMAND")
    add_algorithm_commands(commands)
    add_design_commands(commands)
    add_explore_commands(commands)
    add_hardware_commands(commands)
    return parser


def _fail(message: str, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"schema": SCHEMA, "error": message}, indent=2))
    else:
        print(f"cascade: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments
    try:
        args = _build_parser().parse_args(arguments)
        return int(args.run(args))
    except (CascadeError, UsageError) as error:
        return _fail(str(error), as_json=as_json)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("cascade: interrupted", file=sys.stderr)
        return 130
