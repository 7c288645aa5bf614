"""Sizes of every rank of a cascade, from defaults, user shapes and rank splits.

>>> from einsum import load
>>> resolve_shapes(load("fusemax"), {"E": 64, "F": 64, "M": 1000, "P": 8})["M1"]
4
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._errors import CascadeError
from ._ir import Cascade
from ._loader import check_shape
from ._validate import validate

__all__ = ["parse_shape_text", "resolve_shapes"]

# ASCII digits only: int() would also take Arabic-Indic or fullwidth digits, " 12",
# "+12" and "1_000".
_WHOLE = re.compile(r"-?[0-9]+\Z")


def parse_shape_text(text: str) -> dict[str, int]:
    """``"E=64,M=4096"`` -> ``{"E": 64, "M": 4096}``, with exact errors.

    >>> parse_shape_text("M=٤")
    Traceback (most recent call last):
    ...
    einsum._errors.CascadeError: shape M must be a positive whole number in ASCII digits, not '٤'
    """
    shapes: dict[str, int] = {}
    for item in text.split(","):
        rank, sep, value = item.strip().partition("=")
        rank, value = rank.strip(), value.strip()
        if not sep or not rank:
            raise CascadeError(f"--shape expects RANK=SIZE pairs like E=64,M=4096, not {item!r}")
        if rank in shapes:
            raise CascadeError(f"--shape gives rank {rank} twice")
        if not _WHOLE.match(value):
            kind = "" if value.isascii() else " in ASCII digits"
            raise CascadeError(f"shape {rank} must be a positive whole number{kind}, "
                               f"not {value!r}")
        digits = len(value.lstrip("-0"))
        if digits > 30:  # int() of thousands of digits is refused or slow; no need to try
            sign, problem = ("-", "must be a positive whole number") if value[0] == "-" \
                else ("", "is larger than the limit 2**40")
            raise CascadeError(f"shape {rank}={sign}<a number of {digits:,} digits> {problem}")
        shapes[rank] = check_shape(rank, int(value))
    return shapes


def resolve_shapes(cascade: Cascade, given: Mapping[str, int]) -> dict[str, int]:
    """Every rank's size: ``given`` over the cascade's defaults, splits filled in.

    A split ``M -> M1, M0`` makes ``M1 = ceil(M / M0)``; the last tile may be partial.
    """
    layout = validate(cascade)
    ranks = set(layout.all_ranks())
    shapes = dict(cascade.default_shapes)
    for rank, value in given.items():
        check_shape(rank, value)
        if rank not in ranks and rank != cascade.stream and rank not in layout.parameters:
            known = f"ranks: {', '.join(sorted(ranks - set(layout.parameters)))}"
            if layout.parameters:
                known += f"; parameters: {', '.join(sorted(layout.parameters))}"
            raise CascadeError(f"shape given for rank {rank}, which {cascade.name} does not "
                               f"use ({known})", file=cascade.file)
        shapes[rank] = value
    for split in cascade.splits:
        whole, outer, inner = split.whole, split.outer, split.inner
        if whole in shapes and inner in shapes:
            need = -(-shapes[whole] // shapes[inner])
            if outer in shapes and shapes[outer] != need:
                raise CascadeError(
                    f"rank {outer} has two sizes: {shapes[outer]} given, but {split} with "
                    f"{whole}={shapes[whole]}, {inner}={shapes[inner]} needs {need}",
                    file=cascade.file, line=split.line)
            shapes[outer] = need
        elif outer in shapes and inner in shapes:
            shapes[whole] = check_shape(whole, shapes[outer] * shapes[inner])
        else:
            missing = whole if whole not in shapes else inner
            raise CascadeError(f"no size for rank {missing} (needed by the split {split})",
                               file=cascade.file, line=split.line)
    missing = sorted(r for r in (*ranks, *layout.parameters) if r not in shapes)
    if missing:
        raise CascadeError(f"no size for rank(s) {', '.join(missing)} of {cascade.name}; "
                           f"give them like --shape {missing[0]}=64", file=cascade.file)
    return {r: shapes[r] for r in sorted(shapes)}
