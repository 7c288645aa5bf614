"""Sweep specifications: the axes of a design-space exploration, validated, and their points.

A sweep spec is a YAML file; every list is an axis and the points are their product::

    name: scaling
    algorithms: [fusemax, three_pass]        # library names or cascade files (spec-relative)
    architectures:
      - preset: fusemax
        array: [128, 256]                    # PEs per array axis
        buffer_mib: [4, 16]
        bandwidth_gib_s: 400                 # a single value is a one-point axis
      - preset: zcu102
        device: [zcu102, u250]               # FPGA part (resources and clock)
    models: [bert, llama-3-8b, {config: my/config.json}]
    seq: [1024, 4096]
    batch: [1, 64]                           # optional: each model's own batch
    objective: [latency, energy]             # optional: latency
    constraints: {area_mm2: 1500, power_w: 300, fit_device: true}

Constraints do not change what is computed: every point is evaluated and stored, and a
point that breaks one is marked as such, so loosening a constraint costs nothing.

>>> spec = parse_sweep("algorithms: [fusemax]\\narchitectures: [{preset: fusemax, "
...                    "array: [64, 128]}]\\nmodels: [bert]\\nseq: [1024, 4096]")
>>> len(spec.points()), spec.points()[0].array
(4, 64)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from einsum import (
    MAX_SHAPE,
    CascadeError,
    Model,
    library_names,
    load,
    model,
    model_from_config,
    node_line,
    node_value,
    read_text,
    resolve_shapes,
    validate,
    yaml_fields,
)
from sim import Architecture, architecture, architecture_names, device_names, fpga_device

from ._search import OBJECTIVES

__all__ = ["ArchitectureAxes", "Constraints", "Point", "SweepError", "SweepSpec",
           "design_architecture", "load_sweep",
           "parse_sweep"]

_ARCH_PARAMETERS = ("array", "buffer_mib", "bandwidth_gib_s", "clock_mhz", "device")
_FIELDS = ("name", "algorithms", "architectures", "models", "seq", "batch", "objective",
           "constraints")


class SweepError(CascadeError):
    """A sweep spec that cannot be run: unknown key, empty axis, bad value."""


@dataclass(frozen=True, kw_only=True)
class ArchitectureAxes:
    """One architecture preset and the values each of its parameters takes (None: as is)."""

    preset: str
    array: tuple[int | None, ...] = (None,)
    buffer_mib: tuple[float | None, ...] = (None,)
    bandwidth_gib_s: tuple[float | None, ...] = (None,)
    clock_mhz: tuple[float | None, ...] = (None,)
    device: tuple[str | None, ...] = (None,)

    def combinations(self) -> list[dict[str, Any]]:
        axes = [getattr(self, p) for p in _ARCH_PARAMETERS]
        return [dict(zip(_ARCH_PARAMETERS, values, strict=True))
                for values in itertools.product(*axes)]


@dataclass(frozen=True, kw_only=True)
class Constraints:
    """Limits a design must meet; None means no limit."""

    area_mm2: float | None = None
    power_w: float | None = None
    fit_device: bool = False
    """An FPGA design's DSP, BRAM, URAM, LUT and FF counts must fit its device."""

    def violations(self, *, area_mm2: float | None, power_w: float | None,
                   fits: bool | None) -> list[str]:
        broken = []
        if self.area_mm2 is not None and area_mm2 is not None and area_mm2 > self.area_mm2:
            broken.append(f"area {area_mm2:.1f} > {self.area_mm2:g} mm^2")
        if self.power_w is not None and power_w is not None and power_w > self.power_w:
            broken.append(f"power {power_w:.1f} > {self.power_w:g} W")
        if self.fit_device and fits is False:
            broken.append("does not fit the device")
        return broken


@dataclass(frozen=True, kw_only=True)
class Point:
    """One design point: everything the evaluation depends on, picklable."""

    algorithm: str
    """A library name or a cascade file's path."""
    preset: str
    array: int | None
    buffer_mib: float | None
    bandwidth_gib_s: float | None
    clock_mhz: float | None
    device: str | None
    model: Model
    seq: int
    batch: int
    objective: str

    @property
    def design(self) -> tuple[Any, ...]:
        """The architecture's identity: preset, array, buffer, bandwidth, clock, device."""
        return (self.preset, self.array, self.buffer_mib, self.bandwidth_gib_s,
                self.clock_mhz, self.device)

    def architecture(self) -> Architecture:
        return design_architecture(self.design)


