"""Print a cascade back to its text form or YAML wrapper (parse(print(c)) == c).

>>> from einsum import load
>>> print(to_text(load("three_pass")).splitlines()[2])
QK[m,p] = Q[e,p] * K[e,m]
"""

from __future__ import annotations

import yaml

from ._ir import Cascade, Const, Einsum, Expr, Next, Op, Ref, Zero
from ._operators import MAP_OPERATORS
from ._predicate import text_of

__all__ = ["expr_text", "to_text", "to_yaml"]

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def expr_text(expr: Expr, parent: int = 0, right: bool = False) -> str:
    """Text of an expression with the fewest parentheses that keep its tree."""
    if isinstance(expr, Ref | Const):
        text = str(expr)
        return f"({text})" if isinstance(expr, Const) and expr.value < 0 and parent else text
    assert isinstance(expr, Op)
    if expr.name == "neg":
        return f"-{expr_text(expr.args[0], 3)}"
    if MAP_OPERATORS[expr.name].infix:
        level = _PRECEDENCE[expr.name]
        left = expr_text(expr.args[0], level)
        rhs = expr_text(expr.args[1], level, right=True)
        text = f"{left} {expr.name} {rhs}"
        return f"({text})" if level < parent or (right and level == parent) else text
    return f"{expr.name}({', '.join(expr_text(a) for a in expr.args)})"


def einsum_text(e: Einsum) -> str:
    text = f"{e.output} = {expr_text(e.expr)}"
    if e.reduce_op is not None:
        text += f" reduce {e.reduce_op} over {', '.join(e.reduce_ranks)}"
    if e.where is not None:
        text += f" where {text_of(e.where)}"
    return text


def _initial_text(cascade: Cascade, tensor: str, value: float) -> str:
    out = cascade.einsum(tensor).output
    ref = Ref(tensor, tuple(Zero() if isinstance(i, Next) else i for i in out.indices))
    return f"{ref} = {Const(value)}"


def to_text(cascade: Cascade) -> str:
    """The whole cascade in the text form, declarations first."""
    lines = []
    if cascade.inputs:
        lines.append("input " + ", ".join(str(d) for d in cascade.inputs))
    if cascade.outputs:
        lines.append("output " + ", ".join(str(d) for d in cascade.outputs))
    lines += [str(s) for s in cascade.splits]
    lines += [f"{rank} = {value}" for rank, value in cascade.shapes]
    if cascade.stream != "M":
        lines.append(f"stream {cascade.stream}")
    lines += [_initial_text(cascade, i.tensor, i.value) for i in cascade.initial]
    lines += [einsum_text(e) for e in cascade.einsums]
    return "\n".join(lines) + "\n"


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def to_yaml(cascade: Cascade) -> str:
    """The YAML wrapper: metadata fields, then the text form under ``cascade``."""
    data: dict[str, object] = {"name": cascade.name}
    for key in ("title", "source", "description"):
        if getattr(cascade, key):
            data[key] = getattr(cascade, key)
    data["cascade"] = _Literal(to_text(cascade))
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100)
