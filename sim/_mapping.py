"""Mappings: where each Einsum runs, how ranks are tiled, where tensors live, and when.

A mapping is data (YAML or JSON round-trip; :func:`load_mapping` reads a YAML file with
each error at its line, :func:`mapping_yaml` writes one):

* ``bindings``: per Einsum, the compute unit and the rank mapped to each array axis (row
  axis first), and on a systolic unit its ``dataflow``: ``os`` (each PE keeps an output
  while the reduction streams by), ``ws`` (each keeps a value of the last operand, the
  weights) or ``is`` (of the first operand, the inputs), with fill, drain and folds
  counted (``sim.compute_rows``); without one the unit is ideal (MACs / PEs). Einsums that
  do no arithmetic (views such as ``BK[e,m1,m0] = K[e,m1*M0+m0]``) need none.
* ``dram_loops``: the loops above the global buffer, outer to inner. Rank ``R`` steps by
  ``tiles[R]`` (default 1), so ``P`` with ``tiles: {P: 65536}`` walks the P2 query tiles.
* ``tiles``: elements of a rank held on chip at once; ``auto`` takes the largest that fits.
* ``placement``: ``dram`` for tensors that live off chip (an input placed ``dram`` is not
  staged in the global buffer: the array streams it from DRAM at every use), ``staged``
  for an intermediate that lives off chip but comes back through the global buffer for
  the stages reading it (filled there once, read there), ``spill`` for
  on-chip tensors that overflow to DRAM when the buffer is too small, ``buffer`` for an
  intermediate staged whole in the global buffer for each tile (passed between units
  through it); everything else stays on chip.
* ``in_place``: intermediates written over a dead input, ``{SN: QK}``: SN reads QK at
  the index it writes and is QK's last reader, so it needs no buffer words of its own
  (and overflows to DRAM as QK does).
* ``stages``: the schedule. Stages run one after another; the Einsums of one stage run
  concurrently on their units (so 1D work of one tile can overlap 2D work of the next).
  ``drain: X`` is a stage that waits for X's reduction across the array to drain.
* ``levels``: per on-chip level below the global buffer (``Architecture.levels``), the
  loops above that level (outer to inner, from DRAM down) and its tiles: what one core's
  copy of the level holds at once. A level not named takes the global buffer's loops and
  tiles. Its tiles may not exceed the tiles of the level above.
* ``memory``: ``overlapped`` (DRAM transfers hide under all compute), ``per_stage``
  (each stage waits for its own transfers, as unfused operators do) or ``concurrent``
  (stages run whole with their own tilings, passing intermediates through DRAM, and
  independent instances flow through them as a pipeline: every unit and DRAM stay busy).

>>> m = mapping_from_dict({"name": "qk",
...                        "bindings": {"QK": {"unit": "array2d", "spatial": ["M0", "P"]}}})
>>> m.bindings["QK"].unit, m.bindings["QK"].spatial
('array2d', ('M0', 'P'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from einsum import CascadeError, read_text

from ._arch import _document, _line, _Lines, _shown, _where, _yaml_text

__all__ = ["DATAFLOWS", "Binding", "LevelTiling", "Mapping", "Stage", "load_mapping",
           "mapping_from_dict", "mapping_yaml"]

_PLACEMENTS = ("dram", "staged", "spill", "buffer")
_MEMORY = ("overlapped", "per_stage", "concurrent")
_OPERANDS = ("neighbours", "register_file")
DATAFLOWS = ("os", "ws", "is")
"""Dataflows of a systolic unit: output, weight or input stationary."""

_FIELDS = ("bindings", "dram_loops", "in_place", "levels", "memory", "name", "placement",
           "stages", "tiles")
_LEVEL_FIELDS = ("loops", "tiles")
_BINDING_FIELDS = ("dataflow", "operands", "spatial", "unit")
_STAGE_FIELDS = ("dram_loops", "einsums", "tiles")
_DRAIN_FIELDS = ("drain",)
_HEADER = "# cascade mapping; load with --mapping FILE\n"


# ----- the rules, each once: the dataclasses, mapping_from_dict and load_mapping call them


def _check_text(value: Any, what: str) -> None:
    if not isinstance(value, str):
        raise CascadeError(f"{what} must be text, not {_shown(value)}")


def _names(value: Any, what: str, example: str) -> tuple[str, ...]:
    """A list of names (ranks, Einsums) as a tuple; text is refused, not split into letters."""
    if not isinstance(value, list | tuple):
        raise CascadeError(f"{what} must be a list like {example}, not {_shown(value)}")
    for item in value:
        _check_text(item, f"each entry of {what}")
    return tuple(value)


def _check_operands(operands: Any) -> None:
    if operands is not None and operands not in _OPERANDS:
        raise CascadeError(f"operands must be one of {', '.join(_OPERANDS)}, not {operands!r}")


def _check_dataflow(dataflow: Any) -> None:
    if dataflow is not None and dataflow not in DATAFLOWS:
        raise CascadeError(f"dataflow must be one of {', '.join(DATAFLOWS)}, not "
                           f"{_shown(dataflow)}")


def _check_in_place(name: str, tensor: str, host: Any) -> None:
    _check_text(tensor, "in_place tensor")
    if not isinstance(host, str) or not host or host == tensor:
        raise CascadeError(f"mapping {name}: in_place of {tensor} must name another tensor "
                           f"it overwrites, like {{{tensor}: QK}}, not {_shown(host)}")


def _check_placement(name: str, tensor: str, where: Any) -> None:
    if where not in _PLACEMENTS:
        raise CascadeError(f"mapping {name}: placement of {tensor} must be one of "
                           f"{', '.join(_PLACEMENTS)}, not {where!r}")


def _check_memory(name: str, memory: Any) -> None:
    if memory not in _MEMORY:
        raise CascadeError(f"mapping {name}: memory must be one of "
                           f"{', '.join(_MEMORY)}, not {memory!r}")


def _check_tile(name: str, rank: str, tile: Any) -> None:
    if tile != "auto" and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 1):
        raise CascadeError(f"mapping {name}: tile of {rank} must be a positive "
                           f"whole number or 'auto', not {tile!r}")


def _check_loops(name: str, loops: tuple[str, ...]) -> None:
    if len(set(loops)) != len(loops):
        raise CascadeError(f"mapping {name}: a rank appears twice in dram_loops")


def _check_field(key: str, known: tuple[str, ...], where: str) -> None:
    if key not in known:
        raise CascadeError(f"unknown field {key!r} in {where}; known: {', '.join(known)}")


def _require(entry: dict[str, Any], required: tuple[str, ...], where: str) -> None:
    for key in required:
        if key not in entry:
            raise CascadeError(f"missing field {key!r}" + (f" in {where}" if where else ""))


def _fail(message: str) -> None:
    raise CascadeError(message)


def _stage_fields(entry: dict[str, Any]) -> tuple[str, ...]:
    return _DRAIN_FIELDS if "drain" in entry else _STAGE_FIELDS


@dataclass(frozen=True)
class Binding:
    """Where an Einsum runs. ``operands`` says how PEs get their operands under this
    dataflow: passed from neighbour to neighbour (systolic), or kept in the PE's register
    file and read there every op (a stationary operand and the partial sum); None takes the
    unit's default. ``dataflow`` (``os``, ``ws``, ``is``; systolic units only) says which
    tensor stays in the PEs for a fold; None: the ideal unit (no fill, drain or folds)."""

    unit: str
    spatial: tuple[str, ...]
    operands: str | None = None
    dataflow: str | None = None

    def __post_init__(self) -> None:
        _check_text(self.unit, "unit")
        _check_operands(self.operands)
        _check_dataflow(self.dataflow)


@dataclass(frozen=True)
class Stage:
    """One step of the schedule; ``dram_loops`` and ``tiles`` override the mapping's."""

    einsums: tuple[str, ...] = ()
    drain: str | None = None
    dram_loops: tuple[str, ...] | None = None
    tiles: dict[str, int | str] | None = None


