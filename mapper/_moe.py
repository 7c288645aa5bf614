"""Mixture-of-experts routing: how many tokens each expert gets in each MoE layer, per task.

Each of ``tokens`` tokens picks ``top_k`` distinct experts out of ``experts``, so a layer's
histogram (tokens per expert) sums to ``tokens * top_k`` and no expert gets more than
``tokens``. It comes from

* ``uniform``: every expert its expected share, ``tokens * top_k / experts``;
* ``skewed`` (or ``skewed:S``): expected shares of a Zipf preference of exponent ``S``
  (default 1): the r-th favourite expert is picked in proportion to ``1 / r**S``, capped at
  ``tokens`` (the excess goes to the others). Each task has its own favourites: task ``i``
  of ``n`` starts its ranking at expert ``i * experts // n``, so the tasks use different
  experts most;
* a histogram file, one line per task and MoE layer (``*`` for all of them)::

      # TASK LAYER: tokens per expert 0 .. experts-1
      semseg *: 0 6 0 32 0 27 15 24 22 19 0 22 11 33 32 15
      depth 3: 0 17 0 41 1 22 16 25 2 19 0 23 16 1 51 24

Expected shares are rounded to whole tokens by largest remainders, so an expert whose share
is under half a token may get none: it is inactive, and its weights are never loaded.

>>> r = routing("skewed:2", tasks=("a", "b"), layers=(1, 3), experts=4, tokens=10, top_k=2)
>>> r.counts("a", 1), r.active("b", 3)
((10, 6, 3, 1), (0, 1, 2, 3))
>>> routing("uniform", tasks=("a",), layers=(1,), experts=4, tokens=10, top_k=1).counts("a", 1)
(3, 3, 2, 2)
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from einsum import CascadeError, read_text

__all__ = ["Routing", "routing"]

_SKEW = 1.0
"""Zipf exponent of ``skewed`` without one."""
_MAX_SKEW = 16.0
_LINE = re.compile(r"(\S+)\s+(\S+?)\s*:(.*)")


@dataclass(frozen=True)
class Routing:
    """Tokens per expert for every (task, MoE layer)."""

    source: str
    """``uniform``, ``skewed:S`` or the histogram file's path."""
    experts: int
    tokens: int
    top_k: int
    histograms: dict[str, dict[int, tuple[int, ...]]]
    """task -> MoE layer -> tokens per expert."""

    def counts(self, task: str, layer: int) -> tuple[int, ...]:
        return self.histograms[task][layer]

    def active(self, task: str, layer: int) -> tuple[int, ...]:
        """The experts that get tokens, in index order (the order the design runs them)."""
        return tuple(e for e, n in enumerate(self.counts(task, layer)) if n)


