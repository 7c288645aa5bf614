"""The map and reduction operators a cascade may use, and their op kinds.

One table drives the parser (which names exist and their arity), the executor (the
numpy function) and the op counter (which kind of hardware action each is).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["MAP_OPERATORS", "OP_KINDS", "REDUCE_OPERATORS", "UNION_OPERATORS", "MapOperator",
           "ReduceOperator"]

OP_KINDS = ("mac", "mul", "add", "max", "exp", "div", "gelu", "other")


@dataclass(frozen=True)
class MapOperator:
    name: str
    arity: int
    kind: str
    apply: Callable[..., np.ndarray]
    infix: bool = False


@dataclass(frozen=True)
class ReduceOperator:
    name: str
    kind: str
    identity: float
    apply: Callable[..., np.ndarray]


def _subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b``, with equal values giving 0 even when infinite: a running max that has seen
    no key yet is -inf at both steps, and exp(RM - RM') must then be 1, not NaN."""
    with np.errstate(invalid="ignore"):
        return np.where(np.equal(a, b), 0.0, np.subtract(a, b))


def _recip(x: np.ndarray) -> np.ndarray:
    return 1.0 / x


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


MAP_OPERATORS: dict[str, MapOperator] = {
    op.name: op
    for op in (
        MapOperator("+", 2, "add", np.add, infix=True),
        MapOperator("-", 2, "add", _subtract, infix=True),
        MapOperator("*", 2, "mul", np.multiply, infix=True),
        MapOperator("/", 2, "div", np.divide, infix=True),
        MapOperator("neg", 1, "other", np.negative),
        MapOperator("max", 2, "max", np.maximum),
        MapOperator("min", 2, "max", np.minimum),
        MapOperator("exp", 1, "exp", np.exp),
        MapOperator("recip", 1, "div", _recip),
        MapOperator("abs", 1, "other", np.abs),
        MapOperator("sqrt", 1, "other", np.sqrt),
        MapOperator("log", 1, "other", np.log),
        MapOperator("gelu", 1, "gelu", _gelu),
    )
}

REDUCE_OPERATORS: dict[str, ReduceOperator] = {
    op.name: op
    for op in (
        ReduceOperator("+", "add", 0.0, np.sum),
        ReduceOperator("max", "max", -np.inf, np.max),
        ReduceOperator("min", "max", np.inf, np.min),
    )
}

UNION_OPERATORS = frozenset({"+", "max", "min"})
"""Binary map operators that merge sparse operands (absent counts as the identity); the
others propagate absence (EDGE's intersection)."""
