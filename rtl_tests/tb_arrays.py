"""cocotb testbenches of the 2D output-stationary systolic array and the 1D vector array:
bit-exact against exact integer arithmetic on the fixed-point words (the golden model's
products and sums never round), signed and unsigned operands, stalls, no extra output beat,
reset while loading, draining and while outputs wait, ``max_k`` products of the largest
operands exact and one more flagged, and cycles against the model. Every test has a bound on
its simulated time."""

from __future__ import annotations

import cocotb
import numpy as np
from _stream import (
    begin,
    collect,
    config,
    drive_beats,
    expect_quiet,
    record_cycles,
    reset,
    timeout,
)
from cocotb.triggers import ReadOnly, RisingEdge

from hls_templates import array_cycles, systolic_types, vector_types
from sim import systolic_cycles

_SYSTOLIC_INPUTS = ("in_valid", "in_a", "in_b", "in_last")
_OVERFLOW_CHECK_LIMIT = 8192
"""The largest max_k whose overflow flag is exercised (max_k + 1 beats are simulated)."""


def _pack(values: list[int], width: int) -> int:
    return sum((v % (1 << width)) << (i * width) for i, v in enumerate(values))


def _unpack(word: int, width: int, count: int) -> list[int]:
    out = []
    for i in range(count):
        v = word >> (i * width) & ((1 << width) - 1)
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


# ----- systolic array


def _is(unit: str) -> bool:
    return config()["unit"] == unit


def _max_k() -> int:
    return int(config()["params"].get("max_k", 4096))


def _largest(t) -> int:
    """The operand value of the largest magnitude (the most negative one if signed)."""
    return t.min_raw if t.signed else t.max_raw


def _matmul(seed: int, depth: int, *, extreme: bool = False
            ) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    rows, cols, a_t, b_t, _acc_w = systolic_types(config()["params"])
    rng = np.random.default_rng(seed)
    if extreme:  # every product the largest: the accumulators' worst case
        a = np.full((rows, depth), _largest(a_t), dtype=np.int64)
        b = np.full((depth, cols), _largest(b_t), dtype=np.int64)
    else:
        a = rng.integers(a_t.min_raw, a_t.max_raw + 1, (rows, depth))
        b = rng.integers(b_t.min_raw, b_t.max_raw + 1, (depth, cols))
        a[0, 0], b[0, 0] = _largest(a_t), _largest(b_t)
        a[-1, -1], b[-1, -1] = a_t.max_raw, b_t.max_raw
    beats_a = [_pack([int(v) for v in a[:, k]], a_t.width) for k in range(depth)]
    beats_b = [_pack([int(v) for v in b[k, :]], b_t.width) for k in range(depth)]
    product = a.astype(object) @ b.astype(object)
    return beats_a, beats_b, [0] * (depth - 1) + [1], [[int(v) for v in r] for r in product]


def _beats(seed: int, depth: int, *, extreme: bool = False) -> list[dict[str, int]]:
    beats_a, beats_b, last, _ = _matmul(seed, depth, extreme=extreme)
    return [{"a": a, "b": b, "last": end} for a, b, end in zip(beats_a, beats_b, last,
                                                                 strict=True)]


async def _run_matmul(dut, seed: int, depth: int, *, gaps: float = 0.0, stalls: float = 0.0,
                      extreme: bool = False) -> tuple[list[list[int]], set[int]]:
    """The product's rows and the values out_overflow took with them."""
    rows, cols, _a, _b, acc_w = systolic_types(config()["params"])
    cocotb.start_soon(drive_beats(dut, _beats(seed, depth, extreme=extreme), gaps=gaps,
                                  seed=seed))
    got = await collect(dut, rows, stalls=stalls, seed=seed + 1, fields=("data", "overflow"))
    return [_unpack(w, acc_w, cols) for w, _ in got], {flag for _, flag in got}


