"""The FuseMax 1-pass tiled attention in fixed point: the golden model of the HLS kernel.

Each tensor of the ``fusemax`` cascade is stored in its type as the Einsum that defines it
finishes, exactly as the emitted C++ assigns it; reductions are exact (ap_fixed's operators
never round) and exp and division go through the bit-accurate units. Keys are taken in
tiles of ``tile`` (the cascade's M0); a last, shorter tile takes only the keys that exist.

>>> import numpy as np
>>> unit = TiledAttention(tile=4)
>>> rng = np.random.default_rng(1)
>>> q, k, v = (rng.normal(size=s) for s in ((3, 8), (10, 8), (10, 8)))  # P x E, M x E, M x F
>>> out = unit(*(Fixed.from_float(x, unit.numerics.io) for x in (q, k, v)))
>>> s = q @ k.T
>>> exact = (np.exp(s - s.max(1, keepdims=True)) / np.exp(s - s.max(1, keepdims=True)).sum(
...     1, keepdims=True)) @ v
>>> bool(np.abs(out.to_float() - exact).max() < 2e-2)
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from einsum import CascadeError

from ._exp import ExpUnit
from ._fixed import Fixed, FixedType, tally
from ._reciprocal import ReciprocalUnit

__all__ = ["AttentionNumerics", "TiledAttention"]


@dataclass(frozen=True, kw_only=True)
class AttentionNumerics:
    """Types of the attention datapath (defaults: 16-bit I/O, 32-bit scores and sums)."""

    io: FixedType = field(default_factory=lambda: FixedType(16, 6))
    """Q, K, V and the output AV."""
    score: FixedType = field(default_factory=lambda: FixedType(32, 14))
    """QK, the tile max LM and the running max RM."""
    weight: FixedType = field(default_factory=lambda: FixedType(18, 1, signed=False))
    """exp outputs: SLN and PRM."""
    sum: FixedType = field(default_factory=lambda: FixedType(32, 14, signed=False))
    """The denominator: SPD, SLD, RD."""
    accumulator: FixedType = field(default_factory=lambda: FixedType(48, 24))
    """The numerator: SPNV, SLNV, RNV."""
    table_bits: int = 6
    allow_overflow: bool = False
    """C simulation of a kernel with these types fails on any overflow (a value wrapped or
    saturated by an assignment) unless this is set."""
    saturate: bool = False
    """Stored tensors saturate (AP_SAT) rather than wrap; set by :meth:`saturating`, which
    kernels with types of their own (linear, softmax, encoder) follow too."""

    def __post_init__(self) -> None:
        if self.score.integer <= self.io.integer:
            raise CascadeError(f"the score type {self.score} needs more integer bits than "
                               f"the I/O type {self.io}")

    def saturating(self) -> AttentionNumerics:
        """The same widths with every stored tensor saturating (AP_SAT) instead of wrapping:
        I/O, scores, denominator and numerator (exp outputs cannot overflow)."""
        sat = {key: dataclasses.replace(getattr(self, key), overflow="SAT")
               for key in ("io", "score", "sum", "accumulator")}
        return dataclasses.replace(self, **sat, saturate=True)

    @property
    def difference(self) -> FixedType:
        """A difference of two scores: one more integer bit."""
        return FixedType(self.score.width + 1, self.score.integer + 1)

    @property
    def exp(self) -> ExpUnit:
        return ExpUnit(in_type=self.difference, out_type=self.weight,
                       table_bits=self.table_bits)

    @property
    def reciprocal(self) -> ReciprocalUnit:
        return ReciprocalUnit(in_type=self.sum, table_bits=self.table_bits)


def _sum(values: Fixed, axis: int) -> Fixed:
    """Exact sum along ``axis``."""
    return Fixed(np.asarray(values.raw).sum(axis=axis), values.fraction, bits=values.bits + 40)


def _max(values: Fixed, axis: int, type: FixedType) -> Fixed:
    return Fixed(np.asarray(values.raw).max(axis=axis), values.fraction, type,
                 bits=values.bits)


def _column(values: Fixed) -> Fixed:
    """A per-row vector as a column, to broadcast against rows x keys."""
    return Fixed(np.asarray(values.raw)[:, None], values.fraction, values.type,
                 bits=values.bits)


@dataclass(frozen=True, kw_only=True)
class TiledAttention:
    tile: int = 256
    numerics: AttentionNumerics = field(default_factory=AttentionNumerics)

    def __post_init__(self) -> None:
        if isinstance(self.tile, bool) or not isinstance(self.tile, int) or self.tile < 1:
            raise CascadeError(f"tile must be a positive whole number, not {self.tile!r}")

    def __call__(self, q: Fixed, k: Fixed, v: Fixed, *,
                 overflows: dict[str, int] | None = None) -> Fixed:
        """``softmax(Q K^T) V`` for Q (P x E), K (M x E), V (M x F); returns P x F.
        ``overflows``, when given, counts per tensor (QK, SPD, SLD, RD, SPNV, SLNV, RNV, AV)
        the values its assignment wrapped or saturated."""
        n, o = self.numerics, overflows
        q, k, v = q.cast(n.io), k.cast(n.io), v.cast(n.io)
        (queries, _), (keys, _), (_, width) = q.shape, k.shape, v.shape
        rm = Fixed(np.full(queries, n.score.min_raw, dtype=np.int64), n.score.fraction,
                   n.score, bits=n.score.width + 1)  # -inf: the type's most negative value
        rd = Fixed.constant(0.0, n.sum, (queries,))
        rnv = Fixed.constant(0.0, n.accumulator, (queries, width))
        for start in range(0, keys, self.tile):
            kt, vt = k[start:start + self.tile], v[start:start + self.tile]
            # QK[m0,p] = Q[e,p] * BK[e,m1,m0]: P x tile
            products = Fixed(np.asarray(q.raw)[:, None, :] * np.asarray(kt.raw)[None, :, :],
                             q.fraction + kt.fraction, bits=q.bits + kt.bits)
            qk = tally(o, "QK", _sum(products, 2), n.score)
            lm = _max(qk, 1, n.score)
            new = Fixed(np.maximum(np.asarray(rm.raw), np.asarray(lm.raw)), n.score.fraction,
                        n.score, bits=n.score.width + 1)
            sln = n.exp((qk - _column(new)).cast(n.difference))
            prm = n.exp((rm - new).cast(n.difference))
            spd = tally(o, "SPD", prm * rd, n.sum)
            sld = tally(o, "SLD", _sum(sln, 1), n.sum)
            rd = tally(o, "RD", spd + sld, n.sum)
            spnv = tally(o, "SPNV", _column(prm) * rnv, n.accumulator)
            weighted = Fixed(np.asarray(sln.raw)[:, :, None] * np.asarray(vt.raw)[None, :, :],
                             sln.fraction + vt.fraction, bits=sln.bits + vt.bits)
            slnv = tally(o, "SLNV", _sum(weighted, 1), n.accumulator)
            rnv = tally(o, "RNV", spnv + slnv, n.accumulator)
            rm = new
        scale = n.reciprocal(rd)
        return tally(o, "AV", rnv * _column(scale), n.io)