@lru_cache(maxsize=4096)
def design_architecture(design: tuple[Any, ...]) -> Architecture:
    """The architecture of a :attr:`Point.design` (built once per process; sweeps share
    designs across thousands of points)."""
    preset, array, buffer_mib, bandwidth, clock, device = design
    return build_architecture(preset, array=array, buffer_mib=buffer_mib,
                              bandwidth_gib_s=bandwidth, clock_mhz=clock, device=device)


def build_architecture(preset: str, *, device: str | None = None, **changes: Any
                       ) -> Architecture:
    """A preset with parameters changed; ``device`` swaps the FPGA part (and its clock,
    unless ``clock_mhz`` is given)."""
    arch = architecture(preset)
    if device is not None:
        if arch.device is None:
            raise SweepError(f"architecture {preset} is not an FPGA design; it has no device "
                             "to change")
        arch = arch.with_device(fpga_device(device))
    changes = {k: v for k, v in changes.items() if v is not None}
    return arch.replace(**changes) if changes else arch


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    name: str
    algorithms: tuple[str, ...]
    architectures: tuple[ArchitectureAxes, ...]
    models: tuple[Model, ...]
    seq: tuple[int, ...]
    batch: tuple[int | None, ...] = (None,)
    objectives: tuple[str, ...] = ("latency",)
    constraints: Constraints = Constraints()
    file: str = "<spec>"

    def points(self) -> list[Point]:
        """Every combination, in a fixed order (algorithm slowest, objective fastest).
        Energy objectives apply only where energy is modelled (not on FPGA presets)."""
        out = []
        for algorithm, axes in itertools.product(self.algorithms, self.architectures):
            objectives = self.objectives if architecture(axes.preset).energy_modelled else \
                tuple(o for o in self.objectives if o == "latency")
            for params, m, seq, batch, objective in itertools.product(
                    axes.combinations(), self.models, self.seq, self.batch, objectives):
                out.append(Point(algorithm=algorithm, preset=axes.preset, model=m, seq=seq,
                                 batch=m.batch if batch is None else batch,
                                 objective=objective, **params))
        return out