@cocotb.test(**timeout(4_000))
async def systolic_bit_exact_under_back_pressure(dut) -> None:
    if not _is("systolic"):
        return
    await begin(dut, _SYSTOLIC_INPUTS)
    for seed, depth in ((1, 37), (2, 1), (3, 64)):
        depth = min(depth, _max_k())
        got, overflow = await _run_matmul(dut, seed, depth, gaps=0.3, stalls=0.4)
        assert got == _matmul(seed, depth)[3] and overflow == {0}
    await expect_quiet(dut)


async def _after_reset(dut, seed: int) -> None:
    """Nothing stale comes out after a reset, and the next product is exact."""
    for _ in range(8):
        await ReadOnly()
        assert int(dut.out_valid.value) == 0
        await RisingEdge(dut.clk)
    depth = min(20, _max_k())
    got, overflow = await _run_matmul(dut, seed, depth, stalls=0.3)
    assert got == _matmul(seed, depth)[3] and overflow == {0}


@cocotb.test(**timeout(4_000))
async def systolic_reset_while_loading_draining_and_waiting(dut) -> None:
    if not _is("systolic"):
        return
    await begin(dut, _SYSTOLIC_INPUTS)
    rows, cols, *_ = systolic_types(config()["params"])
    depth = min(50, _max_k())
    # while loading: 20 cycles into a 50-beat product
    feeder = cocotb.start_soon(drive_beats(dut, _beats(5, depth)))
    for _ in range(min(20, depth)):
        await RisingEdge(dut.clk)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    await _after_reset(dut, 6)
    # while draining: one cycle after the last beat (when the array has a drain)
    await drive_beats(dut, _beats(7, depth))
    await reset(dut, 1)
    await _after_reset(dut, 8)
    # while the rows wait to be read: the output is not ready
    await drive_beats(dut, _beats(9, depth))
    for _ in range(rows + cols + 2):
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.out_valid.value) == 1
    await RisingEdge(dut.clk)
    await reset(dut, 1)
    await _after_reset(dut, 10)
    await expect_quiet(dut)


@cocotb.test(**timeout(2 * _OVERFLOW_CHECK_LIMIT + 4_000))
async def systolic_max_k_products_exact_and_one_more_flagged(dut) -> None:
    if not _is("systolic"):
        return
    await begin(dut, _SYSTOLIC_INPUTS)
    max_k = _max_k()
    depth = min(max_k, _OVERFLOW_CHECK_LIMIT)
    got, overflow = await _run_matmul(dut, 11, depth, extreme=True)
    assert got == _matmul(11, depth, extreme=True)[3], "the largest products wrapped"
    assert overflow == {0}
    if max_k < _OVERFLOW_CHECK_LIMIT:
        _, overflow = await _run_matmul(dut, 12, max_k + 1, extreme=True)
        assert overflow == {1}, f"{max_k + 1} beats with max_k = {max_k} were not flagged"
    await expect_quiet(dut)


@cocotb.test(**timeout(6_000))
async def systolic_cycles_match_the_model(dut) -> None:
    if not _is("systolic"):
        return
    await begin(dut, _SYSTOLIC_INPUTS)
    rows, cols, *_ = systolic_types(config()["params"])
    depth = min(2048, _max_k())  # at 2,048, fill, drain and read-out stay under 2 %
    start = cocotb.utils.get_sim_time(unit="ns")
    got, _ = await _run_matmul(dut, 9, depth)
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    assert got == _matmul(9, depth)[3]
    # the cost model's rule for an output-stationary array (the one cascade map applies to
    # a systolic unit that pays each fold): K beats, the wavefront's fill and drain
    # (rows + cols - 2), then one row read out a cycle and one cycle clearing the sums
    model = systolic_cycles("os", rows, cols, rows, depth, cols, readout_cycles=rows + 1)
    ideal = array_cycles("C[r,c] = A[r,k] * B[k,c]", {"R": rows, "C": cols, "K": depth},
                         (rows, cols), ("R", "C"))
    dut._log.info("cycles: RTL %d, model %d (MACs / PEs alone: %d)", cycles, model, ideal)
    record_cycles(f"K = {depth}, no stalls", model, cycles)
    assert cycles == model, (cycles, model)
    await expect_quiet(dut)


