"""The cost of one call of a network block on an FPGA design: a kernel that streams its
tensors through the design's ports while its units compute, after the weight loads it waits
for.

The compute cycles and the words each tensor moves come from the cost rules
(:func:`sim.evaluate` of the block's mapping: the units' parallelism, and the DRAM loops
that decide how often a tensor is re-read, such as K once per query group). On a design
with ports (HLS ``m_axi`` bundles) the kernel then takes

    max(compute, busiest port, DRAM) + fill

where a port moves ``bytes_per_cycle`` each way (reads and writes on their own channels),
DRAM moves its bandwidth for all ports together, and the fill is the longest latency of the
ports it streams through (HLS's scheduled m_axi latency). Before the kernel, each tensor it
``load``\\ s into an on-chip buffer (weights, and the ``bias`` of that rank) is fetched by a
loop of its own: its bytes over its port, plus that port's latency. A ``sequential`` rank's
loop runs one step at a time, each step a kernel with its fill that reads before it writes.
On a design without ports
the kernel is the evaluated mapping's own cycles (compute and DRAM overlapped).

>>> from sim import architecture
>>> from mapper import network
>>> block = next(b for b in network("vit-edge-moe").blocks if b.name == "qk")
>>> call = call_cost(block, architecture("edge-moe"), block.shapes)
>>> call.compute_cycles, call.stream_cycles, call.cycles
(102168, 204336, 204400)
"""

from __future__ import annotations

import math
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Any

from einsum import CascadeError, validate
from sim import Architecture, Mapping, MappingError, Report, mapping_from_dict, workload

from ._network import Block
from ._search import search
from ._tiles import evaluate_mapping

__all__ = ["Call", "call_cost"]


@dataclass(frozen=True)
class Call:
    """One call of a block: its weight loads, then its kernel."""

    cycles: int
    """Loads plus kernel."""
    load_cycles: int
    compute_cycles: int
    """The units' cycles (all heads; all steps of a sequential rank)."""
    stream_cycles: int
    """The longest port or DRAM time of the kernel's streams (all steps)."""
    fill_cycles: int
    dram_bytes: int
    """Streamed and loaded."""
    port_bytes: dict[str, int]
    unit_cycles: dict[str, int]
    units: dict[str, str | None]
    """The unit of each Einsum."""
    mapped: str
    """``design`` (the block's own mapping) or ``searched``."""


def _axis_tiles(block: Block, arch: Architecture, given: dict[str, Any]) -> dict[str, Any]:
    """A tile ``array`` is the length of the array axis its rank is spread over."""
    tiles = dict(given.get("tiles", {}))
    for rank, tile in tiles.items():
        if tile != "array":
            continue
        for binding in given.get("bindings", {}).values():
            spatial = binding.get("spatial", [])
            if rank in spatial:
                tiles[rank] = arch.units[binding["unit"]].shape[spatial.index(rank)]
                break
        else:
            raise CascadeError(f"block {block.name}: tile {rank}: array, but no binding "
                               f"spreads {rank} over an array axis")
    return tiles


def _design_mapping(block: Block, arch: Architecture) -> Mapping | None:
    """The block's own mapping, if the architecture has every unit it binds."""
    given = block.mapping
    if given is None:
        return None
    units = [b.get("unit") for b in given.get("bindings", {}).values()]
    if not all(u in arch.units for u in units):
        return None
    return mapping_from_dict({"name": f"{block.name}-design", **given,
                              "tiles": _axis_tiles(block, arch, given)})


def _kernel(block: Block, arch: Architecture, shapes: MappingABC[str, int]
            ) -> tuple[Report, str]:
    mapping = _design_mapping(block, arch)
    try:
        if mapping is not None:
            found = evaluate_mapping(block.cascade, arch, mapping, shapes, heads=block.heads)
            return found.report, "design"
        return search(block.cascade, arch, shapes, heads=block.heads).report, "searched"
    except CascadeError as error:
        raise CascadeError(f"block {block.name}: {error.message}") from None


def _port(block: Block, arch: Architecture, tensor: str) -> str:
    port = block.ports.get(tensor)
    if port is None:
        raise MappingError(f"block {block.name}: {tensor} moves through DRAM but the block "
                           f"gives it no port of {arch.name} ({', '.join(arch.ports)})")
    if port not in arch.ports:
        raise MappingError(f"block {block.name}: port {port!r} of {tensor} is not a port of "
                           f"{arch.name} ({', '.join(arch.ports)})")
    return port


def _values(block: Block, shapes: MappingABC[str, int], tensor: str) -> int:
    w = workload(block.cascade, shapes)
    return math.prod(w.sizes[r] for r in w.layout.ranks[tensor])


