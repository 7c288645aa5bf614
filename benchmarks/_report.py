"""Print a benchmark's JSON result and, given a path on the command line, save it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], out: str | None = None) -> None:
    """Print the result; save it to ``out``, or to the first command-line argument."""
    text = json.dumps(result, indent=2)
    print(text)
    path = out if out is not None else (sys.argv[1] if len(sys.argv) > 1 else None)
    if path:
        Path(path).write_text(text + "\n")
