"""Mappings: where each Einsum runs, how ranks are tiled, where tensors live, and when.

A mapping is data (YAML or JSON round-trip):

* ``bindings``: per Einsum, the compute unit and the rank mapped to each array axis;
  Einsums that do no arithmetic (views such as ``BK[e,m1,m0] = K[e,m1*M0+m0]``) need none.
* ``dram_loops``: the loops above the global buffer, outer to inner. Rank ``R`` steps by
  ``tiles[R]`` (default 1), so ``P`` with ``tiles: {P: 65536}`` walks the P2 query tiles.
* ``tiles``: elements of a rank held on chip at once; ``auto`` takes the largest that fits.
* ``placement``: ``dram`` for tensors that live off chip, ``spill`` for on-chip tensors
  that overflow to DRAM when the buffer is too small; everything else stays on chip.
* ``stages``: the schedule. Stages run one after another; the Einsums of one stage run
  concurrently on their units (so 1D work of one tile can overlap 2D work of the next).
  ``drain: X`` is a stage that waits for X's reduction across the array to drain.
* ``memory``: ``overlapped`` (DRAM transfers hide under all compute) or ``per_stage``
  (each stage waits for its own transfers, as unfused operators do).

>>> m = mapping_from_dict({"name": "qk",
...                        "bindings": {"QK": {"unit": "array2d", "spatial": ["M0", "P"]}}})
>>> m.bindings["QK"].unit, m.bindings["QK"].spatial
('array2d', ('M0', 'P'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from einsum import CascadeError

__all__ = ["Binding", "Mapping", "Stage", "mapping_from_dict"]

_PLACEMENTS = ("dram", "spill")
_MEMORY = ("overlapped", "per_stage")


_OPERANDS = ("neighbours", "register_file")


@dataclass(frozen=True)
class Binding:
    """Where an Einsum runs. ``operands`` says how PEs get their operands under this
    dataflow: passed from neighbour to neighbour (systolic), or kept in the PE's register
    file and read there every op (a stationary operand and the partial sum); None takes the
    unit's default."""

    unit: str
    spatial: tuple[str, ...]
    operands: str | None = None

    def __post_init__(self) -> None:
        if self.operands is not None and self.operands not in _OPERANDS:
            raise CascadeError(f"operands must be one of {', '.join(_OPERANDS)}, "
                               f"not {self.operands!r}")


@dataclass(frozen=True)
class Stage:
    """One step of the schedule; ``dram_loops`` and ``tiles`` override the mapping's."""

    einsums: tuple[str, ...] = ()
    drain: str | None = None
    dram_loops: tuple[str, ...] | None = None
    tiles: dict[str, int | str] | None = None


@dataclass(frozen=True, kw_only=True)
class Mapping:
    name: str
    bindings: dict[str, Binding]
    dram_loops: tuple[str, ...] = ()
    tiles: dict[str, int | str] = field(default_factory=dict)
    placement: dict[str, str] = field(default_factory=dict)
    stages: tuple[Stage, ...] = ()
    memory: str = "overlapped"

    def __post_init__(self) -> None:
        for tensor, where in self.placement.items():
            if where not in _PLACEMENTS:
                raise CascadeError(f"mapping {self.name}: placement of {tensor} must be one of "
                                   f"{', '.join(_PLACEMENTS)}, not {where!r}")
        if self.memory not in _MEMORY:
            raise CascadeError(f"mapping {self.name}: memory must be one of "
                               f"{', '.join(_MEMORY)}, not {self.memory!r}")
        for rank, tile in self.tiles.items():
            if tile != "auto" and (isinstance(tile, bool) or not isinstance(tile, int)
                                   or tile < 1):
                raise CascadeError(f"mapping {self.name}: tile of {rank} must be a positive "
                                   f"whole number or 'auto', not {tile!r}")
        if len(set(self.dram_loops)) != len(self.dram_loops):
            raise CascadeError(f"mapping {self.name}: a rank appears twice in dram_loops")

    def to_dict(self) -> dict[str, Any]:
        stages: list[Any] = []
        for s in self.stages:
            if s.drain:
                stages.append({"drain": s.drain})
            elif s.dram_loops is None and s.tiles is None:
                stages.append(list(s.einsums))
            else:
                entry: dict[str, Any] = {"einsums": list(s.einsums)}
                if s.dram_loops is not None:
                    entry["dram_loops"] = list(s.dram_loops)
                if s.tiles is not None:
                    entry["tiles"] = dict(s.tiles)
                stages.append(entry)
        return {
            "name": self.name,
            "bindings": {e: {"unit": b.unit, "spatial": list(b.spatial)}
                         | ({"operands": b.operands} if b.operands else {})
                         for e, b in self.bindings.items()},
            "dram_loops": list(self.dram_loops),
            "tiles": dict(self.tiles),
            "placement": dict(self.placement),
            "stages": stages,
            "memory": self.memory,
        }


def mapping_from_dict(data: dict[str, Any]) -> Mapping:
    """Validate and build a mapping from plain data (the inverse of ``to_dict``)."""
    try:
        name = data["name"]
        bindings = {e: Binding(b["unit"], tuple(b["spatial"]), b.get("operands"))
                    for e, b in data.get("bindings", {}).items()}
        stages = []
        for entry in data.get("stages", []):
            if isinstance(entry, dict) and "drain" in entry:
                stages.append(Stage(drain=entry["drain"]))
            elif isinstance(entry, dict):
                loops = entry.get("dram_loops")
                stages.append(Stage(einsums=tuple(entry["einsums"]),
                                    dram_loops=None if loops is None else tuple(loops),
                                    tiles=entry.get("tiles")))
            else:
                stages.append(Stage(einsums=tuple(entry)))
        unknown = set(data) - {"name", "bindings", "dram_loops", "tiles", "placement",
                               "stages", "memory"}
        if unknown:
            raise CascadeError(f"mapping {name}: unknown field(s) {', '.join(sorted(unknown))}")
        return Mapping(name=name, bindings=bindings,
                       dram_loops=tuple(data.get("dram_loops", ())),
                       tiles=dict(data.get("tiles", {})),
                       placement=dict(data.get("placement", {})),
                       stages=tuple(stages), memory=data.get("memory", "overlapped"))
    except (KeyError, TypeError, AttributeError) as error:
        raise CascadeError(f"malformed mapping: {error!r}") from None
