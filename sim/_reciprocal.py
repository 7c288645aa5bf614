"""Reciprocal of positive values by normalisation and a 1/m table on [1, 2].

``s = 2**p * m`` with m in [1, 2) found from the leading one; ``1/m`` comes from a table of
``2**table_bits + 1`` entries with linear interpolation, then shifts by ``p``.

>>> unit = ReciprocalUnit()
>>> unit(Fixed.from_float([1.0, 3.0, 1000.0], unit.in_type)).to_float().round(6).tolist()
[1.0, 0.333333, 0.001]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._fixed import Fixed, FixedType
from ._table import check_bits, interpolate

__all__ = ["ReciprocalUnit"]


def _bit_length(raw: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(raw) \
        if raw.size else np.zeros(raw.shape, dtype=np.int64)


@dataclass(frozen=True, kw_only=True)
class ReciprocalUnit:
    in_type: FixedType = field(default_factory=lambda: FixedType(32, 16, signed=False))
    out_type: FixedType = field(default_factory=lambda: FixedType(32, 2, signed=False))
    table_bits: int = 6

    def __post_init__(self) -> None:
        check_bits("table_bits", self.table_bits, 1, 20)

    @property
    def table_type(self) -> FixedType:
        return FixedType(self.out_type.fraction + 1, 1, signed=False, quantisation="RND")

    @property
    def table(self) -> Fixed:
        points = 1.0 + np.arange(2**self.table_bits + 1) / 2**self.table_bits
        return Fixed.from_float(1.0 / points, self.table_type)

    def __call__(self, s: Fixed) -> Fixed:
        """1/s for s > 0 (s <= 0 gives the type's largest value)."""
        s = s.cast(self.in_type)
        raw = np.where(s.raw > 0, s.raw, 1)
        top = _bit_length(raw) - 1              # s = 2**(top - F) * m
        # m - 1 in [0, 1) with `top` fraction bits; its position in the table:
        mantissa = raw - (np.int64(1) << top) if raw.dtype != object else \
            raw - np.vectorize(lambda t: 1 << int(t), otypes=[object])(top)
        position = Fixed(mantissa, 0, bits=s.bits)
        # scale each element by 2**(table_bits - top) exactly: align to a common fraction
        common = int(top.max()) if top.size else 0
        aligned = Fixed(np.asarray(position.raw) << (common - top), common - self.table_bits,
                        bits=s.bits + common)
        inverse = interpolate(self.table, aligned, self.table_type)   # 1/m in (0.5, 1]
        power = top - s.fraction                 # s = 2**power * m
        raw_inverse = np.asarray(inverse.raw)
        shifted = np.where(power >= 0, raw_inverse >> np.clip(power, 0, 62),
                           raw_inverse << np.clip(-power, 0, 62))
        out = Fixed(shifted, inverse.fraction, bits=inverse.bits + 64).cast(self.out_type)
        return Fixed(np.where(s.raw > 0, out.raw, self.out_type.max_raw), out.fraction,
                     self.out_type, bits=self.out_type.width + 1)

    def max_relative_error(self) -> float:
        """A bound on |unit(s) * s - 1| before the final truncation to ``out_type``."""
        h = 2.0 ** -self.table_bits
        return h * h / 4 + 3 * 2.0 ** -self.table_type.fraction
