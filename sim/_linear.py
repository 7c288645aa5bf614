"""The unified linear unit, optionally followed by GELU: ``Y = X W + b`` in fixed point.

Products and the sum over K are exact (as ap_fixed's operators are); the result, times an
optional constant ``scale`` (exact), is assigned to the I/O type once, then GELU (if any) is
applied. The golden model of the HLS kernel.

>>> unit = LinearUnit()
>>> x = Fixed.from_float([[1.0, 2.0]], unit.io_type)
>>> w = Fixed.from_float([[0.5, -1.0], [0.25, 2.0]], unit.weight_type)
>>> b = Fixed.from_float([0.125, 0.0], unit.weight_type)
>>> unit(x, w, b).to_float().tolist()
[[1.125, 3.0]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._fixed import Fixed, FixedType, tally
from ._gelu import GeluUnit

__all__ = ["LinearUnit"]


@dataclass(frozen=True, kw_only=True)
class LinearUnit:
    io_type: FixedType = field(default_factory=lambda: FixedType(32, 10))
    weight_type: FixedType = field(default_factory=lambda: FixedType(16, 4))
    gelu: GeluUnit | None = None

    def __call__(self, x: Fixed, w: Fixed, b: Fixed, *, scale: Fixed | None = None,
                 overflows: dict[str, int] | None = None, site: str = "Y") -> Fixed:
        """``x`` (T x K) times ``w`` (K x N) plus ``b`` (N), times ``scale`` (one value) if
        given; ``overflows[site]`` counts the results the assignment to the I/O type wraps
        or saturates."""
        x, w, b = x.cast(self.io_type), w.cast(self.weight_type), b.cast(self.weight_type)
        inner = w.shape[0]
        bits = self.io_type.width + self.weight_type.width + math.ceil(math.log2(inner + 1))
        kind = np.int64 if bits < 62 else object
        products = np.asarray(x.raw, dtype=kind) @ np.asarray(w.raw, dtype=kind)
        exact = Fixed(products, x.fraction + w.fraction, bits=bits + 1) + \
            Fixed(np.asarray(b.raw)[None, :], b.fraction, bits=b.bits)
        if scale is not None:
            exact = exact * Fixed(np.full(exact.shape, scale.raw.reshape(-1)[0]),
                                  scale.fraction, bits=scale.bits)
        y = tally(overflows, site, exact, self.io_type)
        return y if self.gelu is None else self.gelu(y.cast(self.gelu.io_type))
