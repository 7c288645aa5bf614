"""The Edge-MoE GELU unit: ``GELU(x) = ReLU(x) - delta(|x|)``, ``delta(a) = a * Phi(-a)``.

delta is tabulated every ``2**-step_bits`` on ``[0, limit]`` (177 entries for 1/32 and 5.5),
rounded to the fraction bits of the I/O type, and interpolated linearly; for
``|x| >= limit`` the result is ReLU(x).

>>> unit = GeluUnit()
>>> len(unit.table), unit.io_type.c_type()
(177, 'ap_fixed<32,10,AP_TRN,AP_WRAP>')
>>> round(float(unit(Fixed.from_float([1.0], unit.io_type)).to_float()[0]), 4)
0.8413
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from einsum import CascadeError

from ._fixed import Fixed, FixedType
from ._table import check_bits, interpolate

__all__ = ["GeluUnit", "gelu_erf", "gelu_tanh"]


def gelu_erf(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x * Phi(x)``, in float64."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(np.asarray(x) / math.sqrt(2.0)))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """The common tanh approximation of GELU (float64)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _delta(a: np.ndarray) -> np.ndarray:
    from scipy.special import erfc

    return a * 0.5 * erfc(a / math.sqrt(2.0))  # a * Phi(-a)


@dataclass(frozen=True, kw_only=True)
class GeluUnit:
    io_type: FixedType = field(default_factory=lambda: FixedType(32, 10))
    step_bits: int = 5
    limit: float = 5.5

    def __post_init__(self) -> None:
        check_bits("step_bits", self.step_bits, 0, 12)
        entries = self.limit * 2**self.step_bits
        if not (self.limit > 0 and float(entries).is_integer()):
            raise CascadeError(f"limit {self.limit} must be a positive multiple of the step "
                               f"2**-{self.step_bits}")
        if self.io_type.fraction < self.step_bits or not self.io_type.signed:
            raise CascadeError("the GELU I/O type must be signed with at least step_bits "
                               "fraction bits")

    @property
    def entries(self) -> int:
        return int(self.limit * 2**self.step_bits) + 1

    @property
    def table_type(self) -> FixedType:
        """``ap_ufixed<F,0>``: delta < 0.17 needs no integer bit."""
        return FixedType(self.io_type.fraction, 0, signed=False)

    @property
    def table(self) -> Fixed:
        points = np.arange(self.entries) / 2**self.step_bits
        rounded = FixedType(self.io_type.fraction, 0, signed=False, quantisation="RND")
        return Fixed.from_float(_delta(points), rounded).cast(self.table_type)

    def __call__(self, x: Fixed) -> Fixed:
        io = self.io_type
        x = x.cast(io)
        zero = Fixed.constant(0.0, io, x.shape)
        relu = Fixed(np.where(x.signs, zero.raw, x.raw), io.fraction, io, bits=io.width + 1)
        # |x| exactly, one more bit: the most negative input stays out of the table.
        magnitude = Fixed(np.where(x.signs, -np.asarray(x.raw), x.raw), io.fraction,
                          bits=io.width + 2)
        # Position in the table: |x| * 2**step_bits (exact, a change of scale).
        position = Fixed(magnitude.raw, io.fraction - self.step_bits, bits=io.width + 1)
        inside = (magnitude.raw >> (io.fraction - self.step_bits)) < self.entries - 1
        delta = interpolate(self.table, position, self.table_type)
        out = (relu - delta).cast(io)
        return Fixed(np.where(inside, out.raw, relu.raw), io.fraction, io, bits=io.width + 1)
