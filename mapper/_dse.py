"""Cost of a whole network on an architecture, and FPGA design-space exploration.

Each block is mapped by the mapping search (latency objective) and blocks run one after
another; the hardware (and its FPGA resources) is shared by all blocks.

>>> from sim import architecture
>>> r = map_network("vit-edge-moe", architecture("zcu102"))
>>> r["resources"]["fits"], r["latency"]["cycles_per_image"] > 1_000_000
(True, True)
"""

from __future__ import annotations

import itertools
from typing import Any

from sim import Architecture, design_resources

from ._network import network
from ._search import search

__all__ = ["dse", "map_network", "pareto"]


def map_network(name: str, arch: Architecture) -> dict[str, Any]:
    """Latency per image, cycles per block and per unit, and resources with utilisation."""
    net = network(name)
    blocks = []
    unit_cycles = {u: 0 for u in arch.units}
    total = 0
    for block in net.blocks:
        found = search(block.cascade, arch, block.shapes)
        report = found.report
        for e in report.einsums:
            assert e.unit is not None
            unit_cycles[e.unit] += e.cycles * block.count
        total += report.cycles * block.count
        blocks.append({
            "name": block.name, "cascade": block.cascade.name, "count": block.count,
            "cycles_each": report.cycles, "cycles_total": report.cycles * block.count,
            "bound_by": "dram" if report.dram_cycles > report.compute_cycles else "compute",
            "units": {e.name: e.unit for e in report.einsums},
        })
    seconds = total / arch.clock_hz
    result: dict[str, Any] = {
        "network": net.name, "architecture": arch.name, "clock_mhz": arch.clock_mhz,
        "latency": {"cycles_per_image": total, "seconds_per_image": seconds,
                    "images_per_second": 1 / seconds},
        "blocks": blocks,
        "units": {u: {"shape": list(arch.units[u].shape), "busy_cycles": c,
                      "utilisation": c / total} for u, c in unit_cycles.items()},
    }
    if arch.device is not None:
        result["device"] = {"name": arch.device.name, "part": arch.device.part}
        result["resources"] = design_resources(arch).to_json()
    return result


def pareto(points: list[dict[str, Any]], x: str, y: str) -> list[dict[str, Any]]:
    """Points not dominated in (x, y), both minimised, sorted by x."""
    front: list[dict[str, Any]] = []
    for p in sorted(points, key=lambda p: (p[x], p[y])):
        if not front or p[y] < front[-1][y]:
            front.append(p)
    return front


def dse(name: str, arch: Architecture, *, linear: tuple[int, ...] = (4, 8, 16, 24, 32),
        queries: tuple[int, ...] = (1, 2, 4, 8), lanes: tuple[int, ...] = (8, 16, 32, 64),
        ) -> dict[str, Any]:
    """Sweep the parallelism of an Edge-MoE-style design: an N x N linear unit with N GELU
    and vector lanes, P queries x L lanes of attention and P softmax lanes. Keep the designs
    that fit the device; report the Pareto front of latency against DSPs."""
    points = []
    for n, p, lane in itertools.product(linear, queries, lanes):
        sized = arch.with_units({"linear": (n, n), "gelu": (n,), "vector": (n,),
                                 "attention": (p, lane), "softmax": (p,)})
        resources = design_resources(sized)
        point: dict[str, Any] = {"linear": n, "queries": p, "lanes": lane,
                                 "dsp": resources.total.dsp, "bram36": resources.total.bram36,
                                 "lut": resources.total.lut, "fits": resources.fits}
        if resources.fits:
            point["cycles_per_image"] = map_network(name, sized)["latency"]["cycles_per_image"]
            point["seconds_per_image"] = point["cycles_per_image"] / sized.clock_hz
        points.append(point)
    fitting = [p for p in points if p["fits"]]
    return {"network": name, "architecture": arch.name, "points": points,
            "pareto": pareto(fitting, "dsp", "cycles_per_image")}
