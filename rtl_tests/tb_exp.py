"""cocotb testbench of the exp unit: bit-exact against sim/_exp.py with stalls on both
sides, reset in the middle of a stream, and cycles against the analytical model."""

from __future__ import annotations

import cocotb
import numpy as np
from _stream import collect, config, drive, reset
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from hls_templates._rtl import exp_unit
from hls_templates._rtl_model import streaming_cycles
from sim._fixed import Fixed


def _vectors(count: int, seed: int) -> tuple[list[int], list[int]]:
    unit = exp_unit(config()["params"])
    t = unit.in_type
    rng = np.random.default_rng(seed)
    edges = [0.0, -t.lsb, t.lsb, 1.0, t.min_raw * t.lsb, t.max_raw * t.lsb, -0.5, -20.0]
    values = np.concatenate([edges, -rng.exponential(4, count - len(edges))])
    x = Fixed.from_float(values, t)
    width = t.width
    return ([int(v) % (1 << width) for v in x.raw],
            [int(v) % (1 << unit.out_type.width) for v in unit(x).raw])


async def _start(dut) -> None:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.in_valid.value = 0
    dut.out_ready.value = 0
    await reset(dut)


@cocotb.test()
async def bit_exact_under_back_pressure(dut) -> None:
    await _start(dut)
    words, expected = _vectors(600, 1)
    cocotb.start_soon(drive(dut, words, gaps=0.3, seed=2))
    got = await collect(dut, len(expected), stalls=0.4, seed=3)
    assert got == expected, [i for i, (g, e) in enumerate(zip(got, expected)) if g != e][:10]


@cocotb.test()
async def reset_in_the_middle_of_a_stream(dut) -> None:
    await _start(dut)
    words, expected = _vectors(64, 4)
    feeder = cocotb.start_soon(drive(dut, words[:40]))
    await collect(dut, 10, stalls=0.5, seed=5)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    await ReadOnly()
    assert int(dut.out_valid.value) == 0, "the pipe must be empty after reset"
    await RisingEdge(dut.clk)
    for _ in range(5):  # nothing left over comes out
        await ReadOnly()
        assert int(dut.out_valid.value) == 0
        await RisingEdge(dut.clk)
    cocotb.start_soon(drive(dut, words))
    assert await collect(dut, len(expected)) == expected


@cocotb.test()
async def cycles_match_the_model(dut) -> None:
    await _start(dut)
    count = config().get("cycle_count", 1000)
    words, expected = _vectors(count, 6)
    dut.out_ready.value = 1
    start = cocotb.utils.get_sim_time(unit="ns")
    cocotb.start_soon(drive(dut, words))
    got = await collect(dut, count)
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    assert got == expected
    model = streaming_cycles("Y[n] = exp(X[n])", count)
    latency = config()["params_out"]["latency"]
    dut._log.info("cycles: RTL %d, model %d (+%d pipeline fill)", cycles, model, latency)
    assert cycles == model + latency, (cycles, model, latency)
    assert abs(cycles - model) / model < 0.02
    await ClockCycles(dut.clk, 1)
