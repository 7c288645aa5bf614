"""cocotb testbench of the streaming FuseMax attention engine, driven through its AXI4-Stream
ports by cocotbext-axi sources and a sink: AV bit-exact against sim/_attention.py
(TiledAttention) for every case of ``ENGINE_CASES`` as back-to-back runs under random
back-pressure on all four streams; reset at every phase (loading Q, streaming K, the exps,
streaming V, while outputs wait); outputs held back for several runs; V held back, then at
full rate; TLAST checked; cycles against the model's schedule; after
each test, no extra output beat. Every test has a bound on its simulated time."""

from __future__ import annotations

import random
from collections.abc import Iterator

import cocotb
from _stream import CLOCK_NS, config, record_cycles, timeout
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from hls_templates import (
    ENGINE_CASES,
    engine_cycles,
    engine_schedule,
    engine_sizes,
    engine_streams,
    engine_vectors,
)

SIZES = engine_sizes(config()["params"])
_ONE_RUN = engine_cycles(SIZES)
_BOUND = 40 * _ONE_RUN * len(ENGINE_CASES) + 20_000
"""Cycles any test may take: many times the model's for all its runs under stalls."""


def _pauses(seed: int, idle: float) -> Iterator[bool]:
    rng = random.Random(seed)
    while True:
        yield rng.random() < idle


class Bench:
    """The engine's four streams, a count of the beats through each, and the cycles of the
    first input beat and of the latest output beat."""

    def __init__(self, dut) -> None:
        self.dut = dut
        bus = {name: AxiStreamBus.from_prefix(dut, f"{side}_axis_{name}")
               for side, name in (("s", "q"), ("s", "k"), ("s", "v"), ("m", "o"))}
        self.sources = {name: AxiStreamSource(bus[name], dut.clk, dut.rst, byte_size=16)
                        for name in ("q", "k", "v")}
        self.sink = AxiStreamSink(bus["o"], dut.clk, dut.rst, byte_size=16)
        self.cycle = 0
        self.first_in: int | None = None
        self.last_out: int | None = None
        self.out_beats = 0
        cocotb.start_soon(self._watch())

    async def _watch(self) -> None:
        d = self.dut
        inputs = [(d.s_axis_q_tvalid, d.s_axis_q_tready), (d.s_axis_k_tvalid, d.s_axis_k_tready),
                  (d.s_axis_v_tvalid, d.s_axis_v_tready)]
        while True:
            await RisingEdge(d.clk)  # the values before the edge, as the sources see them
            self.cycle += 1
            if int(d.rst.value):
                continue
            if self.first_in is None and any(int(v.value) and int(r.value) for v, r in inputs):
                self.first_in = self.cycle
            if int(d.m_axis_o_tvalid.value) and int(d.m_axis_o_tready.value):
                self.out_beats += 1
                self.last_out = self.cycle

    def measure(self) -> None:
        self.first_in = self.last_out = None

    @property
    def measured(self) -> int:
        assert self.first_in is not None and self.last_out is not None
        return self.last_out - self.first_in + 1

    def back_pressure(self, idle: float, seed: int) -> None:
        """Each stream idle (no valid, or no ready) with probability ``idle`` each cycle."""
        for i, end in enumerate([*self.sources.values(), self.sink]):
            if idle:
                end.set_pause_generator(_pauses(seed + i, idle))
            else:
                end.clear_pause_generator()  # which leaves the last pause as it was
                end.pause = False

    def send(self, streams: dict, *, split_tiles: bool = False) -> None:
        """Queue one run's frames: the Q block, then every K and V tile (a tile split in two
        frames when ``split_tiles``: its TLAST comes early)."""
        self.sources["q"].send_nowait(AxiStreamFrame(streams["q"]))
        for name in ("k", "v"):
            for tile in streams[name]:
                if split_tiles and len(tile) > SIZES["m0"]:
                    self.sources[name].send_nowait(AxiStreamFrame(tile[:SIZES["m0"]]))
                    self.sources[name].send_nowait(AxiStreamFrame(tile[SIZES["m0"]:]))
                else:
                    self.sources[name].send_nowait(AxiStreamFrame(tile))

    async def receive(self) -> list[int]:
        frame = await self.sink.recv()
        return list(frame.tdata)

    async def reset(self, cycles: int = 2) -> None:
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        for source in self.sources.values():
            source.clear()
        self.sink.clear()
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def quiet(self, cycles: int = 60) -> None:
        """With the sink taking, no output beat comes for ``cycles`` cycles."""
        self.sink.clear_pause_generator()
        self.sink.pause = False
        beats = self.out_beats
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        assert self.out_beats == beats, f"{self.out_beats - beats} extra output beats"
        assert self.sink.empty(), "an extra output frame"


