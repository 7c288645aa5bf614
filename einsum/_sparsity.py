"""How many points of each Einsum's iteration space are computed, given where conditions.

An Einsum computes where its own condition holds and where the sparse tensors it reads are
present (the producer's condition, renamed to the reader's index variables): a merge
(``+``, ``max``, ``min``) with an absent operand is a copy, not an op. A merged result is
present where either operand is, so it is not carried forward as sparse. Masking QK thus
makes the exponentials, sums and numerators that follow it sparse too, and op counts
reflect only the computed blocks.

>>> from einsum import parse_text
>>> c = parse_text('''QK[m,p] = Q[e,p] * K[e,m] where m <= p
... SN[m,p] = exp(QK[m,p])''', name="demo")
>>> computed_points(c, {"E": 2, "M": 4, "P": 4})
{'QK': 20, 'SN': 10}
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from ._errors import CascadeError
from ._ir import Cascade, Einsum, Expr, Op, Var, rank_of
from ._operators import UNION_OPERATORS
from ._predicate import Both, Cond, evaluate, renamed, sizes_of, variables_of

__all__ = ["computed_points", "effective_conditions"]

MAX_COUNTED = 2**36
"""Largest grid of condition points counted exactly."""


def _merges(expr: Expr) -> bool:
    if not isinstance(expr, Op):
        return False
    return (expr.name in UNION_OPERATORS and len(expr.args) == 2) or \
        any(_merges(a) for a in expr.args)


def effective_conditions(cascade: Cascade) -> dict[str, Cond | None]:
    """Per Einsum, the condition under which it computes a point (None: everywhere)."""
    present: dict[str, tuple[Einsum, Cond]] = {}   # sparse tensors and their producers
    result: dict[str, Cond | None] = {}
    for e in cascade.einsums:
        # An op happens where all its operands are present (a merge with an absent operand
        # is a copy), so the Einsum computes under every operand's condition...
        conds = [e.where] if e.where is not None else []
        for ref in e.refs:
            if ref.tensor not in present:
                continue
            producer, cond = present[ref.tensor]
            sources = producer.output.indices
            if all(isinstance(i, Var) for i in (*sources, *ref.indices)):
                names = {s.name: r.name for s, r in zip(sources, ref.indices, strict=True)}
                conds.append(renamed(cond, names))
        cond = None
        for c in conds:
            cond = c if cond is None else Both(cond, c)
        result[e.name] = cond
        # ...but a merged result (+, max, min) is present wherever either operand is.
        if cond is not None and not _merges(e.expr) \
                and set(variables_of(cond)) <= set(e.output.variables) \
                and all(isinstance(i, Var) for i in e.output.indices):
            present[e.name] = (e, cond)
    return result


def _count(e: Einsum, cond: Cond, sizes: Mapping[str, int]) -> int:
    variables = variables_of(cond)
    dims = tuple(sizes[rank_of(v)] for v in variables)
    grid = int(np.prod(dims, dtype=object))
    if grid > MAX_COUNTED:
        raise CascadeError(f"counting where {e.name} computes needs {grid:,} condition "
                           f"points (more than 2**36); analyse at a smaller shape", line=e.line)
    parameters = tuple((name, sizes[name]) for name in sizes_of(cond))
    holding = _holding(cond, variables, dims, parameters)
    others = [rank_of(v) for v in e.iteration_ranks if v not in variables]
    return holding * int(np.prod([sizes[r] for r in others], dtype=object))


@lru_cache(maxsize=4096)
def _holding(cond: Cond, variables: tuple[str, ...], dims: tuple[int, ...],
             parameters: tuple[tuple[str, int], ...]) -> int:
    """Points of the grid ``dims`` over ``variables`` where ``cond`` holds (the same mask
    renamed along a cascade, or asked for again by a sweep, is counted once)."""
    env: dict[str, object] = dict(parameters)
    rest = list(dims[1:])
    chunk = max(1, (1 << 24) // max(1, int(np.prod(rest, dtype=object))))
    total = 0
    for start in range(0, dims[0], chunk):
        stop = min(dims[0], start + chunk)
        for axis, (v, size) in enumerate(zip(variables, dims, strict=True)):
            shape = [1] * len(dims)
            values = np.arange(start, stop) if axis == 0 else np.arange(size)
            shape[axis] = len(values)
            env[v] = values.reshape(shape)
        total += int(np.broadcast_to(evaluate(cond, env), [stop - start, *rest]).sum())
    return total


def computed_points(cascade: Cascade, sizes: Mapping[str, int]) -> dict[str, int]:
    """Points each Einsum computes at fully resolved ``sizes``."""
    conds = effective_conditions(cascade)
    out = {}
    for e in cascade.einsums:
        cond = conds[e.name]
        out[e.name] = int(np.prod([sizes[rank_of(v)] for v in e.iteration_ranks],
                                  dtype=object)) if cond is None else _count(e, cond, sizes)
    return out
