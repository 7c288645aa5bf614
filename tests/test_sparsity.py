"""Counting computed points and touched blocks by blocks: exact against point-by-point
oracles on random conditions and on every library mask, exact closed forms at a million
keys and queries, and exact errors for zero divisors, huge values and bad requests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import einsum._sparsity as sparsity
from einsum import (
    Cascade,
    CascadeError,
    library_names,
    load,
    parse_text,
    rank_of,
    resolve_shapes,
    validate,
)
from einsum._predicate import (
    Both,
    Compare,
    Cond,
    Either,
    IAbs,
    ILog2,
    INum,
    IOp,
    IPow2,
    ISize,
    IVar,
    Negation,
    evaluate,
    floor_log2,
    power_of_two,
    sizes_of,
    text_of,
    variables_of,
)
from einsum._sparsity import (
    _count_points,
    computed_points,
    effective_conditions,
    touched,
)

MILLION = 2**20

# ----- random conditions over a, b, c against the point-by-point oracle

_LEAVES = st.one_of(st.sampled_from([IVar("a"), IVar("b"), IVar("c")]),
                    st.integers(-3, 6).map(INum),
                    st.sampled_from([ISize("W"), ISize("A"), ISize("C")]))
_EXPRS = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.builds(IOp, st.sampled_from(["+", "-", "*", "//", "%"]), inner, inner),
    st.builds(IAbs, inner), st.builds(ILog2, inner), st.builds(IPow2, inner)), max_leaves=5)
_CONDS = st.recursive(
    st.builds(Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _EXPRS, _EXPRS),
    lambda inner: st.one_of(st.builds(Both, inner, inner), st.builds(Either, inner, inner),
                            st.builds(Negation, inner)), max_leaves=4)
# the engine's knobs (leaf points, rows, search leaves, boxes per step, most pieces per cut,
# blocks turned into points by elimination), and small ones that exercise splitting, cuts in
# two and the block-by-block search
_DEFAULT = (sparsity._LEAF, sparsity._ROWS, sparsity._SEARCH, sparsity._CHUNK, sparsity._WAYS,
            sparsity._ELIMINATE)
_KNOBS = st.sampled_from([_DEFAULT, (1, 1, 1, 3, 2, True), (4, 2, 8, 7, 4, False),
                          (1, 8, 2, 1, 8, True), (64, 128, 4096, 1 << 15, 2, False)])
_KNOB_NAMES = ("_LEAF", "_ROWS", "_SEARCH", "_CHUNK", "_WAYS", "_ELIMINATE")
Values = tuple[int, int, int, int, int, bool]
Knobs = Callable[[Values], None]
_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


def _cascade(cond: Cond) -> tuple[Cascade, Cond]:
    c = parse_text(f"X[a,b,c] = Y[a,b,c] where {text_of(cond)}", name="t")
    where = c.einsums[0].where
    assert where is not None
    return c, where


def _grid(cond: Cond, sizes: dict[str, int]) -> np.ndarray:
    env: dict[str, object] = dict(sizes)
    dims = [sizes[v.upper()] for v in "abc"]
    for axis, v in enumerate("abc"):
        shape = [1, 1, 1]
        shape[axis] = dims[axis]
        env[v] = np.arange(dims[axis]).reshape(shape)
    return np.broadcast_to(evaluate(cond, env), dims)


@pytest.fixture
def knobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Knobs]:
    def use(values: Values) -> None:
        for name, value in zip(_KNOB_NAMES, values, strict=True):
            monkeypatch.setattr(sparsity, name, value)
        sparsity._solve.cache_clear()
    yield use
    sparsity._solve.cache_clear()


@_SETTINGS
@given(_CONDS, st.integers(1, 13), st.integers(1, 13), st.integers(1, 6), st.integers(0, 5),
       _KNOBS)
def test_counts_equal_the_point_by_point_count(knobs: Knobs, cond: Cond, na: int, nb: int,
                                               nc: int, w: int, values: Values) -> None:
    knobs(values)
    c, cond = _cascade(cond)
    sizes = {"A": na, "B": nb, "C": nc, "W": w}
    try:
        want: object = int(_grid(cond, sizes).sum())
    except CascadeError as error:   # the same error, located at the Einsum
        want = f"<text>:1: X: {error.message}"
    try:
        got: object = computed_points(c, sizes)["X"]
    except CascadeError as error:
        got = str(error)
    assert got == want


@_SETTINGS
@given(_CONDS, st.integers(1, 13), st.integers(1, 13), st.integers(1, 6), st.integers(0, 5),
       st.integers(1, 5), st.integers(1, 5), st.integers(1, 7), st.sets(st.sampled_from("ABC")),
       _KNOBS)
def test_touched_equals_brute_force(knobs: Knobs, cond: Cond, na: int, nb: int, nc: int,
                                    w: int, ta: int, tb: int, tc: int, measure: set[str],
                                    values: Values) -> None:
    knobs(values)
    c, cond = _cascade(cond)
    sizes = {"A": na, "B": nb, "C": nc, "W": w}
    try:
        grid = _grid(cond, sizes)
    except CascadeError:
        return   # errors are compared in the test above
    blocks = {"A": ta, "B": tb, "C": tc}
    want = 0
    for i in range(0, na, ta):
        for j in range(0, nb, tb):
            for k in range(0, nc, tc):
                block = grid[i:i + ta, j:j + tb, k:k + tc]
                if block.any():
                    want += math.prod(e for r, e in zip("ABC", block.shape, strict=True)
                                      if r in measure)
    assert touched(c, "X", sizes, blocks, sorted(measure)) == want


_VARS = [IVar("a"), IVar("b"), IVar("c")]
_LINEAR = st.builds(
    lambda k1, v1, k2, v2, k: IOp("+", IOp("+", IOp("*", INum(k1), v1), IOp("*", INum(k2), v2)),
                                  INum(k)),
    st.integers(-3, 3), st.sampled_from(_VARS), st.integers(-3, 3), st.sampled_from(_VARS),
    st.integers(-20, 20))
_SHAPED = _LINEAR.flatmap(lambda e: st.one_of(
    st.just(e), st.integers(1, 7).map(lambda k: IOp("//", e, INum(k))),
    st.integers(1, 7).map(lambda k: IOp("%", e, INum(k))), st.just(IAbs(e)),
    st.just(ILog2(IAbs(e)))))
_MASKS = st.recursive(
    st.builds(Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _SHAPED,
              st.one_of(_SHAPED, st.integers(-5, 30).map(INum), st.sampled_from(_VARS))),
    lambda inner: st.one_of(st.builds(Both, inner, inner), st.builds(Either, inner, inner),
                            st.builds(Negation, inner)), max_leaves=4)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_MASKS, st.integers(1, 300), st.integers(1, 300), st.integers(1, 5),
       st.integers(1, 40), st.integers(1, 40), st.sets(st.sampled_from("ABC")), _KNOBS)
def test_masks_on_larger_grids(knobs: Knobs, cond: Cond, na: int, nb: int, nc: int, ta: int,
                               tb: int, measure: set[str],
                               values: Values) -> None:
    """Bands, diagonals, strides and blocks large enough that boxes are moved, merged,
    folded and eliminated before they are counted."""
    knobs(values)
    c, cond = _cascade(cond)
    sizes = {"A": na, "B": nb, "C": nc, "W": 0}
    grid = _grid(cond, sizes)
    assert computed_points(c, sizes)["X"] == int(grid.sum())
    blocks = {"A": ta, "B": tb}
    hit = grid.any(axis=2, keepdims=True)   # C is one whole block
    hit = np.logical_or.reduceat(np.logical_or.reduceat(hit, np.arange(0, na, ta), axis=0),
                                 np.arange(0, nb, tb), axis=1)
    weight = np.ones(hit.shape, dtype=np.int64)
    for axis, (rank, size, block) in enumerate([("A", na, ta), ("B", nb, tb), ("C", nc, nc)]):
        starts = np.arange(0, size, block)
        shape = [1, 1, 1]
        shape[axis] = len(starts)
        if rank in measure:
            weight = weight * (np.minimum(starts + block, size) - starts).reshape(shape)
    assert touched(c, "X", sizes, blocks, sorted(measure)) == int((hit * weight).sum())


def _brute_touched(grid: np.ndarray, blocks: dict[str, int], measure: set[str]) -> int:
    """Touched blocks of an A x B x C grid, each weighing its measured extents."""
    hit = grid
    weight = np.ones((1, 1, 1), dtype=np.int64)
    for axis, rank in enumerate("ABC"):
        size = grid.shape[axis]
        block = blocks.get(rank, size)
        starts = np.arange(0, size, block)
        hit = np.logical_or.reduceat(hit, starts, axis=axis)
        shape = [1, 1, 1]
        shape[axis] = len(starts)
        extent = np.minimum(starts + block, size) - starts if rank in measure else \
            np.ones(len(starts), dtype=np.int64)
        weight = weight * extent.reshape(shape)
    return int((hit * weight).sum())


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(_MASKS, _CONDS), st.integers(1, 200), st.integers(1, 200), st.integers(1, 4),
       st.sampled_from(["A", "B"]), st.integers(1, 250), st.one_of(st.none(),
                                                                   st.integers(1, 250)),
       st.integers(1, 5), st.sets(st.sampled_from("ABC")), st.booleans())
def test_one_rank_in_blocks_equals_brute_force(knobs: Knobs, cond: Cond, na: int, nb: int,
                                                nc: int, rank: str, block: int,
                                                other: int | None, tc: int, measure: set[str],
                                                eliminate: bool) -> None:
    """One rank cut fine or coarse and the other whole or in few blocks (the loop tiles the
    mapping search asks about): whether a block holds a point is found by eliminating its
    offsets, exactly, or (off) block by block."""
    knobs((*_DEFAULT[:5], eliminate))
    c, cond = _cascade(cond)
    sizes = {"A": na, "B": nb, "C": nc, "W": 3}
    try:
        grid = _grid(cond, sizes)
    except CascadeError:
        return   # errors are compared in test_counts_equal_the_point_by_point_count
    blocks = {rank: block, "C": tc}
    if other is not None:
        blocks["B" if rank == "A" else "A"] = other
    assert touched(c, "X", sizes, blocks, sorted(measure)) == \
        _brute_touched(grid, blocks, measure)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(-4, 4), st.integers(-4, 4), st.integers(-30, 30),
                          st.integers(0, 6)), min_size=1, max_size=3),
       st.integers(1, 120), st.integers(1, 120), st.integers(1, 20), st.integers(1, 20),
       st.sets(st.sampled_from("AB")))
def test_bands_equal_brute_force(knobs: Knobs, bands: list[tuple[int, int, int, int]],
                                 na: int, nb: int, ta: int, tb: int, measure: set[str]) -> None:
    """Unions of bands 0 <= i a + j b + k <= g: narrow ones fix a block index per point of
    the other (counted without it, the bands made disjoint), exactly."""
    knobs(_DEFAULT)
    forms = [f"{i} * a + {j} * b + {k}" for i, j, k, _g in bands]
    text = " or ".join(f"({f} >= 0 and {f} <= {g})" for f, (*_ijk, g) in
                       zip(forms, bands, strict=True))
    c = parse_text(f"X[a,b,c] = Y[a,b,c] where {text}", name="t")
    cond = c.einsums[0].where
    assert cond is not None
    sizes = {"A": na, "B": nb, "C": 1}
    blocks = {"A": ta, "B": tb}
    assert touched(c, "X", sizes, blocks, sorted(measure)) == \
        _brute_touched(_grid(cond, sizes), blocks, measure)


# ----- every library mask, against the oracle


def _oracle(cascade: Cascade, sizes: dict[str, int]) -> dict[str, int]:
    out = {}
    for e in cascade.einsums:
        cond = effective_conditions(cascade)[e.name]
        whole = math.prod(sizes[rank_of(v)] for v in e.iteration_ranks)
        if cond is None:
            out[e.name] = whole
            continue
        names = variables_of(cond)
        dims = tuple(sizes[rank_of(v)] for v in names)
        holding = _count_points(cond, names, dims, {k: sizes[k] for k in sizes_of(cond)})
        out[e.name] = holding * whole // math.prod(dims)
    return out


_SMALL = {"E": 2, "F": 2, "H": 5, "R": 2, "G": 3, "L": 3, "B": 5, "J": 4, "T": 3, "C": 3,
          "W": 6, "S": 2, "M0": 4}
_MASKED = [n for n in library_names()
           if any(c is not None for c in effective_conditions(load(n)).values())]


@pytest.mark.parametrize("name", _MASKED)
@pytest.mark.parametrize("seq", [1, 2, 29, 64])
def test_library_masks_equal_the_oracle(knobs: Knobs, name: str, seq: int) -> None:
    c = load(name)
    layout = validate(c)
    known = set(layout.all_ranks()) | set(layout.parameters)
    outer = {s.outer for s in c.splits}
    wanted = {"M": seq, "P": seq, "N": seq, **_SMALL,
              **{r: max(1, seq // 6) for r in ("PY", "PX", "MY", "MX", "SQ", "SK", "TQ", "TK")}}
    sizes = resolve_shapes(c, {r: v for r, v in wanted.items() if r in known and r not in outer})
    for values in [_DEFAULT, (1, 1, 1, 5, 2, True)]:
        knobs(values)
        assert computed_points(c, sizes) == _oracle(c, sizes)


def _touched_oracle(cascade: Cascade, name: str, sizes: dict[str, int],
                    blocks: dict[str, int], measure: set[str]) -> int:
    """touched() point by point: the blocks of the condition's variables holding a point,
    times the blocks (or measured extents) of the ranks the condition does not read."""
    e = cascade.einsum(name)
    cond = effective_conditions(cascade)[name]
    assert cond is not None
    names = variables_of(cond)
    factor = 1
    for v in e.iteration_ranks:
        rank = rank_of(v)
        if v not in names:
            factor *= sizes[rank] if rank in measure else -(-sizes[rank] // blocks.get(
                rank, sizes[rank]))
    dims = [sizes[rank_of(v)] for v in names]
    env: dict[str, object] = {k: sizes[k] for k in sizes_of(cond)}
    for axis, v in enumerate(names):
        shape = [1] * len(dims)
        shape[axis] = dims[axis]
        env[v] = np.arange(dims[axis]).reshape(shape)
    hit = np.broadcast_to(evaluate(cond, env), dims)
    weight = np.ones([1] * len(dims), dtype=np.int64)
    for axis, v in enumerate(names):
        rank, size = rank_of(v), dims[axis]
        block = min(blocks.get(rank, size), size)
        starts = np.arange(0, size, block)
        hit = np.logical_or.reduceat(hit, starts, axis=axis)
        shape = [1] * len(dims)
        shape[axis] = len(starts)
        extent = np.minimum(starts + block, size) - starts if rank in measure else \
            np.ones(len(starts), dtype=np.int64)
        weight = weight * extent.reshape(shape)
    return factor * int((hit * weight).sum())


@pytest.mark.parametrize("name", _MASKED)
@pytest.mark.parametrize("eliminate", [True, False])
def test_library_touched_equals_the_oracle(knobs: Knobs, name: str, eliminate: bool) -> None:
    """Every masked Einsum of the library, in blocks along one or two of its condition's
    ranks (the rest whole), against the point-by-point oracle."""
    knobs((*_DEFAULT[:5], eliminate))
    c = load(name)
    layout = validate(c)
    known = set(layout.all_ranks()) | set(layout.parameters)
    outer = {s.outer for s in c.splits}
    wanted = {"M": 29, "P": 29, "N": 29, **_SMALL,
              **{r: 5 for r in ("PY", "PX", "MY", "MX", "SQ", "SK", "TQ", "TK")}}
    sizes = resolve_shapes(c, {r: v for r, v in wanted.items() if r in known and r not in outer})
    for einsum_name, cond in effective_conditions(c).items():
        if cond is None:
            continue
        e = c.einsum(einsum_name)
        first, *rest = dict.fromkeys(rank_of(v) for v in variables_of(cond))
        second = rest[0] if rest else first
        for measure in [{rank_of(v) for v in e.iteration_ranks}, {first}]:
            for blocks in [{first: 3}, {second: 2}, {first: 1, second: 5},
                           {first: 7, second: 4}, {first: 16, second: 1}]:
                assert touched(c, einsum_name, sizes, blocks, sorted(measure)) == \
                    _touched_oracle(c, einsum_name, sizes, blocks, measure), \
                    (einsum_name, blocks, measure)


@pytest.mark.parametrize("name", _MASKED)
def test_library_masks_are_eliminated(name: str) -> None:
    """Every library mask's blocks are turned into points by elimination: none is left to
    the block-by-block search, which takes a step per block (seconds at a million)."""
    c = load(name)
    for cond in effective_conditions(c).values():
        if cond is None:
            continue
        for variables, canonical, names in sparsity._parts(cond):
            d = len(variables)
            params = tuple((k, 3) for k in names)
            for tiles in [(8,) * d, (1,) + (64,) * (d - 1), (64,) * (d - 1) + (1,)]:
                sparsity._by_elimination(canonical, (64,) * d, tiles, (True,) * d, params)


# ----- a million keys and queries: exact closed forms


def _points(name: str, **shapes: int) -> dict[str, int]:
    c = load(name)
    return computed_points(c, resolve_shapes(c, {"E": 64, "F": 64, "M": MILLION,
                                                 "P": MILLION, **shapes}))


def test_causal_at_a_million() -> None:
    assert _points("causal")["QK"] == MILLION * (MILLION + 1) // 2 * 64


def test_sliding_window_at_a_million() -> None:
    w = 64
    assert _points("sliding_window")["SLN"] == w * (w + 1) // 2 + (MILLION - w) * w


def test_block_sparse_at_a_million() -> None:
    # 16 x 16 diagonal blocks, and the first 16 keys for every later query
    assert _points("block_sparse")["SN"] == MILLION // 16 * 256 + (MILLION - 16) * 16


def test_s2_attention_at_a_million() -> None:
    h, w = 12, 16
    p = np.arange(MILLION, dtype=np.int64)
    window = int(np.minimum(p + 1, w).sum())
    strided = sum(int(np.where(p - w >= r, (p - w - r) // h + 1, 0).sum()) for r in range(h))
    assert _points("s2_attention", H=h)["SLN"] == h * window + strided


def test_medusa_tree_at_a_million() -> None:
    c, t = 8, 2
    p = np.arange(MILLION, dtype=np.int64)
    lines = [p + c, np.where(p >= 1, (p - 1) // t + c, -1),
             np.where(p >= t + 1, ((p - 1) // t - 1) // t + c, -1)]
    a, b, d = (np.where((x >= c) & (x < MILLION), x, -1) for x in lines)
    distinct = (a >= 0).astype(np.int64) + ((b >= 0) & (b != a)) + \
        ((d >= 0) & (d != a) & (d != b))
    assert _points("medusa_tree")["SN"] == int((c + distinct).sum())


def test_other_masks_run_at_a_million() -> None:
    """No refusal at 1M x 1M (the block counter has no grid limit)."""
    for name in ("causal_fusemax", "decode", "duo_attention", "lightning_attention2",
                 "sinks"):
        extra = {"H": 12} if name == "duo_attention" else {}
        if name == "lightning_attention2":
            c = load(name)
            points = computed_points(c, resolve_shapes(c, {"E": 64, "F": 64, "M": MILLION,
                                                           "N": MILLION}))
        else:
            points = _points(name, **extra)
        assert 0 < min(points.values())
    assert _points("causal_fusemax")["SLN"] == MILLION * (MILLION + 1) // 2


# ----- touched


def _causal() -> Cascade:
    return parse_text("QK[m,p] = Q[e,p] * K[e,m] where m <= p", name="demo")


def test_touched_causal_blocks_of_two() -> None:
    # (p0-1, m0-1), (p2-3, m0-1) and (p2-3, m2-3) hold a point; (p0-1, m2-3) does not
    sizes = {"E": 8, "M": 4, "P": 4}
    assert touched(_causal(), "QK", sizes, {"P": 2, "M": 2}, ["M"]) == 6
    assert touched(_causal(), "QK", sizes, {"P": 2, "M": 2}, []) == 3
    assert touched(_causal(), "QK", sizes, {"P": 2, "M": 2}, ["M", "P", "E"]) == 3 * 4 * 8


def test_touched_with_blocks_of_one_counts_points() -> None:
    c = parse_text("QK[m,p] = Q[p] * K[m] where m <= p and p - m < W", name="demo")
    sizes = {"M": 300, "P": 250, "W": 17}
    assert touched(c, "QK", sizes, {"P": 1, "M": 1}, ["M", "P"]) == \
        computed_points(c, sizes)["QK"]


def test_touched_dense_einsum() -> None:
    c = parse_text("QK[m,p] = Q[e,p] * K[e,m]", name="demo")
    sizes = {"E": 10, "M": 100, "P": 30}
    # measured sizes times the blocks of the unmeasured blocked ranks (ceil(30 / 7) = 5)
    assert touched(c, "QK", sizes, {"P": 7, "M": 64}, ["M", "E"]) == 100 * 10 * 5
    assert touched(c, "QK", sizes, {"P": 7, "M": 64, "Z": 3}, []) == 5 * 2


def test_sliding_window_traffic_is_linear() -> None:
    """A window of 512 keys with 256 x 256 tiles reads 3 key tiles per query tile."""
    c = load("sliding_window")
    for m in (MILLION // 2, MILLION):
        sizes = resolve_shapes(c, {"E": 64, "F": 64, "M": m, "P": m, "W": 512})
        assert touched(c, "QK", sizes, {"P": 256, "M": 256}, ["M"]) == 3 * m - 768


@pytest.mark.parametrize("block", [1, 3, 64, 4096])
def test_touched_at_a_million(block: int) -> None:
    c = load("causal")
    sizes = resolve_shapes(c, {"E": 64, "F": 64, "M": MILLION, "P": MILLION})
    tiles = -(-MILLION // block)
    # key tile i (block keys wide, the last one ragged) is read by query tiles i, i+1, ...
    ragged = MILLION - (tiles - 1) * block
    want = block * (tiles * (tiles + 1) // 2 - 1) + ragged
    assert touched(c, "SLN", sizes, {"P": block, "M": block}, ["M"]) == want


HALF = MILLION // 2
E = 64


def _medusa_keys_in_halves(c: int) -> int:
    """Query halves (blocks of 2**19) that see each key of medusa_tree (T = 2): the first C
    keys are seen by every query; key C + k by queries k, 2k + 1, 2k + 2 and 4k + 3 ... 4k + 6
    (those below a million), which straddle the middle for k in [2**17 - 1, 2**19)."""
    return 2 * c + (HALF // 4 - 1) + 2 * (HALF - HALF // 4 + 1) + (MILLION - c - HALF)


_EVERY_QUERY_AND_KEY = ["block_sparse", "causal", "decode", "duo_attention", "medusa_tree",
                        "s2_attention", "sinks", "sliding_window"]


@pytest.mark.parametrize("name", _EVERY_QUERY_AND_KEY)
@pytest.mark.parametrize(("blocks", "measure"), [({"P": 1}, ("E", "P")),
                                                 ({"M": 1}, ("E", "M")),
                                                 ({"P": 2}, ("E", "P")),
                                                 ({"M": 16}, ("E", "M"))])
def test_every_query_sees_a_key_at_a_million(name: str, blocks: dict[str, int],
                                             measure: tuple[str, str]) -> None:
    """Blocks along one rank, the other whole: every query sees some key and every key is
    seen by some query, so every block is touched (E * P, or E * M)."""
    c = load(name)
    sizes = resolve_shapes(c, {"E": E, "F": E, "M": MILLION, "P": MILLION,
                               **({"H": 12} if name in ("duo_attention", "s2_attention")
                                  else {})})
    assert touched(c, "QK", sizes, blocks, measure) == E * MILLION


@pytest.mark.parametrize(("name", "shapes", "blocks", "measure", "want"), [
    # a window of W keys straddles the middle for W - 1 queries (and W - 1 keys)
    ("sliding_window", {"W": 64}, {"M": HALF, "P": 1}, ("E", "P"), MILLION + 63),
    ("sliding_window", {"W": 64}, {"P": HALF, "M": 1}, ("E", "M"), MILLION + 63),
    # causal: the later half of the queries sees both key halves
    ("causal", {}, {"M": HALF, "P": 1}, ("E", "P"), MILLION + HALF),
    ("causal", {}, {"P": HALF, "M": 1}, ("E", "M"), MILLION + HALF),
    ("decode", {}, {"M": HALF, "P": 1}, ("E", "P"), MILLION + HALF),
    # block diagonal (B = 16) and the first block: keys below B are seen by both halves
    ("block_sparse", {"B": 16}, {"M": HALF, "P": 1}, ("E", "P"), MILLION + HALF),
    ("block_sparse", {"B": 16}, {"P": HALF, "M": 1}, ("E", "M"), MILLION + 16),
    ("block_sparse", {"B": 16}, {"M": 1}, ("E", "M"), MILLION),
    # S sinks and a window of W
    ("sinks", {"S": 4, "W": 64}, {"P": HALF, "M": 1}, ("E", "M"), MILLION + 4 + 63),
    ("sinks", {"S": 4, "W": 64}, {"M": HALF, "P": 1}, ("E", "P"), MILLION + HALF),
    # the tree's parents: queries from HALF - C on reach the upper key half
    ("medusa_tree", {"C": 8, "T": 2}, {"M": HALF, "P": 1}, ("E", "P"), MILLION + HALF + 8),
    ("medusa_tree", {"C": 8, "T": 2}, {"P": HALF, "M": 1}, ("E", "M"),
     _medusa_keys_in_halves(8)),
    # keys in blocks of M0 (64): every block of keys is seen; halves as causal
    ("causal_fusemax", {"M0": 64}, {"M1": 1}, ("E", "M1"), MILLION // 64),
    ("causal_fusemax", {"M0": 64}, {"P": 1}, ("E", "P"), MILLION),
    ("causal_fusemax", {"M0": 64}, {"M1": HALF // 64, "P": 1}, ("E", "P"), MILLION + HALF),
    ("causal_fusemax", {"M0": 64}, {"P": HALF, "M1": 1}, ("E", "M1"),
     (MILLION + HALF) // 64),
])
def test_one_fine_and_one_huge_block_at_a_million(name: str, shapes: dict[str, int],
                                                  blocks: dict[str, int],
                                                  measure: tuple[str, str], want: int) -> None:
    c = load(name)
    sizes = resolve_shapes(c, {"E": E, "F": E, "M": MILLION, "P": MILLION, **shapes})
    assert touched(c, "QK", sizes, blocks, measure) == E * want


def test_touched_rejects_bad_requests() -> None:
    sizes = {"E": 8, "M": 4, "P": 4}
    with pytest.raises(CascadeError) as caught:
        touched(_causal(), "XX", sizes, {}, [])
    assert str(caught.value) == "demo has no Einsum XX (its Einsums: QK)"
    with pytest.raises(CascadeError) as caught:
        touched(_causal(), "QK", sizes, {"M": 0}, [])
    assert str(caught.value) == "block size of rank M must be a whole number >= 1, not 0"
    with pytest.raises(CascadeError) as caught:
        touched(_causal(), "QK", sizes, {}, ["F"])
    assert str(caught.value) == ("<text>:1: QK does not iterate over rank F, so it cannot be "
                                 "measured (its ranks: M, P, E)")
    with pytest.raises(CascadeError) as caught:
        touched(_causal(), "QK", {"E": 8, "M": 4}, {}, [])
    assert str(caught.value) == "<text>:1: no size for P, which QK needs"


# ----- exact arithmetic and its errors


def _qk(where: str) -> Cascade:
    return parse_text(f"QK[m,p] = Q[e,p] * K[e,m] where {where}", name="demo")


def test_zero_divisor_is_an_error_naming_the_einsum() -> None:
    with pytest.raises(CascadeError) as caught:
        computed_points(_qk("m // (W - 1) <= p"), {"E": 1, "M": 8, "P": 8, "W": 1})
    assert str(caught.value) == ("<text>:1: QK: where m // (W - 1) <= p divides by zero "
                                 "(W - 1 is 0 at some point)")
    assert caught.value.line == 1
    with pytest.raises(CascadeError) as caught:
        computed_points(_qk("m % (p - m) == 0"), {"E": 1, "M": MILLION, "P": MILLION})
    assert str(caught.value) == ("<text>:1: QK: where m % (p - m) == 0 divides by zero "
                                 "(p - m is 0 at some point)")
    # a divisor that is never 0 on the grid is fine, though its bounds include 0
    odd = _qk("m % (2 * p - 2 * m + 1) == 1")
    assert computed_points(odd, {"E": 1, "M": 30, "P": 70})["QK"] == \
        _count_points(odd.einsums[0].where, ("m", "p"), (30, 70), {})


def test_zero_divisor_in_a_library_file_names_file_and_line() -> None:
    c = load("block_sparse")
    with pytest.raises(CascadeError) as caught:
        computed_points(c, resolve_shapes(c, {"E": 2, "F": 2, "M": 8, "P": 8}) | {"B": 0})
    text = str(caught.value)
    assert text.startswith(f"{c.file}:11: QK: where m // B == p // B or m // B == 0 "
                           "divides by zero (B is 0 at some point)")


def test_pow2_past_the_limit_is_an_error() -> None:
    with pytest.raises(CascadeError) as caught:
        computed_points(_qk("m < pow2(p)"), {"E": 1, "M": 4, "P": 5000})
    assert str(caught.value) == ("<text>:1: QK: where m < pow2(p) needs pow2 of up to 4999, "
                                 "more than pow2(4096)")


def test_values_past_int64_are_exact() -> None:
    # m * W <= p * W is m <= p; W * W is far past int64
    half = MILLION * (MILLION + 1) // 2
    assert computed_points(_qk("m * W <= p * W"),
                           {"E": 1, "M": MILLION, "P": MILLION, "W": 2**62})["QK"] == half
    big = 2**40
    assert computed_points(_qk("m * P <= p * M"), {"E": 1, "M": big, "P": big})["QK"] == \
        big * (big + 1) // 2
    assert computed_points(_qk("p - m < W * W - W * W + 5"),
                           {"E": 1, "M": 100, "P": 100, "W": 2**62})["QK"] == \
        sum(p - m < 5 for p in range(100) for m in range(100))
    # pow2 beyond 62 is exact, not clipped
    assert computed_points(_qk("pow2(m + 60) > W"), {"E": 1, "M": 8, "P": 1, "W": 2**64})[
        "QK"] == 3


def test_evaluate_is_exact() -> None:
    assert floor_log2(np.array([2**53 - 1, 2**53, 2**62 - 1, 2**62])).tolist() == \
        [52, 53, 61, 62]
    assert floor_log2(np.array([2**100 - 1, 0, -5], dtype=object)).tolist() == [99, -1, -1]
    assert power_of_two(np.array([62, 63, -1])).tolist() == [2**62, 2**63, 1]
    cond = _qk("m * W + p > W * W").einsums[0].where
    env = {"m": np.arange(3), "p": np.array([0]), "W": 2**40}
    assert evaluate(cond, env).tolist() == [False, False, False]
    with pytest.raises(CascadeError) as caught:
        evaluate(_qk("m % p < 1").einsums[0].where, {"m": np.arange(3), "p": np.arange(2)})
    assert str(caught.value) == "where m % p < 1 divides by zero (p is 0 at some point)"


def test_too_irregular_a_condition_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sparsity, "MAX_WORK", 1000)
    sparsity._solve.cache_clear()
    with pytest.raises(CascadeError) as caught:
        computed_points(_qk("m * p // 7 % 2 == 0"), {"E": 1, "M": 5000, "P": 5000})
    sparsity._solve.cache_clear()
    assert str(caught.value) == ("<text>:1: QK: where m * p // 7 % 2 == 0 is too irregular to "
                                 "count at these sizes (more than 1,000 blocks); analyse at "
                                 "a smaller shape")


@pytest.mark.parametrize("where", ["m < m % pow2(A)", "m < m // pow2(A)", "m % pow2(A) > 3",
                                   "m // pow2(A) + m % pow2(A) > 5", "(m + p) % pow2(A) < p"])
@pytest.mark.parametrize("a", [3, 63, 64, 100])
def test_periods_past_64_bits_count_exactly(where: str, a: int) -> None:
    # pow2(A) of a large size is a period past int64: folds and moves by it never apply,
    # and the counts stay exact (hypothesis found 64-bit overflows here).
    cascade = parse_text(f"Y[m,p] = X[m] * Z[p] where {where}", name="x")
    sizes = {"M": 64, "P": 5, "A": a}
    k = 2**a
    brute = sum(eval(where.replace("pow2(A)", str(k)), {"m": m, "p": p})
                for m in range(64) for p in range(5))
    assert computed_points(cascade, sizes)["Y"] == brute
    assert touched(cascade, "Y", sizes, {"M": 1, "P": 1}, ("M", "P")) == brute
    assert touched(cascade, "Y", sizes, {"M": 4}, ("M",)) == sum(
        4 for b in range(16) if any(eval(where.replace("pow2(A)", str(k)), {"m": m, "p": p})
                                    for m in range(4 * b, 4 * b + 4) for p in range(5)))


@pytest.mark.parametrize("where", ["m < abs(abs(pow2(A)))", "m < abs(pow2(A)) - pow2(A) + 3",
                                   "m < log2(abs(pow2(A)))"])
@pytest.mark.parametrize("a", [62, 70])
def test_functions_of_a_wide_size_stay_exact(where: str, a: int) -> None:
    # abs of a number past int64 came back from numpy as a bare int, not an array, and the
    # next width check read its dtype (hypothesis found it in CI at A = 62)
    cascade = parse_text(f"Y[m,p] = X[m] * Z[p] where {where}", name="x")
    sizes = {"M": 64, "P": 5, "A": a}
    text = where.replace("pow2(A)", str(2**a)).replace("log2(", "(lambda v: v.bit_length() - 1)(")
    brute = sum(eval(text, {"m": m, "p": p}) for m in range(64) for p in range(5))
    assert computed_points(cascade, sizes)["Y"] == brute
    assert touched(cascade, "Y", sizes, {"M": 4}, ("M",)) == 4 * len(
        {m // 4 for m in range(64) for p in range(5) if eval(text, {"m": m, "p": p})})
    # sizes as plain ints make 0-d arrays, where numpy returns scalars
    cond = cascade.einsums[0].where
    assert cond is not None
    env = {"m": np.arange(64)[:, None], "p": np.arange(5), "A": a}
    assert np.broadcast_to(evaluate(cond, env), (64, 5)).sum() == brute


def test_pow2_of_a_wide_size_is_refused() -> None:
    cond = _qk("m < pow2(abs(pow2(W)))").einsums[0].where
    assert cond is not None
    with pytest.raises(CascadeError) as caught:
        evaluate(cond, {"m": np.arange(4), "p": np.arange(4), "W": 62})
    assert str(caught.value) == ("where m < pow2(abs(pow2(W))) needs pow2 of up to "
                                 "4611686018427387904, more than pow2(4096)")
