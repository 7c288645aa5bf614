"""cocotb testbench of the streaming numeric units (exp, reciprocal, GELU): bit-exact
against their sim/ golden models with stalls on both sides, no extra output beat, reset while
the input streams and while outputs wait, and cycles against the analytical model. Every test
has a bound on its simulated time."""

from __future__ import annotations

import cocotb
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

from hls_templates import streaming_cycles, unit_vectors


def _vectors(count: int, seed: int) -> tuple[list[int], list[int]]:
    cfg = config()
    return unit_vectors(cfg["unit"], cfg["params"], count, seed)


def _first_difference(got: list[int], expected: list[int]) -> list[int]:
    return [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e][:10]


async def _nothing_stale(dut, cycles: int = 6) -> None:
    for _ in range(cycles):  # the pipe is empty and nothing left over comes out
        await ReadOnly()
        assert int(dut.out_valid.value) == 0
        await RisingEdge(dut.clk)


@cocotb.test(**timeout(8_000))
async def bit_exact_under_back_pressure(dut) -> None:
    await begin(dut, ("in_valid",))
    words, expected = _vectors(600, 1)
    cocotb.start_soon(drive(dut, words, gaps=0.3, seed=2))
    got = await collect(dut, len(expected), stalls=0.4, seed=3)
    assert got == expected, _first_difference(got, expected)
    await expect_quiet(dut)


@cocotb.test(**timeout(2_000))
async def reset_while_the_input_streams(dut) -> None:
    await begin(dut, ("in_valid",))
    words, expected = _vectors(64, 4)
    feeder = cocotb.start_soon(drive(dut, words[:40]))
    await collect(dut, 10, stalls=0.5, seed=5)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    await _nothing_stale(dut)
    cocotb.start_soon(drive(dut, words))
    got = await collect(dut, len(expected))
    assert got == expected, _first_difference(got, expected)
    await expect_quiet(dut)


@cocotb.test(**timeout(2_000))
async def reset_while_outputs_wait(dut) -> None:
    await begin(dut, ("in_valid",))
    words, expected = _vectors(32, 7)
    taken = await fill_until_stalled(dut, words)
    assert 1 <= taken < len(words)
    await reset(dut, 1)
    await _nothing_stale(dut)
    cocotb.start_soon(drive(dut, words))
    got = await collect(dut, len(expected), stalls=0.3, seed=8)
    assert got == expected, _first_difference(got, expected)
    await expect_quiet(dut)


@cocotb.test(**timeout(4_000))
async def cycles_match_the_model(dut) -> None:
    await begin(dut, ("in_valid",))
    cfg = config()
    count = 1000
    words, expected = _vectors(count, 6)
    start = cocotb.utils.get_sim_time(unit="ns")
    cocotb.start_soon(drive(dut, words))
    got = await collect(dut, count)
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    assert got == expected, _first_difference(got, expected)
    model = streaming_cycles(cfg["einsum"], count)
    latency = cfg["latency"]
    dut._log.info("cycles: RTL %d, model %d; the difference is the %d-stage pipeline fill",
                  cycles, model, latency)
    record_cycles(f"{count} items, no stalls", model, cycles)
    assert cycles == model + latency, (cycles, model, latency)
    assert abs(cycles - model) / model < 0.02
    await expect_quiet(dut)
