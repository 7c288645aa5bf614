"""LayerNorm over the last axis in fixed point: mean, variance, a 1/sqrt table, scale.

``y = (x - mean) * rsqrt(var + eps) * gamma + beta``; the reciprocal square root
normalises ``var + eps = 2**(2q) * m`` with m in [1, 4) and interpolates a table of
``1/sqrt(m)`` with ``2**table_bits`` entries per unit of m.

>>> unit = LayerNormUnit()
>>> x = Fixed.from_float([[1.0, 2.0, 3.0, 4.0]], unit.io_type)
>>> unit(x).to_float().round(3).tolist()
[[-1.342, -0.447, 0.447, 1.342]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._fixed import Fixed, FixedType, tally
from ._reciprocal import _bit_length
from ._table import check_bits, interpolate

__all__ = ["LayerNormUnit"]


@dataclass(frozen=True, kw_only=True)
class LayerNormUnit:
    io_type: FixedType = field(default_factory=lambda: FixedType(32, 10))
    variance_type: FixedType = field(default_factory=lambda: FixedType(40, 18, signed=False))
    rsqrt_type: FixedType = field(default_factory=lambda: FixedType(32, 8, signed=False))
    table_bits: int = 6
    epsilon: float = 1e-5

    def __post_init__(self) -> None:
        check_bits("table_bits", self.table_bits, 1, 16)

    @property
    def table_type(self) -> FixedType:
        return FixedType(self.rsqrt_type.fraction + 1, 1, signed=False, quantisation="RND")

    @property
    def table(self) -> Fixed:
        points = 1.0 + np.arange(3 * 2**self.table_bits + 1) / 2**self.table_bits
        return Fixed.from_float(1.0 / np.sqrt(points), self.table_type)

    def rsqrt(self, v: Fixed, *, overflows: dict[str, int] | None = None,
              site: str = "rsqrt") -> Fixed:
        """1/sqrt(v) for v > 0 (in ``variance_type``); a v below 2**-16 overflows
        ``rsqrt_type`` (counted in ``overflows[site]``)."""
        raw = np.maximum(np.asarray(v.raw), 1)
        top = _bit_length(raw) - 1
        power = top - v.fraction
        odd = (power & 1) == 1
        top = top - odd                           # v = 2**(top - F) * m, m in [1, 4)
        even_power = power - odd
        common = int(top.max())
        mantissa = raw - (np.int64(1) << top)     # (m - 1) with `top` fraction bits
        position = Fixed(mantissa << (common - top), common - self.table_bits,
                         bits=v.bits + common)
        root = interpolate(self.table, position, self.table_type)
        half = even_power // 2
        shifted = np.where(half >= 0, np.asarray(root.raw) >> np.clip(half, 0, 62),
                           np.asarray(root.raw) << np.clip(-half, 0, 62))
        return tally(overflows, site, Fixed(shifted, root.fraction, bits=root.bits + 64),
                     self.rsqrt_type)

    def __call__(self, x: Fixed, gamma: Fixed | None = None, beta: Fixed | None = None, *,
                 overflows: dict[str, int] | None = None, site: str = "LN") -> Fixed:
        """LayerNorm of each row of ``x``; ``overflows`` counts, per assignment (site.mean,
        .centred, .variance, .rsqrt, .scaled, .stretched, .out), the values it wrapped or
        saturated."""
        io, o = self.io_type, overflows
        x = x.cast(io)
        rows, n = x.shape
        inverse_n = Fixed.from_float([1.0 / n], FixedType(32, 0, signed=False,
                                                          quantisation="RND"))
        stat = FixedType(io.width + 8, io.integer + 1)

        def row_sum(v: Fixed) -> Fixed:
            return Fixed(np.asarray(v.raw).sum(axis=1), v.fraction, bits=v.bits + 32)

        pick = np.zeros(rows, dtype=np.int64)
        mean = tally(o, f"{site}.mean", row_sum(x) * inverse_n[pick], stat)
        column = np.repeat(np.arange(rows), n)
        flat = Fixed(np.asarray(x.raw).reshape(-1), x.fraction, bits=x.bits)
        centred = tally(o, f"{site}.centred", flat - mean[column], stat)
        squares = centred * centred
        squares = Fixed(np.asarray(squares.raw).reshape(rows, n), squares.fraction,
                        bits=squares.bits)
        eps = Fixed.from_float([self.epsilon], self.variance_type)
        variance = tally(o, f"{site}.variance",
                         tally(o, f"{site}.variance", row_sum(squares) * inverse_n[pick],
                               self.variance_type) + eps[pick], self.variance_type)
        scale = self.rsqrt(variance, overflows=o, site=f"{site}.rsqrt")
        y = (centred * scale[column])
        if gamma is not None:
            y = tally(o, f"{site}.scaled", y, stat) * gamma.cast(io)[np.tile(np.arange(n), rows)]
        if beta is not None:
            y = tally(o, f"{site}.stretched", y, stat) + \
                beta.cast(io)[np.tile(np.arange(n), rows)]
        out = tally(o, f"{site}.out", y, io)
        return Fixed(np.asarray(out.raw).reshape(rows, n), out.fraction, io, bits=out.bits)
