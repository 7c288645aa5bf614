"""Predicates of sparse Einsums: ``QK[m,p] = Q[e,p] * K[e,m] where m <= p``.

An Einsum with a ``where`` clause is computed only at the points of its iteration space
where the condition holds; elsewhere its result is absent, which map operators propagate
and reductions skip (EDGE's sparse semantics), so masked attention needs the predicate only
where the mask starts. Conditions compare integer expressions of rank variables, whole
numbers and sizes (upper-case names: ranks or parameters such as a window W) with
``+ - * // %``, ``abs(x)``, ``log2(x)`` (floor, log2(0) = -1) and ``pow2(x)`` (2**x, x >= 0),
joined by ``and``, ``or``, ``not``.

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

__all__ = ["Both", "Compare", "Cond", "Either", "IAbs", "IExpr", "ILog2", "INum", "IOp",
           "IPow2", "ISize", "IVar", "Negation", "evaluate", "renamed", "sizes_of", "text_of",
           "variables_of"]


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
    def visit(node: object) -> object:
        if isinstance(node, IVar):
            return IVar(names[node.name])
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


def _integer(expr: IExpr, env: dict[str, object]) -> object:
    if isinstance(expr, IVar | ISize):
        return env[expr.name]
    if isinstance(expr, INum):
        return expr.value
    if isinstance(expr, IAbs):
        return np.abs(_integer(expr.arg, env))
    if isinstance(expr, ILog2):
        x = np.asarray(_integer(expr.arg, env), dtype=np.int64)
        return np.where(x > 0, np.floor(np.log2(np.maximum(x, 1))).astype(np.int64), -1)
    if isinstance(expr, IPow2):
        x = np.asarray(_integer(expr.arg, env), dtype=np.int64)
        return np.left_shift(np.int64(1), np.clip(x, 0, 62))
    assert isinstance(expr, IOp)
    return _ARITH[expr.op](_integer(expr.left, env), _integer(expr.right, env))


def evaluate(cond: Cond, env: dict[str, object]) -> np.ndarray:
    """The condition over broadcastable integer arrays (variables) and sizes."""
    if isinstance(cond, Compare):
        return np.asarray(_COMPARE[cond.op](_integer(cond.left, env),
                                            _integer(cond.right, env)))
    if isinstance(cond, Both):
        return evaluate(cond.left, env) & evaluate(cond.right, env)
    if isinstance(cond, Either):
        return evaluate(cond.left, env) | evaluate(cond.right, env)
    assert isinstance(cond, Negation)
    return ~evaluate(cond.arg, env)


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
