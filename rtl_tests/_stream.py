"""valid/ready stream helpers for the cocotb testbenches: a driver and a monitor that stall
at random (back-pressure on both sides), reset, the configuration, and cycle counting."""

from __future__ import annotations

import json
import os
import random
from typing import Any

from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["collect", "config", "drive", "reset"]


def config() -> dict[str, Any]:
    """The unit's parameters and the test's settings, from the pytest driver."""
    return json.loads(os.environ["CASCADE_RTL_CONFIG"])


async def reset(dut, cycles: int = 3) -> None:
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def drive(dut, words: list[int], *, prefix: str = "in", gaps: float = 0.0,
                seed: int = 0, last: list[int] | None = None) -> None:
    """Offer ``words`` one per handshake, idling with probability ``gaps`` before each."""
    rng = random.Random(seed)
    valid, data, ready = (getattr(dut, f"{prefix}_{s}") for s in ("valid", "data", "ready"))
    for i, word in enumerate(words):
        while gaps and rng.random() < gaps:
            valid.value = 0
            await RisingEdge(dut.clk)
        valid.value = 1
        data.value = word
        if last is not None:
            getattr(dut, f"{prefix}_last").value = last[i]
        while True:
            await ReadOnly()
            accepted = bool(int(ready.value))
            await RisingEdge(dut.clk)
            if accepted:
                break
    valid.value = 0


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
