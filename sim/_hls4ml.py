"""hls4ml's default softmax ("stable" implementation, hls4ml 1.3.0), emulated bit for bit.

Defaults as hls4ml configures them: input ``ap_fixed<16,6>``, 1024-entry exp and inverse
tables of ``ap_fixed<18,8,AP_RND,AP_SAT>``, the max-normalised difference in
``ap_ufixed<15,5>``, the table index taken from the top 10 bits of its input, the sum in
``ap_fixed<18+s,8+s>`` (s = ceil(log2 n)) then the inverse table's input type, result
``ap_fixed<16,6>``. Checked against ``nnet_activation.h`` from the wheel under g++
(tests/test_numerics.py).

>>> unit = Hls4mlSoftmax()
>>> unit(np.array([[1.0, 2.0, 3.0]])).round(3).tolist()
[[0.09, 0.245, 0.667]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._fixed import Fixed, FixedType

__all__ = ["Hls4mlSoftmax"]


@dataclass(frozen=True, kw_only=True)
class Hls4mlSoftmax:
    input_type: FixedType = field(default_factory=lambda: FixedType(16, 6))
    table_type: FixedType = field(default_factory=lambda: FixedType(18, 8, quantisation="RND",
                                                                    overflow="SAT"))
    result_type: FixedType = field(default_factory=lambda: FixedType(16, 6))
    table_size: int = 1024

    @property
    def norm_type(self) -> FixedType:
        t = self.input_type
        return FixedType(t.width - 1, t.integer - 1, signed=False)

    @property
    def address_bits(self) -> int:
        return math.ceil(math.log2(self.table_size))

    def _pattern_values(self, t: FixedType) -> np.ndarray:
        """The value of each index placed in the top address bits of type ``t``."""
        n = self.address_bits
        raw = np.arange(2**n, dtype=np.int64) << (t.width - n)
        if t.signed:
            raw = np.where(raw >= 1 << (t.width - 1), raw - (1 << t.width), raw)
        return np.ldexp(raw.astype(np.float64), -t.fraction)

    def exp_table(self) -> Fixed:
        x = self._pattern_values(self.norm_type).astype(np.float32)
        return Fixed.from_float(np.exp(-x).astype(np.float32).astype(np.float64),
                                self.table_type)

    def inverse_table(self) -> Fixed:
        x = self._pattern_values(self.table_type).astype(np.float32)
        with np.errstate(divide="ignore"):
            inverse = (np.float32(1) / x).astype(np.float64)
        inverse = np.nan_to_num(inverse, posinf=1e300, neginf=-1e300)
        return Fixed.from_float(inverse, self.table_type)

    def _index(self, value: Fixed, t: FixedType) -> np.ndarray:
        n = self.address_bits
        bits = np.asarray(value.raw).astype(np.int64) & ((1 << t.width) - 1)
        return bits >> (t.width - n)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Softmax over the last axis of ``scores`` (rows x n), as floats."""
        rows, n = scores.shape
        x = Fixed.from_float(scores.reshape(-1), self.input_type)
        raw = np.asarray(x.raw).reshape(rows, n)
        x_max = np.repeat(raw.max(axis=1), n)
        top = Fixed(x_max, x.fraction, bits=x.bits)
        difference = (top - x).cast(self.norm_type)
        exp_values = self.exp_table()[self._index(difference, self.norm_type)]
        scale = math.ceil(math.log2(n)) if n > 1 else 0
        accum = FixedType(self.table_type.width + scale, self.table_type.integer + scale)
        exp_values = exp_values.cast(accum)
        sums = Fixed(np.asarray(exp_values.raw).reshape(rows, n).sum(axis=1), accum.fraction,
                     bits=accum.width + scale).cast(accum).cast(self.table_type)
        inverse = self.inverse_table()[self._index(sums, self.table_type)]
        result = (exp_values * inverse[np.repeat(np.arange(rows), n)]).cast(self.result_type)
        return result.to_float().reshape(rows, n)
