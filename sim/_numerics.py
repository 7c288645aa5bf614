"""Fixed-point execution of cascades: every tensor stored in its type, exp and division by
the hardware units.

The reference executor computes in float64 and rounds each tensor to its fixed-point type
as it is written, so results are bit-exact with a fixed-point datapath whenever products
and partial sums fit the 53 bits of a double (operands up to ~24 bits, as here); the units
themselves (exp, reciprocal) are the bit-accurate golden models.

>>> import numpy as np
>>> from einsum import execute, exact_attention, load
>>> rng = np.random.default_rng(0)
>>> q, k, v = rng.normal(size=(8, 4)), rng.normal(size=(8, 32)), rng.normal(size=(8, 32))
>>> out = execute(load("one_pass"), {"Q": q, "K": k, "V": v}, numerics=FixedNumerics())
>>> float(np.abs(out["AV"] - exact_attention(q, k, v)).max()) < 1e-3
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._exp import ExpUnit
from ._fixed import Fixed, FixedType
from ._reciprocal import ReciprocalUnit

__all__ = ["FixedNumerics"]


def _finite(values: np.ndarray, t: FixedType) -> np.ndarray:
    """-inf and +inf (initial values of running max) become the type's extremes."""
    return np.clip(np.nan_to_num(values, posinf=np.inf, neginf=-np.inf),
                   t.min_raw * t.lsb, t.max_raw * t.lsb)


@dataclass(frozen=True, kw_only=True)
class FixedNumerics:
    default: FixedType = field(default_factory=lambda: FixedType(32, 10))
    types: dict[str, FixedType] = field(default_factory=dict)
    exp: ExpUnit | None = field(default_factory=lambda: ExpUnit(in_type=FixedType(33, 11)))
    reciprocal: ReciprocalUnit | None = field(default_factory=ReciprocalUnit)

    def type_of(self, tensor: str) -> FixedType:
        return self.types.get(tensor, self.default)

    def store(self, tensor: str, values: np.ndarray) -> np.ndarray:
        t = self.type_of(tensor)
        return Fixed.from_float(_finite(values, t), t).to_float().reshape(np.shape(values))

    def _exp(self, x: np.ndarray) -> np.ndarray:
        assert self.exp is not None
        t = self.exp.in_type
        return self.exp(Fixed.from_float(_finite(np.minimum(x, 0.0), t), t)).to_float() \
            .reshape(np.shape(x))

    def _recip(self, x: np.ndarray) -> np.ndarray:
        assert self.reciprocal is not None
        t = self.reciprocal.in_type
        return self.reciprocal(Fixed.from_float(_finite(x, t), t)).to_float().reshape(
            np.shape(x))

    def operator(self, name: str) -> Callable[..., np.ndarray] | None:
        if name == "exp" and self.exp is not None:
            return self._exp
        if name == "recip" and self.reciprocal is not None:
            return self._recip
        if name == "/" and self.reciprocal is not None:
            return lambda a, b: a * self._recip(np.broadcast_to(b, np.broadcast_shapes(
                np.shape(a), np.shape(b))))
        return None