async def _start(dut) -> Bench:
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    for name in ("q", "k", "v"):
        getattr(dut, f"s_axis_{name}_tvalid").value = 0
    dut.m_axis_o_tready.value = 0
    dut.rst.value = 1
    bench = Bench(dut)
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return bench


def _run(case: str, seed: int) -> dict:
    params = config()["params"]
    return engine_streams(params, engine_vectors(params, case, seed), seed + 100)


def _differences(got: list[int], expected: list[int]) -> str:
    if len(got) != len(expected):
        return f"{len(got)} output words, expected {len(expected)}"
    wrong = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    p = SIZES["p"]
    return f"{len(wrong)} words differ, first (f, p): {[(i // p, i % p) for i in wrong[:6]]}"


@cocotb.test(**timeout(_BOUND))
async def every_case_bit_exact_back_to_back_under_back_pressure(dut) -> None:
    bench = await _start(dut)
    bench.back_pressure(0.3, seed=1)
    runs = [_run(case, seed) for seed, case in enumerate(ENGINE_CASES)]
    bench.measure()
    for streams in runs:  # queued at once: the runs follow each other back to back
        bench.send(streams)
    for case, streams in zip(ENGINE_CASES, runs, strict=True):
        got = await bench.receive()
        assert got == streams["o"], (case, _differences(got, streams["o"]))
    assert int(dut.tlast_error.value) == 0
    ideal = engine_cycles(SIZES, runs=len(runs))
    model = engine_cycles(SIZES, runs=len(runs), rate=0.7)
    dut._log.info("under back-pressure (30%% idle on every stream): %d cycles; model %d at "
                  "the streams' mean rate, %d without stalls", bench.measured, model, ideal)
    record_cycles(f"{len(runs)} runs back to back, every stream 30% idle (model at 70% "
                  "stream rate)", model, bench.measured, ideal=ideal)
    assert bench.measured >= ideal, "faster than the model's schedule allows"
    await bench.quiet()


@cocotb.test(**timeout(_BOUND))
async def reset_at_every_phase(dut) -> None:
    bench = await _start(dut)
    schedule = engine_schedule(SIZES)
    # points along one run: loading Q, streaming K, the exps, streaming V, the outputs
    points = sorted({1, SIZES["e"] // 2 + 1, schedule.cycles // 3, schedule.cycles // 2,
                     schedule.cycles - 5, schedule.cycles - 1})
    for i, point in enumerate(points):
        bench.back_pressure(0.2 if i % 2 else 0.0, seed=10 + i)
        bench.send(_run("random", 20 + i))
        for _ in range(point):
            await RisingEdge(dut.clk)
        await bench.reset(1 + i % 3)
        await bench.quiet(30)
        streams = _run("random", 40 + i)
        bench.send(streams)
        got = await bench.receive()
        assert got == streams["o"], (f"after a reset at cycle {point}",
                                     _differences(got, streams["o"]))
    # while outputs wait: the sink takes nothing until the output stalls the engine
    bench.back_pressure(0.0, seed=0)
    bench.sink.pause = True
    bench.send(_run("random", 60))
    for _ in range(schedule.cycles + 10):
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.m_axis_o_tvalid.value) == 1
    await RisingEdge(dut.clk)
    await bench.reset(1)
    bench.sink.pause = False
    await bench.quiet(30)
    streams = _run("extremes", 61)
    bench.send(streams)
    got = await bench.receive()
    assert got == streams["o"], ("after a reset while outputs waited",
                                 _differences(got, streams["o"]))
    assert int(dut.tlast_error.value) == 0
    await bench.quiet()