def _check(value: int, what: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CascadeError(f"{what} must be a whole number from {low} to {high}, not {value!r}")


def _expected(weights: list[float], tokens: int, top_k: int) -> tuple[int, ...]:
    """Whole tokens per expert closest to the expected shares of ``tokens * top_k`` picks
    in proportion to ``weights``, none above ``tokens``."""
    total = tokens * top_k
    share = [0.0] * len(weights)
    open_ = set(range(len(weights)))
    left = float(total)
    while open_:  # water-filling: an expert past ``tokens`` is capped, the rest re-shared
        mass = sum(weights[e] for e in open_)
        over = {e for e in open_ if left * weights[e] / mass > tokens}
        if not over:
            for e in open_:
                share[e] = left * weights[e] / mass
            break
        for e in over:
            share[e] = float(tokens)
        left -= tokens * len(over)
        open_ -= over
    counts = [min(tokens, math.floor(s + 1e-9)) for s in share]
    # Largest remainders take the tokens rounding left out (ties: the lower expert).
    order = sorted(range(len(share)), key=lambda e: (-(share[e] - counts[e]), e))
    for e in order[:total - sum(counts)]:
        counts[e] += 1
    return tuple(counts)


def _distribution(spec: str, tasks: tuple[str, ...], experts: int, tokens: int,
                  top_k: int) -> dict[str, tuple[int, ...]]:
    if spec == "uniform":
        flat = _expected([1.0] * experts, tokens, top_k)
        return dict.fromkeys(tasks, flat)
    name, _, given = spec.partition(":")
    if name != "skewed":
        raise CascadeError(f"unknown expert distribution {spec!r}; expected uniform, skewed, "
                           "skewed:S (a Zipf exponent) or a histogram file")
    try:
        skew = float(given) if given else _SKEW
    except ValueError:
        skew = math.nan
    if not 0 <= skew <= _MAX_SKEW:
        raise CascadeError(f"skewed:S needs a Zipf exponent S from 0 to {_MAX_SKEW:g}, "
                           f"not {given!r}")
    out = {}
    for i, task in enumerate(tasks):
        first = i * experts // len(tasks)
        weights = [0.0] * experts
        for rank in range(experts):
            weights[(first + rank) % experts] = 1.0 / (rank + 1) ** skew
        out[task] = _expected(weights, tokens, top_k)
    return out


def routing(spec: str | os.PathLike[str], *, tasks: tuple[str, ...], layers: tuple[int, ...],
            experts: int, tokens: int, top_k: int | None, default_top_k: int = 2) -> Routing:
    """The routing of every task and MoE layer from ``spec``: ``uniform``, ``skewed``,
    ``skewed:S`` or a histogram file's path. ``top_k`` None takes a file's own (its counts
    sum to tokens x top-k), else ``default_top_k``."""
    _check(experts, "the expert count", 1, 4096)
    text = os.fspath(spec)
    named = text in ("uniform", "skewed") or text.startswith("skewed:")
    if isinstance(spec, os.PathLike) or not named:
        return _from_file(text, tasks, layers, experts, tokens, top_k)
    k = default_top_k if top_k is None else top_k
    _check(k, "top-k", 1, experts)
    per_task = _distribution(text, tasks, experts, tokens, k)
    histograms = {t: dict.fromkeys(layers, per_task[t]) for t in tasks}
    return Routing(text if text != "skewed" else f"skewed:{_SKEW:g}", experts, tokens, k,
                   histograms)


def _from_file(path: str, tasks: tuple[str, ...], layers: tuple[int, ...], experts: int,
               tokens: int, top_k: int | None) -> Routing:
    text = read_text(path, "the expert histogram file")
    given: dict[tuple[str, str], tuple[tuple[int, ...], int]] = {}
    k = top_k
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue

        def fail(message: str, number: int = number) -> CascadeError:
            return CascadeError(message, file=path, line=number)

        match = _LINE.fullmatch(line)
        if match is None:
            raise fail("expected 'TASK LAYER: n0 n1 ...' (tokens per expert; * for every "
                       "task or MoE layer)")
        task, layer, rest = match.groups()
        if task != "*" and task not in tasks:
            raise fail(f"unknown task {task!r}; the network's tasks: {', '.join(tasks)}")
        if layer != "*" and not (layer.isascii() and layer.isdigit()
                                 and int(layer) in layers):
            raise fail(f"layer {layer!r} is not an MoE layer; MoE layers: "
                       f"{', '.join(map(str, layers))} (or *)")
        key = (task, "*" if layer == "*" else str(int(layer)))
        if key in given:
            raise fail(f"task {task} layer {layer} is given twice (first at line "
                       f"{given[key][1]})")
        words = rest.split()
        if len(words) != experts:
            raise fail(f"{len(words)} counts; the network has {experts} experts")
        counts = []
        for word in words:
            if not (word.isascii() and word.isdigit()) or int(word) > tokens:
                raise fail(f"a count must be a whole number from 0 to {tokens} (the tokens "
                           f"of a layer), not {word!r}")
            counts.append(int(word))
        total = sum(counts)
        if total == 0 or total % tokens:
            raise fail(f"the counts sum to {total}, not a multiple of the {tokens} tokens "
                       "(each token picks top-k experts)")
        if k is None:
            k = total // tokens
        elif total != tokens * k:
            raise fail(f"the counts sum to {total}; {tokens} tokens x top-{k} is {tokens * k}")
        given[key] = (tuple(counts), number)
    if k is None:
        raise CascadeError("no histogram in the file (lines 'TASK LAYER: n0 n1 ...')",
                           file=path)
    _check(k, "top-k", 1, experts)
    histograms: dict[str, dict[int, tuple[int, ...]]] = {}
    for task in tasks:
        histograms[task] = {}
        for layer in layers:
            found = next((given[key][0] for key in ((task, str(layer)), (task, "*"),
                                                     ("*", str(layer)), ("*", "*"))
                          if key in given), None)
            if found is None:
                raise CascadeError(f"no histogram for task {task} in MoE layer {layer} (give "
                                   f"'{task} {layer}: ...' or '* *: ...')", file=path)
            histograms[task][layer] = found
    return Routing(path, experts, tokens, k, histograms)
