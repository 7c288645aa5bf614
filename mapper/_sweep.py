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

Every value is checked where it is written, with its line, so that no point can stop a
sweep midway: numbers within generous ranges (at most 2**40 PEs per unit, a buffer of a
byte to a TiB, 2**-10 to 2**20 GiB/s, a clock of 1 to 100000 MHz; ``1e-3`` is a number as
in YAML 1.2), at most 2**62 operations per point, text without control characters, and
each architecture design once (two entries that give the same design are refused).

>>> spec = parse_sweep("algorithms: [fusemax]\\narchitectures: [{preset: fusemax, "
...                    "array: [64, 128]}]\\nmodels: [bert]\\nseq: [1024, 4096]")
>>> len(spec.points()), spec.points()[0].array
(4, 64)
"""

from __future__ import annotations

import itertools
import math
import os
import re
import stat
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
    op_counts,
    rank_of,
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
_RANGES: dict[str, tuple[float, float, str]] = {
    # Generous beyond any real design, narrow enough that every derived count (bytes,
    # cycles, seconds) stays a finite number the store keeps.
    "buffer_mib": (2.0**-20, 2.0**20, "2**-20 to 2**20 MiB (a byte to a TiB)"),
    "bandwidth_gib_s": (2.0**-10, 2.0**20, "2**-10 to 2**20 GiB/s"),
    "clock_mhz": (1.0, 1e5, "1 to 100000 MHz"),
    "area_mm2": (0.0, 1e12, "at most 1e12 mm^2"),
    "power_w": (0.0, 1e12, "at most 1e12 W"),
}
_MAX_OPS = 2**62
"""Most operations one design point may count: the cost model and the store count in
64-bit integers, and cycles and DRAM bytes of a sane design stay below the operation count
(what still overflows, a starved design, is stored as unmappable with the reason)."""
_MAX_SPEC_BYTES = 1 << 20
_MAX_TEXT = 200
# YAML 1.2 floats that PyYAML reads as text (YAML 1.1 wants a dot and a signed exponent):
# 1e-3, 5E6, 1.0e300.
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


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
    name_line: int | None = None
    """Line of the ``name`` field (None: named after the file)."""

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
        info = os.stat(path)
    except (OSError, ValueError):
        info = None  # read_text says why
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise SweepError("cannot read sweep spec: not a regular file", file=str(path))
    if info is not None and info.st_size > _MAX_SPEC_BYTES:
        raise SweepError(f"cannot read sweep spec: {info.st_size:,} bytes, more than the "
                         f"{_MAX_SPEC_BYTES:,} a spec may have", file=str(path))
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
    except RecursionError:
        raise SweepError("the spec nests too deeply", file=file) from None
    except ValueError as error:  # from PyYAML's constructors, e.g. a 5,000-digit key
        raise SweepError(_value_problem(error), file=file) from None


def _parse(text: str, file: str, base: Path) -> SweepSpec:
    nodes = yaml_fields(text, _FIELDS, required=("algorithms", "architectures", "models", "seq"),
                        shape="a sweep spec must be a mapping of axes")
    name = _name(nodes["name"]) if "name" in nodes else _text(Path(file).stem, "name", None)
    algorithm_nodes = _items(nodes["algorithms"], "algorithms")
    algorithms = tuple(_algorithm(n, base) for n in algorithm_nodes)
    arch_nodes = _items(nodes["architectures"], "architectures")
    architectures = tuple(_architecture(n, base) for n in arch_nodes)
    model_nodes = _items(nodes["models"], "models")
    models = tuple(_model(n, base) for n in model_nodes)
    seq_nodes = _items(nodes["seq"], "seq")
    seq = tuple(_whole(n, "seq") for n in seq_nodes)
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
    _check_designs(architectures, arch_nodes)
    _check_work(algorithms, algorithm_nodes, models, seq, seq_nodes, batch)
    return SweepSpec(name=name, algorithms=algorithms, architectures=architectures,
                     models=models, seq=seq, batch=batch, objectives=objectives,
                     constraints=constraints, file=file,
                     name_line=node_line(nodes["name"]) if "name" in nodes else None)


# ----- values


def _value(node: yaml.Node) -> Any:
    """A node's value; ValueErrors of PyYAML's constructors become SweepErrors."""
    try:
        return node_value(node)
    except CascadeError:
        raise
    except ValueError as error:
        raise SweepError(_value_problem(error), line=node_line(node)) from None


def _value_problem(error: ValueError) -> str:
    if "digits" in str(error):  # Python converts at most 4,300 digits to an integer
        return "a number with more digits than Python converts (4,300)"
    return f"bad value: {str(error).splitlines()[0] if str(error) else type(error).__name__}"


def _shown(value: Any) -> str:
    """A value for an error message: one short line whatever it is (an alias bomb's
    list would print for ever)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"a {len(str(abs(value)))}-digit number"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _items(node: yaml.Node, what: str) -> list[yaml.Node]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        raise SweepError(f"{what} is empty", line=node_line(node))
    return items


