"""valid/ready stream helpers for the cocotb testbenches: a driver and a monitor that stall
at random (back-pressure on both sides), reset, the configuration, and cycle counting."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["begin", "collect", "config", "drive", "drive_beats", "reset"]


def config() -> dict[str, Any]:
    """The unit's parameters and the test's settings, from the pytest driver."""
    return json.loads(os.environ["CASCADE_RTL_CONFIG"])


async def reset(dut, cycles: int = 3) -> None:
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def begin(dut, inputs: tuple[str, ...] = ("in_valid",)) -> None:
    """Start a 100 MHz clock, idle the inputs and the output's ready, and reset."""
    from cocotb.clock import Clock

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
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
