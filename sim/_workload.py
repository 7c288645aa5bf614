"""What the cost rules need to know of a cascade at given shapes, computed once.

A :class:`Workload` holds the validated layout, the analysis (resolved sizes, computed
points, op counts, passes) and, per computing Einsum, the facts the cost rules read again
and again (its ranks, its operands traced through views, the rank it steps through). It is
built once per (cascade, shapes, batch, heads) and shared by the scalar evaluation, the
mapping search and the sweep, which evaluate thousands of mappings of the same workload.

>>> from einsum import load, model
>>> w = workload(load("fusemax"), model("bert").shapes(1024), batch=64, heads=12)
>>> w.instances, w.facts["QK"].ops, w.facts["QK"].ranks
(768, {'mac': 67108864}, ('M1', 'M0', 'P', 'E'))
>>> workload(load("fusemax"), model("bert").shapes(1024), batch=64, heads=12) is w
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from einsum import (
    Analysis,
    Bound,
    Cascade,
    CascadeError,
    Einsum,
    Layout,
    Loop,
    Ref,
    analyze,
    effective_conditions,
    rank_of,
    validate,
)

__all__ = ["MAX_POINTS", "EinsumFacts", "Operand", "Workload", "is_view", "workload"]

MAX_POINTS = 2**59
"""Most points (all instances) of one Einsum the cost rules count: cycles and words stay
within 64-bit integers with room for an op's cycles (XLM at 1M keys, batch 64, is 2**57)."""


@dataclass(frozen=True)
class Operand:
    """One read of an Einsum: the tensor it really reads (through views such as
    ``BK[e,m1,m0] = K[e,m1*M0+m0]``), the ranks of the read as the Einsum indexes them,
    and whether it reads a recurrence's final value (``RNV[M1,f,p]``)."""

    tensor: str
    source: str
    ranks: tuple[str, ...]
    final: bool


@dataclass(frozen=True)
class EinsumFacts:
    """An Einsum that computes, per (batch, head)."""

    name: str
    einsum: Einsum
    ranks: tuple[str, ...]
    """Iteration ranks, output first, as the Einsum iterates them (a rank may repeat)."""
    ops: dict[str, int]
    points: int
    """Points computed (fewer than ``dense`` under a where condition)."""
    dense: int
    operands: tuple[Operand, ...]
    reduced: frozenset[str]
    """Reduced ranks, with the ranks they split from and into."""
    stepping: str | None
    """The rank the Einsum steps through one element at a time (its recurrence's loop)."""
    masked: bool


@dataclass(frozen=True, eq=False)
class Workload:
    """A cascade at resolved sizes, for ``instances`` independent (batch, head) copies."""

    cascade: Cascade
    layout: Layout
    analysis: Analysis
    sizes: dict[str, int]
    instances: int
    facts: dict[str, EinsumFacts]
    """Einsums that compute, in cascade order (views and copies excluded)."""
    levels: dict[str, int]
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Results of the cost rules that depend only on the workload and a few hardware
    numbers, kept for the next mapping of the same workload (the search and sweeps)."""

    def words(self, ranks: tuple[str, ...]) -> int:
        return math.prod(self.sizes[r] for r in ranks)

    def related(self, ranks: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
        """Ranks, their split parts and the ranks they split from."""
        return _related(self.layout.splits, frozenset(ranks))

    @property
    def stream(self) -> frozenset[str]:
        return self.related((self.cascade.stream,))


def _related(splits: dict[str, tuple[str, str]], ranks: frozenset[str]) -> frozenset[str]:
    found = set(ranks)
    changed = True
    while changed:
        changed = False
        for whole, (outer, inner) in splits.items():
            group = {whole, outer, inner}
            if found & group and not group <= found:
                found |= group
                changed = True
    return frozenset(found)


def is_view(e: Einsum) -> bool:
    """A copy or re-indexing of one tensor (no arithmetic): it costs nothing itself."""
    return isinstance(e.expr, Ref) and not e.reduced_ranks


def _view_source(by_name: dict[str, Einsum], tensor: str) -> str:
    while tensor in by_name and is_view(by_name[tensor]):
        expr = by_name[tensor].expr
        assert isinstance(expr, Ref)
        tensor = expr.tensor
    return tensor


def workload(cascade: Cascade, shapes: Mapping[str, int], *, batch: int = 1,
             heads: int = 1) -> Workload:
    """The workload of ``cascade`` at ``shapes`` (remembered: ask again for free)."""
    return _workload(cascade, tuple(sorted(shapes.items())), batch, heads)


@lru_cache(maxsize=512)
def _workload(cascade: Cascade, shapes: tuple[tuple[str, int], ...], batch: int,
              heads: int) -> Workload:
    layout = validate(cascade)
    analysis = analyze(cascade, dict(shapes), batch=batch, heads=heads)
    sizes = analysis.shapes
    by_name = {e.name: e for e in cascade.einsums}
    stepping = {name: item.rank for item in layout.order if isinstance(item, Loop)
                for name in item.einsums}
    conditions = effective_conditions(cascade)
    facts = {}
    for e, cost in zip(cascade.einsums, analysis.einsums, strict=True):
        if not cost.ops or is_view(e):
            continue
        ranks = tuple(rank_of(v) for v in e.iteration_ranks)
        operands = tuple(
            Operand(ref.tensor, _view_source(by_name, ref.tensor),
                    tuple(rank_of(v) for v in ref.variables),
                    any(isinstance(i, Bound) for i in ref.indices))
            for ref in e.refs)
        facts[e.name] = EinsumFacts(
            name=e.name, einsum=e, ranks=ranks, ops=dict(cost.ops), points=cost.points,
            dense=math.prod(sizes[r] for r in ranks), operands=operands,
            reduced=_related(layout.splits, frozenset(rank_of(v) for v in e.reduced_ranks)),
            stepping=layout.iterative.get(e.name, stepping.get(e.name)),
            masked=conditions.get(e.name) is not None)
    largest = max((f.dense for f in facts.values()), default=1) * batch * heads
    if largest > MAX_POINTS:
        raise CascadeError(f"{cascade.name} at these shapes iterates over about "
                           f"2**{math.log2(largest):.1f} points; the cost model counts exactly "
                           "up to 2**59 (use a smaller sequence, batch or head count)",
                           file=cascade.file)
    return Workload(cascade, layout, analysis, sizes, batch * heads, facts,
                    {c.name: c.level for c in analysis.einsums})
