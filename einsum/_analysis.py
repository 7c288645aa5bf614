"""Analysis of a cascade: passes, op counts, footprints and live on-chip state.

Ops are counted per point of an Einsum's iteration space: ``a*b`` summed over a reduced
rank, or ``a*b + c``, is one MAC; ``exp(a - b)`` is one exp; every other operator is one
op of its kind (a subtraction is an add).

Passes follow FuseMax's definition: a full reduction over the streamed rank M (a tensor
with no M rank that depends on every m) consumed by a later Einsum that iterates over M is
a pass boundary; passes = 1 + the most boundaries on any dependency chain. Tile-rank
reductions (over m0) and recurrences over an iterative rank are no boundary. With a split
``M -> M1, M0`` the walked ranks are M and M1: a tensor that has neither but depends on
every m1 (a reduction over m1, or the upper-bound read ``RNV[M1,f,p]``) is a full one.

>>> from einsum import load
>>> passes(load("three_pass")), passes(load("two_pass_online")), passes(load("fusemax"))
(3, 2, 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._ir import Bound, Cascade, Einsum, Expr, Op, Ref, rank_of
from ._operators import MAP_OPERATORS, OP_KINDS, REDUCE_OPERATORS
from ._printer import einsum_text
from ._shapes import resolve_shapes
from ._sparsity import computed_points
from ._validate import Layout, validate

__all__ = [
    "Analysis",
    "EinsumCost",
    "analyze",
    "op_counts",
    "pass_levels",
    "passes",
]


# ----- passes


def _iteration_ranks(e: Einsum) -> set[str]:
    return {rank_of(v) for v in e.iteration_ranks}


def _pass_facts(cascade: Cascade, layout: Layout) -> tuple[dict[str, int], dict[str, bool],
                                                            dict[str, list[str]]]:
    stream = layout.walked_ranks(cascade.stream)

    def summary_read(ref: Ref) -> bool:
        bound = any(isinstance(i, Bound) and i.rank in stream for i in ref.indices)
        return bound or summary.get(ref.tensor, False)

    level = {name: 1 for name in layout.ranks}
    summary: dict[str, bool] = {}
    waits: dict[str, list[str]] = {e.name: [] for e in cascade.einsums}
    changed = True
    while changed:  # levels only grow and are bounded, so this settles
        changed = False
        for e in cascade.einsums:
            streams = bool(_iteration_ranks(e) & stream)
            out_streams = bool(set(layout.ranks[e.name]) & stream)
            new_level, new_waits = 1, []
            for ref in e.refs:
                boundary = streams and summary_read(ref)
                new_level = max(new_level, level[ref.tensor] + boundary)
                if boundary:
                    new_waits.append(ref.tensor)
            is_summary = not out_streams and (streams or any(summary_read(r) for r in e.refs))
            if new_level != level[e.name] or summary.get(e.name) != is_summary:
                changed = True
            level[e.name], summary[e.name] = new_level, is_summary
            waits[e.name] = sorted(set(new_waits))
    return {e.name: level[e.name] for e in cascade.einsums}, summary, waits


def pass_levels(cascade: Cascade) -> dict[str, int]:
    """The pass (1-based) in which each Einsum can run."""
    return _pass_facts(cascade, validate(cascade))[0]


def passes(cascade: Cascade) -> int:
    """Lower bound on traversals of the streamed rank (FuseMax Sec. 3)."""
    return max(pass_levels(cascade).values())


# ----- op counts


def _count_expr(expr: Expr, points: int, counts: Counter[str]) -> None:
    if not isinstance(expr, Op):
        return
    args = list(expr.args)
    if expr.name == "exp" and isinstance(args[0], Op) and args[0].name == "-":
        # exp(a - b) is one exp: the subtraction is the range reduction's own add
        # (FuseMax's exp is 6 MAC + 1 add; FLAT's exp unit takes the difference).
        counts["exp"] += points
        args = list(args[0].args)
    elif expr.name == "+" and any(isinstance(a, Op) and a.name == "*" for a in args):
        product = next(a for a in args if isinstance(a, Op) and a.name == "*")
        assert isinstance(product, Op)
        counts["mac"] += points  # a*b + c is one multiply-accumulate
        args.remove(product)
        args.extend(product.args)
    else:
        counts[MAP_OPERATORS[expr.name].kind] += points
    for arg in args:
        _count_expr(arg, points, counts)


def einsum_ops(e: Einsum, points: int) -> Counter[str]:
    """Ops of one Einsum, by kind, when its iteration space has ``points`` points."""
    counts: Counter[str] = Counter()
    expr = e.expr
    if e.reduced_ranks:
        if e.reduction == "+" and isinstance(expr, Op) and expr.name == "*":
            counts["mac"] += points
            for arg in expr.args:
                _count_expr(arg, points, counts)
            return counts
        counts[REDUCE_OPERATORS[e.reduction].kind] += points
    _count_expr(expr, points, counts)
    return counts


def _product(ranks: list[str], shapes: Mapping[str, int]) -> int:
    total = 1
    for r in ranks:
        total *= shapes[r]
    return total


@dataclass(frozen=True)
class EinsumCost:
    name: str
    text: str
    points: int
    """Size of the iteration space (output ranks x reduced ranks)."""
    ops: dict[str, int]
    level: int
    waits_for: tuple[str, ...]


def op_counts(cascade: Cascade, shapes: Mapping[str, int]) -> dict[str, int]:
    """Total ops of one (batch, head) by kind, for fully resolved ``shapes``."""
    total: Counter[str] = Counter()
    points = computed_points(cascade, shapes)
    for e in cascade.einsums:
        total += einsum_ops(e, points[e.name])
    return {kind: total.get(kind, 0) for kind in OP_KINDS}


# ----- footprints and live state


def _term(ranks: list[str]) -> str:
    return "*".join(ranks) if ranks else "1"


def _sum_text(terms: list[tuple[str, ...]]) -> str:
    counted = Counter(terms)
    parts = []
    for ranks, n in sorted(counted.items(), key=lambda t: (-len(t[0]), t[0])):
        text = _term(list(ranks))
        parts.append(text if n == 1 else (f"{n}" if text == "1" else f"{n}*{text}"))
    return " + ".join(parts) if parts else "0"


@dataclass(frozen=True)
class Analysis:
    """Everything ``cascade analyze`` reports, for one (batch, head) and in total."""

    cascade: str
    shapes: dict[str, int]
    batch: int
    heads: int
    passes: int
    ops: dict[str, int]
    einsums: tuple[EinsumCost, ...]
    footprints: dict[str, dict[str, object]]
    live_state: dict[str, object]
    boundaries: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        instances = self.batch * self.heads
        return {
            "cascade": self.cascade,
            "shapes": self.shapes,
            "batch": self.batch,
            "heads": self.heads,
            "passes": self.passes,
            "pass_boundaries": list(self.boundaries),
            "ops_per_head": self.ops,
            "ops_total": {k: v * instances for k, v in self.ops.items()},
            "einsums": [
                {"name": c.name, "einsum": c.text, "points": c.points, "ops": c.ops,
                 "pass": c.level, "waits_for": list(c.waits_for)}
                for c in self.einsums
            ],
            "footprints": self.footprints,
            "live_state": self.live_state,
        }


def _accumulators(cascade: Cascade, layout: Layout, stream: frozenset[str]) -> list[str]:
    """Einsums that reduce over a walked stream rank into a tensor without one.

    Such a sum (linear attention's ``KV[e,f]``, a pass's ``SD[p]``) takes a contribution
    from every step of the stream and is read only once the stream has ended, so it stays
    on chip the whole time, like a recurrence's state. A reduction over a tile rank (m0)
    or one whose output keeps a walked rank (``LM[m1,p]``) is finished within its step.
    """
    return [e.name for e in cascade.einsums
            if {rank_of(v) for v in e.reduced_ranks} & stream
            and not set(layout.ranks[e.name]) & stream]


def _live_state(cascade: Cascade, layout: Layout, levels: dict[str, int],
                shapes: Mapping[str, int]) -> dict[str, object]:
    """Words on chip while the stream rank goes by, and which tensors they hold.

    ``carried``: recurrences over the stream (their state, without the iterative rank);
    ``resident``: tensors without a stream rank read while streaming (Q, a global max);
    ``buffered_between_passes``: stream-indexed tensors a later pass reads again;
    ``accumulated``: reductions over the stream read after it (see :func:`_accumulators`).
    A tensor in two lists (``GM[p]`` is accumulated in pass 1, resident in pass 2) counts
    once in ``words`` and ``expr``.
    """
    stream = layout.walked_ranks(cascade.stream)
    names: dict[str, list[str]] = {"carried": [], "resident": [], "buffered": []}
    held: dict[str, tuple[str, ...]] = {}  # tensor -> the ranks it holds on chip
    for tensor, rank in layout.iterative.items():
        if rank in stream:
            held[tensor] = tuple(r for r in layout.ranks[tensor] if r != rank)
            names["carried"].append(tensor)
    for e in cascade.einsums:
        if not _iteration_ranks(e) & stream:
            continue
        for ref in e.refs:
            ranks = layout.ranks[ref.tensor]
            if ref.tensor in names["resident"] or ref.tensor in layout.iterative:
                continue
            if not set(ranks) & stream:
                held.setdefault(ref.tensor, tuple(ranks))
                names["resident"].append(ref.tensor)
    for e in cascade.einsums:
        for ref in e.refs:
            producer = levels.get(ref.tensor)
            ranks = layout.ranks[ref.tensor]
            walks_stream = {rank_of(v) for v in ref.variables} & stream
            if (producer is not None and levels[e.name] > producer and walks_stream
                    and ref.tensor not in names["buffered"]):
                held.setdefault(ref.tensor, tuple(ranks))
                names["buffered"].append(ref.tensor)
    accumulated = _accumulators(cascade, layout, stream)
    for tensor in accumulated:
        held.setdefault(tensor, layout.ranks[tensor])
    terms = list(held.values())
    words = sum(_product(list(t), shapes) for t in terms)
    result: dict[str, object] = {
        "words": words,
        "expr": _sum_text(terms),
        "carried": names["carried"],
        "resident": names["resident"],
        "buffered_between_passes": names["buffered"],
        "accumulated": accumulated,
        "grows_with_stream": any(set(t) & stream for t in terms),
    }
    if terms and all("P" in t for t in terms):
        result["per_query_row"] = _sum_text([tuple(r for r in t if r != "P") for t in terms])
    return result


def analyze(cascade: Cascade, shapes: Mapping[str, int], *, batch: int = 1,
            heads: int = 1) -> Analysis:
    """Passes, ops, footprints and live state at ``shapes`` (defaults and splits filled in).

    >>> from einsum import load
    >>> a = analyze(load("fusemax"), {"E": 64, "F": 64, "M": 1024, "P": 1024})
    >>> a.passes, a.live_state["per_query_row"]
    (1, 'E + F + 2')
    """
    layout = validate(cascade)
    sizes = resolve_shapes(cascade, shapes)
    levels, _summary, waits = _pass_facts(cascade, layout)
    costs = []
    computed = computed_points(cascade, sizes)
    for e in cascade.einsums:
        points = computed[e.name]
        costs.append(EinsumCost(e.name, einsum_text(e), points, dict(einsum_ops(e, points)),
                                levels[e.name], tuple(waits[e.name])))
    footprints: dict[str, dict[str, object]] = {}
    for tensor, ranks in layout.ranks.items():
        grown = [f"({r}+1)" if layout.iterative.get(tensor) == r else r for r in ranks]
        words = _product(list(ranks), sizes)
        if tensor in layout.iterative:
            words = words // sizes[layout.iterative[tensor]] * (sizes[layout.iterative[tensor]]
                                                                 + 1)
        footprints[tensor] = {"ranks": list(ranks), "expr": _term(grown), "words": words}
    boundaries = tuple(f"{name} waits for {', '.join(waits[name])}" for name in levels
                       if waits[name])
    return Analysis(
        cascade=cascade.name,
        shapes=sizes,
        batch=batch,
        heads=heads,
        passes=max(levels.values()),
        ops=op_counts(cascade, sizes),
        einsums=tuple(costs),
        footprints=footprints,
        live_state=_live_state(cascade, layout, levels, sizes),
        boundaries=boundaries,
    )
