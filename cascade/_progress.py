"""Progress bars for long runs (tqdm), drawn only on a terminal and only once a run has
taken half a second, so quick commands and piped output stay clean.

>>> import io
>>> bar = Progress(10, stream=io.StringIO())  # not a terminal: stays quiet
>>> bar.update(10); bar.close(); bar.stream.getvalue()
''
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

__all__ = ["Progress"]


class Progress:
    """A bar of ``total`` steps labelled ``label`` on ``stream`` (standard error)."""

    def __init__(self, total: int, *, label: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None, unit: str = "it") -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._bar = tqdm(total=total, desc=label, file=self.stream, disable=not self.enabled,
                         delay=0.5, unit=unit, dynamic_ncols=True, leave=False)
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
