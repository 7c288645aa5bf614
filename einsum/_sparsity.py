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

Counting is exact and works by blocks, not points, so a mask over a million keys and a
million queries takes milliseconds. The grid of the condition's variables is split into
boxes; interval arithmetic on the integer expressions decides per box whether the condition
holds everywhere (the whole box counts), nowhere (skipped) or partly (the box is split).
Many boxes are handled at once with numpy. Along the way:

* a comparison decided on a box stays decided on its sub-boxes, and a variable that no
  undecided comparison still reads is dropped from the box (its extent becomes a weight);
* a box is moved toward the origin along any direction that leaves its undecided
  comparisons unchanged (``m - p`` along (1, 1), ``m // B - p // B`` by steps of B), so the
  boxes along a diagonal, a band or a block diagonal coincide, and identical boxes merge:
  the work grows with the number of distinct shapes of the mask's edge, not its length;
* a conjunction of conditions on disjoint variables is counted as a product of counts;
* a variable read only as ``x % K`` is folded to one period;
* a variable that occurs once, as ``x == f(...)`` with a solution in range for every other
  value, is eliminated (one x satisfies it, the others do not);
* a box whose undecided comparisons are linear in one variable x is solved row by row: the
  condition changes value only where some comparison changes, at most twice per comparison,
  so each row costs a few evaluations however long it is;
* small boxes are counted point by point;
* while boxes are few, each is cut in up to eight pieces per variable, not two (a step
  costs about the same for one box or a thousand, so fewer steps reach the leaves).

:func:`touched` asks the same question of tiles (loop blocks) instead of points: which
blocks hold at least one computed point. A block's points are found without deciding the
blocks one by one: the offsets within a block are eliminated, exactly (Fourier-Motzkin over
the integers, with ``//``, ``%``, ``abs``, ``!=`` and few-valued ``log2``, ``pow2`` and
factors rewritten into linear cases), leaving a condition on block indices whose points are
counted as above. A million blocks of one query each, a whole key range apiece, is then one
count over a million points, not a million searches.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import product
from typing import cast

import numpy as np

from ._errors import CascadeError
from ._ir import Cascade, Einsum, Expr, Op, Var, rank_of
from ._operators import UNION_OPERATORS
from ._predicate import (
    EXACT,
    MAX_POW2,
    Both,
    Compare,
    Cond,
    Either,
    IAbs,
    IExpr,
    ILog2,
    INum,
    IOp,
    IPow2,
    ISize,
    IVar,
    Negation,
    evaluate,
    expr_text,
    floor_log2,
    power_of_two,
    renamed,
    sizes_of,
    substituted,
    text_of,
    variables_of,
)

__all__ = ["MAX_WORK", "computed_points", "effective_conditions", "touched"]

MAX_WORK = 2**24
"""Most boxes, rows and points one condition may take to count; a condition so irregular
that it needs more (nearly every point decided on its own) is refused."""

_LEAF = 64
"""Boxes of at most this many points are counted point by point."""

_ROWS = 128
"""Boxes linear in one variable are solved row by row once they have at most this many rows
(small, so that more boxes are first moved onto each other and merged)."""

_SEARCH = 4096
"""Points (or rows) up to which a box searched for one holding point is evaluated whole:
such boxes never merge, so fewer, larger leaves are cheaper."""

_CHUNK = 1 << 15
"""Boxes evaluated together (bounds the memory of one step)."""

_WAYS = 8
"""Most pieces a box is cut into along one variable in one step."""

_FEW_BOXES = 1024
"""Boxes a step may cut into (more pieces per box while they are fewer than this)."""


def _merges(expr: Expr) -> bool:
    if not isinstance(expr, Op):
        return False
    return (expr.name in UNION_OPERATORS and len(expr.args) == 2) or \
        any(_merges(a) for a in expr.args)


def effective_conditions(cascade: Cascade) -> dict[str, Cond | None]:
    """Per Einsum, the condition under which it computes a point (None: everywhere).

    >>> from einsum import parse_text
    >>> c = parse_text('''QK[m,p] = Q[e,p] * K[e,m] where m <= p
    ... GM[p] = QK[m,p] reduce max over m''', name="demo")
    >>> {name: cond and text_of(cond) for name, cond in effective_conditions(c).items()}
    {'QK': 'm <= p', 'GM': 'm <= p'}
    """
    return dict(_effective(cascade))


@lru_cache(maxsize=256)
def _effective(cascade: Cascade) -> tuple[tuple[str, Cond | None], ...]:
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
    return tuple(result.items())


# ----- public entry points


def computed_points(cascade: Cascade, sizes: Mapping[str, int]) -> dict[str, int]:
    """Points each Einsum computes at fully resolved ``sizes``."""
    conds = dict(_effective(cascade))
    out = {}
    for e in cascade.einsums:
        ranks = [rank_of(v) for v in e.iteration_ranks]
        out[e.name] = _weigh(cascade, e, conds[e.name], sizes, dict.fromkeys(ranks, 1), ranks)
    return out


def touched(cascade: Cascade, einsum_name: str, sizes: Mapping[str, int],
            blocks: Mapping[str, int], measure: Iterable[str]) -> int:
    """Sum, over the blocks of ``einsum_name``'s iteration space that hold at least one
    computed point, of the block's extent along the ``measure`` ranks.

    Each rank named in ``blocks`` is split into blocks of that size (the last one ragged);
    any other rank is one whole block. A measured rank contributes the block's extent along
    it, an unmeasured one 1, so a tensor read by a masked Einsum is charged only for the
    loop tiles that compute something. With causal ``m <= p`` and 2 x 2 blocks of a 4 x 4
    grid, three blocks are touched, each 2 keys wide:

    >>> from einsum import parse_text
    >>> c = parse_text("QK[m,p] = Q[e,p] * K[e,m] where m <= p", name="demo")
    >>> touched(c, "QK", {"E": 8, "M": 4, "P": 4}, {"P": 2, "M": 2}, ["M"])
    6
    >>> touched(c, "QK", {"E": 8, "M": 4, "P": 4}, {"P": 1, "M": 1}, ["M", "P"])
    10
    """
    names = [e.name for e in cascade.einsums]
    if einsum_name not in names:
        raise CascadeError(f"{cascade.name} has no Einsum {einsum_name} "
                           f"(its Einsums: {', '.join(names)})", file=cascade.file)
    e = cascade.einsum(einsum_name)
    ranks = [rank_of(v) for v in e.iteration_ranks]
    measured = list(dict.fromkeys(measure))
    for rank in measured:
        if rank not in ranks:
            raise CascadeError(f"{einsum_name} does not iterate over rank {rank}, so it cannot "
                               f"be measured (its ranks: {', '.join(ranks)})",
                               file=cascade.file, line=e.line)
    for rank, size in blocks.items():
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise CascadeError(f"block size of rank {rank} must be a whole number >= 1, "
                               f"not {size!r}")
    cond = dict(_effective(cascade))[einsum_name]
    return _weigh(cascade, e, cond, sizes, blocks, measured)


# ----- from an Einsum to counting problems


class _TooIrregular(Exception):
    """A condition would need more than MAX_WORK boxes to count."""


def _size(sizes: Mapping[str, int], name: str, cascade: Cascade, e: Einsum) -> int:
    if name not in sizes:
        raise CascadeError(f"no size for {name}, which {e.name} needs", file=cascade.file,
                           line=e.line)
    return int(sizes[name])


def _weigh(cascade: Cascade, e: Einsum, cond: Cond | None, sizes: Mapping[str, int],
           blocks: Mapping[str, int], measure: Sequence[str]) -> int:
    """The touched measure of ``e`` under ``cond`` (see :func:`touched`)."""
    n = {v: _size(sizes, rank_of(v), cascade, e) for v in e.iteration_ranks}
    tile = {v: max(1, min(int(blocks.get(rank_of(v), n[v])), n[v])) for v in n}
    meas = {v: rank_of(v) in measure for v in n}
    if any(size < 1 for size in n.values()):
        return 0
    used = set() if cond is None else set(variables_of(cond))
    total = 1
    for v in n:   # a rank the condition does not read: every block of it counts
        if v not in used:
            total *= n[v] if meas[v] else -(-n[v] // tile[v])
    if cond is None:
        return total
    values = {name: _size(sizes, name, cascade, e) for name in sizes_of(cond)}
    try:
        _precheck(cond, tuple((v, n[v]) for v in variables_of(cond)),
                  tuple(sorted(values.items())))
        for variables, canonical, names in _parts(cond):
            if not variables:   # a condition on parameters only
                if not bool(evaluate(canonical, values)):
                    return 0
                continue
            params = tuple((k, values[k]) for k in names)
            total *= _solve(canonical, tuple(n[v] for v in variables),
                            tuple(tile[v] for v in variables),
                            tuple(meas[v] for v in variables), params)
            if total == 0:
                return 0
    except CascadeError as error:
        raise CascadeError(f"{e.name}: {error.message}", file=cascade.file,
                           line=e.line) from None
    except _TooIrregular:
        raise CascadeError(f"{e.name}: where {text_of(cond)} is too irregular to count at "
                           f"these sizes (more than {MAX_WORK:,} blocks); analyse at a "
                           f"smaller shape", file=cascade.file, line=e.line) from None
    except OverflowError:
        # Some step of the block counter still works in 64-bit integers: a value past them
        # (pow2 of a large size, say) is refused plainly rather than miscounted.
        raise CascadeError(f"{e.name}: where {text_of(cond)} needs integers past 64 bits "
                           "that the block counter cannot follow; analyse at a smaller shape",
                           file=cascade.file, line=e.line) from None
    return total


def _conjuncts(cond: Cond) -> list[Cond]:
    if isinstance(cond, Both):
        return _conjuncts(cond.left) + _conjuncts(cond.right)
    return [cond]


@lru_cache(maxsize=1024)
def _parts(cond: Cond) -> tuple[tuple[tuple[str, ...], Cond, tuple[str, ...]], ...]:
    """The components of ``cond``: their variables, the component with its variables
    renamed v0, v1, ... (one cache entry however a cascade names them), and the sizes it
    reads."""
    out = []
    for part in _components(cond):
        variables = variables_of(part)
        canonical = renamed(part, {v: f"v{i}" for i, v in enumerate(variables)})
        out.append((variables, canonical, tuple(sorted(sizes_of(part)))))
    return tuple(out)


def _components(cond: Cond) -> list[Cond]:
    """The conjuncts of ``cond`` grouped so that groups share no variable: the count of the
    whole is the product of the groups' counts (a 2-D neighbourhood is two 1-D windows)."""
    parts = list(dict.fromkeys(_conjuncts(cond)))   # `c and c` is c
    groups: list[tuple[set[str], list[Cond]]] = []
    for part in parts:
        names = set(variables_of(part))
        joined = [g for g in groups if g[0] & names]
        merged = (names.union(*(g[0] for g in joined)),
                  [c for g in joined for c in g[1]] + [part])
        groups = [g for g in groups if not g[0] & names] + [merged]
    out = []
    for _names, members in groups:
        whole = members[0]
        for c in members[1:]:
            whole = Both(whole, c)
        out.append(whole)
    return out


def _postorder(node: object) -> Iterable[object]:
    if isinstance(node, IOp | Compare | Both | Either):
        yield from _postorder(node.left)
        yield from _postorder(node.right)
    elif isinstance(node, IAbs | ILog2 | IPow2 | Negation):
        yield from _postorder(node.arg)
    yield node


@lru_cache(maxsize=1024)
def _precheck(cond: Cond, grid: tuple[tuple[str, int], ...],
              parameters: tuple[tuple[str, int], ...]) -> None:
    """Raise what evaluating ``cond`` at every point would raise, in the same order: a zero
    divisor, or a pow2 past :data:`MAX_POW2`, anywhere on the grid (variable sizes ``grid``).
    """
    n, values = dict(grid), dict(parameters)
    for node in _postorder(cond):
        if isinstance(node, IOp) and node.op in ("//", "%"):
            if _somewhere(Compare("==", node.right, INum(0)), n, values):
                raise CascadeError(f"where {text_of(cond)} divides by zero "
                                   f"({expr_text(node.right)} is 0 at some point)")
        elif isinstance(node, IPow2):
            if _somewhere(Compare(">", node.arg, INum(MAX_POW2)), n, values):
                worst = _maximum(node.arg, n, values)
                raise CascadeError(f"where {text_of(cond)} needs pow2 of up to {worst}, "
                                   f"more than pow2({MAX_POW2})")


def _somewhere(cond: Cond, n: Mapping[str, int], values: Mapping[str, int]) -> bool:
    """Whether ``cond`` holds at some point of the grid of its variables."""
    variables = variables_of(cond)
    if not variables:
        return bool(evaluate(cond, values))
    sizes = tuple(n[v] for v in variables)
    program = _Program(cond, variables, values)
    return _Engine(program, sizes, sizes, (False,) * len(sizes)).run() > 0


def _maximum(expr: IExpr, n: Mapping[str, int], values: Mapping[str, int]) -> int:
    """The largest value of ``expr`` on the grid (by bisection on existence)."""
    low, high = MAX_POW2, MAX_POW2 + 1
    while _somewhere(Compare(">=", expr, INum(high)), n, values):
        low, high = high, 2 * high
    while high - low > 1:   # expr reaches low but not high
        mid = (low + high) // 2
        low, high = (mid, high) if _somewhere(Compare(">=", expr, INum(mid)), n,
                                              values) else (low, mid)
    return low


@lru_cache(maxsize=4096)
def _solve(cond: Cond, sizes: tuple[int, ...], tiles: tuple[int, ...],
           measured: tuple[bool, ...], params: tuple[tuple[str, int], ...]) -> int:
    """The touched measure of one component, its variables named v0, v1, ... (the same
    mask renamed along a cascade, or asked for again by a sweep, is counted once).

    Blocks larger than a point are first turned into points (:func:`_by_elimination`):
    deciding them one by one would take a step per block along a rank cut fine while
    another is whole (a million blocks of one query each, every one holding a point)."""
    if _ELIMINATE and any(t > 1 for t in tiles):
        # too irregular a count of block indices is refused, not searched block by block
        # (that would take at least as long), so the work stays within MAX_WORK
        outer = getattr(_SHARED, "work", None) is None
        if outer:
            _SHARED.work = [0]
        try:
            return _by_elimination(cond, sizes, tiles, measured, params)
        except _NotLinear:
            pass   # the blocks are decided one by one
        finally:
            if outer:
                _SHARED.work = None
    program = _Program(cond, tuple(f"v{i}" for i in range(len(sizes))), dict(params))
    return _Engine(program, sizes, tiles, measured).run()


def _count_points(cond: Cond, variables: tuple[str, ...], dims: tuple[int, ...],
                  parameters: Mapping[str, int]) -> int:
    """Points of the grid ``dims`` over ``variables`` where ``cond`` holds, one by one (the
    reference the block counter is tested against)."""
    grid = math.prod(dims)
    if grid > 2**24:
        raise CascadeError(f"the point-by-point count is for small grids, not {grid:,} points")
    env: dict[str, object] = dict(parameters)
    for axis, (v, size) in enumerate(zip(variables, dims, strict=True)):
        shape = [1] * len(dims)
        shape[axis] = size
        env[v] = np.arange(size).reshape(shape)
    return int(np.broadcast_to(evaluate(cond, env), dims).sum())


# ----- blocks by elimination


_ELIMINATE = True
"""Whether blocks are first turned into points by eliminating the offsets within them (off
only to test the block-by-block search on its own)."""

_FEW = 4
"""A rank cut into at most this many blocks is taken one block at a time."""

_MAX_PARTS = 16
"""Most sub-problems (choices of blocks, ragged last blocks) one elimination may take."""

_MAX_TERMS = 256
"""Most conjunctions the condition may expand into once its hidden variables are exposed."""

_MAX_CASES = 64
"""Most values a ``log2``, ``pow2`` or factor of a product may be split into."""

_MAX_PINNED = 8
"""Most terms made disjoint to count those fixing a variable without it."""

_PIN_MIN = 256
"""Fewest values of a variable worth removing that way (a count along a few values costs
less than the counts the disjoint terms take)."""

_MAX_STEPS = 48
"""Most variables (hidden ones and those introduced for ``//``, ``%``) one conjunction may
eliminate."""

_MAX_CONSTRAINTS = 512
"""Most inequalities one conjunction may grow to while its variables are eliminated."""


_SHARED = threading.local()
"""Work spent by the counts one elimination starts (``work``: a one-item list, or None
outside an elimination), per thread."""


class _NotLinear(Exception):
    """Elimination does not apply exactly: a hidden variable in a product of two varying
    factors with many values, under a variable divisor, or too many cases. Blocks are then
    decided one by one by the block counter."""


_Key = tuple[str, object]
"""A term of a linear form: ("k", name) a variable that stays (its points are counted),
("x", name) a hidden one (some value of it must exist), ("n", expr) an expression over
staying variables only, kept as it stands."""

_Lin = tuple[dict[_Key, int], int]
"""A linear form: coefficients of its terms, and a constant."""

_Con = tuple[str, dict[_Key, int], int]
"""``form >= 0`` (kind ">=") or ``form == 0`` (kind "==")."""

@dataclass(frozen=True)
class _Piece:
    """How one variable's blocks are taken: "point" (blocks of 1: kept, its points
    counted), "range" (one block, [lo, hi]: hidden) or "tiles" (``tile * V + r`` over
    ``count`` blocks: V kept, the offset r hidden; ``bound``, when nonzero, the size the
    ragged last block keeps r below). Each block weighs ``weight``."""

    kind: str
    lo: int = 0
    hi: int = 0
    tile: int = 1
    count: int = 1
    bound: int = 0
    weight: int = 1


def _by_elimination(cond: Cond, sizes: tuple[int, ...], tiles: tuple[int, ...],
                    measured: tuple[bool, ...], params: tuple[tuple[str, int], ...]) -> int:
    """The touched measure of one component as a count of points, without deciding blocks
    one by one.

    A block holds a computed point when some offsets within it satisfy the condition: the
    offsets are existentially quantified, and for conditions linear in them (``//`` and
    ``%`` by constants, ``abs`` and ``!=`` included, by exact rewriting) they are eliminated
    exactly, by Fourier-Motzkin over the integers: some integer y lies in
    ``[max ceil(A_i / a_i), min floor(B_j / b_j)]`` exactly when every lower bound is at
    most every upper bound. A variable in blocks of t becomes ``t * V + r`` (V the block,
    kept and counted; r its offset, eliminated), a rank in one or a few blocks is eliminated
    whole (block by block). What is left is a condition on block indices whose points are
    counted, each weighing its block's measured extent; the ragged last block of a measured
    rank is its own sub-problem.
    """
    values = dict(params)
    options = [_pieces(n, t, m, few=True) for n, t, m in zip(sizes, tiles, measured,
                                                               strict=True)]
    if math.prod(len(o) for o in options) > _MAX_PARTS:
        options = [_pieces(n, t, m, few=False) for n, t, m in zip(sizes, tiles, measured,
                                                                    strict=True)]
    if math.prod(len(o) for o in options) > _MAX_PARTS:
        raise _NotLinear
    return sum(_part_count(cond, parts, sizes, values, params) for parts in product(*options))


def _pieces(n: int, t: int, measured: bool, few: bool) -> list[_Piece]:
    """The ways a variable of size n in blocks of t is taken (one sub-problem each)."""
    if t == 1:
        return [_Piece("point", count=n)]
    blocks = -(-n // t)
    if blocks == 1 or (few and blocks <= _FEW):
        return [_Piece("range", lo, min(lo + t, n) - 1,
                       weight=min(t, n - lo) if measured else 1) for lo in range(0, n, t)]
    whole, rest = divmod(n, t)
    if not measured:   # every block weighs 1: the ragged one bounds its offsets
        return [_Piece("tiles", tile=t, count=blocks, bound=n if rest else 0)]
    out = [_Piece("tiles", tile=t, count=whole, weight=t)]
    if rest:
        out.append(_Piece("range", whole * t, n - 1, weight=rest))
    return out


def _part_count(cond: Cond, parts: Sequence[_Piece], sizes: Sequence[int],
                values: dict[str, int], params: tuple[tuple[str, int], ...]) -> int:
    """The weighted count of one choice of pieces (one per variable)."""
    subst: dict[str, _Lin] = {}
    kept: list[tuple[str, int]] = []
    ranges: list[_Con] = []
    weight = 1
    for i, piece in enumerate(parts):
        name = f"v{i}"
        weight *= piece.weight
        x: _Key = ("x", name)
        k: _Key = ("k", name)
        if piece.kind == "point":
            subst[name] = ({k: 1}, 0)
            kept.append((name, piece.count))
        elif piece.kind == "range":
            subst[name] = ({x: 1}, 0)
            ranges += [(">=", {x: 1}, -piece.lo), (">=", {x: -1}, piece.hi)]
        else:
            subst[name] = ({k: piece.tile, x: 1}, 0)
            ranges += [(">=", {x: 1}, 0), (">=", {x: -1}, piece.tile - 1)]
            if piece.bound:   # the ragged last block: t V + r < size
                ranges.append((">=", {k: -piece.tile, x: -1}, piece.bound - 1))
            kept.append((name, piece.count))
    elim = _Eliminator(subst, values, {f"v{i}": n for i, n in enumerate(sizes)})
    terms: dict[Cond, tuple[list[_Con], tuple[Cond, ...]]] = {}
    for cons, leaves in elim.dnf(cond, False):
        left = elim.eliminate(list(cons) + ranges)
        if left is None:
            continue   # no hidden values satisfy this conjunction
        members = [_compare(c) for c in left] + list(leaves)
        if not members:   # holds at every kept point
            return weight * math.prod(size for _name, size in kept)
        terms.setdefault(_all(members), (left, leaves))
    if not terms:
        return 0
    return weight * _count_terms(terms, kept, params)


def _all(members: Sequence[Cond]) -> Cond:
    whole = members[0]
    for m in members[1:]:
        whole = Both(whole, m)
    return whole


def _any(members: Sequence[Cond]) -> Cond:
    whole = members[0]
    for m in members[1:]:
        whole = Either(whole, m)
    return whole


def _count_terms(terms: Mapping[Cond, tuple[list[_Con], tuple[Cond, ...]]],
                 kept: Sequence[tuple[str, int]], params: tuple[tuple[str, int], ...]) -> int:
    """Points of the kept grid where some term holds.

    A term that fixes a kept variable X (at most one X per point of the others: the offset
    of a key block that one query reaches) counts the points of the others where X's one
    candidate value is in range and satisfies it and no earlier term: one variable fewer to
    count (the terms are made disjoint, those fixing nothing first, counted together)."""
    pins = {term: _pin(*parts, kept) for term, parts in terms.items()}
    if len(terms) > _MAX_PINNED or all(pin is None for pin in pins.values()):
        return _count_kept(_any(list(terms)), kept, params)
    free = [term for term, pin in pins.items() if pin is None]
    total = _count_kept(_any(free), kept, params) if free else 0
    earlier = free
    sizes = dict(kept)
    for term, pin in pins.items():
        if pin is None:
            continue
        name, value, rest = pin
        here = _all([*rest, Compare(">=", value, INum(0)),
                     Compare("<=", value, INum(sizes[name] - 1))])
        if earlier:
            here = Both(here, Negation(_any(earlier)))
        total += _count_kept(substituted(here, {name: value}),
                             [(n, s) for n, s in kept if n != name], params)
        earlier = [*earlier, term]
    return total


def _pin(cons: Sequence[_Con], leaves: Sequence[Cond], kept: Sequence[tuple[str, int]]
         ) -> tuple[str, IExpr, list[Cond]] | None:
    """A kept variable that the term allows one value of at most, per point of the others:
    the variable, that value, and the rest of the term (what the value must satisfy). From
    ``x == r``, or from ``a x >= A`` and ``a x <= A + g`` with g < a: x = ceil(A / a)."""
    for name, size in kept:
        if size < _PIN_MIN:
            continue   # few values: as cheap to count along as to remove
        x: _Key = ("k", name)
        lows: list[tuple[int, _Lin, int]] = []
        ups: list[tuple[int, _Lin, int]] = []
        for i, (kind, coef, const) in enumerate(cons):
            c = coef.get(x, 0)
            if not c:
                continue
            rest: _Lin = ({k: v for k, v in coef.items() if k != x}, const)
            if any(k[0] == "n" and _reads(k[1], name) for k in rest[0]):
                continue   # x on both sides: not a bound
            if kind == "==" and abs(c) == 1:
                others = [_compare(con) for j, con in enumerate(cons) if j != i]
                return name, _expr(*_times(rest, -c)), [*others, *leaves]
            if c > 0 or kind == "==":
                lows.append((abs(c), _times(rest, -1) if c > 0 else rest, i))
            if c < 0 or kind == "==":
                ups.append((abs(c), rest if c < 0 else _times(rest, -1), i))
        for (a, low, i), (b, up, j) in product(lows, ups):
            gap = _plus(up, low, -1)
            if a != b or gap[0] or not 0 <= gap[1] < a:
                continue
            # x = ceil(low / a) = floor((low + a - 1) / a), the one candidate; it lies
            # within [low, up] unless no multiple of a does: (-low) % a <= gap
            value = _expr(*low) if a == 1 else \
                IOp("//", _expr(*_plus(low, ({}, a - 1))), INum(a))
            others = [_compare(con) for k, con in enumerate(cons) if k not in (i, j)]
            if gap[1] < a - 1:
                others.append(Compare("<=", IOp("%", _expr(*_times(low, -1)), INum(a)),
                                      INum(gap[1])))
            return name, value, [*others, *leaves]
    return None


def _reads(e: IExpr, name: str) -> bool:
    return any(isinstance(n, IVar) and n.name == name for n in _postorder(e))


def _count_kept(cond: Cond, kept: Sequence[tuple[str, int]],
                params: tuple[tuple[str, int], ...]) -> int:
    """Points of the grid of ``kept`` variables where ``cond`` holds."""
    used = set(variables_of(cond))
    factor = math.prod(size for name, size in kept if name not in used)
    names = [name for name, _size in kept if name in used]
    if not names:
        return factor * int(bool(evaluate(cond, dict(params))))
    canonical = renamed(cond, {name: f"v{i}" for i, name in enumerate(names)})
    dims = dict(kept)
    k = len(names)
    return factor * _solve(canonical, tuple(dims[n] for n in names), (1,) * k, (True,) * k,
                           params)


def _compare(con: _Con) -> Cond:
    kind, coef, const = con
    return Compare(kind, _expr(coef, const), INum(0))


def _expr(coef: Mapping[_Key, int], const: int) -> IExpr:
    """A linear form as an expression."""
    out: IExpr | None = None
    for key, c in coef.items():
        assert key[0] != "x"
        term = IVar(str(key[1])) if key[0] == "k" else cast(IExpr, key[1])
        mag: IExpr = term if abs(c) == 1 else IOp("*", INum(abs(c)), term)
        if out is None:
            out = mag if c > 0 else IOp("-", INum(0), mag)
        else:
            out = IOp("+" if c > 0 else "-", out, mag)
    if out is None:
        return INum(const)
    if const:
        out = IOp("+" if const > 0 else "-", out, INum(abs(const)))
    return out


def _hidden(coef: Mapping[_Key, int]) -> bool:
    return any(k[0] == "x" for k in coef)


def _plus(a: _Lin, b: _Lin, scale: int = 1) -> _Lin:
    """a + scale * b."""
    coef = dict(a[0])
    for k, c in b[0].items():
        coef[k] = coef.get(k, 0) + scale * c
    return {k: c for k, c in coef.items() if c}, a[1] + scale * b[1]


def _times(a: _Lin, k: int) -> _Lin:
    if k == 0:
        return {}, 0
    return {key: c * k for key, c in a[0].items()}, a[1] * k


def _normal(kind: str, coef: dict[_Key, int], const: int) -> _Con | bool:
    """A constraint with coprime coefficients (tightened: over the integers,
    ``g * s + c >= 0`` is ``s + floor(c / g) >= 0``), or its truth when it is constant."""
    coef = {k: c for k, c in coef.items() if c}
    if not coef:
        return const >= 0 if kind == ">=" else const == 0
    g = math.gcd(*coef.values())
    if g > 1:
        if kind == "==" and const % g:
            return False
        coef = {k: c // g for k, c in coef.items()}
        const //= g
    return kind, coef, const


def _tidy(cons: Iterable[_Con]) -> list[_Con] | None:
    """Normalised, constant ones decided, repeats dropped; None when one is false."""
    out: dict[tuple[object, ...], _Con] = {}
    for kind, coef, const in cons:
        con = _normal(kind, coef, const)
        if con is False:
            return None
        if con is True:
            continue
        assert not isinstance(con, bool)
        out.setdefault((con[0], frozenset(con[1].items()), con[2]), con)
    return list(out.values())


class _Eliminator:
    """Rewrites a condition over substituted variables into conjunctions of linear
    constraints over kept and hidden variables, and eliminates the hidden ones."""

    def __init__(self, subst: dict[str, _Lin], values: Mapping[str, int],
                 sizes: Mapping[str, int]) -> None:
        self.subst = subst
        self.hidden = {name for name, (coef, _c) in subst.items() if _hidden(coef)}
        self.values = values
        self.sizes = sizes
        self.fresh = 0
        self._involves: dict[int, bool] = {}

    def _new(self) -> _Key:
        self.fresh += 1
        return ("x", f"#{self.fresh}")

    def involves(self, node: object) -> bool:
        """Whether ``node`` reads a hidden variable."""
        key = id(node)
        if key not in self._involves:
            self._involves[key] = any(isinstance(n, IVar) and n.name in self.hidden
                                      for n in _postorder(node))
        return self._involves[key]

    # from the condition to conjunctions

    def dnf(self, cond: Cond, negate: bool) -> list[tuple[tuple[_Con, ...], tuple[Cond, ...]]]:
        """Conjunctions (constraints, untouched sub-conditions) whose disjunction is
        ``cond`` (negated if asked); sub-conditions without hidden variables stay whole."""
        if not self.involves(cond):
            return [((), (Negation(cond) if negate else cond,))]
        if isinstance(cond, Negation):
            return self.dnf(cond.arg, not negate)
        if isinstance(cond, Both | Either):
            left, right = self.dnf(cond.left, negate), self.dnf(cond.right, negate)
            if isinstance(cond, Both) != negate:
                terms = [(a[0] + b[0], a[1] + b[1]) for a in left for b in right]
            else:
                terms = left + right
            if len(terms) > _MAX_TERMS:
                raise _NotLinear
            return terms
        assert isinstance(cond, Compare)
        op = _NEGATED[cond.op] if negate else cond.op
        out = []
        for lf, lside in self.linear(cond.left):
            for rf, rside in self.linear(cond.right):
                coef, const = _plus(lf, rf, -1)
                for extra in _atom(op, coef, const):
                    out.append((tuple(lside + rside + extra), ()))
        if len(out) > _MAX_TERMS:
            raise _NotLinear
        return out

    def _value(self, e: IExpr) -> int:
        """A constant expression's exact value."""
        if isinstance(e, INum):
            return e.value
        if isinstance(e, ISize):
            return int(self.values[e.name])
        if isinstance(e, IAbs):
            return abs(self._value(e.arg))
        if isinstance(e, ILog2):
            x = self._value(e.arg)
            return x.bit_length() - 1 if x > 0 else -1
        if isinstance(e, IPow2):
            x = self._value(e.arg)
            if x > MAX_POW2:
                raise _NotLinear
            return 1 << max(x, 0)
        assert isinstance(e, IOp)
        a, b = self._value(e.left), self._value(e.right)
        if e.op in ("//", "%") and b == 0:
            raise _NotLinear
        return {"+": a + b, "-": a - b, "*": a * b}[e.op] if e.op in "+-*" else \
            a // b if e.op == "//" else a % b

    def _opaque(self, e: IExpr) -> list[tuple[_Lin, list[_Con]]]:
        if not any(isinstance(n, IVar) for n in _postorder(e)):
            return [(({}, self._value(e)), [])]
        return [(({("n", e): 1}, 0), [])]

    def linear(self, e: IExpr) -> list[tuple[_Lin, list[_Con]]]:
        """Alternatives (a linear form and the constraints under which it is the value)
        whose union is ``e``: one, or two for abs of a hidden variable."""
        if isinstance(e, IVar):
            return [(self.subst[e.name], [])]
        if isinstance(e, INum | ISize):
            return [(({}, self._value(e)), [])]
        if isinstance(e, IAbs):
            if not self.involves(e):
                return self._opaque(e)
            out = []
            for form, side in self.linear(e.arg):
                neg = _times(form, -1)
                out.append((form, [*side, (">=", dict(form[0]), form[1])]))
                out.append((neg, [*side, (">=", dict(neg[0]), neg[1] - 1)]))
            return out
        if isinstance(e, ILog2 | IPow2):
            if not self.involves(e):
                return self._opaque(e)
            # a hidden argument with few values: one case per value of the node
            lo, hi = self._bounds(e.arg)
            out = []
            for form, side in self.linear(e.arg):
                for value, (low, high) in _cases(isinstance(e, ILog2), lo, hi):
                    extra: list[_Con] = []
                    if low is not None:   # form >= low
                        extra.append((">=", dict(form[0]), form[1] - low))
                    if high is not None:   # form <= high
                        neg = _times(form, -1)
                        extra.append((">=", dict(neg[0]), neg[1] + high))
                    out.append((({}, value), side + extra))
            return _capped(out)
        assert isinstance(e, IOp)
        if e.op in "+-":
            return _capped([(_plus(a, b, 1 if e.op == "+" else -1), sa + sb)
                            for a, sa in self.linear(e.left)
                            for b, sb in self.linear(e.right)])
        constant_right = not any(isinstance(n, IVar) for n in _postorder(e.right))
        if e.op == "*":
            if not any(isinstance(n, IVar) for n in _postorder(e.left)):
                k = self._value(e.left)
                return [(_times(f, k), s) for f, s in self.linear(e.right)]
            if constant_right:
                k = self._value(e.right)
                return [(_times(f, k), s) for f, s in self.linear(e.left)]
            if not self.involves(e):
                return self._opaque(e)
            return _capped([pair for a, sa in self.linear(e.left)
                            for b, sb in self.linear(e.right)
                            for pair in self._product(e, a, sa, b, sb)])
        if not self.involves(e):
            return self._opaque(e)
        if not constant_right:
            raise _NotLinear   # a hidden variable over a variable divisor
        k = self._value(e.right)
        if k == 0:
            raise _NotLinear
        out = []
        for form, side in self.linear(e.left):
            # floor(x / k) is the q with 0 <= s x - |k| q <= |k| - 1 (s the sign of k)
            num = form if k > 0 else _times(form, -1)
            size = abs(k)
            if size == 1:
                quotient = num
                extra: list[_Con] = []
            else:
                q = self._new()
                quotient = ({q: 1}, 0)
                low = _plus(num, quotient, -size)
                extra = [(">=", dict(low[0]), low[1]),
                         (">=", dict(_times(low, -1)[0]), size - 1 - low[1])]
            if e.op == "//":
                out.append((quotient, side + extra))
            else:   # x % k == x - k * (x // k)
                out.append((_plus(form, quotient, -k), side + extra))
        return out

    def _product(self, e: IOp, a: _Lin, sa: list[_Con], b: _Lin, sb: list[_Con]
                 ) -> list[tuple[_Lin, list[_Con]]]:
        """A product of two alternatives: linear when one is a constant, or when a factor
        without hidden variables takes few values (one case per value)."""
        if not a[0]:
            return [(_times(b, a[1]), sa + sb)]
        if not b[0]:
            return [(_times(a, b[1]), sa + sb)]
        for factor, other, expr in ((a, b, e.left), (b, a, e.right)):
            if _hidden(factor[0]) or self.involves(expr):
                continue
            lo, hi = self._bounds(expr)
            if hi - lo >= _MAX_CASES:
                break
            out = []
            for value in range(lo, hi + 1):
                pin = _plus(factor, ({}, -value))   # the factor == value
                out.append((_times(other, value), sa + sb + [("==", pin[0], pin[1])]))
            return out
        raise _NotLinear

    def _bounds(self, e: IExpr) -> tuple[int, int]:
        """Bounds of ``e`` over the whole grid (interval arithmetic)."""
        if isinstance(e, IVar):
            return 0, self.sizes[e.name] - 1
        if isinstance(e, INum | ISize):
            v = self._value(e)
            return v, v
        if isinstance(e, IAbs):
            lo, hi = self._bounds(e.arg)
            return (lo if lo >= 0 else -hi if hi <= 0 else 0), max(-lo, hi)
        if isinstance(e, ILog2):
            lo, hi = self._bounds(e.arg)
            return (lo.bit_length() - 1 if lo > 0 else -1), (hi.bit_length() - 1 if hi > 0
                                                              else -1)
        if isinstance(e, IPow2):
            lo, hi = self._bounds(e.arg)
            if hi > MAX_POW2:
                raise _NotLinear
            return 1 << max(lo, 0), 1 << max(hi, 0)
        assert isinstance(e, IOp)
        (a, b), (c, d) = self._bounds(e.left), self._bounds(e.right)
        if e.op == "+":
            return a + c, b + d
        if e.op == "-":
            return a - d, b - c
        if e.op == "*":
            corners = (a * c, a * d, b * c, b * d)
            return min(corners), max(corners)
        if c != d or c == 0:
            raise _NotLinear   # a variable divisor
        if e.op == "//":
            return (a // c, b // c) if c > 0 else (b // c, a // c)
        if a // c == b // c:   # one quotient: the remainder grows with x
            return a % c, b % c
        return (0, c - 1) if c > 0 else (c + 1, 0)

    # eliminating hidden variables

    def eliminate(self, cons: list[_Con]) -> list[_Con] | None:
        """The constraints on kept variables under which some hidden values satisfy
        ``cons`` (None: none do)."""
        left = _tidy(cons)
        for _step in range(_MAX_STEPS):
            if left is None:
                return None
            hidden = list(dict.fromkeys(k for _kind, coef, _c in left for k in coef
                                        if k[0] == "x"))
            if not hidden:
                return left
            if len(left) > _MAX_CONSTRAINTS:
                raise _NotLinear
            units = [(con, k) for con in left if con[0] == "==" for k in hidden
                     if abs(con[1].get(k, 0)) == 1]
            if units:   # y is fixed by an equation: substituted, exactly
                # the variable read least first: a window's offset stays, h in m % H == h
                # goes (its range then repeats the remainder's)
                reads = {k: sum(k in coef for _kind, coef, _c in left) for k in hidden}
                left = _tidy(_substitute(left, *min(units, key=lambda u: reads[u[1]])))
                continue
            y = min(hidden, key=lambda k: _cost(left, k))
            left = _tidy(self._fourier_motzkin(left, y))
        raise _NotLinear

    def _fourier_motzkin(self, cons: list[_Con], y: _Key) -> list[_Con]:
        """Some integer y satisfies a*y >= A (every lower bound) and b*y <= B (every
        upper bound) exactly when ceil(A / a) <= floor(B / b) for every pair."""
        out: list[_Con] = []
        lows: list[tuple[int, _Lin]] = []
        ups: list[tuple[int, _Lin]] = []
        for kind, coef, const in cons:
            c = coef.get(y, 0)
            if not c:
                out.append((kind, coef, const))
                continue
            rest: _Lin = ({k: v for k, v in coef.items() if k != y}, const)
            if c > 0:   # c y + rest >= 0 (or == 0): c y >= -rest
                lows.append((c, _times(rest, -1)))
                if kind == "==":
                    ups.append((c, _times(rest, -1)))
            else:
                ups.append((-c, rest))
                if kind == "==":
                    lows.append((-c, rest))
        for a, low in lows:
            for b, up in ups:
                out.extend(self._pair(a, low, b, up))
        return out

    def _pair(self, a: int, low: _Lin, b: int, up: _Lin) -> list[_Con]:
        """ceil(low / a) <= floor(up / b) as linear constraints."""
        gap = _plus(up, low, -1)
        if a == b and not gap[0]:   # [low, low + gap] holds a multiple of a
            if gap[1] >= a - 1:
                return []
            if gap[1] < 0:
                return [(">=", {}, -1)]
            if not _hidden(low[0]):   # (-low) % a <= gap
                f = _plus(({}, gap[1]), self._floor(_times(low, -1), a), a)
                f = _plus(f, low, 1)
                return [(">=", f[0], f[1])]
        if a == 1:   # low <= floor(up / b) iff b low <= up
            f = _plus(up, low, -b)
            return [(">=", f[0], f[1])]
        if b == 1:   # ceil(low / a) <= up iff low <= a up
            f = _plus(_times(up, a), low, -1)
            return [(">=", f[0], f[1])]
        if not _hidden(up[0]):   # floor(up / b) is an expression of kept variables
            f = _plus(_times(self._floor(up, b), a), low, -1)
            return [(">=", f[0], f[1])]
        if not _hidden(low[0]):   # ceil(low / a) == -floor(-low / a)
            f = _plus(up, self._floor(_times(low, -1), a), b)
            return [(">=", f[0], f[1])]
        u = self._new()   # u = floor(up / b): b u <= up <= b u + b - 1, and low <= a u
        top = _plus(up, ({u: 1}, 0), -b)
        f = _plus(({u: a}, 0), low, -1)
        return [(">=", top[0], top[1]), (">=", _times(top, -1)[0], b - 1 - top[1]),
                (">=", f[0], f[1])]

    @staticmethod
    def _floor(form: _Lin, k: int) -> _Lin:
        if not form[0]:
            return {}, form[1] // k
        return {("n", IOp("//", _expr(*form), INum(k))): 1}, 0


def _cases(log2: bool, lo: int, hi: int) -> list[tuple[int, tuple[int | None, int | None]]]:
    """The values of log2(x) (or pow2(x)) for x in [lo, hi], each with the range of x giving
    it (None: unbounded on that side)."""
    out: list[tuple[int, tuple[int | None, int | None]]] = []
    if log2:
        if lo <= 0:
            out.append((-1, (None, 0)))
        if hi >= 1:
            out += [(j, (1 << j, (1 << (j + 1)) - 1))
                    for j in range(max(lo, 1).bit_length() - 1, hi.bit_length())]
    else:
        if lo < 0:
            out.append((1, (None, -1)))
        out += [(1 << x, (x, x)) for x in range(max(lo, 0), hi + 1)]
    if len(out) > _MAX_CASES:
        raise _NotLinear
    return out


def _capped(alternatives: list[tuple[_Lin, list[_Con]]]) -> list[tuple[_Lin, list[_Con]]]:
    if len(alternatives) > _MAX_TERMS:
        raise _NotLinear
    return alternatives


def _atom(op: str, coef: dict[_Key, int], const: int) -> list[list[_Con]]:
    """``form op 0`` as alternatives of constraints (over the integers)."""
    neg = {k: -c for k, c in coef.items()}
    if op == "<":
        return [[(">=", neg, -const - 1)]]
    if op == "<=":
        return [[(">=", neg, -const)]]
    if op == ">":
        return [[(">=", coef, const - 1)]]
    if op == ">=":
        return [[(">=", coef, const)]]
    if op == "==":
        return [[("==", coef, const)]]
    return [[(">=", coef, const - 1)], [(">=", neg, -const - 1)]]


def _substitute(cons: list[_Con], con: _Con, y: _Key) -> list[_Con]:
    """Every constraint but ``con`` with y replaced by its value from ``con``, an equation
    with coefficient +-1 on y."""
    c = con[1][y]
    rest: _Lin = ({k: v for k, v in con[1].items() if k != y}, con[2])
    value = _times(rest, -c)   # c y + rest == 0, c = +-1: y = -c rest
    out: list[_Con] = []
    for other in cons:
        if other is con:
            continue
        d = other[1].get(y, 0)
        if not d:
            out.append(other)
            continue
        base: _Lin = ({k: v for k, v in other[1].items() if k != y}, other[2])
        f = _plus(base, value, d)
        out.append((other[0], f[0], f[1]))
    return out


def _cost(cons: list[_Con], y: _Key) -> int:
    """How much eliminating y adds: its pairs of bounds, weighted by what each becomes."""
    lows: list[tuple[int, bool, _Lin]] = []
    ups: list[tuple[int, bool, _Lin]] = []
    for kind, coef, const in cons:
        c = coef.get(y, 0)
        if not c:
            continue
        hid = any(k[0] == "x" and k != y for k in coef)
        rest: _Lin = ({k: v for k, v in coef.items() if k != y}, const)
        bound = _times(rest, -1) if c > 0 else rest   # |c| y >= bound, or <= bound
        if c > 0 or kind == "==":
            lows.append((abs(c), hid, bound))
        if c < 0 or kind == "==":
            ups.append((abs(c), hid, bound))
    cost = 0
    for (a, ha, low), (b, hb, up) in product(lows, ups):
        gap = _plus(up, low, -1)
        if a == b and not gap[0] and gap[1] >= a - 1:
            continue   # always holds: no constraint at all
        # a unit coefficient keeps the pair linear; otherwise a floor of kept variables
        # (harder to count) or, hidden on both sides, a new variable
        cost += 1 if a == 1 or b == 1 else 1000 if ha and hb else 30
    return cost


# ----- compiled conditions

_Form = tuple[tuple[tuple[int, int], ...], int]
"""A linear form: ((node, coefficient), ...) and a constant."""


_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_INT_COMPARE = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__,
                "==": int.__eq__, "!=": int.__ne__}


def _combine(a: _Form, b: _Form, sign: int) -> _Form:
    terms = dict(a[0])
    for node, coef in b[0]:
        terms[node] = terms.get(node, 0) + sign * coef
    return tuple(sorted((k, c) for k, c in terms.items() if c)), a[1] + sign * b[1]


def _scale(a: _Form, k: int) -> _Form:
    if k == 0:
        return (), 0
    return tuple((node, c * k) for node, c in a[0]), a[1] * k


@dataclass
class _Shift:
    """How a node moves when the variables move (see :meth:`_Program._node_shift`)."""

    moves: list[Fraction]
    rules: list[list[Fraction]]
    steps: list[tuple[list[Fraction], int]]


def _nullspace(rows: list[list[Fraction]], n: int) -> list[list[Fraction]]:
    """A basis of {x : r . x == 0 for every row r} (reduced row echelon form)."""
    m = [list(r) for r in rows if any(r)]
    pivots: list[int] = []
    r = 0
    for c in range(n):
        pivot = next((i for i in range(r, len(m)) if m[i][c]), None)
        if pivot is None:
            continue
        m[r], m[pivot] = m[pivot], m[r]
        m[r] = [x / m[r][c] for x in m[r]]
        for i in range(len(m)):
            if i != r and m[i][c]:
                m[i] = [x - m[i][c] * y for x, y in zip(m[i], m[r], strict=True)]
        pivots.append(c)
        r += 1
    basis = []
    for free in (c for c in range(n) if c not in pivots):
        x = [Fraction(0)] * n
        x[free] = Fraction(1)
        for i, c in enumerate(pivots):
            x[c] = -m[i][free]
        basis.append(x)
    return basis


class _Program:
    """A condition compiled for evaluation over boxes and points.

    Integer expressions become linear forms over variables and nonlinear nodes (``*`` of
    two non-constants, ``//``, ``%``, ``abs``, ``log2``, ``pow2``), so ``m1 * M0 + m0 - p``
    is bounded exactly and ``m - m`` cancels; comparisons become atoms ``form op 0``; ``not``
    is pushed into the atoms; ``and``/``or`` are flattened. Nodes and atoms are listed
    children first.
    """

    def __init__(self, cond: Cond, variables: Sequence[str], values: Mapping[str, int]
                 ) -> None:
        self.d = len(variables)
        self.position = {v: i for i, v in enumerate(variables)}
        self.values = values
        self.nodes: list[tuple[str, int, tuple[_Form, ...]]] = []
        self._nodes: dict[tuple[str, int, tuple[_Form, ...]], int] = {}
        for i in range(self.d):
            self._node("var", i, ())
        self.atoms: list[tuple[str, _Form]] = []
        self._atoms: dict[tuple[str, _Form], int] = {}
        # the boolean structure, children first: ("atom", a), ("and"|"or", children), or
        # ("const", truth)
        self.tree: list[tuple[str, object]] = []
        self._tree: dict[tuple[str, object], int] = {}
        self.root = self._cond(cond, False)
        self._analyse()

    # compiling

    def _node(self, kind: str, var: int, args: tuple[_Form, ...]) -> _Form:
        key = (kind, var, args)
        if key not in self._nodes:
            self._nodes[key] = len(self.nodes)
            self.nodes.append(key)
        return ((self._nodes[key], 1),), 0

    def _form(self, e: IExpr) -> _Form:
        if isinstance(e, IVar):
            return (((self.position[e.name], 1),), 0)
        if isinstance(e, INum):
            return (), e.value
        if isinstance(e, ISize):
            return (), int(self.values[e.name])
        if isinstance(e, IAbs | ILog2 | IPow2):
            arg = self._form(e.arg)
            kind = {IAbs: "abs", ILog2: "log2", IPow2: "pow2"}[type(e)]
            if not arg[0]:
                x = arg[1]
                return (), (abs(x) if kind == "abs" else
                            x.bit_length() - 1 if kind == "log2" and x > 0 else
                            -1 if kind == "log2" else 1 << max(x, 0))
            return self._node(kind, -1, (arg,))
        assert isinstance(e, IOp)
        a, b = self._form(e.left), self._form(e.right)
        if e.op in "+-":
            return _combine(a, b, 1 if e.op == "+" else -1)
        if e.op == "*":
            if not a[0]:
                return _scale(b, a[1])
            if not b[0]:
                return _scale(a, b[1])
            return self._node("*", -1, (a, b))
        if not b[0]:   # a constant divisor (never 0: checked before compiling)
            if not a[0]:
                return (), (a[1] // b[1] if e.op == "//" else a[1] % b[1])
            if b[1] == 1:
                return a if e.op == "//" else ((), 0)
        return self._node(e.op, -1, (a, b))

    def _add(self, item: tuple[str, object]) -> int:
        if item not in self._tree:
            self._tree[item] = len(self.tree)
            self.tree.append(item)
        return self._tree[item]

    def _cond(self, c: Cond, negate: bool) -> int:
        if isinstance(c, Negation):
            return self._cond(c.arg, not negate)
        if isinstance(c, Both | Either):
            kind = "and" if isinstance(c, Both) != negate else "or"
            children: list[int] = []
            for side in (c.left, c.right):
                child = self._cond(side, negate)
                item = self.tree[child]
                children.extend(item[1] if item[0] == kind else [child])  # type: ignore[arg-type]
            return self._junction(kind, children)
        op = _NEGATED[c.op] if negate else c.op
        form = _combine(self._form(c.left), self._form(c.right), -1)
        if not form[0]:
            return self._add(("const", _INT_COMPARE[op](form[1], 0)))
        if form[0][0][1] < 0:   # one spelling per atom: p >= m and m <= p are the same
            form, op = _scale(form, -1), _MIRRORED[op]
        key = (op, form)
        if key not in self._atoms:
            self._atoms[key] = len(self.atoms)
            self.atoms.append(key)
        return self._add(("atom", self._atoms[key]))

    def _junction(self, kind: str, children: list[int]) -> int:
        unit = kind == "and"   # and: True is neutral, False absorbs
        kept = []
        for child in dict.fromkeys(children):
            item = self.tree[child]
            if item[0] == "const":
                if item[1] != unit:
                    return self._add(("const", not unit))
                continue
            kept.append(child)
        if not kept:
            return self._add(("const", unit))
        if len(kept) == 1:
            return kept[0]
        return self._add((kind, tuple(kept)))

    def _analyse(self) -> None:
        """Static facts: the variables under each node and atom, how each atom reads each
        variable (0: not, 1: only as a term of its linear form, 2: inside a node), the
        period of variables read only under ``% K``, and the root."""
        self.node_vars: list[frozenset[int]] = []
        polynomial: list[bool] = []
        self.shield: list[int] = []   # % K over a polynomial numerator: period K, else 0
        for i, (kind, var, args) in enumerate(self.nodes):
            if kind == "var":
                self.node_vars.append(frozenset([var]))
                polynomial.append(True)
                self.shield.append(0)
                continue
            self.node_vars.append(frozenset().union(*(self.node_vars[m] for f in args
                                                      for m, _c in f[0])))
            polynomial.append(kind == "*" and all(polynomial[m] for f in args
                                                  for m, _c in f[0]))
            numerator_ok = all(polynomial[m] for m, _c in args[0][0])
            self.shield.append(abs(args[1][1]) if kind == "%" and not args[1][0]
                               and numerator_ok else 0)
            assert i == len(self.node_vars) - 1
        self.period = [0] * self.d
        for i, k in enumerate(self.shield):
            if k:
                numerator = self.nodes[i][2][0]
                for m, _c in numerator[0]:
                    for v in self.node_vars[m]:
                        self.period[v] = math.lcm(self.period[v] or 1, k)
        self.reads = np.zeros((len(self.atoms), self.d), dtype=np.int8)
        self.coef = np.zeros((len(self.atoms), self.d), dtype=object)
        for a, (_op, (terms, _k)) in enumerate(self.atoms):
            for m, c in terms:
                if m < self.d:
                    self.reads[a, m] = max(self.reads[a, m], 1)
                    self.coef[a, m] = c
                else:
                    for v in self.node_vars[m]:
                        self.reads[a, v] = 2
        self.log2_nodes = [i for i, node in enumerate(self.nodes) if node[0] == "log2"]
        self._shift_nodes: list[_Shift] = []
        for kind, var, args in self.nodes:
            self._shift_nodes.append(self._node_shift(kind, var, args))
        self.atom_shift = [self._form_shift(form) for _op, form in self.atoms]
        for shift in self.atom_shift:   # the atom itself must not move
            shift.rules.append(shift.moves)
        self._translations: dict[tuple[int, int], list[tuple[np.ndarray, int]]] = {}

    # translations: moving some variables by multiples of a step changes no live atom

    def _form_shift(self, form: _Form) -> _Shift:
        out = _Shift([Fraction(0)] * self.d, [], [])
        for m, c in form[0]:
            node = self._shift_nodes[m]
            out.moves = [x + c * y for x, y in zip(out.moves, node.moves, strict=True)]
            out.rules += node.rules
            out.steps += node.steps
        return out

    def _node_shift(self, kind: str, var: int, args: tuple[_Form, ...]) -> _Shift:
        """How a node moves when variable v moves by s_v * delta: by delta * (moves . s),
        provided every rule r has r . s == 0 and every step (g, J) divides delta * (g . s)."""
        if kind == "var":
            moves = [Fraction(0)] * self.d
            moves[var] = Fraction(1)
            return _Shift(moves, [], [])
        parts = [self._form_shift(f) for f in args]
        rules = [r for part in parts for r in part.rules]
        steps = [st for part in parts for st in part.steps]
        zero = [Fraction(0)] * self.d
        if kind in ("//", "%") and not args[1][0]:
            k = abs(args[1][1])
            steps.append((parts[0].moves, k))
            moves = [x / args[1][1] for x in parts[0].moves] if kind == "//" else zero
            return _Shift(moves, rules, steps)
        # anything else stays put only if its arguments do
        return _Shift(zero, rules + [part.moves for part in parts], steps)

    def translations(self, live: int, relevant: int) -> list[tuple[np.ndarray, int]]:
        """Directions (integer vectors over the variables) and steps along which the live
        atoms (bit mask) do not change, moving only relevant variables (bit mask)."""
        key = (live, relevant)
        if key not in self._translations:
            self._translations[key] = self._solve_translations(live, relevant)
        return self._translations[key]

    def _solve_translations(self, live: int, relevant: int) -> list[tuple[np.ndarray, int]]:
        cols = [v for v in range(self.d) if relevant >> v & 1]
        rules = [r for a in range(len(self.atoms)) if live >> a & 1
                 for r in self.atom_shift[a].rules]
        steps = [st for a in range(len(self.atoms)) if live >> a & 1
                 for st in self.atom_shift[a].steps]
        out = []
        for basis in _nullspace([[r[v] for v in cols] for r in rules], len(cols)):
            scale = math.lcm(*(x.denominator for x in basis))
            ints = [int(x * scale) for x in basis]
            g = math.gcd(*ints)
            ints = [x // g for x in ints]
            if next(x for x in ints if x) < 0:
                ints = [-x for x in ints]
            direction = np.zeros(self.d, dtype=np.int64)
            direction[cols] = ints
            period = 1
            for moves, k in steps:
                q = sum((moves[v] * int(direction[v]) for v in range(self.d)), Fraction(0))
                if q:   # delta * q must be a multiple of k
                    need = k * q.denominator
                    period = math.lcm(period, need // math.gcd(need, abs(q.numerator)))
            out.append((direction, period))
        return out

    # evaluating

    def dtype(self, sizes: Sequence[int]) -> type:
        """int64 when no value, bound or partial sum over the whole grid can pass
        :data:`EXACT`, else object (Python integers): exact either way."""
        lo = np.zeros((1, self.d), dtype=object)
        hi = np.array([[s - 1 for s in sizes]], dtype=object)
        low, high = self.spans(lo, hi)
        biggest = max(sizes, default=0)
        forms = [f for _kind, _var, args in self.nodes for f in args]
        forms += [f for _op, f in self.atoms]
        for form in forms:
            reach = abs(form[1]) + sum(abs(c) * max(abs(int(low[m][0])), abs(int(high[m][0])))
                                       for m, c in form[0])
            biggest = max(biggest, reach, *(abs(c) for _m, c in form[0]))
        return np.int64 if biggest <= EXACT else object

    @staticmethod
    def _span(form: _Form, low: list[np.ndarray], high: list[np.ndarray]
              ) -> tuple[object, object]:
        terms, const = form
        a: object = const
        b: object = const
        for m, c in terms:
            if c > 0:
                a, b = a + c * low[m], b + c * high[m]
            else:
                a, b = a + c * high[m], b + c * low[m]
        return a, b

    def spans(self, lo: np.ndarray, hi: np.ndarray) -> tuple[list, list]:
        """Lower and upper bounds of every node over each box."""
        low: list = []
        high: list = []
        for kind, var, args in self.nodes:
            if kind == "var":
                low.append(lo[:, var])
                high.append(hi[:, var])
                continue
            # A form without variables spans a plain integer: held in the boxes' dtype, a
            # constant past int64 (pow2 of a size) stays exact in the object path.
            s = [tuple(np.broadcast_to(np.asarray(v, dtype=lo.dtype), (len(lo),))
                       for v in self._span(f, low, high)) for f in args]
            a, b = _NODE_SPANS[kind](*s)
            low.append(a)
            high.append(b)
        return low, high

    def atom_spans(self, low: list, high: list) -> list[tuple[object, object]]:
        return [self._span(form, low, high) for _op, form in self.atoms]

    def values_at(self, x: np.ndarray) -> list:
        """Every node's value at the points ``x`` (rows of coordinates)."""
        out: list = []
        for kind, var, args in self.nodes:
            if kind == "var":
                out.append(x[:, var])
                continue
            s = [self.form_value(f, out) for f in args]
            out.append(_NODE_VALUES[kind](*s))
        return out

    @staticmethod
    def form_value(form: _Form, values: list) -> object:
        """A linear form's value from its nodes' values."""
        terms, const = form
        total: object = const
        for m, c in terms:
            total = total + c * values[m]
        return total

    def truth(self, atom_values: list[np.ndarray], forced: np.ndarray) -> np.ndarray:
        """The condition from each atom's truth, forced atoms (1 true, 2 false) overriding."""
        states: list = []
        for kind, item in self.tree:
            if kind == "atom":
                a = item
                states.append(np.where(forced[:, a] == 0, atom_values[a],   # type: ignore[index]
                                       forced[:, a] == 1))  # type: ignore[index]
            elif kind == "const":
                states.append(np.full(len(forced), bool(item)))
            else:
                parts = [states[c] for c in item]  # type: ignore[attr-defined]
                states.append(np.logical_and.reduce(parts) if kind == "and"
                              else np.logical_or.reduce(parts))
        return states[self.root]

    def holds_at(self, x: np.ndarray, forced: np.ndarray) -> np.ndarray:
        values = self.values_at(x)
        atoms = [_POINT_COMPARE[op](np.asarray(self.form_value(form, values)), 0)
                 for op, form in self.atoms]
        return self.truth(atoms, forced)


def _floordiv_span(a: tuple, d: tuple) -> tuple:
    (a1, a2), (d1, d2) = a, d
    zero = (d1 <= 0) & (d2 >= 0)
    s1, s2 = np.where(zero, 1, d1), np.where(zero, 1, d2)
    # with a divisor of one sign, x / y is monotone in each argument: the extremes are corners
    q = (a1 // s1, a1 // s2, a2 // s1, a2 // s2)
    lo = np.minimum(np.minimum(q[0], q[1]), np.minimum(q[2], q[3]))
    hi = np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3]))
    big = np.maximum(np.abs(a1), np.abs(a2))   # |x // y| <= |x| for any y != 0
    return np.where(zero, -big, lo), np.where(zero, big, hi)


def _mod_positive(a1: object, a2: object, k1: object, k2: object) -> tuple:
    q = a1 // k1
    same = (k1 == k2) & (q == a2 // k1)   # one constant divisor, one quotient: x - q k
    inside = (a1 >= 0) & (a2 < k1)        # 0 <= x < every divisor: x itself
    lo = np.where(same, a1 - q * k1, np.where(inside, a1, 0))
    hi = np.where(same, a2 - q * k1, np.where(a1 >= 0, np.minimum(a2, k2 - 1), k2 - 1))
    return lo, hi


def _mod_span(a: tuple, d: tuple) -> tuple:
    (a1, a2), (d1, d2) = a, d
    pos, neg = d1 > 0, d2 < 0
    lp, hp = _mod_positive(a1, a2, np.where(pos, d1, 1), np.where(pos, d2, 1))
    # x % y == -((-x) % (-y)) for y < 0
    ln, hn = _mod_positive(-a2, -a1, np.where(neg, -d2, 1), np.where(neg, -d1, 1))
    lz, hz = np.minimum(0, d1 + 1), np.maximum(0, d2 - 1)   # |x % y| < |y|
    return (np.where(pos, lp, np.where(neg, -hn, lz)),
            np.where(pos, hp, np.where(neg, -ln, hz)))


def _mul_span(a: tuple, b: tuple) -> tuple:
    (a1, a2), (b1, b2) = a, b
    p = (a1 * b1, a1 * b2, a2 * b1, a2 * b2)
    return (np.minimum(np.minimum(p[0], p[1]), np.minimum(p[2], p[3])),
            np.maximum(np.maximum(p[0], p[1]), np.maximum(p[2], p[3])))


def _abs_span(a: tuple) -> tuple:
    a1, a2 = a
    return np.where(a1 >= 0, a1, np.where(a2 <= 0, -a2, 0)), np.maximum(-a1, a2)


def _clamped_pow2(x: object) -> np.ndarray:
    # exponents past MAX_POW2 do not occur at any point (checked first), so a bound may stop
    # there without losing soundness, and never builds a giant integer
    return power_of_two(np.minimum(np.asarray(x), MAX_POW2))


_NODE_SPANS = {
    "*": _mul_span,
    "//": _floordiv_span,
    "%": _mod_span,
    "abs": _abs_span,
    "log2": lambda a: (floor_log2(a[0]), floor_log2(a[1])),
    "pow2": lambda a: (_clamped_pow2(a[0]), _clamped_pow2(a[1])),
}

_NODE_VALUES = {
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "abs": lambda a: np.abs(a),
    "log2": floor_log2,
    "pow2": _clamped_pow2,
}

_POINT_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater,
                  ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal}


def _can(op: str, a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """Whether ``form op 0`` can be true, and can be false, for a form within [a, b]."""
    if op == "<":
        return a < 0, b >= 0
    if op == "<=":
        return a <= 0, b > 0
    if op == ">":
        return b > 0, a <= 0
    if op == ">=":
        return b >= 0, a < 0
    meets = (a <= 0) & (b >= 0)
    exactly = (a == 0) & (b == 0)
    return (meets, ~exactly) if op == "==" else (~exactly, meets)


# ----- the block counter


def _float(v: int) -> float:
    return float(v) if abs(v).bit_length() < 1000 else math.inf if v > 0 else -math.inf


def _floats(x: object) -> np.ndarray:
    """As float64, huge Python integers as infinities (only for choosing what to split)."""
    x = np.asarray(x)
    if x.dtype != object:
        return x.astype(np.float64)
    return np.frompyfunc(_float, 1, 1)(x).astype(np.float64)


@dataclass
class _Boxes:
    """Boxes of the grid, one per row: inclusive bounds per variable, a multiplicity, the
    atoms decided on an ancestor (0 free, 1 true, 2 false) and, once a box lies inside one
    block, the block's existence group (-1 before)."""

    lo: np.ndarray
    hi: np.ndarray
    mult: np.ndarray
    forced: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.mult)

    def take(self, index: object) -> _Boxes:
        return _Boxes(self.lo[index], self.hi[index], self.mult[index],  # type: ignore[index]
                      self.forced[index], self.group[index])  # type: ignore[index]

    @staticmethod
    def join(parts: list[_Boxes]) -> _Boxes:
        if len(parts) == 1:
            return parts[0]
        return _Boxes(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("lo", "hi", "mult", "forced", "group")))


class _Engine:
    """Sum over tiles holding a point where the program holds of the tile's weight.

    Variable i has ``sizes[i]`` values in tiles of ``tiles[i]`` (the last one ragged); a
    tile's weight is the product over variables of its extent (``measured``) or 1. Counting
    points is the case of tiles of 1, all measured. Boxes start as unions of whole tiles;
    a box inside one tile (along the variables still read) becomes an existence group:
    its weight counts once if any point of it holds.
    """

    def __init__(self, program: _Program, sizes: Sequence[int], tiles: Sequence[int],
                 measured: Sequence[bool]) -> None:
        self.p = program
        self.sizes = tuple(int(s) for s in sizes)
        self.tiles = np.array(tiles, dtype=np.int64)
        self.measured = np.array(measured, dtype=bool)
        # node values may need Python integers (itype); coordinates fit int64 (ctype) unless
        # a size is past EXACT
        self.itype = program.dtype(self.sizes)
        self.ctype = np.int64 if max(self.sizes, default=0) <= EXACT else object
        whole = math.prod(s if m else -(-s // t) for s, t, m in zip(sizes, tiles, measured,
                                                                     strict=True))
        self.wtype = np.int64 if whole <= EXACT else object
        self.total = 0
        self.found = np.zeros(0, dtype=bool)
        self.weights: list[np.ndarray] = []
        self.work = 0
        d = program.d
        # variables that may be folded: read only under % K, period a multiple of the tile;
        # a period past the variable's size never folds (and may be past int64: pow2(A))
        periods = [math.lcm(k, int(t)) if k else 0
                   for k, t in zip(program.period, self.tiles, strict=True)]
        self.fold = np.array([p if p < size else 0
                              for p, size in zip(periods, self.sizes, strict=True)],
                             dtype=np.int64) if d else np.zeros(0, dtype=np.int64)

    def run(self) -> int:
        d, a = self.p.d, len(self.p.atoms)
        start = _Boxes(np.zeros((1, d), dtype=self.ctype),
                       np.array([[s - 1 for s in self.sizes]], dtype=self.ctype),
                       np.ones(1, dtype=self.wtype), np.zeros((1, a), dtype=np.int8),
                       np.full(1, -1, dtype=np.int64))
        stack = [start]
        while stack:
            parts = [stack.pop()]
            count = len(parts[0])
            while stack and count + len(stack[-1]) <= _CHUNK:
                parts.append(stack.pop())
                count += len(parts[-1])
            boxes = _Boxes.join(parts)
            if len(boxes) > _CHUNK:
                stack.append(boxes.take(slice(_CHUNK, None)))
                boxes = boxes.take(slice(0, _CHUNK))
            self._spend(len(boxes))
            children = self._step(boxes)
            if len(children):
                stack.append(children)
        if self.weights:
            w = np.concatenate(self.weights)[self.found]
            self.total += int(np.sum(w.astype(object)))
        return self.total

    def _spend(self, amount: int) -> None:
        self.work += int(amount)
        shared = getattr(_SHARED, "work", None)
        if shared is not None:   # the counts one elimination starts share one budget
            shared[0] += int(amount)
        if self.work > MAX_WORK or (shared is not None and shared[0] > MAX_WORK):
            raise _TooIrregular

    # weights

    def _weight(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per box of whole tiles, the summed weight of its tiles."""
        ext = (hi - lo + 1).astype(self.wtype)
        w = np.ones(len(lo), dtype=self.wtype)
        for v in range(self.p.d):
            t = int(self.tiles[v])
            w = w * (ext[:, v] if self.measured[v] else -(-ext[:, v] // t))
        return w

    def _new_groups(self, weights: np.ndarray) -> np.ndarray:
        first = len(self.found)
        self.weights.append(weights)
        self.found = np.concatenate([self.found, np.zeros(len(weights), dtype=bool)])
        return np.arange(first, first + len(weights), dtype=np.int64)

    # one step

    def _step(self, b: _Boxes) -> _Boxes:
        p = self.p
        if self.itype is object:
            low, high = p.spans(b.lo.astype(object), b.hi.astype(object))
        else:
            low, high = p.spans(b.lo, b.hi)
        aspans = p.atom_spans(low, high)
        ct, cf = [], []
        for i, (op, _form) in enumerate(p.atoms):
            t, f = _can(op, *aspans[i])
            forced = b.forced[:, i]
            ct.append(np.where(forced == 0, t, forced == 1))
            cf.append(np.where(forced == 0, f, forced == 2))
        states = self._tree3(ct, cf, len(b))
        root_t, root_f = states[p.root]
        exist = b.group >= 0
        alive = ~exist
        if len(self.found):
            alive |= ~self.found[np.maximum(b.group, 0)]
        true = alive & ~root_f
        if np.any(true & ~exist):
            sel = true & ~exist
            self.total += int(np.sum((b.mult[sel] * self._weight(b.lo[sel], b.hi[sel])
                                      ).astype(object)))
        if np.any(true & exist):
            self.found[b.group[true & exist]] = True
        keep = alive & root_t & root_f
        if not np.any(keep):
            return b.take(np.zeros(0, dtype=np.int64))
        idx = np.flatnonzero(keep)
        b = b.take(idx)
        low = [x[idx] for x in low]
        high = [x[idx] for x in high]
        aspans = [(x[idx], y[idx]) for x, y in aspans]
        ct = [x[idx] for x in ct]
        cf = [x[idx] for x in cf]
        states = [(x[idx], y[idx]) for x, y in states]
        # atoms decided here stay decided on every sub-box
        for i in range(len(p.atoms)):
            b.forced[:, i] = np.where(~cf[i], 1, np.where(~ct[i], 2, b.forced[:, i]))
        live = self._live(states, len(b))
        frozen = [np.asarray(lo_ == hi_) for lo_, hi_ in zip(low, high, strict=True)]
        relevant, boundary, exposed = self._reach(live, frozen, len(b))
        b = self._collapse(b, relevant)
        b, keep_idx = self._dedup(b, relevant, boundary, low)
        if keep_idx is not None:
            low = [x[keep_idx] for x in low]
            high = [x[keep_idx] for x in high]
            aspans = [(x[keep_idx], y[keep_idx]) for x, y in aspans]
            live = [x[keep_idx] for x in live]
            frozen = [x[keep_idx] for x in frozen]
            relevant = [x[keep_idx] for x in relevant]
            exposed = [x[keep_idx] for x in exposed]
        return self._advance(b, low, high, aspans, live, frozen, relevant, exposed)

    def _tree3(self, ct: list, cf: list, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per tree node: can it be true, can it be false, on each box."""
        states: list[tuple[np.ndarray, np.ndarray]] = []
        for kind, item in self.p.tree:
            if kind == "atom":
                states.append((ct[item], cf[item]))  # type: ignore[index]
            elif kind == "const":
                states.append((np.full(n, bool(item)), np.full(n, not item)))
            else:
                ts = [states[c][0] for c in item]  # type: ignore[attr-defined]
                fs = [states[c][1] for c in item]  # type: ignore[attr-defined]
                if kind == "and":
                    states.append((np.logical_and.reduce(ts), np.logical_or.reduce(fs)))
                else:
                    states.append((np.logical_or.reduce(ts), np.logical_and.reduce(fs)))
        return states

    def _live(self, states: list, n: int) -> list[np.ndarray]:
        """Per atom: undecided, under undecided ancestors only (its value still matters)."""
        p = self.p
        live_tree = [np.zeros(n, dtype=bool) for _ in p.tree]
        live_tree[p.root] = np.ones(n, dtype=bool)
        live = [np.zeros(n, dtype=bool) for _ in p.atoms]
        for i in range(len(p.tree) - 1, -1, -1):
            kind, item = p.tree[i]
            if kind == "atom":
                live[item] |= live_tree[i]  # type: ignore[index]
            elif kind in ("and", "or"):
                for c in item:  # type: ignore[attr-defined]
                    live_tree[c] |= live_tree[i] & states[c][0] & states[c][1]
        return live

    def _reach(self, live: list, frozen: list, n: int) -> tuple[list, list, list]:
        """Per node: relevant (not frozen, read by a live atom through unfrozen nodes),
        boundary (frozen, read that way: its value is part of what is left to decide) and
        exposed (read by a live atom other than through a % K over a polynomial)."""
        p = self.p
        nn = len(p.nodes)
        relevant = [np.zeros(n, dtype=bool) for _ in range(nn)]
        boundary = [np.zeros(n, dtype=bool) for _ in range(nn)]
        exposed = [np.zeros(n, dtype=bool) for _ in range(nn)]
        for a, (_op, form) in enumerate(p.atoms):
            if not np.any(live[a]):
                continue
            for m, _c in form[0]:
                relevant[m] |= live[a] & ~frozen[m]
                boundary[m] |= live[a] & frozen[m]
                exposed[m] |= live[a]
        for i in range(nn - 1, p.d - 1, -1):
            _kind, _var, args = p.nodes[i]
            for j, form in enumerate(args):
                for m, _c in form[0]:
                    relevant[m] |= relevant[i] & ~frozen[m]
                    boundary[m] |= relevant[i] & frozen[m]
                    if not (p.shield[i] and j == 0):
                        exposed[m] |= exposed[i]
        return relevant[:p.d], boundary, exposed[:p.d]

    def _collapse(self, b: _Boxes, relevant: list) -> _Boxes:
        """A variable nothing undecided reads: the box's value does not depend on it, so its
        extent (or tile count) joins the multiplicity and the box keeps one value of it."""
        for v in range(self.p.d):
            mask = ~relevant[v] & (b.hi[:, v] > b.lo[:, v])
            if not np.any(mask):
                continue
            ext = (b.hi[mask, v] - b.lo[mask, v] + 1).astype(self.wtype)
            factor = ext if self.measured[v] else -(-ext // int(self.tiles[v]))
            counting = b.group[mask] < 0   # an existence group's weight is already fixed
            b.mult[mask] = np.where(counting, b.mult[mask] * factor, b.mult[mask])
            b.hi[mask, v] = b.lo[mask, v]
        return b

    def _dedup(self, b: _Boxes, relevant: list, boundary: list, low: list
               ) -> tuple[_Boxes, np.ndarray | None]:
        """Merge boxes left with the same question: equal ranges of the variables still
        read, equal decided atoms, equal values of the frozen nodes still read."""
        if self.ctype is object or len(b) < 2:
            return b, None
        cols = [b.group[:, None], b.forced.astype(np.int64)]
        span = b.hi > b.lo
        cols += [np.where(span, b.lo, -1), np.where(span, b.hi, -1)]
        for m in range(len(self.p.nodes)):
            if np.any(boundary[m]):
                value = np.where(boundary[m], low[m], 0)
                if value.dtype == object:   # exact values, as codes
                    value = np.unique(value, return_inverse=True)[1].ravel()
                cols.append(value.astype(np.int64)[:, None])
                cols.append(boundary[m][:, None].astype(np.int64))
        key = np.concatenate(cols, axis=1)
        _u, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        if len(first) == len(b):
            return b, None
        mult = np.zeros(len(first), dtype=self.wtype)
        np.add.at(mult, inverse.ravel(), b.mult)
        b = b.take(first)
        b.mult = np.where(b.group < 0, mult, b.mult)
        return b, first

    def _advance(self, b: _Boxes, low: list, high: list, aspans: list, live: list,
                 frozen: list, relevant: list, exposed: list) -> _Boxes:
        """Eliminate, fold, count leaves, or split each undecided box."""
        p, d = self.p, self.p.d
        n = len(b)
        ext = b.hi - b.lo + 1
        counting = b.group < 0
        rel = np.stack(relevant, axis=1) if d else np.zeros((n, 0), dtype=bool)
        children: list[_Boxes] = []
        done = np.zeros(n, dtype=bool)
        self._translate(b, rel, live, counting)
        # x == f(...) with exactly one solution for every other value: two boxes, x gone
        # (a count per point of the others: every variable still read is in tiles of 1)
        pointwise = counting & np.all(~rel | (self.tiles[None, :] == 1), axis=1)
        done |= self._eliminate(b, aspans, live, rel, pointwise, children)
        # a variable read only under % K: one period (and a remainder) stands for all
        done |= self._fold_periodic(b, rel, exposed, counting & ~done, children)
        # which variable, if any, every live atom reads linearly
        linear = rel.copy()
        for a in range(len(p.atoms)):
            nonlinear = p.reads[a] == 2
            if np.any(nonlinear):
                linear &= ~(live[a][:, None] & nonlinear[None, :])
        solvable = np.any(linear, axis=1)
        x = np.argmax(np.where(linear, ext, 0), axis=1)
        ext_rel = np.where(rel, ext, 1)
        volume = np.prod(ext_rel.astype(object), axis=1) if self.ctype is object else \
            np.prod(ext_rel.astype(np.float64), axis=1)
        rows = volume // np.maximum(np.take_along_axis(ext_rel, x[:, None], 1)[:, 0], 1)
        # leaves count only single points (or rows of them) along the variables still read
        unit = np.all(~rel | (self.tiles[None, :] == 1), axis=1) | ~counting
        point_leaf = ~done & unit & (volume <= np.where(counting, _LEAF, _SEARCH))
        row_leaf = ~done & ~point_leaf & unit & solvable & \
            (rows <= np.where(counting, _ROWS, _SEARCH))
        if np.any(point_leaf):
            self._points(b.take(point_leaf))
        if np.any(row_leaf):
            self._rows(b.take(row_leaf), x[row_leaf], live, row_leaf)
        rest = ~done & ~point_leaf & ~row_leaf
        if np.any(rest):
            children.extend(self._split(b, rest, ext, rel, low, high, live, frozen,
                                        relevant))
        return _Boxes.join(children) if children else b.take(np.zeros(0, dtype=np.int64))

    def _translate(self, b: _Boxes, rel: np.ndarray, live: list, counting: np.ndarray
                   ) -> None:
        """Move each box as far toward the origin as its live atoms allow without changing
        (by whole steps along directions that leave them unchanged): boxes along a diagonal,
        a band or a block diagonal then coincide, and merge."""
        p, d = self.p, self.p.d
        if self.ctype is object or len(p.atoms) + d > 62 or not np.any(counting):
            return
        code = np.zeros(len(b), dtype=np.int64)
        for a in range(len(p.atoms)):
            code |= live[a].astype(np.int64) << a
        for v in range(d):
            code |= rel[:, v].astype(np.int64) << (len(p.atoms) + v)
        code = np.where(counting, code, -1)
        for pattern in np.unique(code):
            if pattern < 0:
                continue
            rows = np.flatnonzero(code == pattern)
            live_bits = int(pattern) & ((1 << len(p.atoms)) - 1)
            for direction, step in p.translations(live_bits, int(pattern) >> len(p.atoms)):
                for v in np.flatnonzero(direction):   # whole tiles only
                    t = int(self.tiles[v])
                    step = math.lcm(step, t // math.gcd(t, abs(int(direction[v]))))
                if any(abs(step * int(direction[v])) >= self.sizes[v]
                       for v in np.flatnonzero(direction)):
                    continue   # a step past the grid moves no box (and may be past int64)
                lo, hi = b.lo[rows], b.hi[rows]
                k = np.full(len(rows), np.iinfo(np.int64).max, dtype=np.int64)
                for v in np.flatnonzero(direction):
                    move = step * int(direction[v])
                    room = lo[:, v] // move if move > 0 else \
                        (self.sizes[v] - 1 - hi[:, v]) // -move
                    k = np.minimum(k, room)
                b.lo[rows] = lo - k[:, None] * (step * direction)[None, :]
                b.hi[rows] = hi - k[:, None] * (step * direction)[None, :]

    def _eliminate(self, b: _Boxes, aspans: list, live: list, rel: np.ndarray,
                   open_: np.ndarray, children: list[_Boxes]) -> np.ndarray:
        """Boxes where x occurs in one live atom only, as ``x + r == 0`` (or -x) with -r
        in x's range at every point: per point of the others exactly one x solves it, so
        the box is one box with the atom true and one, weighted by the other x values, with
        it false; x itself no longer matters."""
        p = self.p
        done = np.zeros(len(b), dtype=bool)
        if not np.any(open_):
            return done
        readers = np.zeros(rel.shape, dtype=np.int64)
        for a in range(len(p.atoms)):
            readers += live[a][:, None] & (p.reads[a] > 0)[None, :]
        for a, (op, _form) in enumerate(p.atoms):
            if op not in ("==", "!="):
                continue
            for v in range(p.d):
                c = p.coef[a, v]
                if p.reads[a, v] != 1 or abs(c) != 1:
                    continue
                ok = open_ & ~done & live[a] & rel[:, v] & (readers[:, v] == 1)
                if not np.any(ok):
                    continue
                lo_v, hi_v = b.lo[:, v], b.hi[:, v]
                f_lo, f_hi = aspans[a]
                # the form without x: x's own share of the bounds taken out
                r_lo = f_lo - (lo_v if c > 0 else -hi_v)
                r_hi = f_hi - (hi_v if c > 0 else -lo_v)
                s_lo, s_hi = (-r_hi, -r_lo) if c > 0 else (r_lo, r_hi)
                ok &= (s_lo >= lo_v) & (s_hi <= hi_v)
                if not np.any(ok):
                    continue
                sub = b.take(ok)
                ones = (sub.hi[:, v] - sub.lo[:, v]).astype(self.wtype)
                sub.hi[:, v] = sub.lo[:, v]
                hit, miss = sub, _Boxes(sub.lo.copy(), sub.hi.copy(), sub.mult.copy(),
                                        sub.forced.copy(), sub.group.copy())
                hit.forced[:, a] = 1 if op == "==" else 2      # the one x solving it
                miss.mult = miss.mult * ones                    # every other x
                miss.forced[:, a] = 2 if op == "==" else 1
                children.extend([hit, miss])
                done |= ok
        return done

    def _fold_periodic(self, b: _Boxes, rel: np.ndarray, exposed: list, open_: np.ndarray,
                       children: list[_Boxes]) -> np.ndarray:
        """Boxes where x is read only under ``% K`` (of a polynomial): the count repeats
        every K values of x (or every lcm(K, tile))."""
        done = np.zeros(len(b), dtype=bool)
        for v in range(self.p.d):
            period = int(self.fold[v])
            if not period or not np.any(open_):
                continue
            ok = open_ & ~done & rel[:, v] & ~exposed[v] & (b.lo[:, v] >= period)
            ext = b.hi[:, v] - b.lo[:, v] + 1
            ok |= open_ & ~done & rel[:, v] & ~exposed[v] & (ext >= 2 * period)
            if not np.any(ok):
                continue
            sub = b.take(ok)
            e = (sub.hi[:, v] - sub.lo[:, v] + 1)
            start = sub.lo[:, v] % period
            whole = e // period
            folded = whole >= 2
            # a shift by whole periods changes nothing still read; q periods count once, q
            # times, and the remainder is a shifted copy of the last partial period
            full = sub.take(folded)
            full.lo[:, v] = start[folded]
            full.hi[:, v] = start[folded] + period - 1
            full.mult = full.mult * whole[folded].astype(self.wtype)
            rem = e - whole * period
            tail = sub.take(folded & (rem > 0))
            tail.lo[:, v] = start[folded & (rem > 0)]
            tail.hi[:, v] = tail.lo[:, v] + rem[folded & (rem > 0)] - 1
            moved = sub.take(~folded)
            moved.hi[:, v] = start[~folded] + e[~folded] - 1
            moved.lo[:, v] = start[~folded]
            children.extend([full, tail, moved])
            done |= ok
        return done

    def _points(self, b: _Boxes) -> None:
        """Count (or find) the points of small boxes one by one."""
        ext = (b.hi - b.lo + 1).astype(np.int64)
        vol = np.prod(ext, axis=1)
        self._spend(int(vol.sum()))
        owner = np.repeat(np.arange(len(b)), vol)
        offset = np.arange(len(owner)) - np.repeat(np.cumsum(vol) - vol, vol)
        x = np.empty((len(owner), self.p.d), dtype=self.itype)
        for v in range(self.p.d):
            e = ext[owner, v]
            x[:, v] = b.lo[owner, v] + offset % e
            offset //= e
        holds = self.p.holds_at(x, b.forced[owner])
        self._credit(b, owner, holds, np.ones(len(owner), dtype=np.int64))

    def _credit(self, b: _Boxes, owner: np.ndarray, holds: np.ndarray, length: np.ndarray
                ) -> None:
        """Add ``length`` points per true entry to its box (or mark its group found)."""
        exist = b.group[owner] >= 0
        hit = holds & (length > 0)
        if np.any(hit & exist):
            self.found[b.group[owner[hit & exist]]] = True
        count = hit & ~exist
        if np.any(count):
            # a box's count is at most its weight, so the weight's type holds it
            per_box = np.zeros(len(b), dtype=self.wtype)
            np.add.at(per_box, owner[count], length[count].astype(self.wtype))
            self.total += int(np.sum((b.mult * per_box).astype(object)))

    def _rows(self, b: _Boxes, x: np.ndarray, live_all: list, where: np.ndarray) -> None:
        """Boxes every live atom reads linearly in x: per row (a point of the others), the
        condition is constant between the places where some atom changes value."""
        p = self.p
        live = [lv[where] for lv in live_all]
        ext = (b.hi - b.lo + 1).astype(np.int64)
        n = len(b)
        ext_rows = ext.copy()
        ext_rows[np.arange(n), x] = 1
        vol = np.prod(ext_rows, axis=1)
        self._spend(int(vol.sum()))
        owner = np.repeat(np.arange(n), vol)
        offset = np.arange(len(owner)) - np.repeat(np.cumsum(vol) - vol, vol)
        pts = np.empty((len(owner), p.d), dtype=self.itype)
        for v in range(p.d):
            e = ext_rows[owner, v]
            pts[:, v] = b.lo[owner, v] + offset % e
            offset //= e
        xv = x[owner]
        x_lo, x_hi = b.lo[owner, xv], b.hi[owner, xv]
        pts[np.arange(len(owner)), xv] = 0   # coordinate 0 exists: the rest of each form
        values = p.values_at(pts)
        base, slope = [], []
        cuts = [x_lo, x_hi + 1]
        for a, (op, form) in enumerate(p.atoms):
            v0 = np.asarray(p.form_value(form, values))
            c = p.coef[a][xv].astype(self.itype) if self.itype is object else \
                np.array(p.coef[a], dtype=np.int64)[xv]
            base.append(v0)
            slope.append(c)
            on = live[a][owner] & (c != 0)
            if not np.any(on):
                continue
            cs = np.where(on, c, 1)
            if op in ("==", "!="):
                root = (-v0) // cs   # the only candidate x; it and the next start segments
                cuts += [np.where(on, root, x_lo), np.where(on, root + 1, x_lo)]
            else:
                # as c' x + v' <= 0: the first x where it changes value
                sign = 1 if op in ("<", "<=") else -1
                cp, vp = sign * cs, sign * v0 + (1 if op in ("<", ">") else 0)
                first = np.where(cp > 0, (-vp) // np.where(cp > 0, cp, 1) + 1,
                                 -((-vp) // np.where(cp < 0, -cp, 1)))
                cuts.append(np.where(on, first, x_lo))
        cut = np.sort(np.clip(np.stack(cuts, axis=1), x_lo[:, None], (x_hi + 1)[:, None]),
                      axis=1)
        forced = b.forced[owner]
        for j in range(cut.shape[1] - 1):
            start, length = cut[:, j], cut[:, j + 1] - cut[:, j]
            if not np.any(length > 0):
                continue
            atoms = [_POINT_COMPARE[op](base[a] + slope[a] * start, 0)
                     for a, (op, _f) in enumerate(p.atoms)]
            self._credit(b, owner, p.truth(atoms, forced), length)

    def _split(self, b: _Boxes, rest: np.ndarray, ext: np.ndarray, rel: np.ndarray,
               low: list, high: list, live: list, frozen: list, relevant: list
               ) -> list[_Boxes]:
        """Halve the chosen variables of each remaining box (at tile boundaries while the
        box is a union of whole tiles)."""
        p, d = self.p, self.p.d
        counting = b.group < 0
        tiles = self.tiles[None, :]
        ntiles = -(-ext // tiles)
        cand = rel & np.where(counting[:, None], ntiles > 1, ext > 1)
        # refining a log2 first freezes it, and then boxes that differ only there merge
        prio = np.zeros_like(cand)
        for m in p.log2_nodes:
            unfrozen = ~frozen[m]
            for v in p.node_vars[m]:
                prio[:, v] |= unfrozen & relevant[v]
        prio &= cand
        eligible = self._eligible(b, ext, low, high, live, frozen) & cand
        choice = np.where(np.any(prio, axis=1)[:, None], prio,
                          np.where(np.any(eligible, axis=1)[:, None], eligible, cand))
        # among them the smallest extents (within a factor 2): long ranks wait
        e64 = ext.astype(np.float64)
        smallest = np.min(np.where(choice, e64, np.inf), axis=1)
        choice &= e64 <= 2 * smallest[:, None]
        stuck = rest & counting & ~np.any(choice, axis=1)
        out: list[_Boxes] = []
        if np.any(stuck):
            # inside one tile along everything still read: find one point, once
            g = b.take(stuck)
            weights = g.mult * self._weight(g.lo, g.hi)
            g.group = self._new_groups(weights)
            g.mult = np.ones(len(g), dtype=self.wtype)
            self._probe(g)
            out.append(g.take(~self.found[g.group]))
        go = rest & ~stuck
        if not np.any(go):
            return out
        s = b.take(go)
        choice = choice[go]
        # while boxes are few, a step costs the same however many there are: cut each in
        # more pieces, so that fewer steps reach the leaves
        cuts = int(np.max(np.sum(choice, axis=1)))
        ways = 2
        while ways < _WAYS and len(s) * (2 * ways) ** cuts <= _FEW_BOXES:
            ways *= 2
        for v in range(d):
            mask = choice[:, v]
            if not np.any(mask):
                continue
            parts, chosen = [s.take(~mask)], [choice[~mask]]
            cut = s.take(mask)
            lo_v, hi_v = cut.lo[:, v], cut.hi[:, v]
            e = hi_v - lo_v + 1
            # whole boxes are cut at tile boundaries, existence groups anywhere
            unit = np.where(cut.group < 0, int(self.tiles[v]), 1)
            units = -(-e // unit)
            for j in range(ways):
                start = lo_v + units * j // ways * unit
                stop = np.where(j == ways - 1, hi_v, lo_v + units * (j + 1) // ways * unit - 1)
                keep = stop >= start
                piece = cut.take(keep)
                piece.lo[:, v] = start[keep]
                piece.hi[:, v] = stop[keep]
                parts.append(piece)
                chosen.append(choice[mask][keep])
            s = _Boxes.join(parts)
            choice = np.concatenate(chosen)
        out.append(s)
        return out

    def _eligible(self, b: _Boxes, ext: np.ndarray, low: list, high: list, live: list,
                  frozen: list) -> np.ndarray:
        """Variables that account for at least a quarter of some live atom's spread (how much
        of the atom's range each variable's range produces)."""
        with np.errstate(all="ignore"):   # huge or infinite spreads only rank variables
            return self._spreads(b, ext, low, high, live, frozen)

    def _spreads(self, b: _Boxes, ext: np.ndarray, low: list, high: list, live: list,
                 frozen: list) -> np.ndarray:
        p, d, n = self.p, self.p.d, len(b)
        spread: list[np.ndarray] = []
        width = [_floats(h - lo_) for lo_, h in zip(low, high, strict=True)]
        size = [np.maximum(np.abs(_floats(lo_)), np.abs(_floats(h)))
                for lo_, h in zip(low, high, strict=True)]

        def form_spread(form: _Form) -> tuple[np.ndarray, np.ndarray]:
            s = np.zeros((n, d))
            mag = np.full(n, _float(abs(form[1])))
            for m, c in form[0]:
                s += _float(abs(c)) * spread[m]
                mag = mag + _float(abs(c)) * size[m]
            return s, mag

        for i, (kind, var, args) in enumerate(p.nodes):
            if kind == "var":
                s = np.zeros((n, d))
                s[:, var] = ext[:, var].astype(np.float64) - 1
            elif kind == "*":
                (sa, ma), (sb, mb) = form_spread(args[0]), form_spread(args[1])
                s = mb[:, None] * sa + ma[:, None] * sb
            else:
                parts = [form_spread(f)[0] for f in args]
                inner = np.sum(parts, axis=0)
                total = inner.sum(axis=1)
                s = inner * np.where(total > 0, width[i] / np.where(total > 0, total, 1),
                                     0)[:, None]
            s[np.asarray(frozen[i])] = 0
            spread.append(s)
        eligible = np.zeros((n, d), dtype=bool)
        for a, (_op, form) in enumerate(p.atoms):
            if not np.any(live[a]):
                continue
            s, _mag = form_spread(form)
            top = s.max(axis=1, keepdims=True)
            eligible |= live[a][:, None] & (s > 0) & (s >= 0.25 * top)
        return eligible

    def _probe(self, g: _Boxes) -> None:
        """Try a few points of each new existence group: its centre, its corners, and where
        each live linear atom's boundary crosses the centre line."""
        d, n = self.p.d, len(g)
        if n == 0:
            return
        mid = (g.lo + (g.hi - g.lo) // 2).astype(self.itype)
        probes = [mid]
        corners = range(1 << d) if d <= 6 else (0, (1 << d) - 1)
        for k in corners:
            pick = np.array([(k >> v) & 1 for v in range(d)], dtype=bool)
            probes.append(np.where(pick[None, :], g.hi, g.lo).astype(self.itype))
        values = self.p.values_at(mid)
        for a, (op, form) in enumerate(self.p.atoms):
            v0 = np.asarray(self.p.form_value(form, values))
            for v in range(d):
                c = self.p.coef[a, v]
                if self.p.reads[a, v] != 1 or op in ("!=",):
                    continue
                # c (x - mid) + v0 = 0 at x = mid - v0 / c
                root = mid[:, v] - v0 // c
                for shift in (0, 1):
                    pt = mid.copy()
                    pt[:, v] = np.clip(root + shift, g.lo[:, v], g.hi[:, v])
                    probes.append(pt)
        pts = np.concatenate(probes)
        owner = np.tile(np.arange(n), len(probes))
        self._spend(len(pts))
        holds = self.p.holds_at(pts, g.forced[owner])
        self.found[g.group[owner[holds]]] = True