# ----- parsing with line numbers


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file; cascade and config paths are relative to it."""
    path = Path(path)
    try:
        text = read_text(path, "sweep spec")
    except CascadeError as error:
        raise SweepError(error.message, file=error.file) from None
    return parse_sweep(text, file=str(path), base=path.parent)


def parse_sweep(text: str, *, file: str = "<spec>", base: Path | None = None) -> SweepSpec:
    """Validate a sweep spec given as YAML text; see the module docstring for the format."""
    try:
        return _parse(text, file, base or Path.cwd())
    except CascadeError as error:
        located = error.located(file=file)
        raise SweepError(located.message, file=located.file, line=located.line) from None


def _parse(text: str, file: str, base: Path) -> SweepSpec:
    nodes = yaml_fields(text, _FIELDS, required=("algorithms", "architectures", "models", "seq"),
                        shape="a sweep spec must be a mapping of axes")
    name = node_value(nodes["name"]) if "name" in nodes else Path(file).stem
    algorithms = tuple(_algorithm(n, base) for n in _items(nodes["algorithms"], "algorithms"))
    arch_nodes = _items(nodes["architectures"], "architectures")
    architectures = tuple(_architecture(n) for n in arch_nodes)
    models = tuple(_model(n, base) for n in _items(nodes["models"], "models"))
    seq = tuple(_whole(n, "seq") for n in _items(nodes["seq"], "seq"))
    batch: tuple[int | None, ...] = (None,)
    if "batch" in nodes:
        batch = tuple(_whole(n, "batch") for n in _items(nodes["batch"], "batch"))
    objectives: tuple[str, ...] = ("latency",)
    if "objective" in nodes:
        objectives = tuple(_choice(n, "objective", OBJECTIVES)
                           for n in _items(nodes["objective"], "objective"))
    for axes, node in zip(architectures, arch_nodes, strict=True):
        if "latency" not in objectives and not architecture(axes.preset).energy_modelled:
            raise SweepError(f"architecture {axes.preset} has no energy model, so objective "
                             f"{', '.join(objectives)} leaves it no point; add latency",
                             line=node_line(node))
    constraints = _constraints(nodes["constraints"]) if "constraints" in nodes else \
        Constraints()
    for axis, values in (("algorithms", algorithms), ("models", [m.name for m in models]),
                         ("seq", seq), ("batch", batch), ("objective", objectives)):
        repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
        if repeated:
            raise SweepError(f"{axis} lists {', '.join(repeated)} more than once",
                             line=node_line(nodes[axis if axis != "models" else "models"]))
    return SweepSpec(name=str(name), algorithms=algorithms, architectures=architectures,
                     models=models, seq=seq, batch=batch, objectives=objectives,
                     constraints=constraints, file=file)


def _items(node: yaml.Node, what: str) -> list[yaml.Node]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        raise SweepError(f"{what} is empty", line=node_line(node))
    return items


def _whole(node: yaml.Node, what: str) -> int:
    value = node_value(node)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SHAPE:
        raise SweepError(f"{what} must be a whole number from 1 to 2**40, not {value!r}",
                         line=node_line(node))
    return value


def _positive(node: yaml.Node, what: str) -> float:
    value = node_value(node)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SweepError(f"{what} must be a positive number, not {value!r}",
                         line=node_line(node))
    return float(value)


def _choice(node: yaml.Node, what: str, known: tuple[str, ...]) -> str:
    value = node_value(node)
    if value not in known:
        raise SweepError(f"unknown {what} {value!r}; known: {', '.join(known)}",
                         line=node_line(node))
    return str(value)


def _algorithm(node: yaml.Node, base: Path) -> str:
    value = node_value(node)
    if not isinstance(value, str):
        raise SweepError(f"an algorithm is a library name or a file, not {value!r}",
                         line=node_line(node))
    if value in library_names():
        name = value
    else:
        path = base / value
        if not path.is_file():
            raise SweepError(f"no library cascade or file named {value!r}; library: "
                             f"{', '.join(library_names())}", line=node_line(node))
        name = str(path)
    cascade = load(name)  # a bad cascade file reports its own file and line
    used = set(validate(cascade).all_ranks())
    try:  # a model gives E, F, M and P; anything else needs a default in the cascade
        resolve_shapes(cascade, {r: 64 for r in ("E", "F", "M", "P") if r in used})
    except CascadeError as error:
        raise SweepError(f"algorithm {value}: {error.message}", line=node_line(node)) from None
    return name


def _model(node: yaml.Node, base: Path) -> Model:
    value = node_value(node)
    line = node_line(node)
    if isinstance(value, dict):
        if set(value) != {"config"} or not isinstance(value["config"], str):
            raise SweepError("a model is a preset name or {config: path/to/config.json}",
                             line=line)
        path = base / value["config"]
        if not path.is_file():
            raise SweepError(f"no model config file {value['config']!r} (looked in {base})",
                             line=line)
        return model_from_config(path)
    if not isinstance(value, str):
        raise SweepError(f"a model is a preset name or {{config: PATH}}, not {value!r}",
                         line=line)
    try:
        return model(value)
    except CascadeError as error:
        raise SweepError(error.message, line=line) from None


def _architecture(node: yaml.Node) -> ArchitectureAxes:
    line = node_line(node)
    if not isinstance(node, yaml.MappingNode):
        raise SweepError("an architecture is a mapping with a preset and parameter axes",
                         line=line)
    fields: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = node_value(key_node)
        if key == "preset":
            fields["preset"] = _choice(value_node, "architecture", architecture_names())
        elif key == "device":
            fields[key] = tuple(_choice(n, "device", device_names())
                                for n in _items(value_node, key))
        elif key == "array":
            fields[key] = tuple(_whole(n, key) for n in _items(value_node, key))
        elif key in _ARCH_PARAMETERS:
            fields[key] = tuple(_positive(n, key) for n in _items(value_node, key))
        else:
            raise SweepError(f"unknown architecture parameter {key!r}; expected preset, "
                             f"{', '.join(_ARCH_PARAMETERS)}", line=node_line(key_node))
    if "preset" not in fields:
        raise SweepError("an architecture needs a preset", line=line)
    axes = ArchitectureAxes(**fields)
    for params in axes.combinations():
        try:
            build_architecture(axes.preset, **params)
        except CascadeError as error:
            raise SweepError(error.message, line=line) from None
    return axes


def _constraints(node: yaml.Node) -> Constraints:
    if not isinstance(node, yaml.MappingNode):
        raise SweepError("constraints is a mapping such as {area_mm2: 1500, power_w: 300}",
                         line=node_line(node))
    fields: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = node_value(key_node)
        if key in ("area_mm2", "power_w"):
            fields[key] = _positive(value_node, key)
        elif key == "fit_device":
            value = node_value(value_node)
            if not isinstance(value, bool):
                raise SweepError(f"fit_device must be true or false, not {value!r}",
                                 line=node_line(value_node))
            fields[key] = value
        else:
            raise SweepError(f"unknown constraint {key!r}; expected area_mm2, power_w, "
                             "fit_device", line=node_line(key_node))
    return Constraints(**fields)
