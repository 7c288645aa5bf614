"""Print a benchmark's JSON result and, given a path on the command line, save it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any]) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text + "\n")
