"""Networks: a sequence of blocks, each a cascade run a number of times (a model preset for
whole-network mapping, such as the Edge-MoE ViT on an FPGA).

A block runs ``count`` times per image, or, when it names ``layers`` (``all``, ``even``,
``odd`` or a list) of a network with ``layers: N``, ``count`` times in each of those layers.
What else a block may say about how the design runs it (each used where the architecture
has what it names, see :func:`mapper.map_network`):

* ``mapping``: the design's own mapping (as in a mapping file; a tile ``array`` is the
  length of the array axis its rank is spread over: the query group sharing a K stream);
  searched instead when the architecture lacks a unit it binds;
* ``heads``: instances of the cascade per call;
* ``ports``: the m_axi port each tensor streams through (FPGA designs with ``ports``);
* ``load``: tensors (weights) loaded into an on-chip buffer before each call, by buffer,
  and ``bias``: the rank of a bias loaded with them; ``resident``: tensors a buffer keeps
  across images (loaded once, not per image); ``onchip``: tensors that never leave the
  chip (made and used there);
* ``bytes``: bytes per value of a tensor whose type is not the architecture's word;
* ``sequential``: the rank whose loop the design does not pipeline (one at a time);
* ``moe``: ``gate`` (scores, top-k, queues), ``zero`` (the output experts accumulate into)
  or ``expert`` (run once per active expert over its tokens) of a network with ``moe``.

>>> net = network("vit-edge-moe")
>>> [b.name for b in net.blocks][:4], net.blocks[1].count, net.moe.experts
(['patch_embed', 'norm', 'query', 'key'], 2, 16)
>>> net.moe_layers
(1, 3, 5, 7, 9, 11)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from einsum import Cascade, CascadeError, check_shape, library_names, load, parse_text, validate

__all__ = ["Block", "Moe", "Network", "network", "network_names"]

_BLOCK_FIELDS = ("bias", "bytes", "cascade", "count", "heads", "layers", "load", "mapping",
                 "moe", "name", "onchip", "ports", "resident", "sequential", "shapes")
_NETWORK_FIELDS = ("blocks", "cascades", "layers", "moe", "name", "source", "title")
_MOE_FIELDS = ("experts", "ranks", "tasks", "tokens", "top_k")
_MOE_ROLES = ("gate", "zero", "expert")
_MOE_RANKS = ("token", "expert", "choice")


@dataclass(frozen=True)
class Block:
    name: str
    cascade: Cascade
    shapes: dict[str, int]
    count: int
    heads: int = 1
    layers: tuple[int, ...] | None = None
    """The layers the block runs in (``count`` calls in each); None: ``count`` per image."""
    mapping: dict[str, Any] | None = None
    load: dict[str, str] = field(default_factory=dict)
    bias: str | None = None
    resident: dict[str, str] = field(default_factory=dict)
    onchip: tuple[str, ...] = ()
    ports: dict[str, str] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    sequential: str | None = None
    moe: str | None = None


@dataclass(frozen=True)
class Moe:
    """The mixture of experts of a network: each of ``tokens`` tokens picks ``top_k`` of
    ``experts``; ``tasks`` each have their own gate; ``ranks`` name the cascade ranks of a
    token, an expert and a choice (set per expert and from ``experts`` and ``top_k``)."""

    experts: int
    top_k: int
    tokens: int
    tasks: tuple[str, ...]
    ranks: dict[str, str]


@dataclass(frozen=True)
class Network:
    name: str
    title: str
    source: str
    blocks: tuple[Block, ...]
    layers: int | None = None
    moe: Moe | None = None

    @property
    def moe_layers(self) -> tuple[int, ...]:
        """The layers whose experts run (those of its ``expert`` blocks)."""
        return tuple(sorted({i for b in self.blocks if b.moe == "expert"
                             for i in b.layers or ()}))

    def with_moe(self, *, experts: int | None = None, top_k: int | None = None) -> Network:
        """The same network with another expert count or top-k."""
        if self.moe is None:
            raise CascadeError(f"network {self.name} has no mixture of experts")
        changes = {k: v for k, v in (("experts", experts), ("top_k", top_k)) if v is not None}
        return dataclasses.replace(self, moe=dataclasses.replace(self.moe, **changes))


def _folder() -> Any:
    return resources.files("mapper").joinpath("networks")


def network_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".yaml")))


def _known(entry: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in entry:
        if key not in known:
            raise CascadeError(f"{where}: unknown field {key!r}; known: {', '.join(known)}")


def _layers(value: Any, layers: int | None, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if layers is None:
        raise CascadeError(f"{where}: layers given but the network has no 'layers: N'")
    every = tuple(range(layers))
    chosen = {"all": every, "even": every[0::2], "odd": every[1::2]}.get(value) \
        if isinstance(value, str) else value
    if not isinstance(chosen, list | tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < layers for i in chosen):
        raise CascadeError(f"{where}: layers must be all, even, odd or a list of layers "
                           f"0..{layers - 1}, not {value!r}")
    return tuple(sorted(set(chosen)))


def _names_of(value: Any, tensors: set[str], what: str, where: str, *,
              of: type = str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(v, of) and not isinstance(v, bool)
                                              for v in value.values()):
        raise CascadeError(f"{where}: {what} must map tensors to {of.__name__} values")
    for tensor in value:
        if tensor not in tensors:
            raise CascadeError(f"{where}: {what} names {tensor!r}, not a tensor of the cascade")
    return dict(value)


def _block(entry: Any, texts: dict[str, str], layers: int | None, file: str) -> Block:
    if not isinstance(entry, dict) or "name" not in entry:
        raise CascadeError("each block must be a mapping with a name")
    where = f"block {entry['name']}"
    _known(entry, _BLOCK_FIELDS, where)
    ref = entry["cascade"]
    if ref in texts:
        cascade = parse_text(texts[ref], name=ref, file=file)
    elif ref in library_names():
        cascade = load(ref)
    else:
        raise CascadeError(f"{where}: no cascade {ref!r} in the network or the library")
    layout = validate(cascade)
    tensors = set(layout.ranks)
    ranks = set(layout.all_ranks())
    count = check_shape("count", entry.get("count", 1))
    heads = check_shape("heads", entry.get("heads", 1))
    shapes = {r: check_shape(r, v) for r, v in entry["shapes"].items()}
    mapping = entry.get("mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise CascadeError(f"{where}: mapping must be a mapping like a mapping file's")
    onchip = entry.get("onchip", [])
    if not isinstance(onchip, list) or any(t not in tensors for t in onchip):
        raise CascadeError(f"{where}: onchip must list tensors of the cascade")
    for key in ("bias", "sequential"):
        if entry.get(key) is not None and entry[key] not in ranks:
            raise CascadeError(f"{where}: {key} must be a rank of the cascade, "
                               f"not {entry[key]!r}")
    moe = entry.get("moe")
    if moe is not None and moe not in _MOE_ROLES:
        raise CascadeError(f"{where}: moe must be one of {', '.join(_MOE_ROLES)}")
    sizes = entry.get("bytes", {})
    block = Block(
        entry["name"], cascade, shapes, count, heads=heads,
        layers=_layers(entry.get("layers"), layers, where), mapping=mapping,
        load=_names_of(entry.get("load", {}), tensors, "load", where),
        bias=entry.get("bias"),
        resident=_names_of(entry.get("resident", {}), tensors, "resident", where),
        onchip=tuple(onchip), ports=_names_of(entry.get("ports", {}), tensors, "ports", where),
        bytes={t: check_shape(t, b) for t, b in
               _names_of(sizes, tensors, "bytes", where, of=int).items()},
        sequential=entry.get("sequential"), moe=moe)
    if block.moe is not None and block.layers is None:
        raise CascadeError(f"{where}: an moe block must say which layers it runs in")
    return block


def _moe(value: Any) -> Moe:
    if not isinstance(value, dict):
        raise CascadeError("moe must be a mapping (experts, top_k, tokens, tasks, ranks)")
    _known(value, _MOE_FIELDS, "moe")
    ranks = value["ranks"]
    if not isinstance(ranks, dict) or set(ranks) != set(_MOE_RANKS):
        raise CascadeError(f"moe: ranks must name the {', '.join(_MOE_RANKS)} ranks")
    tasks = value.get("tasks", ["task"])
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise CascadeError("moe: tasks must be a list of task names")
    return Moe(check_shape("experts", value["experts"]), check_shape("top_k", value["top_k"]),
               check_shape("tokens", value["tokens"]), tuple(tasks), dict(ranks))


@cache
def network(name: str) -> Network:
    """A network preset from ``mapper/networks``."""
    if name not in network_names():
        raise CascadeError(f"unknown network {name!r}; known: {', '.join(network_names())}")
    file = f"mapper/networks/{name}.yaml"
    data = yaml.safe_load(_folder().joinpath(f"{name}.yaml").read_text("utf-8"))
    try:
        _known(data, _NETWORK_FIELDS, "network")
        layers = data.get("layers")
        if layers is not None:
            check_shape("layers", layers)
        texts = data.get("cascades", {})
        blocks = tuple(_block(entry, texts, layers, file) for entry in data["blocks"])
        moe = _moe(data["moe"]) if "moe" in data else None
        if moe is None and any(b.moe for b in blocks):
            raise CascadeError("moe blocks need the network's moe section")
        return Network(data["name"], data.get("title", ""), data.get("source", ""), blocks,
                       layers, moe)
    except CascadeError as error:
        raise error.located(file=file) from None
    except (KeyError, TypeError) as error:
        raise CascadeError(f"malformed network: {error!r}", file=file) from None
