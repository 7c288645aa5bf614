"""A one-line progress bar with rate and ETA, drawn only on a terminal.

>>> import io
>>> bar = Progress(10, stream=io.StringIO())  # not a terminal: stays quiet
>>> bar.update(10); bar.close(); bar.stream.getvalue()
''
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, total: int, *, label: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            self.stream.write("\r" + self.line(now - self._start))
            self.stream.flush()

    def line(self, elapsed: float) -> str:
        """``label [#####-----] 500/1,000  50%  250.0/s  ETA 0:02``"""
        share = self.done / self.total if self.total else 1.0
        filled = round(24 * share)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        eta = f"{int(left // 60)}:{int(left % 60):02d}"
        return (f"{self.label} [{'#' * filled}{'-' * (24 - filled)}] {self.done:,}/"
                f"{self.total:,} {share:4.0%} {rate:8.1f}/s  ETA {eta}")

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
