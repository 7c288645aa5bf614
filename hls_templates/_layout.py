"""How an HLS kernel's ports sit in DRAM: values packed into wide words (``ap_uint<W>``,
W = 64 ... 512 bits), as Edge-MoE's m_axi ports carry 256-bit blocks.

Every port is a matrix of ``rows x cols`` values (a vector is one row). A value takes
``container`` bits of its word (the next power of two of its width; its raw two's-complement
bits in the low end, zeros above); ``lanes`` values fill a word. Three arrangements:

* ``rows``: row by row, each row padded with zeros to a whole number of ``pad`` values
  (the kernel's block), so that every row starts a word;
* ``blocks`` (a K x N weight matrix): R x C blocks in the order the linear unit consumes
  them, output block by output block (nb), input block by input block (kb) within it, each
  block row-major (r over K, c over N) and padded to whole words;
* ``groups`` (scores of an online softmax): rows in groups of ``group`` (its lanes times
  the rows each lane interleaves), key by key within a group: the order a QK unit of
  ``group`` queries produces them.

The C++ testbench (``tb/tb.cpp``) and the cocotb testbench pack and unpack by the same
rule; tests check all three against :func:`position`.

>>> layout = Layout("rows", rows=2, cols=3, lanes=4, container=16, pad=4)
>>> layout.words, layout.position(1, 2)
(2, (1, 2))
>>> pack([1, 2, 3, 4, 5, 6], layout)
[12885032961, 25770131460]
>>> unpack(pack([1, 2, 3, 4, 5, 6], layout), layout, 16)
[1, 2, 3, 4, 5, 6]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["KINDS", "Layout", "container_bits", "pack", "unpack"]

KINDS = ("rows", "blocks", "groups")


def container_bits(width: int) -> int:
    """Bits a value of ``width`` bits takes in a packed word: the next power of two >= 8."""
    bits = 8
    while bits < width:
        bits *= 2
    return bits


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Layout:
    kind: str
    rows: int
    cols: int
    lanes: int
    """Values per word."""
    container: int
    """Bits per value in a word."""
    pad: int = 1
    """rows: each row padded to a multiple of this many values."""
    block: tuple[int, int] = (1, 1)
    """blocks: R x C."""
    group: int = 1
    """groups: rows per group."""

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.rows >= 1 and self.cols >= 1 and self.lanes >= 1
        if self.kind == "rows":
            assert self.pad % self.lanes == 0, (self.pad, self.lanes)

    @property
    def bits(self) -> int:
        return self.lanes * self.container

    @property
    def row_words(self) -> int:
        """rows: words per (padded) row."""
        return _ceil(self.cols, self.pad) * self.pad // self.lanes

    @property
    def block_words(self) -> int:
        r, c = self.block
        return _ceil(r * c, self.lanes)

    @property
    def group_words(self) -> int:
        """groups: words per key of a group."""
        return _ceil(self.group, self.lanes)

    @property
    def words(self) -> int:
        if self.kind == "rows":
            return self.rows * self.row_words
        if self.kind == "blocks":
            r, c = self.block
            return _ceil(self.rows, r) * _ceil(self.cols, c) * self.block_words
        return _ceil(self.rows, self.group) * self.cols * self.group_words

    def position(self, row: int, col: int) -> tuple[int, int]:
        """(word, lane) of the value at ``row``, ``col``."""
        if self.kind == "rows":
            return row * self.row_words + col // self.lanes, col % self.lanes
        if self.kind == "blocks":
            r, c = self.block
            kb_count = _ceil(self.rows, r)
            index = (row % r) * c + col % c
            block = (col // c) * kb_count + row // r
            return block * self.block_words + index // self.lanes, index % self.lanes
        index = row % self.group
        word = ((row // self.group) * self.cols + col) * self.group_words + index // self.lanes
        return word, index % self.lanes

    def context(self) -> dict[str, int]:
        """The numbers the C++ and Python testbenches need."""
        kind = KINDS.index(self.kind)
        a, b = {"rows": (self.row_words, 0), "blocks": self.block,
                "groups": (self.group, self.group_words)}[self.kind]
        return {"kind": kind, "rows": self.rows, "cols": self.cols, "lanes": self.lanes,
                "container": self.container, "a": a, "b": b, "words": self.words,
                "bits": self.bits}


def pack(raw: Sequence[int], layout: Layout) -> list[int]:
    """Raw words of the values (row-major, each already its type's two's complement) as
    the kernel's DRAM words (Python ints of ``layout.bits`` bits)."""
    assert len(raw) == layout.rows * layout.cols
    words = [0] * layout.words
    for i, value in enumerate(raw):
        word, lane = layout.position(i // layout.cols, i % layout.cols)
        words[word] |= int(value) << (lane * layout.container)
    return words


def unpack(words: Sequence[int], layout: Layout, width: int) -> list[int]:
    """The raw ``width``-bit values of a port back from its DRAM words (row-major)."""
    mask = (1 << width) - 1
    out = []
    for i in range(layout.rows * layout.cols):
        word, lane = layout.position(i // layout.cols, i % layout.cols)
        out.append(words[word] >> (lane * layout.container) & mask)
    return out
