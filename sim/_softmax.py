"""The Edge-MoE single-pass online softmax, bit-accurate.

Per query row keep a running max ``bias`` (initially -512) and ``sum`` (initially 0). For
each score s: if s > bias, ``sum = sum * exp(bias - s) + 1; bias = s``, else
``sum = sum + exp(s - bias)``. After the last key the unit stores ``(recip(sum), bias)``;
a probability is ``exp(s - bias) * recip``. Every exp argument is <= 0.

>>> unit = OnlineSoftmax()
>>> scores = Fixed.from_float([[1.0, 2.0, 3.0]], unit.score_type)
>>> unit.probabilities(scores).to_float().round(4).tolist()
[[0.09, 0.2447, 0.6653]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from einsum import CascadeError

from ._exp import ExpUnit
from ._fixed import Fixed, FixedType
from ._reciprocal import ReciprocalUnit

__all__ = ["DEFAULT_SOFTMAX", "OnlineSoftmax", "softmax_config"]


@dataclass(frozen=True, kw_only=True)
class OnlineSoftmax:
    score_type: FixedType = field(default_factory=lambda: FixedType(32, 10))
    sum_type: FixedType = field(default_factory=lambda: FixedType(32, 14, signed=False))
    prob_type: FixedType = field(default_factory=lambda: FixedType(24, 1, signed=False))
    exp: ExpUnit = field(default_factory=lambda: ExpUnit(in_type=FixedType(33, 11)))
    reciprocal: ReciprocalUnit = field(default_factory=lambda: ReciprocalUnit(
        in_type=FixedType(32, 14, signed=False)))
    initial_bias: float = -512.0

    def __post_init__(self) -> None:
        if self.exp.in_type != self.difference_type:
            raise CascadeError(f"the exp unit's input type {self.exp.in_type} must hold a "
                               f"difference of two scores, {self.difference_type}")
        if self.reciprocal.in_type != self.sum_type:
            raise CascadeError(f"the reciprocal's input type {self.reciprocal.in_type} must be "
                               f"the sum type {self.sum_type}")

    @property
    def difference_type(self) -> FixedType:
        """Differences of two scores need one more integer bit than a score."""
        t = self.score_type
        return FixedType(t.width + 1, t.integer + 1)

    def statistics(self, scores: Fixed, *, overflows: dict[str, int] | None = None,
                   ) -> tuple[Fixed, Fixed]:
        """(recip(sum), bias) per row of ``scores`` (rows x keys), one key at a time;
        ``overflows["SUM"]`` counts the running sums an assignment wrapped or saturated
        (on the branch each key takes)."""
        scores = scores.cast(self.score_type)
        rows, keys = scores.shape
        bias = Fixed.constant(self.initial_bias, self.score_type, (rows,))
        total = Fixed.constant(0.0, self.sum_type, (rows,))
        one = Fixed.constant(1.0, self.sum_type, (rows,))
        for j in range(keys):
            s = scores[:, j]
            greater = s.raw > bias.raw
            product = total * self.exp((bias - s).cast(self.difference_type))
            rescaled = product.cast(self.sum_type) + one
            grown = total + self.exp((s - bias).cast(self.difference_type))
            if overflows is not None:
                wrapped = np.where(greater, product.overflowed(self.sum_type).astype(int)
                                   + rescaled.overflowed(self.sum_type),
                                   grown.overflowed(self.sum_type))
                overflows["SUM"] = overflows.get("SUM", 0) + int(np.sum(wrapped))
            total = Fixed(np.where(greater, rescaled.cast(self.sum_type).raw,
                                   grown.cast(self.sum_type).raw), self.sum_type.fraction,
                          self.sum_type, bits=self.sum_type.width + 1)
            bias = Fixed(np.where(greater, s.raw, bias.raw), self.score_type.fraction,
                         self.score_type, bits=self.score_type.width + 1)
        return self.reciprocal(total), bias

    def probabilities(self, scores: Fixed, *, overflows: dict[str, int] | None = None,
                      ) -> Fixed:
        """Softmax over the last axis of ``scores`` (rows x keys)."""
        scores = scores.cast(self.score_type)
        recip, bias = self.statistics(scores, overflows=overflows)
        rows, keys = scores.shape
        column = np.repeat(np.arange(rows), keys)
        flat = Fixed(scores.raw.reshape(-1), scores.fraction, scores.type, bits=scores.bits)
        weights = self.exp((flat - bias[column]).cast(self.difference_type))
        out = (weights * recip[column]).cast(self.prob_type)
        return Fixed(out.raw.reshape(rows, keys), out.fraction, out.type, bits=out.bits)

    def error_bound(self, exact_sum: np.ndarray, keys: int) -> np.ndarray:
        """Per row, a bound on |p - softmax| implied by the units and types.

        The running sum collects at most ``keys`` exp errors and truncations (each step
        truncates the rescaled and the grown sum); its reciprocal adds its table error.
        """
        e = self.exp.max_error()
        sum_lsb = self.sum_type.lsb
        sum_error = keys * (e * (1 + exact_sum) + 2 * sum_lsb)
        low = np.maximum(exact_sum - sum_error, 1.0)
        recip_error = (self.reciprocal.max_relative_error() / low
                       + self.reciprocal.out_type.lsb + sum_error / (exact_sum * low))
        return e / low + recip_error + e * recip_error + 2 * self.prob_type.lsb


def softmax_config(width: int, table_bits: int) -> OnlineSoftmax:
    """The online softmax with ``width``-bit scores and probabilities and tables of
    ``2**table_bits + 1`` entries (sums keep 14 integer bits for up to 16K keys)."""
    integer = 6 if width <= 18 else 10
    score = FixedType(width, integer)
    total = FixedType(width + 14, 14, signed=False)
    return OnlineSoftmax(
        score_type=score, sum_type=total,
        prob_type=FixedType(width, 1, signed=False),
        exp=ExpUnit(in_type=FixedType(width + 1, integer + 1),
                    out_type=FixedType(width, 1, signed=False), table_bits=table_bits),
        reciprocal=ReciprocalUnit(in_type=total, out_type=FixedType(width, 1, signed=False),
                                  table_bits=table_bits))


DEFAULT_SOFTMAX = (16, 6)
"""(width, table_bits) of our documented default: 16-bit scores and probabilities, 65-entry
tables; it beats hls4ml's default softmax (16-bit input, 18-bit 1024-entry tables) by more
than 10x in max probability error (tests/test_numerics.py)."""
