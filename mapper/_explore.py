"""Design-space exploration of an FPGA network design from a spec: the parallelism of an
Edge-MoE-style design (:func:`mapper.sized_design`), its mixture of experts and the boards
it could run on, every combination costed with :func:`mapper.map_network`.

A spec is a YAML file; every list is an axis and the points are their product::

    name: edge-moe-dse
    network: vit-edge-moe
    architecture: edge-moe              # a preset or an architecture file (spec-relative)
    platforms:                          # a board, and what its memory gives the ports
      - {device: zcu102}                # the preset's links and DRAM
      - {device: u250, dram_gb_s: 77, link_bits: port}   # links as wide as the ports
    linear: [8, 16, 32]                 # the linear unit, N x N
    query_group: [4, 8]                 # queries sharing each K and V row
    port_bits: [256, 512]               # m_axi width (and lanes: port_bits / 32)
    experts: [16]
    top_k: [1, 2]
    routing: [uniform]                  # optional: uniform, skewed[:S] or histogram files
    task: semseg                        # optional: whose gate routes (default: the first)

Every value is checked where it is written (a one-line error at its line). Every point is
evaluated; one that does not fit its device is kept with ``fits: false``. The Pareto front
(latency against DSPs) and the fastest design are per platform and per model (experts,
top-k, routing), among the designs that fit.

>>> spec = parse_explore("network: vit-edge-moe\\narchitecture: edge-moe\\n"
...                      "platforms: [{device: zcu102}]\\nlinear: [16]\\nquery_group: [4, 8]\\n"
...                      "port_bits: [256]\\nexperts: [16]\\ntop_k: [2]")
>>> result = explore(spec)
>>> [p["query_group"] for p in result["pareto"]["zcu102"]["16 experts, top-2"]]
[4, 8]
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from einsum import CascadeError, node_line, node_value, read_text, yaml_fields
from sim import Architecture, architecture, design_resources, device_names, fpga_device

from ._dse import map_network, pareto, sized_design
from ._network import network, network_names
from ._sweep import _items  # one reading of an axis for both kinds of spec

__all__ = ["ExploreSpec", "Platform", "explore", "load_explore", "model_label",
           "parse_explore", "platform_design"]

_FIELDS = ("architecture", "experts", "linear", "name", "network", "platforms", "port_bits",
           "query_group", "routing", "task", "top_k")
_AXES = ("linear", "query_group", "port_bits", "experts", "top_k")
_LIMITS = {"linear": 256, "query_group": 129, "port_bits": 1024, "experts": 256, "top_k": 256}
_PLATFORM_FIELDS = ("device", "dram_gb_s", "link_bits")


@dataclass(frozen=True)
class Platform:
    """A board: its FPGA part, its memory's bandwidth (None: the design's) and how wide the
    link behind each port is (None: the design's; ``port``: as wide as the port)."""

    device: str
    dram_gb_s: float | None = None
    link_bits: int | str | None = None


@dataclass(frozen=True)
class ExploreSpec:
    name: str
    network: str
    architecture: str
    platforms: tuple[Platform, ...]
    linear: tuple[int, ...]
    query_group: tuple[int, ...]
    port_bits: tuple[int, ...]
    experts: tuple[int, ...]
    top_k: tuple[int, ...]
    routing: tuple[str, ...] = ("uniform",)
    task: str | None = None
    file: str = "<spec>"

    def points(self) -> list[dict[str, Any]]:
        """Every combination, platform slowest."""
        return [{"platform": platform, "linear": n, "query_group": p, "port_bits": b,
                 "experts": e, "top_k": k, "routing": r}
                for platform, n, p, b, e, k, r in itertools.product(
                    self.platforms, self.linear, self.query_group, self.port_bits,
                    self.experts, self.top_k, self.routing)]


def load_explore(path: str | os.PathLike[str]) -> ExploreSpec:
    """Read and check a spec file; architecture and histogram paths are relative to it."""
    text = read_text(path, "the exploration spec")
    return parse_explore(text, file=os.fspath(path), base=Path(path).parent)


def parse_explore(text: str, *, file: str = "<spec>", base: Path | None = None) -> ExploreSpec:
    """Check a spec given as YAML text; see the module docstring for the format."""
    try:
        return _parse(text, file, base or Path.cwd())
    except CascadeError as error:
        raise error.located(file=file) from None
    except RecursionError:
        raise CascadeError("the spec nests too deeply", file=file) from None


def _whole(node: yaml.Node, what: str, high: int) -> int:
    value = node_value(node)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise CascadeError(f"{what} must be a whole number from 1 to {high}, not {value!r}",
                           line=node_line(node))
    return value


def _text(node: yaml.Node, what: str) -> str:
    value = node_value(node)
    if not isinstance(value, str) or not value or not value.isprintable():
        raise CascadeError(f"{what} must be text, not {value!r}", line=node_line(node))
    return value


def _platform(node: yaml.Node) -> Platform:
    line = node_line(node)
    if not isinstance(node, yaml.MappingNode):
        raise CascadeError("a platform is a mapping like {device: u250, dram_gb_s: 77}", line=line)
    fields: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = node_value(key_node)
        where = node_line(key_node)
        if key not in _PLATFORM_FIELDS:
            raise CascadeError(f"unknown platform field {key!r}; known: "
                               f"{', '.join(_PLATFORM_FIELDS)}", line=where)
        if key in fields:
            raise CascadeError(f"platform field {key!r} is given twice", line=where)
        value = node_value(value_node)
        if key == "device" and value not in device_names():
            raise CascadeError(f"unknown FPGA device {value!r}; known: "
                               f"{', '.join(device_names())}", line=where)
        if key == "dram_gb_s" and (isinstance(value, bool) or not isinstance(value, int | float)
                                   or not 0.001 <= value <= 1e6):
            raise CascadeError(f"dram_gb_s must be a number from 0.001 to 1e6, not {value!r}",
                               line=where)
        if key == "link_bits" and value != "port":
            value = _whole(value_node, "link_bits", 1024)
        fields[key] = value
    if "device" not in fields:
        raise CascadeError("a platform needs a device", line=line)
    return Platform(**fields)


def _parse(text: str, file: str, base: Path) -> ExploreSpec:
    nodes = yaml_fields(text, _FIELDS, required=("network", "architecture", "platforms",
                                                 *_AXES),
                        shape="an exploration spec must be a mapping of axes")
    name = _text(nodes["name"], "name") if "name" in nodes else Path(file).stem
    net = _text(nodes["network"], "network")
    if net not in network_names():
        raise CascadeError(f"unknown network {net!r}; known: {', '.join(network_names())}",
                           line=node_line(nodes["network"]))
    given = _text(nodes["architecture"], "architecture")
    arch_name = given if not given.endswith((".yaml", ".yml")) else str((base / given).resolve())
    try:
        arch = architecture(arch_name)
    except CascadeError as error:
        raise error.located(line=node_line(nodes["architecture"])) from None
    if arch.device is None:
        raise CascadeError(f"architecture {arch.name} is not an FPGA design",
                           line=node_line(nodes["architecture"]))
    axes = {axis: tuple(_whole(n, axis, _LIMITS[axis]) for n in _items(nodes[axis], axis))
            for axis in _AXES}
    for axis, values in axes.items():
        if len(set(values)) != len(values):
            raise CascadeError(f"{axis} lists a value twice", line=node_line(nodes[axis]))
    for node in _items(nodes["port_bits"], "port_bits"):
        if node_value(node) % 32:
            raise CascadeError(f"port_bits {node_value(node)} is not a whole number of 32-bit "
                               "activations", line=node_line(node))
    for node in _items(nodes["top_k"], "top_k"):
        if node_value(node) > min(axes["experts"]):
            raise CascadeError(f"top_k {node_value(node)} is more than the fewest experts "
                               f"({min(axes['experts'])})", line=node_line(node))
    routings: tuple[str, ...] = ("uniform",)
    if "routing" in nodes:
        routings = tuple(_routing(n, base) for n in _items(nodes["routing"], "routing"))
    task = _text(nodes["task"], "task") if "task" in nodes else None
    moe = network(net).moe
    if moe is None:
        raise CascadeError(f"network {net} has no mixture of experts to explore",
                           line=node_line(nodes["network"]))
    if task is not None and task not in moe.tasks:
        raise CascadeError(f"unknown task {task!r}; tasks: {', '.join(moe.tasks)}",
                           line=node_line(nodes["task"]))
    platforms = tuple(_platform(n) for n in _items(nodes["platforms"], "platforms"))
    devices = [p.device for p in platforms]
    if len(set(devices)) != len(devices):
        raise CascadeError("platforms list a device twice (each board once)",
                           line=node_line(nodes["platforms"]))
    return ExploreSpec(name=name, network=net, architecture=arch_name, platforms=platforms,
                       routing=routings, task=task, file=file, **axes)


def _routing(node: yaml.Node, base: Path) -> str:
    value = _text(node, "routing")
    if value in ("uniform", "skewed") or value.startswith("skewed:"):
        return value
    path = base / value
    if not path.is_file():
        raise CascadeError(f"no expert histogram file {value!r} (looked in {base})",
                           line=node_line(node))
    return str(path.resolve())


def platform_design(arch: Architecture, platform: Platform) -> Architecture:
    """``arch`` moved to a platform's board: its part (and clock), its memory's bandwidth and
    its links."""
    moved = arch.with_device(fpga_device(platform.device))
    if platform.dram_gb_s is not None:
        moved = dataclasses.replace(moved, dram=dataclasses.replace(
            moved.dram, bandwidth_bytes_per_s=platform.dram_gb_s * 1e9))
    if platform.link_bits is not None:
        link = None if platform.link_bits == "port" else platform.link_bits
        moved = dataclasses.replace(moved, ports={
            n: dataclasses.replace(p, link_bits=link) for n, p in moved.ports.items()})
    return moved


def explore(spec: ExploreSpec, *, progress: Callable[[int, int], None] | None = None
            ) -> dict[str, Any]:
    """Every point of ``spec`` with its resources and (where it maps) its latency, DRAM
    traffic and what bounds it; per platform, the Pareto front of latency against DSPs and
    the fastest design, among those that fit."""
    base = architecture(spec.architecture)
    points = []
    todo = spec.points()
    for done, point in enumerate(todo):
        if progress is not None:
            progress(done, len(todo))
        platform: Platform = point.pop("platform")
        row: dict[str, Any] = {"device": platform.device, **point}
        try:
            arch = sized_design(platform_design(base, platform), linear=point["linear"],
                                queries=point["query_group"], lanes=point["port_bits"] // 32,
                                experts=point["experts"])
            resources = design_resources(arch)
            row.update({k: getattr(resources.total, k) for k in ("dsp", "bram36", "lut", "ff")},
                       fits=resources.fits)
            result = map_network(spec.network, arch, experts=point["routing"],
                                 top_k=point["top_k"], task=spec.task,
                                 expert_count=point["experts"])
        except CascadeError as error:
            row.update(fits=False, error=error.message)
            points.append(row)
            continue
        parts = {"compute": 0, "dram": 0, "routing": 0}
        for layer in result["layers"]:
            for key, value in layer["parts"].items():
                parts[key] += value
        row.update(cycles_per_image=result["latency"]["cycles_per_image"],
                   seconds_per_image=result["latency"]["seconds_per_image"],
                   dram_bytes_per_image=result["dram_bytes_per_image"],
                   bound_by=max(parts, key=lambda k: parts[k]), clock_mhz=arch.clock_mhz)
        points.append(row)
    # Fronts compare designs of one model: other experts or top-k is another network.
    fronts: dict[str, dict[str, list[dict[str, Any]]]] = {}
    best: dict[str, dict[str, dict[str, Any]]] = {}
    for platform in spec.platforms:
        fronts[platform.device], best[platform.device] = {}, {}
        for e, k, r in itertools.product(spec.experts, spec.top_k, spec.routing):
            fitting = [p for p in points if p["device"] == platform.device and p["fits"]
                       and (p["experts"], p["top_k"], p["routing"]) == (e, k, r)]
            label = model_label(e, k, r)
            fronts[platform.device][label] = pareto(fitting, "dsp", "cycles_per_image")
            if fitting:
                best[platform.device][label] = min(fitting, key=lambda p: p["cycles_per_image"])
    return {"name": spec.name, "network": spec.network, "architecture": base.name,
            "points": points, "pareto": fronts, "best": best}


def model_label(experts: int, top_k: int, routing: str) -> str:
    """``16 experts, top-2`` (and the routing unless uniform)."""
    shown = "" if routing == "uniform" else f", {Path(routing).name}"
    return f"{experts} experts, top-{top_k}{shown}"
