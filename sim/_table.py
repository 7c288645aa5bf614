"""Lookup tables with linear interpolation, the building block of the numeric units.

A value ``v`` in ``[0, 2**bits)`` (fixed point) is split into an index (its integer part)
and a weight (its fraction); the result is ``T[i] + w * (T[i+1] - T[i])`` assigned to the
table's type.

>>> t = FixedType(16, 4, quantisation="RND")
>>> table = Fixed.from_float([0.0, 1.0, 4.0], t)
>>> interpolate(table, Fixed.from_float([0.5, 1.25], FixedType(8, 4)), t).to_float().tolist()
[0.5, 1.75]
"""

from __future__ import annotations

import numpy as np

from einsum import CascadeError

from ._fixed import Fixed, FixedType

__all__ = ["check_bits", "interpolate", "split"]


def check_bits(name: str, value: object, low: int, high: int) -> None:
    """A unit parameter counted in bits must be a whole number in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CascadeError(f"{name} must be a whole number {low}..{high}, not {value!r}")


def split(value: Fixed) -> tuple[np.ndarray, Fixed]:
    """Integer part (as array indices) and fraction (exact, ``ap_ufixed<F,0>``)."""
    index = value.raw >> value.fraction if value.fraction > 0 else value.raw << -value.fraction
    rest = value.raw - ((value.raw >> value.fraction) << value.fraction) \
        if value.fraction > 0 else value.raw * 0
    fraction = max(value.fraction, 0)
    return np.asarray(index).astype(np.int64), Fixed(rest, fraction, bits=fraction + 1)


def interpolate(table: Fixed, position: Fixed, out: FixedType) -> Fixed:
    """``table`` at fractional ``position`` (0 <= position <= len(table) - 1)."""
    index, weight = split(position)
    last = len(table) - 1
    at_end = index >= last
    index = np.where(at_end, last - 1, index)
    weight_type = FixedType(max(weight.fraction, 1), 0, signed=False)
    w = weight.cast(weight_type)
    w = Fixed(np.where(at_end, 1 << weight_type.fraction if weight_type.fraction < 62 else 0,
                       w.raw) if weight_type.fraction < 62 else w.raw,
              weight_type.fraction, bits=weight_type.fraction + 2)
    a, b = table[index], table[index + 1]
    return (a + w * (b - a)).cast(out)