@cocotb.test(**timeout(_BOUND))
async def cycles_against_the_model(dut) -> None:
    bench = await _start(dut)
    schedule = engine_schedule(SIZES)
    for runs in (1, 3):
        streams = [_run("random", 70 + i) for i in range(runs)]
        await RisingEdge(dut.clk)
        bench.measure()
        for s in streams:
            bench.send(s)
        for s in streams:
            assert await bench.receive() == s["o"]
        model = engine_cycles(SIZES, runs=runs)
        dut._log.info("%d run(s): RTL %d cycles from the first input beat to the last "
                      "output beat, model %d (%+.2f %%); per tile K %d, exp %d, V %d: %s "
                      "bound", runs, bench.measured, model, 100 * (bench.measured / model - 1),
                      schedule.k_tile, schedule.exp_tile, schedule.v_tile, schedule.bottleneck)
        record_cycles(f"{runs} run{'s' if runs > 1 else ''}, no stalls", model,
                      bench.measured, bottleneck=schedule.bottleneck)
        # the model is the engine's schedule: it must agree to the cycle (the contract is 2 %)
        assert bench.measured == model, (bench.measured, model)
        for _ in range(20):
            await RisingEdge(dut.clk)
    await bench.quiet()


@cocotb.test(**timeout(_BOUND))
async def outputs_held_back_lose_nothing(dut) -> None:
    """The sink takes nothing for three runs' time: the engine stops taking V (its output
    FIFO full), then gives every result once the sink takes again."""
    bench = await _start(dut)
    bench.sink.pause = True
    runs = [_run(case, 90 + i) for i, case in enumerate(("random", "extremes", "all_equal"))]
    for streams in runs:
        bench.send(streams)
    for _ in range(4 * engine_cycles(SIZES, runs=3)):
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.m_axis_o_tvalid.value) == 1 and int(dut.s_axis_v_tready.value) == 0
    await RisingEdge(dut.clk)
    bench.back_pressure(0.5, seed=91)
    for streams in runs:
        got = await bench.receive()
        assert got == streams["o"], _differences(got, streams["o"])
    await bench.quiet()


@cocotb.test(**timeout(_BOUND))
async def v_held_back_then_released_at_full_rate(dut) -> None:
    """The V stream starts only when both SLN banks are full, then gives a beat every cycle:
    consecutive tiles' beats come as close as the engine allows (its read-after-write guard
    on the RNV RAM at work when F is small)."""
    bench = await _start(dut)
    bench.sources["v"].pause = True
    runs = [_run("random", 95 + i) for i in range(2)]
    for streams in runs:
        bench.send(streams)
    for _ in range(2 * engine_cycles(SIZES, runs=2)):
        await RisingEdge(dut.clk)
    bench.sources["v"].pause = False
    for streams in runs:
        got = await bench.receive()
        assert got == streams["o"], _differences(got, streams["o"])
    await bench.quiet()


@cocotb.test(**timeout(_BOUND))
async def tlast_in_the_wrong_place_is_flagged_and_the_counts_rule(dut) -> None:
    bench = await _start(dut)
    streams = _run("random", 80)
    bench.send(streams, split_tiles=True)
    got = await bench.receive()
    assert got == streams["o"], _differences(got, streams["o"])
    flags = int(dut.tlast_error.value)
    expected = (2 if SIZES["e"] > 1 else 0) | (4 if SIZES["f"] > 1 else 0)
    assert flags == expected, (flags, expected)
    await bench.reset(1)
    assert int(dut.tlast_error.value) == 0
    await bench.quiet()
