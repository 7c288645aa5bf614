"""Streaming execution of a 1-pass cascade: the stream rank (M) arrives in chunks and only
the recurrences' state is carried from one chunk to the next, so memory stays flat however
long the sequence.

>>> import numpy as np
>>> from einsum import execute, load
>>> rng = np.random.default_rng(0)
>>> q, k, v = rng.normal(size=(8, 3)), rng.normal(size=(8, 100)), rng.normal(size=(4, 100))
>>> chunks = ({"K": k[:, i:i + 32], "V": v[:, i:i + 32]} for i in range(0, 100, 32))
>>> streamed = execute_streaming(load("fusemax"), {"Q": q}, chunks, shapes={"M0": 16})
>>> whole = execute(load("fusemax"), {"Q": q, "K": k, "V": v}, shapes={"M0": 16})
>>> bool(np.allclose(streamed["AV"], whole["AV"], rtol=1e-12, atol=0))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ._analysis import passes
from ._errors import CascadeError
from ._execute import execute
from ._ir import Cascade
from ._validate import validate

__all__ = ["execute_streaming"]


def execute_streaming(cascade: Cascade, fixed: Mapping[str, np.ndarray],
                      chunks: Iterable[Mapping[str, np.ndarray]], *,
                      shapes: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Run ``cascade`` over ``chunks`` of its stream-indexed inputs (K, V: consecutive
    slices along M), ``fixed`` holding the others (Q). A split stream rank needs chunks that
    are whole tiles but for the last. Outputs indexed by the stream rank are joined; the
    others are those of the last chunk, where the recurrences end."""
    layout = validate(cascade)
    if passes(cascade) != 1:
        raise CascadeError(f"{cascade.name} takes {passes(cascade)} passes; streaming "
                           "execution needs a 1-pass cascade", file=cascade.file)
    stream = cascade.stream
    if stream is None:
        raise CascadeError(f"{cascade.name} has no stream rank", file=cascade.file)
    related = {stream, *layout.splits.get(stream, ())}
    iterative = layout.iterative
    state: dict[str, np.ndarray] | None = None
    pieces: dict[str, list[np.ndarray]] = {}
    last: dict[str, np.ndarray] = {}
    for chunk in chunks:
        values = execute(cascade, {**fixed, **chunk}, shapes=shapes, keep=True, state=state)
        state = {}
        for tensor, rank in iterative.items():
            axis = layout.ranks[tensor].index(rank)
            state[tensor] = np.take(values[tensor], -1, axis=axis)
        for name in layout.outputs:
            ranks = layout.ranks[name]
            streamed = [i for i, r in enumerate(ranks) if r in related]
            if streamed:
                pieces.setdefault(name, []).append(values[name])
            else:
                last[name] = values[name]
        del values
    if state is None:
        raise CascadeError("no chunks to stream", file=cascade.file)
    for name, parts in pieces.items():
        axis = next(i for i, r in enumerate(layout.ranks[name]) if r in related)
        last[name] = np.concatenate(parts, axis=axis)
    return last