def _whole(node: yaml.Node, what: str) -> int:
    value = _value(node)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SHAPE:
        raise SweepError(f"{what} must be a whole number from 1 to 2**40, not "
                         f"{_shown(value)}", line=node_line(node))
    return value


def _number(node: yaml.Node, what: str) -> float:
    """A positive number within the range of ``what`` (:data:`_RANGES`). Plain scalars
    that YAML 1.2 reads as floats count as numbers (PyYAML reads ``1e-3`` as text)."""
    value = _value(node)
    if isinstance(value, str) and isinstance(node, yaml.ScalarNode) and node.style is None \
            and _FLOAT_12.fullmatch(value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SweepError(f"{what} must be a positive number, not {_shown(value)}",
                         line=node_line(node))
    low, high, shown = _RANGES[what]
    if not low <= value <= high:  # inf too
        raise SweepError(f"{what} {value:g} is out of range; expected {shown}",
                         line=node_line(node))
    return float(value)


def _text(value: Any, what: str, line: int | None) -> str:
    """Text the store keeps as it is: no control characters, no lone surrogates, short."""
    if not isinstance(value, str) or not value:
        raise SweepError(f"{what} must be text, not {_shown(value)}", line=line)
    if len(value) > _MAX_TEXT:
        raise SweepError(f"{what} is longer than {_MAX_TEXT} characters", line=line)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SweepError(f"{what} {_shown(value)} is not valid Unicode (a lone surrogate)",
                         line=line) from None
    if any(not c.isprintable() for c in value):
        raise SweepError(f"{what} {_shown(value)} has control characters", line=line)
    return value


def _name(node: yaml.Node) -> str:
    value = _value(node)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # name: 2024
    return _text(value, "name", node_line(node))


def _choice(node: yaml.Node, what: str, known: tuple[str, ...]) -> str:
    value = _value(node)
    if not isinstance(value, str) or value not in known:
        raise SweepError(f"unknown {what} {_shown(value)}; known: {', '.join(known)}",
                         line=node_line(node))
    return str(value)


def _algorithm(node: yaml.Node, base: Path) -> str:
    value = _value(node)
    line = node_line(node)
    if not isinstance(value, str):
        raise SweepError(f"an algorithm is a library name or a file, not {_shown(value)}",
                         line=line)
    _text(value, "algorithm", line)
    if value in library_names():
        name = value
    else:
        path = base / value
        if not path.is_file():
            raise SweepError(f"no library cascade or file named {value!r}; library: "
                             f"{', '.join(library_names())}", line=line)
        # absolute, so that a point's key does not depend on where the sweep was started
        name = str(path.resolve())
    cascade = load(name)  # a bad cascade file reports its own file and line
    used = set(validate(cascade).all_ranks())
    try:  # a model gives E, F, M and P; anything else needs a default in the cascade
        resolve_shapes(cascade, {r: 64 for r in ("E", "F", "M", "P") if r in used})
    except CascadeError as error:
        raise SweepError(f"algorithm {value}: {error.message}", line=line) from None
    return name


_MODEL_SIZES = ("heads", "kv_heads", "head_dim", "model_dim", "ffn_dim", "layers", "batch")


def _model(node: yaml.Node, base: Path) -> Model:
    value = _value(node)
    line = node_line(node)
    if isinstance(value, dict):
        if set(value) != {"config"} or not isinstance(value["config"], str):
            raise SweepError("a model is a preset name or {config: path/to/config.json}",
                             line=line)
        path = base / _text(value["config"], "config", line)
        if not path.is_file():
            raise SweepError(f"no model config file {value['config']!r} (looked in {base})",
                             line=line)
        found = model_from_config(path)  # a bad config reports its own file and line
        _text(found.name, "model name", line)
        for size in _MODEL_SIZES:
            if getattr(found, size) > MAX_SHAPE:
                raise SweepError(f"model {found.name}: {size} {_shown(getattr(found, size))} "
                                 "is larger than 2**40", line=line)
        return found
    if not isinstance(value, str):
        raise SweepError(f"a model is a preset name or {{config: PATH}}, not {_shown(value)}",
                         line=line)
    try:
        return model(value)
    except CascadeError as error:
        raise SweepError(error.message, line=line) from None


def _preset(node: yaml.Node, base: Path) -> str:
    """A preset name, or an architecture file's absolute path (a point's key then holds the
    file's contents, so editing the file makes new points)."""
    value = _value(node)
    line = node_line(node)
    if isinstance(value, str) and value in architecture_names():
        return value
    if not isinstance(value, str) or not value.endswith((".yaml", ".yml")):
        raise SweepError(f"unknown architecture {_shown(value)}; known: "
                         f"{', '.join(architecture_names())}, or a .yaml file", line=line)
    path = base / _text(value, "architecture", line)
    if not path.is_file():
        raise SweepError(f"no architecture file {value!r} (looked in {base})", line=line)
    name = str(path.resolve())
    architecture(name)  # a bad file reports its own file and line
    return name


def _architecture(node: yaml.Node, base: Path) -> ArchitectureAxes:
    line = node_line(node)
    if not isinstance(node, yaml.MappingNode):
        raise SweepError("an architecture is a mapping with a preset and parameter axes",
                         line=line)
    fields: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _value(key_node)
        if key in fields:
            raise SweepError(f"architecture parameter {key!r} is given twice",
                             line=node_line(key_node))
        if key == "preset":
            fields["preset"] = _preset(value_node, base)
        elif key == "device":
            fields[key] = tuple(_choice(n, "device", device_names())
                                for n in _items(value_node, key))
        elif key == "array":
            fields[key] = tuple(_whole(n, key) for n in _items(value_node, key))
        elif key in _ARCH_PARAMETERS:
            fields[key] = tuple(_number(n, key) for n in _items(value_node, key))
        else:
            raise SweepError(f"unknown architecture parameter {_shown(key)}; expected preset, "
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
        key = _value(key_node)
        if key in fields:
            raise SweepError(f"constraint {key!r} is given twice", line=node_line(key_node))
        if key in ("area_mm2", "power_w"):
            fields[key] = _number(value_node, key)
        elif key == "fit_device":
            value = _value(value_node)
            if not isinstance(value, bool):
                raise SweepError(f"fit_device must be true or false, not {_shown(value)}",
                                 line=node_line(value_node))
            fields[key] = value
        else:
            raise SweepError(f"unknown constraint {_shown(key)}; expected area_mm2, power_w, "
                             "fit_device", line=node_line(key_node))
    return Constraints(**fields)


# ----- checks across axes


def _describe(preset: str, params: dict[str, Any]) -> str:
    given = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
             for k, v in params.items() if v is not None]
    return f"{preset} with {', '.join(given)}" if given else f"{preset} with its preset values"


def _check_designs(architectures: tuple[ArchitectureAxes, ...], nodes: list[yaml.Node]
                   ) -> None:
    """Each design once: two entries (or two values of one entry) that give the same
    parameters, or the same architecture, would be one stored point reported twice."""
    seen: dict[str, tuple[str, int]] = {}
    for axes, node in zip(architectures, nodes, strict=True):
        line = node_line(node)
        for params in axes.combinations():
            design = (axes.preset, *params.values())
            described = _describe(axes.preset, params)
            arch = repr(design_architecture(design))
            if arch in seen:
                first, at = seen[arch]
                if first == described:
                    where = f" (also at line {at})" if at != line else ""
                    raise SweepError(f"architectures list {described} more than once{where}",
                                     line=line)
                raise SweepError(f"architectures list {described}, the same design as "
                                 f"{first} at line {at}", line=line)
            seen[arch] = (described, line)


def _check_work(algorithms: tuple[str, ...], algorithm_nodes: list[yaml.Node],
                models: tuple[Model, ...], seq: tuple[int, ...], seq_nodes: list[yaml.Node],
                batch: tuple[int | None, ...]) -> None:
    """Refuse a workload whose operation count per point is beyond :data:`_MAX_OPS`, at
    the line of its seq: the cost model would overflow on it midway through a sweep. The
    full iteration spaces bound the count cheaply; masks are counted only for a workload
    that the bound does not clear."""
    for algorithm, algorithm_node in zip(algorithms, algorithm_nodes, strict=True):
        cascade = load(algorithm)
        for m in models:
            most = max(m.batch if b is None else b for b in batch)
            for length, node in zip(seq, seq_nodes, strict=True):
                try:
                    shapes, instances = m.workload(cascade, length)
                    sizes = resolve_shapes(cascade, shapes)
                    per_point = instances // m.batch * most
                    bound = per_point * sum(
                        math.prod(sizes[rank_of(v)] for v in e.iteration_ranks)
                        for e in cascade.einsums)
                    if bound <= _MAX_OPS >> 4:  # at most 16 operations per iteration
                        continue
                    ops = per_point * sum(op_counts(cascade, sizes).values())
                except (CascadeError, KeyError):
                    continue  # the point is evaluated and stored as unmappable, with why
                if ops > _MAX_OPS:
                    name = _value(algorithm_node)
                    raise SweepError(f"seq {length} is too long for model {m.name} with batch "
                                     f"{most}: {name} would count {_power(ops)} operations "
                                     "per point, more than the 2**62 the cost model counts",
                                     line=node_line(node))


def _power(n: int) -> str:
    """A large count as a power of two: 2**80, or ~2**86.3."""
    exact = n > 0 and n & (n - 1) == 0
    return f"2**{n.bit_length() - 1}" if exact else f"~2**{math.log2(n):.1f}"
