"""Fixed-point numbers with the semantics of Xilinx's ``ap_fixed<W,I,Q,O>``.

Values are arrays of exact integers (``raw``) scaled by ``2**-fraction``. Arithmetic is
exact, as ``ap_fixed``'s operators are (their result types are wide enough); rounding
(``Q``) and overflow (``O``) happen only when a value is assigned to a declared type,
quantisation first, then overflow. Tested bit for bit against the open ``ap_fixed.h``
under g++ (tests/test_fixed.py).

>>> t = FixedType(8, 3, quantisation="RND", overflow="SAT")
>>> Fixed.from_float([1.03, -5.0, 100.0], t).to_float().tolist()
[1.03125, -4.0, 3.96875]
>>> (Fixed.from_float([1.5], t) * Fixed.from_float([1.5], t)).cast(t).to_float().tolist()
[2.25]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from einsum import CascadeError

__all__ = ["OVERFLOW", "QUANTISATION", "Fixed", "FixedType", "tally"]

QUANTISATION = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
OVERFLOW = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
MAX_WIDTH = 1024
# ASCII only: \d would also take other scripts' digits, and int() would read them.
_TYPE = re.compile(r"ap_(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*AP_(\w+)\s*)?"
                   r"(?:,\s*AP_(\w+)\s*)?>\Z", re.ASCII)


@dataclass(frozen=True)
class FixedType:
    """``ap_fixed<width, integer, AP_<quantisation>, AP_<overflow>>`` (or ap_ufixed)."""

    width: int
    integer: int
    signed: bool = True
    quantisation: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, int) \
                or not 1 <= self.width <= MAX_WIDTH:
            raise CascadeError(f"fixed-point width must be 1..{MAX_WIDTH}, not {self.width!r}")
        if isinstance(self.integer, bool) or not isinstance(self.integer, int):
            raise CascadeError(f"fixed-point integer bits must be a whole number, "
                               f"not {self.integer!r}")
        if self.quantisation not in QUANTISATION:
            raise CascadeError(f"unknown quantisation mode {self.quantisation!r}; known: "
                               f"{', '.join(QUANTISATION)}")
        if self.overflow not in OVERFLOW:
            raise CascadeError(f"unknown overflow mode {self.overflow!r}; known: "
                               f"{', '.join(OVERFLOW)}")

    @property
    def fraction(self) -> int:
        return self.width - self.integer

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return math.ldexp(1.0, -self.fraction)

    def c_type(self) -> str:
        """The C++ spelling, e.g. ``ap_fixed<32,10,AP_TRN,AP_WRAP>``."""
        name = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{name}<{self.width},{self.integer},AP_{self.quantisation},AP_{self.overflow}>"

    @classmethod
    def parse(cls, text: str) -> FixedType:
        """``FixedType.parse("ap_fixed<18,8,AP_RND,AP_SAT>")``; modes default to TRN, WRAP."""
        match = _TYPE.match(text.replace(" ", ""))
        if match is None:
            raise CascadeError(f"not a fixed-point type: {text!r} (write ap_fixed<W,I> or "
                               "ap_fixed<W,I,AP_RND,AP_SAT>)")
        unsigned, width, integer, q, o = match.groups()
        return cls(int(width), int(integer), not unsigned, q or "TRN", o or "WRAP")

    def __str__(self) -> str:
        return self.c_type()


_FAST_BITS = 62


def _objects(values: Iterable[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    return array if array.ndim else array.reshape(())


def _store(values: Iterable[int] | np.ndarray, bits: int) -> np.ndarray:
    """int64 while every value provably fits 62 bits (fast), exact Python ints beyond."""
    if bits <= _FAST_BITS:
        return np.asarray(values).astype(np.int64)
    return _objects(values)


def _round(floor: np.ndarray, above: np.ndarray, tie: np.ndarray, inexact: np.ndarray,
           negative: np.ndarray, mode: str) -> np.ndarray:
    """Round ``floor + rest`` (0 <= rest < 1) to an integer: ``above``/``tie`` compare rest
    with one half, ``inexact`` says rest > 0, ``negative`` the sign of the exact value."""
    if mode == "TRN":
        return floor
    if mode == "TRN_ZERO":
        up = negative & inexact
    else:
        up = {
            "RND": above | tie,
            "RND_MIN_INF": above,
            "RND_ZERO": above | (tie & negative),
            "RND_INF": above | (tie & ~negative),
            "RND_CONV": above | (tie & ((floor & 1) == 1)),
        }[mode]
    return floor + up


def _shift_right(raw: np.ndarray, shift: int, mode: str) -> np.ndarray:
    """``raw / 2**shift`` rounded by ``mode`` (shift > 0), on exact integers."""
    floor = raw >> shift
    rest = raw - (floor << shift)
    half = 1 << (shift - 1)
    return _round(floor, rest > half, rest == half, rest != 0, raw < 0, mode)


class Fixed:
    """An array of fixed-point values: exact integers ``raw`` times ``2**-fraction``.

    ``type`` is the declared type the values were assigned to, or None for the exact
    result of arithmetic (whose ``fraction`` is tracked separately).
    """

    __slots__ = ("bits", "fraction", "raw", "type")

    def __init__(self, raw: np.ndarray, fraction: int, type: FixedType | None = None, *,
                 bits: int = 1 << 20) -> None:
        self.bits = bits
        """An upper bound on the two's-complement width of every value."""
        self.raw = _store(raw, bits)
        self.fraction = fraction
        self.type = type

    # ----- construction and conversion

    @classmethod
    def from_float(cls, values: Iterable[float] | np.ndarray | float, type: FixedType) -> Fixed:
        """Assign doubles to ``type``, rounding the exact binary value of each double."""
        array = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise CascadeError("cannot convert inf or nan to a fixed-point type")
        scaled = np.ldexp(array, type.fraction) if abs(type.fraction) < 900 else None
        if scaled is not None and np.all(np.abs(scaled) < 2.0**62):
            # x * 2**F is exact in double, and so are its floor and the remainder.
            floor = np.floor(scaled)
            rest = scaled - floor
            raw = _round(floor.astype(np.int64), rest > 0.5, rest == 0.5, rest != 0,
                         scaled < 0, type.quantisation)
            return cls(raw, type.fraction, bits=_FAST_BITS).cast(type)
        mantissa, exponent = np.frexp(array)
        # Every double is m * 2**e with m a 53-bit integer: exact in Python ints.
        scaled = np.ldexp(mantissa, 53).astype(np.int64).astype(object)
        shifts = (exponent.astype(np.int64) - 53).astype(object)
        fraction = max(type.fraction, 1100)
        exact = np.vectorize(lambda m, s: m << (s + fraction) if s + fraction >= 0
                             else m >> -(s + fraction), otypes=[object])(scaled, shifts)
        # m >> k above is exact: fraction=1100 covers every double's lowest bit.
        return cls(exact, fraction).cast(type)

    @property
    def signs(self) -> np.ndarray:
        return self.raw < 0

    @classmethod
    def from_raw(cls, raw: Iterable[int] | np.ndarray, type: FixedType) -> Fixed:
        return cls(_objects(raw), type.fraction, type).cast(type)

    @classmethod
    def constant(cls, value: float, type: FixedType, shape: tuple[int, ...] = ()) -> Fixed:
        one = cls.from_float([value], type)
        return cls(np.full(shape, one.raw[0], dtype=one.raw.dtype), type.fraction, type,
                   bits=type.width)

    def to_float(self) -> np.ndarray:
        """Nearest doubles (exact when the value fits 53 significant bits)."""
        if self.raw.dtype != object:
            return np.ldexp(self.raw.astype(np.float64), -self.fraction)
        scale = Fraction(1, 2**self.fraction) if self.fraction >= 0 else 2**-self.fraction
        return np.vectorize(lambda r: float(r * scale), otypes=[np.float64])(self.raw) \
            if self.raw.size else np.zeros(self.raw.shape)

    def _quantised(self, type: FixedType) -> np.ndarray:
        """Raw values at ``type``'s fraction, rounded by its Q mode, not yet bounded."""
        shift = self.fraction - type.fraction
        raw = self.raw if self.raw.dtype == object or self.bits - min(shift, 0) <= _FAST_BITS \
            else self.raw.astype(object)
        return _shift_right(raw, shift, type.quantisation) if shift > 0 else raw << -shift

    def overflowed(self, type: FixedType) -> np.ndarray:
        """Which values an assignment to ``type`` would wrap or saturate: those whose value,
        quantised to its fraction bits, lies outside its range.

        >>> t = FixedType(8, 3)
        >>> Fixed.from_float([3.9, 4.0, -4.0, -4.1], FixedType(16, 8)).overflowed(t).tolist()
        [False, True, False, True]
        """
        raw = self._quantised(type)
        return np.asarray((raw > type.max_raw) | (raw < type.min_raw), dtype=bool)

    def cast(self, type: FixedType) -> Fixed:
        """Assign to ``type``: quantise by its Q mode, then handle overflow by its O mode."""
        raw = self._quantised(type)
        lo, hi = type.min_raw, type.max_raw
        if type.overflow == "WRAP":
            if raw.dtype == object or type.width >= _FAST_BITS:
                span = 1 << type.width
                raw = ((raw - lo) % span) + lo
            else:
                raw = ((raw - lo) & ((1 << type.width) - 1)) + lo
        else:
            over, under = raw > hi, raw < lo
            if type.overflow == "SAT":
                raw = np.where(over, hi, np.where(under, lo, raw))
            elif type.overflow == "SAT_ZERO":
                raw = np.where(over | under, 0, raw)
            else:  # SAT_SYM: a signed type's range is symmetric, -max..max, even for
                # a value that lands exactly on the most negative code (as ap_fixed does)
                low = -hi if type.signed else lo
                raw = np.where(over, hi, np.where(raw < low, low, raw))
        return Fixed(raw, type.fraction, type, bits=type.width + 1)

    # ----- exact arithmetic (ap_fixed's operators never round)

    def _wide(self, bits: int) -> np.ndarray:
        return self.raw if bits <= _FAST_BITS else _objects(self.raw)

    def _aligned(self, other: Fixed) -> tuple[np.ndarray, np.ndarray, int, int]:
        fraction = max(self.fraction, other.fraction)
        bits = max(self.bits + fraction - self.fraction, other.bits + fraction - other.fraction)
        return (self._wide(bits + 1) << (fraction - self.fraction),
                other._wide(bits + 1) << (fraction - other.fraction), fraction, bits + 1)

    def __add__(self, other: Fixed) -> Fixed:
        a, b, fraction, bits = self._aligned(other)
        return Fixed(a + b, fraction, bits=bits)

    def __sub__(self, other: Fixed) -> Fixed:
        a, b, fraction, bits = self._aligned(other)
        return Fixed(a - b, fraction, bits=bits)

    def __mul__(self, other: Fixed) -> Fixed:
        bits = self.bits + other.bits
        return Fixed(self._wide(bits) * other._wide(bits), self.fraction + other.fraction,
                     bits=bits)

    def __neg__(self) -> Fixed:
        return Fixed(-self._wide(self.bits + 1), self.fraction, bits=self.bits + 1)

    def __getitem__(self, index: object) -> Fixed:
        return Fixed(self.raw[index], self.fraction, self.type, bits=self.bits)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.raw.shape

    def __repr__(self) -> str:
        kind = self.type.c_type() if self.type else f"exact/2**{self.fraction}"
        return f"Fixed({self.to_float().tolist()}, {kind})"


def tally(counts: dict[str, int] | None, site: str, values: Fixed, type: FixedType) -> Fixed:
    """Assign ``values`` to ``type``; when ``counts`` is given, add to ``counts[site]`` how
    many of them overflowed (wrapped or saturated): the count the emitted C++ keeps at the
    same assignment in C simulation.

    >>> counts: dict[str, int] = {}
    >>> tally(counts, "y", Fixed.from_float([1.0, 9.0], FixedType(16, 8)), FixedType(8, 4))
    Fixed([1.0, -7.0], ap_fixed<8,4,AP_TRN,AP_WRAP>)
    >>> counts
    {'y': 1}
    """
    if counts is not None:
        counts[site] = counts.get(site, 0) + int(np.count_nonzero(values.overflowed(type)))
    return values.cast(type)
