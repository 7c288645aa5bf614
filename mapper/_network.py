"""Networks: a sequence of blocks, each a cascade run a number of times (a model preset for
whole-network mapping, such as the Edge-MoE ViT on an FPGA).

>>> net = network("vit-edge-moe")
>>> [b.name for b in net.blocks][:3], net.blocks[2].count
(['norm', 'qkv', 'attention'], 36)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from einsum import Cascade, CascadeError, check_shape, library_names, load, parse_text

__all__ = ["Block", "Network", "network", "network_names"]


@dataclass(frozen=True)
class Block:
    name: str
    cascade: Cascade
    shapes: dict[str, int]
    count: int


@dataclass(frozen=True)
class Network:
    name: str
    title: str
    source: str
    blocks: tuple[Block, ...]


def _folder() -> Any:
    return resources.files("mapper").joinpath("networks")


def network_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".yaml")))


@cache
def network(name: str) -> Network:
    """A network preset from ``mapper/networks``."""
    if name not in network_names():
        raise CascadeError(f"unknown network {name!r}; known: {', '.join(network_names())}")
    file = f"mapper/networks/{name}.yaml"
    data = yaml.safe_load(_folder().joinpath(f"{name}.yaml").read_text("utf-8"))
    texts = data.get("cascades", {})
    blocks = []
    try:
        for entry in data["blocks"]:
            ref = entry["cascade"]
            if ref in texts:
                cascade = parse_text(texts[ref], name=ref, file=file)
            elif ref in library_names():
                cascade = load(ref)
            else:
                raise CascadeError(f"block {entry['name']}: no cascade {ref!r} in the network "
                                   "or the library", file=file)
            count = entry.get("count", 1)
            check_shape("count", count)
            shapes = {r: check_shape(r, v) for r, v in entry["shapes"].items()}
            blocks.append(Block(entry["name"], cascade, shapes, count))
        return Network(data["name"], data.get("title", ""), data.get("source", ""),
                       tuple(blocks))
    except (KeyError, TypeError) as error:
        raise CascadeError(f"malformed network: {error!r}", file=file) from None