# ----- vector array


def _vector_beats(seed: int, count: int) -> tuple[list[dict[str, int]], list[int]]:
    params = config()["params"]
    lanes, a_t, b_t, y_t = vector_types(params)
    rng = np.random.default_rng(seed)
    a = rng.integers(a_t.min_raw, a_t.max_raw + 1, (count, lanes))
    b = rng.integers(b_t.min_raw, b_t.max_raw + 1, (count, lanes))
    c = rng.integers(y_t.min_raw, y_t.max_raw + 1, (count, lanes))
    op = rng.integers(0, 2, count)
    shift = a_t.fraction + b_t.fraction - y_t.fraction
    span = 1 << y_t.width
    expected = []
    for i in range(count):
        if op[i]:
            y = [max(int(x), int(z)) for x, z in zip(a[i], c[i], strict=True)]
        else:
            y = [((int(x) * int(w)) >> shift) + int(z)
                 for x, w, z in zip(a[i], b[i], c[i], strict=True)]
        expected.append(_pack([(v - y_t.min_raw) % span + y_t.min_raw for v in y],
                              y_t.width))
    b_w = config()["b_w"]
    beats = [{"op": int(op[i]), "a": _pack([int(v) for v in a[i]], a_t.width),
              "b": _pack([int(v) for v in b[i]], b_w),
              "c": _pack([int(v) for v in c[i]], y_t.width)} for i in range(count)]
    return beats, expected


@cocotb.test(**timeout(8_000))
async def vector_bit_exact_stalls_reset_cycles(dut) -> None:
    if not _is("vector"):
        return
    await begin(dut, ("in_valid", "in_op", "in_a", "in_b", "in_c"))
    beats, expected = _vector_beats(1, 300)
    cocotb.start_soon(drive_beats(dut, beats, gaps=0.3, seed=2))
    assert await collect(dut, len(expected), stalls=0.4, seed=3) == expected
    await expect_quiet(dut)
    # reset while a result waits (the output not ready): nothing stale comes out afterwards
    dut.out_ready.value = 0
    feeder = cocotb.start_soon(drive_beats(dut, beats))
    for _ in range(5):
        await RisingEdge(dut.clk)
    feeder.cancel()
    dut.in_valid.value = 0
    await ReadOnly()
    assert int(dut.out_valid.value) == 1 and int(dut.in_ready.value) == 0
    await RisingEdge(dut.clk)
    await reset(dut, 1)
    await ReadOnly()
    assert int(dut.out_valid.value) == 0
    await RisingEdge(dut.clk)
    # reset in the middle of a stream: nothing stale comes out afterwards
    feeder = cocotb.start_soon(drive_beats(dut, beats))
    await collect(dut, 5)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    await ReadOnly()
    assert int(dut.out_valid.value) == 0
    await RisingEdge(dut.clk)
    # cycles: one beat per cycle, plus the one pipeline stage
    lanes = vector_types(config()["params"])[0]
    start = cocotb.utils.get_sim_time(unit="ns")
    cocotb.start_soon(drive_beats(dut, beats))
    assert await collect(dut, len(expected)) == expected
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    model = array_cycles("Y[i,n] = A[i,n] * B[i,n] + C[i,n]", {"I": lanes, "N": len(beats)},
                         (lanes,), ("I",))
    dut._log.info("cycles: RTL %d, model %d (+1 pipeline stage)", cycles, model)
    record_cycles(f"{len(beats)} beats, no stalls", model, cycles)
    assert cycles == model + 1 and abs(cycles - model) / model < 0.02
    await expect_quiet(dut)
