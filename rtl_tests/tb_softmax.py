"""cocotb testbench of the online-softmax unit: per row (max, 1/sum) bit-exact against
sim/_softmax.py, rows of 1 to 40 keys, extreme and equal scores, stalls, no extra output beat,
reset in the middle of a row and while results wait, and cycles against the analytical model.
Every test has a bound on its simulated time."""

from __future__ import annotations

import cocotb
import numpy as np
from _stream import (
    begin,
    collect,
    config,
    drive,
    expect_quiet,
    fill_until_stalled,
    record_cycles,
    reset,
    timeout,
)
from cocotb.triggers import ReadOnly, RisingEdge

from hls_templates import softmax_unit, softmax_vectors, streaming_cycles


def _rows(seed: int, count: int) -> list[np.ndarray]:
    t = softmax_unit(config()["params"]).score_type
    top = t.max_raw * t.lsb
    rng = np.random.default_rng(seed)
    rows = [np.array([1.0]), np.full(7, 2.5), np.array([-top, top, -top]),
            np.full(5, -top * 0.99), rng.uniform(-top, top, 12)]
    while len(rows) < count:
        rows.append(rng.normal(0, 3, int(rng.integers(1, 41))))
    return rows


@cocotb.test(**timeout(10_000))
async def statistics_bit_exact_under_back_pressure(dut) -> None:
    await begin(dut, ("in_valid", "in_last"))
    words, last, expected = softmax_vectors(config()["params"], _rows(1, 40))
    cocotb.start_soon(drive(dut, words, last=last, gaps=0.3, seed=2))
    got = await collect(dut, len(expected), stalls=0.5, seed=3, fields=("bias", "data"))
    assert got == expected, [i for i, (g, e) in enumerate(zip(got, expected, strict=True))
                             if g != e][:10]
    await expect_quiet(dut)


@cocotb.test(**timeout(3_000))
async def reset_in_the_middle_of_a_row(dut) -> None:
    await begin(dut, ("in_valid", "in_last"))
    words, last, expected = softmax_vectors(config()["params"], _rows(4, 10))
    feeder = cocotb.start_soon(drive(dut, words, last=last))
    await collect(dut, 2, fields=("bias", "data"))
    for _ in range(3):
        await RisingEdge(dut.clk)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    for _ in range(10):
        await ReadOnly()
        assert int(dut.out_valid.value) == 0
        await RisingEdge(dut.clk)
    cocotb.start_soon(drive(dut, words, last=last))
    assert await collect(dut, len(expected), fields=("bias", "data")) == expected
    await expect_quiet(dut)


@cocotb.test(**timeout(3_000))
async def reset_while_results_wait(dut) -> None:
    await begin(dut, ("in_valid", "in_last"))
    words, last, expected = softmax_vectors(config()["params"], _rows(5, 12))
    taken = await fill_until_stalled(dut, words, last=last)
    assert 1 <= taken < len(words)
    await reset(dut, 1)
    for _ in range(10):
        await ReadOnly()
        assert int(dut.out_valid.value) == 0
        await RisingEdge(dut.clk)
    cocotb.start_soon(drive(dut, words, last=last, gaps=0.2, seed=6))
    assert await collect(dut, len(expected), stalls=0.3, seed=7,
                         fields=("bias", "data")) == expected
    await expect_quiet(dut)


@cocotb.test(**timeout(3_000))
async def cycles_match_the_model(dut) -> None:
    await begin(dut, ("in_valid", "in_last"))
    rows = [np.random.default_rng(7).normal(0, 3, 50) for _ in range(20)]
    words, last, expected = softmax_vectors(config()["params"], rows)
    start = cocotb.utils.get_sim_time(unit="ns")
    cocotb.start_soon(drive(dut, words, last=last))
    got = await collect(dut, len(expected), fields=("bias", "data"))
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    assert got == expected
    model = streaming_cycles(config()["einsum"], len(words))
    latency = config()["latency"]
    dut._log.info("cycles: RTL %d, model %d (one exp per key); the difference is the "
                  "%d-stage pipeline fill", cycles, model, latency)
    record_cycles(f"{len(rows)} rows of 50 keys, no stalls", model, cycles)
    assert cycles == model + latency, (cycles, model, latency)
    assert abs(cycles - model) / model < 0.02
    await expect_quiet(dut)
