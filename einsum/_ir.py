"""Typed IR of an extended-Einsum cascade (EDGE notation, as FuseMax uses it).

Rank variables are lower case (``m1``); the rank they index is the same name in upper
case (``M1``), which is also its shape. A tensor's ranks are ordered. An index is one of

* ``Var("m")``: the rank variable itself;
* ``Next("m")``: ``m+1``, the step after ``m`` of an iterative rank;
* ``Bound("M")``: the upper bound, the final value of an iterative rank;
* ``Zero()``: ``0``, only in an initial-value declaration;
* ``Compose("m1", "M0", "m0")``: ``m1*M0+m0``, reading a split rank through its parts.

Example:

>>> e = Einsum(output=Ref("GM", (Var("p"),)), expr=Ref("QK", (Var("m"), Var("p"))),
...            reduce_op="max", reduce_ranks=("m",))
>>> e.reduced_ranks
('m',)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from ._predicate import Cond

__all__ = [
    "Bound",
    "Cascade",
    "Compose",
    "Const",
    "Einsum",
    "Expr",
    "Index",
    "Initial",
    "Next",
    "Op",
    "Ref",
    "Split",
    "TensorDecl",
    "Var",
    "Zero",
    "rank_of",
]


def rank_of(variable: str) -> str:
    """The rank (and shape) name a rank variable indexes: ``rank_of("m1") == "M1"``."""
    return variable.upper()


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Next:
    name: str

    def __str__(self) -> str:
        return f"{self.name}+1"


@dataclass(frozen=True)
class Bound:
    rank: str

    def __str__(self) -> str:
        return self.rank


@dataclass(frozen=True)
class Zero:
    def __str__(self) -> str:
        return "0"


@dataclass(frozen=True)
class Compose:
    outer: str
    tile: str
    inner: str

    def __str__(self) -> str:
        return f"{self.outer}*{self.tile}+{self.inner}"


Index = Var | Next | Bound | Zero | Compose


def _variables(index: Index) -> tuple[str, ...]:
    if isinstance(index, Var | Next):
        return (index.name,)
    if isinstance(index, Compose):
        return (index.outer, index.inner)
    return ()


@dataclass(frozen=True)
class Ref:
    """A tensor read or written at an index tuple, e.g. ``RM[m1+1,p]``."""

    tensor: str
    indices: tuple[Index, ...]

    @cached_property
    def variables(self) -> tuple[str, ...]:
        """Rank variables this reference iterates over, in order, without repeats."""
        seen: dict[str, None] = {}
        for index in self.indices:
            for name in _variables(index):
                seen.setdefault(name, None)
        return tuple(seen)

    def __str__(self) -> str:
        return f"{self.tensor}[{','.join(str(i) for i in self.indices)}]"


@dataclass(frozen=True)
class Const:
    value: float

    def __str__(self) -> str:
        if math.isinf(self.value):
            return "inf" if self.value > 0 else "-inf"
        if float(self.value).is_integer() and abs(self.value) < 1e15:
            return str(int(self.value))
        return repr(float(self.value))


@dataclass(frozen=True)
class Op:
    """A map operator applied element-wise: ``Op("exp", (x,))``, ``Op("-", (a, b))``."""

    name: str
    args: tuple[Expr, ...]


Expr = Ref | Const | Op


def refs_of(expr: Expr) -> tuple[Ref, ...]:
    """Every tensor reference in an expression, left to right."""
    if isinstance(expr, Ref):
        return (expr,)
    if isinstance(expr, Op):
        return tuple(r for a in expr.args for r in refs_of(a))
    return ()


@dataclass(frozen=True)
class Einsum:
    """``output = expr`` with ranks absent from the output reduced by ``reduce_op``.

    ``reduce_op`` is None when the line names no reduction; every reduced rank is then
    reduced with ``+``, the EDGE default.
    """

    output: Ref
    expr: Expr
    reduce_op: str | None = None
    reduce_ranks: tuple[str, ...] = ()
    where: Cond | None = None
    """Compute only where this holds (see ``einsum/_predicate.py``); elsewhere absent."""
    line: int | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.output.tensor

    @cached_property
    def refs(self) -> tuple[Ref, ...]:
        return refs_of(self.expr)

    @cached_property
    def reduced_ranks(self) -> tuple[str, ...]:
        """Rank variables read on the right but absent on the left, in order of appearance."""
        out = set(self.output.variables)
        seen: dict[str, None] = {}
        for ref in self.refs:
            for name in ref.variables:
                if name not in out:
                    seen.setdefault(name, None)
        return tuple(seen)

    @cached_property
    def iteration_ranks(self) -> tuple[str, ...]:
        """Output rank variables followed by the reduced ones."""
        return self.output.variables + self.reduced_ranks

    @property
    def reduction(self) -> str:
        """The reduction operator actually applied (``+`` by default)."""
        return self.reduce_op or "+"


@dataclass(frozen=True)
class TensorDecl:
    """An input or output of the cascade with its ordered ranks: ``Q[e,p]``."""

    name: str
    ranks: tuple[str, ...]
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.name}[{','.join(r.lower() for r in self.ranks)}]"


@dataclass(frozen=True)
class Split:
    """``M -> M1, M0``: the rank ``whole`` is walked as ``outer`` tiles of ``inner``."""

    whole: str
    outer: str
    inner: str
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.whole} -> {self.outer}, {self.inner}"


@dataclass(frozen=True)
class Initial:
    """``RM[0,p] = -inf``: the value of an iterative tensor before its first step."""

    tensor: str
    value: float
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Cascade:
    """A validated-or-not cascade; :func:`einsum.validate` checks it."""

    name: str
    einsums: tuple[Einsum, ...]
    inputs: tuple[TensorDecl, ...] = ()
    outputs: tuple[TensorDecl, ...] = ()
    initial: tuple[Initial, ...] = ()
    splits: tuple[Split, ...] = ()
    shapes: tuple[tuple[str, int], ...] = ()
    stream: str = "M"
    title: str = ""
    source: str = ""
    description: str = ""
    file: str | None = field(default=None, compare=False)

    def __hash__(self) -> int:
        # Caches key on cascades (validation, analysis, workloads); hashing the whole tree
        # each time costs more than the lookups save.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.name, self.einsums, self.inputs, self.outputs, self.initial,
                           self.splits, self.shapes, self.stream))
            object.__setattr__(self, "_hash", cached)
        return cached

    @cached_property
    def _by_name(self) -> dict[str, Einsum]:
        return {e.name: e for e in self.einsums}

    def einsum(self, tensor: str) -> Einsum:
        """The Einsum that defines ``tensor``."""
        return self._by_name[tensor]

    @property
    def initial_values(self) -> dict[str, float]:
        return {i.tensor: i.value for i in self.initial}

    @property
    def default_shapes(self) -> dict[str, int]:
        return dict(self.shapes)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.outputs)
