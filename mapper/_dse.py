"""Cost of a whole network on an architecture, and FPGA design-space exploration.

Blocks run one after another and share the hardware (and its FPGA resources). Each call of
a block is costed by :func:`mapper.call_cost`: with the design's own mapping where the
architecture has its units (else the search's), its weight loads, and its streams through
the design's ports. A mixture of experts runs expert by expert: the gate routes every
token to its top-k experts (the routing: :func:`mapper.routing`), the output they
accumulate into is zeroed, and each active expert loads its weights once per layer and
computes over its gathered tokens.

>>> from sim import architecture
>>> r = map_network("vit-edge-moe", architecture("zcu102"))
>>> r["resources"]["fits"], r["latency"]["cycles_per_image"] > 1_000_000
(True, True)
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any

from einsum import CascadeError
from sim import Architecture, check_cycles, design_resources

from ._kernels import Call, call_cost
from ._moe import Routing, routing
from ._network import Block, Network, network

__all__ = ["dse", "map_network", "pareto", "sized_design"]


def _moe_shapes(net: Network, block: Block, tokens: int | None = None) -> dict[str, int]:
    """A block's shapes with the network's expert count and top-k (and, for an expert, the
    tokens it gets) in place of the file's."""
    shapes = dict(block.shapes)
    moe = net.moe
    if moe is None or block.moe is None:
        return shapes
    roles = {"gate": (("expert", moe.experts), ("choice", moe.top_k)),
             "expert": (("token", tokens),)}.get(block.moe, ())
    for role, value in roles:
        rank = moe.ranks[role]
        if value is not None and rank in shapes:
            shapes[rank] = value
    return shapes


_Costs = dict[tuple[str, tuple[tuple[str, int], ...]], Call]


def _call(net: Network, block: Block, arch: Architecture, memo: _Costs,
          tokens: int | None = None) -> Call:
    shapes = _moe_shapes(net, block, tokens)
    key = (block.name, tuple(sorted(shapes.items())))
    if key not in memo:
        memo[key] = call_cost(block, arch, shapes)
    return memo[key]


def _parts(block: Block, call: Call, calls: int) -> dict[str, int]:
    """Cycles by what bounds them: routing (the MoE gate and the zeroing of its output),
    DRAM (weight loads, and a kernel whose streams outlast its compute) or compute."""
    if block.moe in ("gate", "zero"):
        return {"compute": 0, "dram": 0, "routing": call.cycles * calls}
    kernel = call.cycles - call.load_cycles
    streaming = call.stream_cycles > call.compute_cycles
    return {"compute": 0 if streaming else kernel * calls,
            "dram": (call.load_cycles + (kernel if streaming else 0)) * calls, "routing": 0}


