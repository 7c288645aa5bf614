"""exp for non-positive arguments, by base-2 range reduction and a 2**-f table.

``exp(x) = 2**(-y)`` with ``y = -x * log2(e) = n + f``; ``2**-f`` (f in [0, 1)) comes from a
table of ``2**table_bits + 1`` entries with linear interpolation, and the shift by ``n``
truncates. Every argument is <= 0, as in the online softmax, so the result is in (0, 1].

>>> unit = ExpUnit()
>>> x = Fixed.from_float([0.0, -1.0, -20.0], unit.in_type)
>>> [round(float(v), 4) for v in unit(x).to_float()]
[1.0, 0.3679, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from einsum import CascadeError

from ._fixed import Fixed, FixedType
from ._table import check_bits, interpolate

__all__ = ["ExpUnit"]


@dataclass(frozen=True, kw_only=True)
class ExpUnit:
    in_type: FixedType = field(default_factory=lambda: FixedType(32, 10))
    out_type: FixedType = field(default_factory=lambda: FixedType(24, 1, signed=False))
    table_bits: int = 6
    log2e_bits: int = 24
    """Fraction bits of the constant log2(e)."""

    def __post_init__(self) -> None:
        check_bits("table_bits", self.table_bits, 1, 30)
        check_bits("log2e_bits", self.log2e_bits, 1, 30)
        if self.out_type.integer < 1 or self.out_type.signed:
            raise CascadeError("the exp output type must be unsigned with at least one "
                               "integer bit (exp(0) = 1)")

    @property
    def table_type(self) -> FixedType:
        return FixedType(self.out_type.fraction + 1, 1, signed=False, quantisation="RND")

    @property
    def table(self) -> Fixed:
        points = np.arange(2**self.table_bits + 1) / 2**self.table_bits
        return Fixed.from_float(2.0 ** -points, self.table_type)

    @property
    def reduced_type(self) -> FixedType:
        """``y = -x * log2(e)``: the input's fraction bits, one more integer bit."""
        return FixedType(self.in_type.width + 1, self.in_type.integer + 1, signed=False)

    def __call__(self, x: Fixed) -> Fixed:
        """exp of ``x`` (values > 0 are treated as 0: the unit serves non-positive inputs)."""
        x = x.cast(self.in_type)
        magnitude = Fixed(np.where(x.raw < 0, -x.raw, 0), x.fraction, bits=x.bits + 1)
        log2e = Fixed.from_float([math.log2(math.e)], FixedType(self.log2e_bits + 2, 2,
                                                                signed=False, quantisation="RND"))
        y = (magnitude * log2e[np.zeros(x.shape, dtype=np.int64)]).cast(self.reduced_type)
        n = y.raw >> y.fraction
        f = Fixed(y.raw - (n << y.fraction), y.fraction - self.table_bits, bits=y.fraction + 1)
        power = interpolate(self.table, f, self.table_type)    # 2**-f in (0.5, 1]
        shift = np.minimum(n, 62).astype(np.int64)
        out = Fixed(np.asarray(power.raw) >> shift, power.fraction, bits=power.bits)
        return out.cast(self.out_type)

    def max_error(self) -> float:
        """A bound on |unit(x) - exp(x)| from the table step, roundings and truncations."""
        h = 2.0 ** -self.table_bits
        interpolation = math.log(2) ** 2 / 8 * h * h
        table = 2.0 ** -self.table_type.fraction
        reduction = math.log(2) * (2.0 ** -self.reduced_type.fraction
                                   + 2.0 ** -self.log2e_bits / math.e * self.in_type.integer)
        return interpolation + 3 * table + reduction + 2 * self.out_type.lsb
