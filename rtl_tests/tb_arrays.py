"""cocotb testbenches of the 2D output-stationary systolic array and the 1D vector array:
bit-exact against exact integer arithmetic on the fixed-point words (the golden model's
products and sums never round), stalls, mid-stream reset, and cycles against the model."""

from __future__ import annotations

import cocotb
import numpy as np
from _stream import begin, collect, config, drive_beats, reset
from cocotb.triggers import ReadOnly, RisingEdge

from hls_templates import array_cycles, systolic_types, vector_types


def _pack(values: list[int], width: int) -> int:
    return sum((v % (1 << width)) << (i * width) for i, v in enumerate(values))


def _unpack(word: int, width: int, count: int) -> list[int]:
    out = []
    for i in range(count):
        v = word >> (i * width) & ((1 << width) - 1)
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


# ----- systolic array


def _matmul(seed: int, depth: int) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    rows, cols, a_t, b_t, _acc_w = systolic_types(config()["params"])
    rng = np.random.default_rng(seed)
    a = rng.integers(a_t.min_raw, a_t.max_raw + 1, (rows, depth))
    b = rng.integers(b_t.min_raw, b_t.max_raw + 1, (depth, cols))
    a[0, 0], b[0, 0] = a_t.min_raw, b_t.min_raw  # the largest product
    beats_a = [_pack([int(v) for v in a[:, k]], a_t.width) for k in range(depth)]
    beats_b = [_pack([int(v) for v in b[k, :]], b_t.width) for k in range(depth)]
    product = a.astype(object) @ b.astype(object)
    return beats_a, beats_b, [0] * (depth - 1) + [1], [[int(v) for v in r] for r in product]


async def _run_matmul(dut, seed: int, depth: int, *, gaps: float = 0.0,
                      stalls: float = 0.0) -> list[list[int]]:
    rows, cols, _a, _b, acc_w = systolic_types(config()["params"])
    beats_a, beats_b, last, _ = _matmul(seed, depth)
    beats = [{"a": a, "b": b, "last": end}
             for a, b, end in zip(beats_a, beats_b, last, strict=True)]
    cocotb.start_soon(drive_beats(dut, beats, gaps=gaps, seed=seed))
    got = await collect(dut, rows, stalls=stalls, seed=seed + 1)
    return [_unpack(w, acc_w, cols) for w in got]


@cocotb.test()
async def systolic_bit_exact_under_back_pressure(dut) -> None:
    if config()["unit"] != "systolic":
        return
    await begin(dut, ("in_valid", "in_a", "in_b", "in_last"))
    for seed, depth in ((1, 37), (2, 1), (3, 64)):
        expected = _matmul(seed, depth)[3]
        assert await _run_matmul(dut, seed, depth, gaps=0.3, stalls=0.4) == expected


@cocotb.test()
async def systolic_reset_in_the_middle(dut) -> None:
    if config()["unit"] != "systolic":
        return
    await begin(dut, ("in_valid", "in_a", "in_b", "in_last"))
    beats_a, beats_b, last, _ = _matmul(5, 50)
    feeder = cocotb.start_soon(drive_beats(
        dut, [{"a": a, "b": b, "last": end}
              for a, b, end in zip(beats_a, beats_b, last, strict=True)]))
    for _ in range(20):
        await RisingEdge(dut.clk)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    await RisingEdge(dut.clk)
    expected = _matmul(6, 20)[3]
    assert await _run_matmul(dut, 6, 20) == expected


@cocotb.test()
async def systolic_cycles_match_the_model(dut) -> None:
    if config()["unit"] != "systolic":
        return
    await begin(dut, ("in_valid", "in_a", "in_b", "in_last"))
    rows, cols, *_ = systolic_types(config()["params"])
    depth = 2048  # long enough that fill, drain and read-out stay under 2 %
    start = cocotb.utils.get_sim_time(unit="ns")
    got = await _run_matmul(dut, 9, depth)
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    assert got == _matmul(9, depth)[3]
    model = array_cycles("C[r,c] = A[r,k] * B[k,c]", {"R": rows, "C": cols, "K": depth},
                         (rows, cols), ("R", "C"))
    extra = (rows + cols - 2) + rows + 1
    dut._log.info("cycles: RTL %d, model %d; the difference is the wavefront's fill and "
                  "drain (%d), the read-out of %d rows and one cycle clearing the "
                  "accumulators", cycles, model, rows + cols - 2, rows)
    assert cycles == model + extra, (cycles, model, extra)
    assert abs(cycles - model) / model < 0.02


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


@cocotb.test()
async def vector_bit_exact_stalls_reset_cycles(dut) -> None:
    if config()["unit"] != "vector":
        return
    await begin(dut, ("in_valid", "in_op", "in_a", "in_b", "in_c"))
    beats, expected = _vector_beats(1, 300)
    cocotb.start_soon(drive_beats(dut, beats, gaps=0.3, seed=2))
    assert await collect(dut, len(expected), stalls=0.4, seed=3) == expected
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
    assert cycles == model + 1 and abs(cycles - model) / model < 0.02
