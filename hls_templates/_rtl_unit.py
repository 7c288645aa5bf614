"""A rendered RTL unit and the error for what cannot become Verilog.

>>> RtlUnit(kind="exp", top="exp_unit", files={}, params={}).top
'exp_unit'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from einsum import CascadeError

__all__ = ["RtlError", "RtlUnit"]


class RtlError(CascadeError):
    """A unit or parameter that cannot become Verilog."""


@dataclass(frozen=True)
class RtlUnit:
    """A rendered unit: its top module, its Verilog files and what its testbench needs."""

    kind: str
    top: str
    files: dict[str, str]
    params: dict[str, Any]