def _image(net: Network, arch: Architecture, route: Routing | None, task: str | None,
           memo: _Costs) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every block's cost for one image (of one task), and every layer's."""
    layers: list[dict[str, Any]] = [
        {"layer": i, "kind": "moe" if i in net.moe_layers else "dense", "cycles": 0,
         "dram_bytes": 0, "parts": {"compute": 0, "dram": 0, "routing": 0}}
        for i in range(net.layers or 0)]
    if route is not None and task is not None:
        for i in net.moe_layers:
            layers[i]["experts"] = {"active": list(route.active(task, i)),
                                    "tokens": list(route.counts(task, i))}
    blocks = []
    for block in net.blocks:
        runs: list[tuple[int | None, Call, int]] = []   # (layer, call, times)
        if block.moe == "expert":
            assert route is not None and task is not None and block.layers is not None
            for i in block.layers:
                for n in route.counts(task, i):
                    if n:
                        runs.append((i, _call(net, block, arch, memo, n), block.count))
        else:
            call = _call(net, block, arch, memo)
            runs = [(i, call, block.count) for i in block.layers] if block.layers is not None \
                else [(None, call, block.count)]
        total = {"cycles": 0, "load_cycles": 0, "dram_bytes": 0, "calls": 0}
        parts = {"compute": 0, "dram": 0, "routing": 0}
        unit_cycles: dict[str, int] = {}
        for layer, call, times in runs:
            total["cycles"] += call.cycles * times
            total["load_cycles"] += call.load_cycles * times
            total["dram_bytes"] += call.dram_bytes * times
            total["calls"] += times
            for k, v in _parts(block, call, times).items():
                parts[k] += v
                if layer is not None:
                    layers[layer]["parts"][k] += v
            for u, c in call.unit_cycles.items():
                unit_cycles[u] = unit_cycles.get(u, 0) + c * times
            if layer is not None:
                layers[layer]["cycles"] += call.cycles * times
                layers[layer]["dram_bytes"] += call.dram_bytes * times
        first = runs[0][1] if runs else _call(net, block, arch, memo, 1)
        calls = total["calls"]
        blocks.append({
            "name": block.name, "cascade": block.cascade.name, "count": calls,
            "cycles_each": total["cycles"] // calls if calls else 0,
            "cycles_total": total["cycles"], "load_cycles": total["load_cycles"],
            "dram_bytes": total["dram_bytes"],
            "bound_by": max(parts, key=lambda k: parts[k]) if total["cycles"] else "compute",
            "units": first.units, "mapping": first.mapped, "unit_cycles": unit_cycles,
            "port_bytes": {p: sum(c.port_bytes.get(p, 0) * t for _l, c, t in runs)
                           for p in first.port_bytes}})
    for layer in layers:
        layer["bound_by"] = max(layer["parts"], key=lambda k: layer["parts"][k])
    return blocks, layers


def map_network(name: str, arch: Architecture, *, experts: str | os.PathLike[str] | None = None,
                top_k: int | None = None, task: str | None = None,
                expert_count: int | None = None) -> dict[str, Any]:
    """Latency per image, cycles and DRAM bytes per block and per layer, busy cycles per
    unit, and resources with utilisation. For a network with a mixture of experts:
    ``experts`` is the token distribution (``uniform``, the default; ``skewed``,
    ``skewed:S``; or a histogram file, see :mod:`mapper._moe`), ``top_k`` and
    ``expert_count`` replace the network's, and ``task`` (default: the first) says whose
    gate routes the tokens; every task's latency is reported under ``moe.tasks``."""
    net = network(name)
    route = None
    if net.moe is None:
        given = [k for k, v in (("experts", experts), ("top_k", top_k), ("task", task),
                                ("expert_count", expert_count)) if v is not None]
        if given:
            raise CascadeError(f"network {name} has no mixture of experts; "
                               f"{', '.join(given)} do not apply to it")
    else:
        if expert_count is not None:
            net = net.with_moe(experts=expert_count)
        moe = net.moe
        assert moe is not None
        route = routing("uniform" if experts is None else experts, tasks=moe.tasks,
                        layers=net.moe_layers, experts=moe.experts, tokens=moe.tokens,
                        top_k=top_k, default_top_k=moe.top_k)
        net = net.with_moe(top_k=route.top_k)
        if task is None:
            task = moe.tasks[0]
        elif task not in moe.tasks:
            raise CascadeError(f"unknown task {task!r} of {name}; tasks: {', '.join(moe.tasks)}")
    memo: _Costs = {}
    blocks, layers = _image(net, arch, route, task, memo)
    total = sum(b["cycles_total"] for b in blocks)
    check_cycles(total, arch, f"network {name}")
    seconds = total / arch.clock_hz
    unit_cycles = dict.fromkeys(arch.units, 0)
    for b in blocks:
        for u, c in b.pop("unit_cycles").items():
            unit_cycles[u] = unit_cycles.get(u, 0) + c
    result: dict[str, Any] = {
        "network": net.name, "architecture": arch.name, "clock_mhz": arch.clock_mhz,
        "latency": {"cycles_per_image": total, "seconds_per_image": seconds,
                    "images_per_second": 1 / seconds},
        "dram_bytes_per_image": sum(b["dram_bytes"] for b in blocks),
        "blocks": blocks,
        "units": {u: {"shape": list(arch.units[u].shape), "busy_cycles": c,
                      "utilisation": c / total if total else 0.0}
                  for u, c in unit_cycles.items() if u in arch.units},
    }
    if layers:
        result["layers"] = layers
    if arch.ports:
        ports: dict[str, int] = {}
        for b in blocks:
            for p, n in b["port_bytes"].items():
                ports[p] = ports.get(p, 0) + n
        result["ports"] = {p: {"bytes": n} for p, n in ports.items()}
    if route is not None and net.moe is not None:
        tasks = {}
        for t in net.moe.tasks:
            per_task = blocks if t == task else _image(net, arch, route, t, memo)[0]
            cycles = sum(b["cycles_total"] for b in per_task)
            tasks[t] = {"cycles_per_image": cycles, "seconds_per_image": cycles / arch.clock_hz,
                        "dram_bytes_per_image": sum(b["dram_bytes"] for b in per_task),
                        "active_experts": {str(i): list(route.active(t, i))
                                           for i in net.moe_layers}}
        result["moe"] = {"experts": net.moe.experts, "top_k": route.top_k,
                         "routing": route.source, "task": task, "tasks": tasks}
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


_AXI_MAX_BITS = 1024
"""The widest AXI data bus (AXI4)."""