@dataclass(frozen=True)
class LevelTiling:
    """The loops above an on-chip level (outer to inner) and its tiles."""

    loops: tuple[str, ...] = ()
    tiles: dict[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Mapping:
    name: str
    bindings: dict[str, Binding]
    dram_loops: tuple[str, ...] = ()
    tiles: dict[str, int | str] = field(default_factory=dict)
    placement: dict[str, str] = field(default_factory=dict)
    stages: tuple[Stage, ...] = ()
    memory: str = "overlapped"
    levels: dict[str, LevelTiling] = field(default_factory=dict)
    in_place: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_text(self.name, "name")
        for tensor, host in self.in_place.items():
            _check_in_place(self.name, tensor, host)
        for level, tiling in self.levels.items():
            _check_text(level, "level name")
            for rank, tile in tiling.tiles.items():
                _check_tile(self.name, rank, tile)
            _check_loops(self.name, tiling.loops)
        for tensor, where in self.placement.items():
            _check_placement(self.name, tensor, where)
        _check_memory(self.name, self.memory)
        for rank, tile in self.tiles.items():
            _check_tile(self.name, rank, tile)
        _check_loops(self.name, self.dram_loops)

    @property
    def off_chip(self) -> frozenset[str]:
        """Tensors placed ``dram``: they bypass the on-chip buffers."""
        return frozenset(t for t, where in self.placement.items() if where == "dram")

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
        levels = ({"levels": {n: {"loops": list(t.loops), "tiles": dict(t.tiles)}
                              for n, t in self.levels.items()}} if self.levels else {})
        in_place = {"in_place": dict(self.in_place)} if self.in_place else {}
        return {
            "name": self.name,
            "bindings": {e: {"unit": b.unit, "spatial": list(b.spatial)}
                         | ({"operands": b.operands} if b.operands else {})
                         | ({"dataflow": b.dataflow} if b.dataflow else {})
                         for e, b in self.bindings.items()},
            "dram_loops": list(self.dram_loops),
            "tiles": dict(self.tiles),
            "placement": dict(self.placement),
            "stages": stages,
            "memory": self.memory,
        } | levels | in_place


def mapping_from_dict(data: dict[str, Any]) -> Mapping:
    """Validate and build a mapping from plain data (the inverse of ``to_dict``)."""
    if not isinstance(data, dict):
        raise CascadeError(f"a mapping must be a mapping of fields, not {_shown(data)}")
    try:
        return _build(data, None)
    except (KeyError, TypeError, AttributeError) as error:  # a safety net: each is checked
        raise CascadeError(f"malformed mapping: {error!r}") from None


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """A mapping from a YAML file (the fields of :meth:`Mapping.to_dict`); errors name the
    file and the line of the field they are about.

    >>> import pathlib, tempfile
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = file.write_text("name: qk\\nbindings:\\n  QK: {unit: array2d, spatial: M0}\\n")
    >>> load_mapping(file)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    einsum._errors.CascadeError: .../m.yaml:3: bindings.QK.spatial must be a list like ...
    """
    file = os.fspath(path)
    text = read_text(file, "the mapping file")
    try:
        data, lines = _document(text, _FIELDS, shape="a mapping file must be a mapping of "
                                "fields (name, bindings, ...)")
        return _build(data, lines)
    except CascadeError as error:
        raise error.located(file=file) from None


def mapping_yaml(mapping: Mapping) -> str:
    """``mapping`` as a YAML file that :func:`load_mapping` reads back equal.

    >>> m = mapping_from_dict({"name": "qk", "stages": [["QK"]],
    ...                        "bindings": {"QK": {"unit": "array2d", "spatial": ["M0", "P"]}}})
    >>> print(mapping_yaml(m).splitlines()[3])
      QK: {unit: array2d, spatial: [M0, P]}
    """
    return _yaml_text(mapping.to_dict(), _HEADER)


def _build(data: dict[str, Any], lines: _Lines | None) -> Mapping:
    """A mapping from plain data; with ``lines`` (from a file), each error is placed at the
    line of the field it is about."""

    def at(path: tuple[str | int, ...], check: Any, *args: Any) -> Any:
        try:
            return check(*args)
        except CascadeError as error:
            line = None if lines is None else _line(lines, path)
            raise error.located(line=line) from None

    def mapping_of(value: Any, path: tuple[str | int, ...], example: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            at(path, _fail, f"{_where(path)} must be a mapping like {example}, "
                            f"not {_shown(value)}")
        return value

    def fields(entry: dict[str, Any], path: tuple[str | int, ...], known: tuple[str, ...],
               required: tuple[str, ...]) -> None:
        for key in entry:
            at((*path, key), _check_field, key, known, _where(path))
        at(path, _require, entry, required, _where(path))

    def names(value: Any, path: tuple[str | int, ...], example: str) -> tuple[str, ...]:
        if isinstance(value, list | tuple):
            for index, item in enumerate(value):
                at((*path, index), _check_text, item, f"each entry of {_where(path)}")
        return at(path, _names, value, _where(path), example)

    def loops(value: Any, path: tuple[str | int, ...]) -> tuple[str, ...]:
        ranks = names(value, path, "[P, M1]")
        for index in range(len(ranks)):  # the repeated rank's own line
            at((*path, index), _check_loops, name, ranks[: index + 1])
        return ranks

    def tiles(value: Any, path: tuple[str | int, ...]) -> dict[str, int | str]:
        for rank, tile in mapping_of(value, path, "{P: auto, M1: 256}").items():
            at((*path, rank), _check_tile, name, rank, tile)
        return dict(value)

    at((), _require, data, ("name",), "")
    name = data["name"]
    at(("name",), _check_text, name, "name")
    if lines is None:  # a file's top-level fields were checked by its reader, with lines
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise CascadeError(f"mapping {name}: unknown field(s) {', '.join(unknown)}")

    bindings = {}
    given = mapping_of(data.get("bindings", {}), ("bindings",),
                       "{QK: {unit: array2d, spatial: [M0, P]}}")
    for einsum, entry in given.items():
        path = ("bindings", einsum)
        fields(mapping_of(entry, path, "{unit: array2d, spatial: [M0, P]}"), path,
               _BINDING_FIELDS, ("unit", "spatial"))
        at((*path, "unit"), _check_text, entry["unit"], "unit")
        spatial = names(entry["spatial"], (*path, "spatial"), "[M0, P]")
        at((*path, "operands"), _check_operands, entry.get("operands"))
        at((*path, "dataflow"), _check_dataflow, entry.get("dataflow"))
        bindings[einsum] = Binding(entry["unit"], spatial, entry.get("operands"),
                                   entry.get("dataflow"))

    stages = []
    schedule = data.get("stages", [])
    if not isinstance(schedule, list | tuple):
        at(("stages",), _fail, f"stages must be a list like [[QK, RM], {{drain: LM}}], not "
                               f"{_shown(schedule)}")
    for index, entry in enumerate(schedule):
        path = ("stages", index)
        if isinstance(entry, dict):
            fields(entry, path, _stage_fields(entry), () if "drain" in entry else ("einsums",))
            if "drain" in entry:
                at((*path, "drain"), _check_text, entry["drain"], "drain")
                stages.append(Stage(drain=entry["drain"]))
                continue
            stages.append(Stage(
                einsums=names(entry["einsums"], (*path, "einsums"), "[QK, RM]"),
                dram_loops=None if entry.get("dram_loops") is None
                else loops(entry["dram_loops"], (*path, "dram_loops")),
                tiles=None if entry.get("tiles") is None
                else tiles(entry["tiles"], (*path, "tiles"))))
        elif isinstance(entry, list | tuple):
            stages.append(Stage(einsums=names(entry, path, "[QK, RM]")))
        else:
            at(path, _fail, f"{_where(path)} must be a list of Einsums like [QK, RM] or a "
                            f"mapping like {{drain: LM}}, not {_shown(entry)}")

    placement = mapping_of(data.get("placement", {}), ("placement",), "{Q: dram, K: spill}")
    for tensor, where in placement.items():
        at(("placement", tensor), _check_placement, name, tensor, where)
    in_place = mapping_of(data.get("in_place", {}), ("in_place",), "{SN: QK}")
    for tensor, host in in_place.items():
        at(("in_place", tensor), _check_in_place, name, tensor, host)
    memory = data.get("memory", "overlapped")
    at(("memory",), _check_memory, name, memory)
    levels = {}
    for level, entry in mapping_of(data.get("levels", {}), ("levels",),
                                   "{local: {loops: [P], tiles: {P: 64}}}").items():
        path = ("levels", level)
        fields(mapping_of(entry, path, "{loops: [P], tiles: {P: 64}}"), path, _LEVEL_FIELDS,
               ())
        levels[level] = LevelTiling(loops(entry.get("loops", []), (*path, "loops")),
                                    tiles(entry.get("tiles", {}), (*path, "tiles")))
    return Mapping(name=name, bindings=bindings, levels=levels,
                   dram_loops=loops(data.get("dram_loops", []), ("dram_loops",)),
                   tiles=tiles(data.get("tiles", {}), ("tiles",)),
                   placement=dict(placement), stages=tuple(stages), memory=memory,
                   in_place=dict(in_place))
