"""Progress bars for long runs (tqdm), drawn only on a terminal and only once a run has
taken half a second, so quick commands and piped output stay clean.

>>> import io
>>> bar = Progress(10, stream=io.StringIO())  # not a terminal: stays quiet
>>> bar.update(10); bar.close(); bar.stream.getvalue()
''
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from tqdm import tqdm

__all__ = ["Progress"]


def _size(stream: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file, or not a terminal
        return 0, 0
    return size.columns, size.lines


class Progress:
    """A bar of ``total`` steps labelled ``label`` on ``stream`` (standard error)."""

    def __init__(self, total: int, *, label: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None, unit: str = "it") -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty() if enabled is None else enabled
        # A terminal that reports no size (a fresh pseudo-terminal) would get no bar from
        # tqdm (it hides bars below the last row): draw 80 x 24 there, and follow the size
        # of a real one.
        width, height = _size(self.stream) if self.enabled else (0, 0)
        self._bar = tqdm(total=total, desc=label, file=self.stream, disable=not self.enabled,
                         delay=0.5, unit=unit, dynamic_ncols=width > 0,
                         ncols=None if width > 0 else 80, nrows=None if height > 0 else 24,
                         leave=False)
        self.done = 0  # counted here too: a disabled tqdm counts nothing

    def update(self, count: int = 1) -> None:
        self.done += count
        self._bar.update(count)

    def step(self, done: int, total: int) -> None:
        """Callback form for engines that count their own steps (the mapping search)."""
        self._bar.total = total
        self.update(done - self.done)

    def phase(self, text: str) -> None:
        """Callback form for engines that name their phases (emit-hls, csim): one step
        each, the bar labelled with the phase now running."""
        self._bar.set_description_str(text, refresh=False)
        self.update(1)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
