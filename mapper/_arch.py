"""Spatial-array architectures: compute units, memory levels, energy and area tables.

Specs are YAML presets in ``mapper/presets``, validated into frozen dataclasses before any
object is built. A preset may start ``like: other`` and override fields of ``other``.

>>> arch = architecture("fusemax")
>>> arch.units["array2d"].pes, arch.units["array2d"].ops["exp"].cycles
(65536, 7)
>>> architecture("fusemax", array=128).units["array2d"].shape
(128, 128)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from einsum import CascadeError
from einsum._operators import OP_KINDS

__all__ = ["Architecture", "Dram", "GlobalBuffer", "OpCost", "RegisterFile", "Unit",
           "architecture", "architecture_names"]



def _positive(value: Any, what: str, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "whole number" if integer else "number"
        raise CascadeError(f"{what} must be a positive {kind}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class OpCost:
    cycles: int
    energy_pj: float

    def __post_init__(self) -> None:
        _positive(self.cycles, "cycles", integer=True)
        _positive(self.energy_pj, "energy_pj")


@dataclass(frozen=True, kw_only=True)
class RegisterFile:
    entries: int
    read_pj: float
    write_pj: float

    def __post_init__(self) -> None:
        _positive(self.entries, "register_file.entries", integer=True)
        _positive(self.read_pj, "register_file.read_pj")
        _positive(self.write_pj, "register_file.write_pj")


@dataclass(frozen=True, kw_only=True)
class Unit:
    """A 1D or 2D array of identical PEs; ``ops`` lists what one PE can compute."""

    name: str
    shape: tuple[int, ...]
    ops: dict[str, OpCost]
    register_file: RegisterFile
    area_um2_per_pe: float
    systolic: bool = False
    """Operands hop between neighbouring PEs; only results touch the register file."""

    def __post_init__(self) -> None:
        if not isinstance(self.systolic, bool):
            raise CascadeError(f"unit {self.name}: systolic must be true or false")
        if len(self.shape) not in (1, 2):
            raise CascadeError(f"unit {self.name}: shape must have 1 or 2 axes, not {self.shape}")
        for size in self.shape:
            _positive(size, f"unit {self.name}: array size", integer=True)
        for kind in self.ops:
            if kind not in OP_KINDS:
                raise CascadeError(f"unit {self.name}: unknown op kind {kind!r}; known: "
                                   f"{', '.join(OP_KINDS)}")
        _positive(self.area_um2_per_pe, f"unit {self.name}: area_um2_per_pe")

    @property
    def pes(self) -> int:
        total = 1
        for size in self.shape:
            total *= size
        return total

    @property
    def area_mm2(self) -> float:
        return self.pes * self.area_um2_per_pe / 1e6


@dataclass(frozen=True, kw_only=True)
class Dram:
    bandwidth_bytes_per_s: float
    access_bits: int
    energy_pj_per_access: float

    def __post_init__(self) -> None:
        _positive(self.bandwidth_bytes_per_s, "dram.bandwidth_bytes_per_s")
        _positive(self.access_bits, "dram.access_bits", integer=True)
        _positive(self.energy_pj_per_access, "dram.energy_pj_per_access")


@dataclass(frozen=True, kw_only=True)
class GlobalBuffer:
    capacity_bytes: int
    row_values: int
    banks: int
    read_pj_per_row: float
    write_pj_per_row: float

    def __post_init__(self) -> None:
        for key in ("capacity_bytes", "row_values", "banks"):
            _positive(getattr(self, key), f"global_buffer.{key}", integer=True)
        _positive(self.read_pj_per_row, "global_buffer.read_pj_per_row")
        _positive(self.write_pj_per_row, "global_buffer.write_pj_per_row")


@dataclass(frozen=True, kw_only=True)
class Architecture:
    name: str
    title: str
    source: str
    node: str
    clock_mhz: float
    word_bytes: int
    dram: Dram
    global_buffer: GlobalBuffer
    units: dict[str, Unit]

    def __post_init__(self) -> None:
        _positive(self.clock_mhz, "clock_mhz")
        _positive(self.word_bytes, "word_bytes", integer=True)
        if not self.units:
            raise CascadeError(f"architecture {self.name} has no compute unit")

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @property
    def area_mm2(self) -> float:
        """Compute arrays only (the published area comparison counts the arrays)."""
        return sum(u.area_mm2 for u in self.units.values())

    def replace(self, *, array: int | None = None, buffer_mib: float | None = None,
                bandwidth_gib_s: float | None = None, clock_mhz: float | None = None,
                ) -> Architecture:
        """A copy with a different array size (every axis), buffer, bandwidth or clock."""
        arch = self
        if array is not None:
            _positive(array, "array", integer=True)
            units = {n: dataclasses.replace(u, shape=tuple(array for _ in u.shape))
                     for n, u in arch.units.items()}
            arch = dataclasses.replace(arch, units=units)
        if buffer_mib is not None:
            _positive(buffer_mib, "buffer_mib")
            buffer = dataclasses.replace(arch.global_buffer,
                                         capacity_bytes=int(buffer_mib * 2**20))
            arch = dataclasses.replace(arch, global_buffer=buffer)
        if bandwidth_gib_s is not None:
            _positive(bandwidth_gib_s, "bandwidth_gib_s")
            dram = dataclasses.replace(arch.dram, bandwidth_bytes_per_s=bandwidth_gib_s * 2**30)
            arch = dataclasses.replace(arch, dram=dram)
        if clock_mhz is not None:
            arch = dataclasses.replace(arch, clock_mhz=clock_mhz)
        return arch


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _raw(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = resources.files("mapper").joinpath("presets", f"{name}.yaml")
    if not path.is_file():
        raise CascadeError(f"unknown architecture {name!r}; known: "
                           f"{', '.join(architecture_names())}")
    data = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise CascadeError(f"mapper/presets/{name}.yaml must be a mapping")
    like = data.pop("like", None)
    if like is not None:
        if like in seen:
            raise CascadeError(f"mapper/presets/{name}.yaml: 'like' loops back to {like}")
        data = _merge(_raw(like, (*seen, name)), data)
    return data


def _build(data: dict[str, Any], file: str) -> Architecture:
    try:
        units = {}
        for unit_name, u in data.pop("units").items():
            ops = {k: OpCost(**v) for k, v in u.pop("ops").items()}
            rf = RegisterFile(**u.pop("register_file"))
            units[unit_name] = Unit(name=unit_name, shape=tuple(u.pop("shape")), ops=ops,
                                    register_file=rf, **u)
        return Architecture(dram=Dram(**data.pop("dram")),
                            global_buffer=GlobalBuffer(**data.pop("global_buffer")),
                            units=units, **data)
    except CascadeError as error:
        raise error.located(file=file) from None
    except (TypeError, KeyError, AttributeError) as error:
        raise CascadeError(f"malformed architecture: {error}", file=file) from None


@cache
def _preset(name: str) -> Architecture:
    return _build(_raw(name), f"mapper/presets/{name}.yaml")


def architecture_names() -> tuple[str, ...]:
    folder = resources.files("mapper").joinpath("presets")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


def architecture(name: str, **changes: Any) -> Architecture:
    """A preset by name, optionally with ``array``, ``buffer_mib``, ``bandwidth_gib_s`` or
    ``clock_mhz`` changed."""
    arch = _preset(name)
    return arch.replace(**changes) if changes else arch
