"""cocotb testbench of the FuseMax attention engine: AV bit-exact against
sim/_attention.py (TiledAttention) on random, large, very negative and all-equal scores and a
ragged last tile, with stalls, a reset in the middle of a run, and cycles against the model."""

from __future__ import annotations

import cocotb
from _stream import begin, collect, config, drive, reset
from cocotb.triggers import ReadOnly, RisingEdge

from hls_templates import engine_cycles, engine_sizes, engine_vectors


async def _pulse_start(dut) -> None:
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0


async def _run(dut, case: str, seed: int, *, gaps: float = 0.0, stalls: float = 0.0
               ) -> tuple[list[int], list[int]]:
    words, expected = engine_vectors(config()["params"], case, seed)
    await _pulse_start(dut)
    cocotb.start_soon(drive(dut, words, gaps=gaps, seed=seed))
    got = await collect(dut, len(expected), stalls=stalls, seed=seed + 1)
    await ReadOnly()
    await RisingEdge(dut.clk)
    return got, expected


@cocotb.test()
async def av_bit_exact_every_case(dut) -> None:
    await begin(dut, ("start", "in_valid"))
    for seed, case in enumerate(("random", "large_scores", "very_negative", "all_equal")):
        got, expected = await _run(dut, case, seed, gaps=0.2, stalls=0.3)
        assert got == expected, (case, [i for i, (g, e) in enumerate(zip(got, expected,
                                                                           strict=True))
                                        if g != e][:8])
        assert int(dut.done.value) == 1


@cocotb.test()
async def reset_in_the_middle_of_a_run(dut) -> None:
    await begin(dut, ("start", "in_valid"))
    words, _ = engine_vectors(config()["params"], "random", 9)
    await _pulse_start(dut)
    feeder = cocotb.start_soon(drive(dut, words))
    for _ in range(len(words) + 20):  # into the computation
        await RisingEdge(dut.clk)
    feeder.cancel()
    dut.in_valid.value = 0
    await reset(dut, 2)
    await ReadOnly()
    assert int(dut.out_valid.value) == 0 and int(dut.done.value) == 0
    await RisingEdge(dut.clk)
    got, expected = await _run(dut, "random", 10)
    assert got == expected


@cocotb.test()
async def cycles_against_the_model(dut) -> None:
    await begin(dut, ("start", "in_valid"))
    words, expected = engine_vectors(config()["params"], "random", 11)
    await _pulse_start(dut)
    loaded = cocotb.start_soon(drive(dut, words))
    await loaded
    start = cocotb.utils.get_sim_time(unit="ns")
    got = await collect(dut, len(expected))
    cycles = round((cocotb.utils.get_sim_time(unit="ns") - start) / 10)
    assert got == expected
    model, overhead = engine_cycles(engine_sizes(config()["params"]))
    dut._log.info("compute cycles: RTL %d, model %d (%+.2f %%); prologue and epilogue "
                  "explain %d, %d left", cycles, model, 100 * (cycles / model - 1), overhead,
                  cycles - model - overhead)
    assert model + overhead - 8 <= cycles <= model + overhead + 8, (cycles, model, overhead)
    if config()["params"].get("m", 0) >= 512:
        assert abs(cycles - model) / model < 0.02, (cycles, model)
