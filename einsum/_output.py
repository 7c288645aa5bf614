"""Output folders written all or nothing, and CSV tables.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "report"
>>> with staged_folder(out, force=False) as staging:
...     write_csv(staging / "a.csv", [{"x": 1}, {"x": 2, "y": 3}])
>>> (out / "a.csv").read_text().splitlines()
['x,y', '1,', '2,3']
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from einsum import CascadeError

__all__ = ["staged_folder", "write_csv"]


@contextmanager
def staged_folder(out: Path, *, force: bool) -> Iterator[Path]:
    """A fresh folder beside ``out`` that replaces it only if the block succeeds, so a
    failure never leaves a half-written ``out``."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise CascadeError(f"{out} exists and is not empty; pass --force to replace it")
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide a report from a web server
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV; the columns are every key seen, in order of first appearance."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(keys))
        writer.writeheader()
        writer.writerows(rows)
