"""valid/ready stream helpers for the cocotb testbenches: a driver and a monitor that stall
at random (back-pressure on both sides), reset, the configuration, a check that no extra beat
follows the expected ones, a bound on every test's simulated time, and the cycle report that
``verify-rtl`` prints."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["CLOCK_NS", "begin", "collect", "config", "drive", "drive_beats", "expect_quiet",
           "fill_until_stalled", "record_cycles", "reset", "timeout"]

CLOCK_NS = 10


def config() -> dict[str, Any]:
    """The unit's parameters and the test's settings, from the pytest driver."""
    return json.loads(os.environ["CASCADE_RTL_CONFIG"])


def timeout(cycles: int) -> dict[str, Any]:
    """``@cocotb.test`` arguments that fail a test running past ``cycles`` clock cycles."""
    return {"timeout_time": cycles * CLOCK_NS, "timeout_unit": "ns"}


def record_cycles(case: str, model: int, measured: int, **detail: Any) -> None:
    """Add a (case, model, measured) line to the report ``verify-rtl`` prints."""
    path = config().get("report")
    if not path:
        return
    lines = json.loads(Path(path).read_text()) if Path(path).is_file() else []
    lines.append({"case": case, "model": model, "measured": measured, **detail})
    Path(path).write_text(json.dumps(lines, indent=1) + "\n")


async def expect_quiet(dut, cycles: int = 40, *, prefix: str = "out") -> None:
    """With the output ready, no beat comes out for ``cycles`` cycles: nothing extra follows
    what was expected."""
    valid, ready = getattr(dut, f"{prefix}_valid"), getattr(dut, f"{prefix}_ready")
    ready.value = 1
    for cycle in range(cycles):
        await ReadOnly()
        assert not int(valid.value), f"an extra output beat, {cycle} cycles after the last"
        await RisingEdge(dut.clk)
    ready.value = 0


async def fill_until_stalled(dut, words: list[int], *, limit: int = 10_000,
                             last: list[int] | None = None) -> int:
    """Offer ``words`` with the output not ready until the unit stops taking them (its
    pipeline is full and an output is waiting); returns how many it took."""
    dut.out_ready.value = 0
    taken = 0
    for _ in range(limit):
        if taken == len(words):
            break
        dut.in_valid.value = 1
        dut.in_data.value = words[taken]
        if last is not None:
            dut.in_last.value = last[taken]
        await ReadOnly()
        accepted = bool(int(dut.in_ready.value))
        await RisingEdge(dut.clk)
        if not accepted:
            break
        taken += 1
    dut.in_valid.value = 0
    await ReadOnly()
    assert int(dut.out_valid.value), "no output waiting after the input stalled"
    await RisingEdge(dut.clk)
    return taken


async def reset(dut, cycles: int = 3) -> None:
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def begin(dut, inputs: tuple[str, ...] = ("in_valid",)) -> None:
    """Start a 100 MHz clock, idle the inputs and the output's ready, and reset."""
    from cocotb.clock import Clock

    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    for name in inputs:
        getattr(dut, name).value = 0
    dut.out_ready.value = 0
    await reset(dut)


async def drive_beats(dut, beats: list[dict[str, int]], *, prefix: str = "in",
                      gaps: float = 0.0, seed: int = 0) -> None:
    """Offer each beat (signal suffix -> value) for one handshake, idling with probability
    ``gaps`` before each."""
    rng = random.Random(seed)
    valid, ready = getattr(dut, f"{prefix}_valid"), getattr(dut, f"{prefix}_ready")
    for beat in beats:
        while gaps and rng.random() < gaps:
            valid.value = 0
            await RisingEdge(dut.clk)
        valid.value = 1
        for name, value in beat.items():
            getattr(dut, f"{prefix}_{name}").value = value
        while True:
            await ReadOnly()
            accepted = bool(int(ready.value))
            await RisingEdge(dut.clk)
            if accepted:
                break
    valid.value = 0


async def drive(dut, words: list[int], *, prefix: str = "in", gaps: float = 0.0,
                seed: int = 0, last: list[int] | None = None) -> None:
    """Offer ``words`` (and ``last`` flags) one per handshake."""
    beats = [{"data": w} if last is None else {"data": w, "last": last[i]}
             for i, w in enumerate(words)]
    await drive_beats(dut, beats, prefix=prefix, gaps=gaps, seed=seed)


async def collect(dut, count: int, *, prefix: str = "out", stalls: float = 0.0,
                  seed: int = 1, fields: tuple[str, ...] = ("data",)) -> list[Any]:
    """Take ``count`` transfers, refusing with probability ``stalls`` each cycle; each is
    the value of ``fields`` (one int, or a tuple for several)."""
    rng = random.Random(seed)
    valid, ready = getattr(dut, f"{prefix}_valid"), getattr(dut, f"{prefix}_ready")
    signals = [getattr(dut, f"{prefix}_{f}") for f in fields]
    got: list[Any] = []
    while len(got) < count:
        take = not (stalls and rng.random() < stalls)
        ready.value = int(take)
        await ReadOnly()
        if take and int(valid.value):
            values = tuple(int(s.value) for s in signals)
            got.append(values[0] if len(values) == 1 else values)
        await RisingEdge(dut.clk)
    ready.value = 0
    return got
