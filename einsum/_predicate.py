"""Predicates of sparse Einsums: ``QK[m,p] = Q[e,p] * K[e,m] where m <= p``.

An Einsum with a ``where`` clause is computed only at the points of its iteration space
where the condition holds; elsewhere its result is absent, which map operators propagate
and reductions skip (EDGE's sparse semantics), so masked attention needs the predicate only
where the mask starts. Conditions compare integer expressions of rank variables, whole
numbers and sizes (upper-case names: ranks or parameters such as a window W) with
``+ - * // %`` (floor division and modulo, as in Python), ``abs(x)``, ``log2(x)`` (floor,
log2(x) = -1 for x <= 0) and ``pow2(x)`` (2**x, 1 for x < 0), joined by ``and``, ``or``,
``not``. Arithmetic is exact: values that could leave int64 are computed with Python
integers, and dividing by zero is an error, never a silent 0.

>>> import numpy as np
>>> cond = Compare("<=", IVar("m"), IVar("p"))
>>> int(evaluate(cond, {"m": np.arange(3)[:, None], "p": np.arange(3)[None, :]}).sum())
6
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Union

import numpy as np

from ._errors import CascadeError

__all__ = ["EXACT", "MAX_POW2", "Both", "Compare", "Cond", "Either", "IAbs", "IExpr", "ILog2",
           "INum", "IOp", "IPow2", "ISize", "IVar", "Negation", "evaluate", "expr_text",
           "floor_log2", "power_of_two", "renamed", "sizes_of", "substituted", "text_of",
           "variables_of"]

MAX_POW2 = 4096
"""Largest exponent ``pow2`` accepts (its value is exact, a Python integer past int64)."""

EXACT = 2**60
"""Magnitude up to which int64 arithmetic is used; beyond it, Python integers (int64 would
wrap silently, and interval bounds need headroom for a product or a sum of two)."""


@dataclass(frozen=True)
class IVar:
    name: str


@dataclass(frozen=True)
class INum:
    value: int


@dataclass(frozen=True)
class ISize:
    name: str


@dataclass(frozen=True)
class IOp:
    op: str
    left: IExpr
    right: IExpr


@dataclass(frozen=True)
class IAbs:
    arg: IExpr


@dataclass(frozen=True)
class ILog2:
    arg: IExpr


@dataclass(frozen=True)
class IPow2:
    arg: IExpr


IExpr = Union[IVar, INum, ISize, IOp, IAbs, ILog2, IPow2]  # noqa: UP007 (a runtime alias)


@dataclass(frozen=True)
class Compare:
    op: str
    left: IExpr
    right: IExpr


@dataclass(frozen=True)
class Both:
    left: Cond
    right: Cond


@dataclass(frozen=True)
class Either:
    left: Cond
    right: Cond


@dataclass(frozen=True)
class Negation:
    arg: Cond


Cond = Union[Compare, Both, Either, Negation]  # noqa: UP007

_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal, "!=": np.not_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "//": np.floor_divide,
          "%": np.mod}


def _children(node: object) -> list[object]:
    if isinstance(node, IOp | Compare | Both | Either):
        return [node.left, node.right]
    if isinstance(node, IAbs | ILog2 | IPow2 | Negation):
        return [node.arg]
    return []


def _walk(node: object) -> list[object]:
    out = [node]
    for child in _children(node):
        out.extend(_walk(child))
    return out


def renamed(cond: Cond, names: Mapping[str, str]) -> Cond:
    """The condition with its rank variables renamed (a producer's mask read through a
    consumer's index variables)."""
    return substituted(cond, {old: IVar(new) for old, new in names.items()})


def substituted(cond: Cond, values: Mapping[str, IExpr]) -> Cond:
    """The condition with some rank variables replaced by expressions (a variable that one
    value of the others fixes, written as that value).

    >>> text_of(substituted(Compare("<=", IVar("m"), IVar("p")),
    ...                     {"m": IOp("//", IVar("p"), INum(2))}))
    'p // 2 <= p'
    """
    def visit(node: object) -> object:
        if isinstance(node, IVar):
            return values.get(node.name, node)
        if isinstance(node, INum | ISize):
            return node
        return replace(node, **{f.name: visit(getattr(node, f.name))  # type: ignore[arg-type]
                                for f in fields(node)  # type: ignore[arg-type]
                                if not isinstance(getattr(node, f.name), str)})
    return visit(cond)  # type: ignore[return-value]


def variables_of(cond: Cond) -> tuple[str, ...]:
    """Rank variables the condition reads, in order of appearance."""
    return tuple(dict.fromkeys(n.name for n in _walk(cond) if isinstance(n, IVar)))


def sizes_of(cond: Cond) -> tuple[str, ...]:
    """Sizes (ranks or parameters) the condition reads."""
    return tuple(dict.fromkeys(n.name for n in _walk(cond) if isinstance(n, ISize)))


def _magnitude(x: np.ndarray) -> int:
    return 0 if x.size == 0 else max(abs(int(x.min())), abs(int(x.max())))


def _wide(*xs: np.ndarray) -> bool:
    """Whether any operand is (or could make) a number past :data:`EXACT`."""
    return any(x.dtype == object or _magnitude(x) > EXACT for x in xs)


def floor_log2(x: np.ndarray) -> np.ndarray:
    """Exact ``floor(log2(x))`` elementwise, -1 for x <= 0 (int64 or Python integers).

    >>> floor_log2(np.array([0, 1, 2**53 - 1, 2**53])).tolist()
    [-1, 0, 52, 53]
    """
    x = np.asarray(x)
    if x.dtype == object:
        return np.asarray(np.frompyfunc(lambda v: int(v).bit_length() - 1, 1, 1)(
            np.maximum(x, 0)), dtype=object)
    positive = np.maximum(x, 1)
    # float64 rounds values near a power of two up to it: correct by one either way
    k = np.clip(np.floor(np.log2(positive.astype(np.float64))), 0, 62).astype(np.int64)
    k -= np.left_shift(np.int64(1), k) > positive
    k += (k < 62) & (np.left_shift(np.int64(1), np.minimum(k + 1, 62)) <= positive)
    return np.where(x > 0, k, -1)


def power_of_two(x: np.ndarray) -> np.ndarray:
    """Exact ``2**x`` elementwise, 1 for x < 0; int64 while x <= 61, else Python integers.

    >>> power_of_two(np.array([-2, 3, 70])).tolist()
    [1, 8, 1180591620717411303424]
    """
    x = np.asarray(x)
    if x.dtype != object and x.size and int(x.max()) <= 61:
        return np.left_shift(np.int64(1), np.maximum(x, 0).astype(np.int64))
    return np.asarray(np.frompyfunc(lambda v: 1 << max(int(v), 0), 1, 1)(x), dtype=object)


def _integer(expr: IExpr, env: Mapping[str, object], cond: Cond) -> np.ndarray:
    # numpy hands back a bare Python int from 0-d object arrays (np.abs, frompyfunc):
    # keep every intermediate an array so the width checks can read its dtype
    return np.asarray(_integer_value(expr, env, cond))


def _integer_value(expr: IExpr, env: Mapping[str, object], cond: Cond) -> object:
    if isinstance(expr, IVar | ISize):
        return np.asarray(env[expr.name])
    if isinstance(expr, INum):
        return np.asarray(expr.value)
    if isinstance(expr, IAbs):
        x = _integer(expr.arg, env, cond)
        return np.abs(x.astype(object) if _wide(x) else x)
    if isinstance(expr, ILog2):
        x = _integer(expr.arg, env, cond)
        return floor_log2(x.astype(object) if _wide(x) else x)
    if isinstance(expr, IPow2):
        x = _integer(expr.arg, env, cond)
        if x.size and int(x.max()) > MAX_POW2:
            raise CascadeError(f"where {text_of(cond)} needs pow2 of up to {int(x.max())}, "
                               f"more than pow2({MAX_POW2})")
        return power_of_two(x)
    assert isinstance(expr, IOp)
    a = _integer(expr.left, env, cond)
    b = _integer(expr.right, env, cond)
    if expr.op in ("//", "%") and bool(np.any(b == 0)):
        raise CascadeError(f"where {text_of(cond)} divides by zero "
                           f"({_itext(expr.right)} is 0 at some point)")
    reach = _magnitude(a) * _magnitude(b) if expr.op == "*" else _magnitude(a) + _magnitude(b)
    if _wide(a, b) or reach > EXACT:   # the result could pass int64: Python integers
        a, b = a.astype(object), b.astype(object)
    return np.asarray(_ARITH[expr.op](a, b))


def evaluate(cond: Cond, env: Mapping[str, object]) -> np.ndarray:
    """The condition over broadcastable integer arrays (variables) and sizes.

    Every operand is evaluated at every point (``and``/``or`` do not short-circuit), so a
    zero divisor anywhere is a :class:`CascadeError`.
    """
    return _truth(cond, env, cond)


def _truth(cond: Cond, env: Mapping[str, object], whole: Cond) -> np.ndarray:
    if isinstance(cond, Compare):
        return np.asarray(_COMPARE[cond.op](_integer(cond.left, env, whole),
                                            _integer(cond.right, env, whole)))
    if isinstance(cond, Both):
        return _truth(cond.left, env, whole) & _truth(cond.right, env, whole)
    if isinstance(cond, Either):
        return _truth(cond.left, env, whole) | _truth(cond.right, env, whole)
    assert isinstance(cond, Negation)
    return ~_truth(cond.arg, env, whole)


def expr_text(expr: IExpr) -> str:
    """An integer expression in the notation.

    >>> expr_text(IOp("-", IVar("p"), IOp("*", IVar("m"), ISize("W"))))
    'p - m * W'
    """
    return _itext(expr)


def _itext(expr: IExpr, parent: int = 0) -> str:
    if isinstance(expr, IVar | ISize):
        return expr.name
    if isinstance(expr, INum):
        return str(expr.value)
    if isinstance(expr, IAbs | ILog2 | IPow2):
        word = {IAbs: "abs", ILog2: "log2", IPow2: "pow2"}[type(expr)]
        return f"{word}({_itext(expr.arg)})"
    level = 1 if expr.op in "+-" else 2
    text = f"{_itext(expr.left, level)} {expr.op} {_itext(expr.right, level + 1)}"
    return f"({text})" if level < parent else text


def text_of(cond: Cond, parent: int = 0) -> str:
    """The condition in the notation (parenthesised only where needed)."""
    if isinstance(cond, Compare):
        return f"{_itext(cond.left)} {cond.op} {_itext(cond.right)}"
    if isinstance(cond, Negation):
        return f"not {text_of(cond.arg, 3)}"
    level = 1 if isinstance(cond, Either) else 2
    word = "or" if isinstance(cond, Either) else "and"
    text = f"{text_of(cond.left, level)} {word} {text_of(cond.right, level)}"
    return f"({text})" if level < parent else text