def sized_design(arch: Architecture, *, linear: int | None = None, queries: int | None = None,
                 lanes: int | None = None, experts: int | None = None) -> Architecture:
    """An Edge-MoE-style design with other parallelism: an ``linear`` x ``linear`` linear
    unit (and as many GELU lanes), ``queries`` queries sharing each K or V row, ``lanes``
    activations a cycle (one port beat) and a gate for ``experts``. The one rule of how a
    design grows with them: on a design as published (``qk`` and ``av`` units, ports and
    buffers) a beat of ``32 * lanes`` bits carries the lanes of attention, LayerNorm, adds,
    the gate and the patch embedding (FEATURE_BLOCK_SIZE = AXI_XFER_BIT_WIDTH / 32 in the
    code), and the buffers that feed the units widen with them; on an older design
    (``attention`` unit) the linear size also sets the vector lanes.

    >>> from sim import architecture
    >>> d = sized_design(architecture("edge-moe"), linear=32, queries=8, lanes=16)
    >>> d.units["qk"].shape, d.ports["inout1"].bits, d.buffers["weights"].width
    ((8, 16), 512, 1024)
    """
    if "qk" not in arch.units:
        shapes: dict[str, tuple[int, ...]] = {}
        old = arch.units["attention"].shape
        if linear is not None:
            shapes.update(linear=(linear, linear), gelu=(linear,), vector=(linear,))
        if queries is not None or lanes is not None:
            p, lane = queries or old[0], lanes or old[1]
            shapes.update(attention=(p, lane), softmax=(p,))
        if experts is not None:
            raise CascadeError(f"architecture {arch.name} has no gate unit to size")
        return arch.with_units(shapes)
    n = linear or arch.units["linear"].shape[0]
    p = queries or arch.units["qk"].shape[0]
    lane = lanes or arch.units["qk"].shape[1]
    e = experts or arch.units["gate"].shape[0]
    if 32 * lane > _AXI_MAX_BITS:
        raise CascadeError(f"{lane} lanes need {32 * lane}-bit ports; AXI carries at most "
                           f"{_AXI_MAX_BITS} bits")
    units = arch.with_units({"linear": (n, n), "gelu": (n,), "qk": (p, lane), "av": (p, lane),
                             "normalise": (p, arch.units["normalise"].shape[1]),
                             "vector": (lane,), "gate": (e, lane),
                             "patch_embed": (lane, arch.units["patch_embed"].shape[1])}).units
    widths = {"weights": n * n, "bias": n, "weight_regroup": n * n, "linear_input": n,
              "query_rows": p * lane, "av_accumulators": p * lane, "gate_weights": e * lane,
              "queues": e, "scores": e, "norm_params": lane, "norm_row": lane,
              "patch_rows": 2 * lane}
    values = {"weight_regroup": n * 768, "query_rows": p * 192, "av_accumulators": p * 192,
              "gate_weights": e * 192, "queues": e * 129, "scores": e * 129}
    buffers = {name: dataclasses.replace(b, width=widths.get(name, b.width),
                                         values=values.get(name, b.values))
               for name, b in arch.buffers.items()}
    ports = {name: dataclasses.replace(port, bits=32 * lane) for name, port in arch.ports.items()}
    return dataclasses.replace(arch, units=units, buffers=buffers, ports=ports)


def dse(name: str, arch: Architecture, *, linear: tuple[int, ...] = (4, 8, 16, 24, 32),
        queries: tuple[int, ...] = (1, 2, 4, 8), lanes: tuple[int, ...] = (8, 16, 32, 64),
        ) -> dict[str, Any]:
    """Sweep the parallelism of an Edge-MoE-style design (:func:`sized_design`): an N x N
    linear unit, P queries sharing each K row and L lanes. Keep the designs that fit the
    device; report the Pareto front of latency against DSPs. A design that cannot be built
    (ports wider than AXI allows) is kept with the reason and does not fit."""
    points = []
    for n, p, lane in itertools.product(linear, queries, lanes):
        point: dict[str, Any] = {"linear": n, "queries": p, "lanes": lane}
        try:
            sized = sized_design(arch, linear=n, queries=p, lanes=lane)
        except CascadeError as error:
            points.append({**point, "dsp": None, "bram36": None, "lut": None, "fits": False,
                           "error": error.message})
            continue
        resources = design_resources(sized)
        point.update({"dsp": resources.total.dsp, "bram36": resources.total.bram36,
                      "lut": resources.total.lut, "fits": resources.fits})
        if resources.fits:
            point["cycles_per_image"] = map_network(name, sized)["latency"]["cycles_per_image"]
            point["seconds_per_image"] = point["cycles_per_image"] / sized.clock_hz
        points.append(point)
    fitting = [p for p in points if p["fits"]]
    return {"network": name, "architecture": arch.name, "points": points,
            "pareto": pareto(fitting, "dsp", "cycles_per_image")}