def _loads(block: Block, arch: Architecture, shapes: MappingABC[str, int]
           ) -> tuple[list[tuple[str, int]], set[str]]:
    """(port or '', bytes) of each load loop before the kernel, and the tensors the
    kernel then finds on chip (loaded, resident or on-chip ones)."""
    weight = arch.weight_bytes or arch.word_bytes
    steps: list[tuple[str, int]] = []
    kept = set(block.onchip)
    for tensors, per_call in ((block.load, True), (block.resident, False)):
        for tensor, name in tensors.items():
            buffer = arch.buffers.get(name)
            if buffer is None:
                continue  # no such buffer: the kernel streams the tensor
            values = _values(block, shapes, tensor)
            if values > buffer.values:
                raise MappingError(f"block {block.name}: {tensor} has {values:,} values but "
                                   f"{arch.name}'s {name} buffer holds {buffer.values:,}")
            kept.add(tensor)
            if per_call:
                port = _port(block, arch, tensor) if arch.ports else ""
                steps.append((port, values * weight))
                if block.bias is not None and tensor == next(iter(block.load)):
                    steps.append((port, shapes[block.bias] * weight))
    return steps, kept


def _transfer(arch: Architecture, port: str, nbytes: int) -> int:
    """Cycles of a loop that moves ``nbytes`` over ``port`` (or DRAM, without ports)."""
    if port:
        p = arch.ports[port]
        return math.ceil(nbytes / p.bytes_per_cycle) + p.latency_cycles
    return math.ceil(nbytes * arch.clock_hz / arch.dram.bandwidth_bytes_per_s)


def call_cost(block: Block, arch: Architecture, shapes: MappingABC[str, int]) -> Call:
    """The cost of one call of ``block`` with ``shapes`` (its own, or with a token count set
    per expert) on ``arch``."""
    steps = 1
    kernel_shapes = dict(shapes)
    if block.sequential is not None:
        steps = kernel_shapes[block.sequential]
        kernel_shapes[block.sequential] = 1
    report, mapped = _kernel(block, arch, kernel_shapes)
    loads, kept = _loads(block, arch, shapes)
    word = arch.word_bytes
    inputs = set(validate(block.cascade).inputs)
    reads: dict[str, int] = {}
    writes: dict[str, int] = {}
    streamed = 0
    for tensor, nbytes in report.dram_bytes_by_tensor.items():
        if tensor in kept or not nbytes:
            continue
        moved = nbytes // word * block.bytes.get(tensor, word)
        streamed += moved
        port = _port(block, arch, tensor) if arch.ports else ""
        side = reads if tensor in inputs else writes
        side[port] = side.get(port, 0) + moved
    compute = report.compute_cycles
    fill = 0
    if arch.ports:
        used = set(reads) | set(writes)

        def busiest(side: dict[str, int]) -> int:
            return max((math.ceil(n / arch.ports[p].bytes_per_cycle) for p, n in side.items()),
                       default=0)

        # Reads and writes have channels of their own; but a step of a sequential loop
        # reads all it needs before it writes what it made, so there they take turns.
        both = {p: max(reads.get(p, 0), writes.get(p, 0)) for p in used}
        stream = busiest(reads) + busiest(writes) if block.sequential else busiest(both)
        stream = max(stream, _transfer(arch, "", streamed))
        fill = max((arch.ports[p].latency_cycles for p in used), default=0)
        kernel = max(compute, stream) + fill
    elif kept:
        stream = _transfer(arch, "", streamed)
        kernel = max(compute, stream)
    else:
        stream = report.dram_cycles
        kernel = report.cycles
    load_cycles = sum(_transfer(arch, port, nbytes) for port, nbytes in loads)
    port_bytes: dict[str, int] = {}
    for side in (reads, writes):
        for port, nbytes in side.items():
            port_bytes[port or "dram"] = port_bytes.get(port or "dram", 0) + nbytes * steps
    for port, nbytes in loads:
        port_bytes[port or "dram"] = port_bytes.get(port or "dram", 0) + nbytes
    return Call(
        cycles=load_cycles + kernel * steps, load_cycles=load_cycles,
        compute_cycles=compute * steps, stream_cycles=stream * steps,
        fill_cycles=fill * steps,
        dram_bytes=streamed * steps + sum(nbytes for _port, nbytes in loads),
        port_bytes=port_bytes,
        unit_cycles={u: c * steps for u, c in report.unit_cycles.items() if c},
        units={e.name: e.unit for e in report.einsums}, mapped=mapped)
