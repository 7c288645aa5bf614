"""One transformer encoder layer (post-LayerNorm, as BERT and ViT's blocks), bit-accurate,
composed from the unit models: the golden model of the HLS encoder kernel.

``h = LN1(x + (attention((x Wq + bq) / sqrt(dh), x Wk + bk, x Wv + bv) Wo + bo))`` per head
of width dh, then ``out = LN2(h + GELU(h W1 + b1) W2 + b2)``. The 1/sqrt(dh) score scale is
folded into the Q projection (one rounding, as the FuseMax cascade assumes a scaled Q): the
exact ``x Wq + bq`` times the constant ``score_scale`` is assigned to the I/O type once.

>>> import numpy as np
>>> layer = EncoderLayer(heads=2, tile=4)
>>> rng = np.random.default_rng(0)
>>> weights = layer.random_weights(rng, model_dim=8, ffn_dim=16)
>>> x = Fixed.from_float(rng.normal(size=(5, 8)), layer.linear.io_type)
>>> y = layer(x, weights).to_float()
>>> y.shape, bool(np.abs(y.mean(axis=1)).max() < 0.3)
((5, 8), True)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from einsum import CascadeError

from ._attention import AttentionNumerics, TiledAttention
from ._fixed import Fixed, FixedType, tally
from ._gelu import GeluUnit
from ._layernorm import LayerNormUnit
from ._linear import LinearUnit

__all__ = ["ENCODER_ATTENTION", "WEIGHT_NAMES", "EncoderLayer"]

ENCODER_ATTENTION = AttentionNumerics(io=FixedType(32, 10), score=FixedType(40, 20),
                                      accumulator=FixedType(56, 28))
"""Attention types that take the linear unit's 32-bit activations unchanged."""

WEIGHT_NAMES = ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "w1", "b1", "w2", "b2",
                "gamma1", "beta1", "gamma2", "beta2")


@dataclass(frozen=True, kw_only=True)
class EncoderLayer:
    heads: int
    tile: int = 256
    linear: LinearUnit = field(default_factory=LinearUnit)
    attention: AttentionNumerics = ENCODER_ATTENTION
    gelu: GeluUnit = field(default_factory=GeluUnit)
    norm: LayerNormUnit = field(default_factory=LayerNormUnit)
    scale_scores: bool = True
    """Fold 1/sqrt(dh) into Q (BERT's and ViT's attention); False gives unscaled scores."""

    def __post_init__(self) -> None:
        if self.attention.io != self.linear.io_type or self.norm.io_type != self.linear.io_type \
                or self.gelu.io_type != self.linear.io_type:
            raise CascadeError("the encoder's attention, GELU and LayerNorm must use the "
                               "linear unit's I/O type")

    def saturating(self) -> EncoderLayer:
        """The same layer with every stored activation saturating (AP_SAT) instead of
        wrapping: the I/O type of every unit and the attention's scores and sums."""
        io = dataclasses.replace(self.linear.io_type, overflow="SAT")
        return dataclasses.replace(
            self, linear=dataclasses.replace(self.linear, io_type=io),
            attention=dataclasses.replace(self.attention.saturating(), io=io),
            gelu=dataclasses.replace(self.gelu, io_type=io),
            norm=dataclasses.replace(self.norm, io_type=io))

    @staticmethod
    def score_scale(head_dim: int) -> Fixed:
        """1/sqrt(head_dim) as ``ap_ufixed<18,0,AP_RND>`` (exact for a power-of-4 width,
        such as BERT's 64: 0.125)."""
        return Fixed.from_float([1.0 / math.sqrt(head_dim)],
                                FixedType(18, 0, signed=False, quantisation="RND"))

    def random_weights(self, rng: np.random.Generator, *, model_dim: int,
                       ffn_dim: int) -> dict[str, Fixed]:
        """Weights of plausible scale (std 1/sqrt(fan-in)) in the weight and I/O types."""
        if model_dim % self.heads:
            raise CascadeError(f"model_dim {model_dim} is not a multiple of {self.heads} heads")
        wt, io = self.linear.weight_type, self.linear.io_type
        shapes = {"wq": (model_dim, model_dim), "wk": (model_dim, model_dim),
                  "wv": (model_dim, model_dim), "wo": (model_dim, model_dim),
                  "w1": (model_dim, ffn_dim), "w2": (ffn_dim, model_dim)}
        out = {}
        for name in WEIGHT_NAMES:
            if name in shapes:
                fan_in = shapes[name][0]
                out[name] = Fixed.from_float(rng.normal(0, fan_in**-0.5, shapes[name]), wt)
            elif name.startswith("b"):
                width = ffn_dim if name == "b1" else model_dim
                out[name] = Fixed.from_float(rng.normal(0, 0.1, width), wt)
            elif name.startswith("gamma"):
                out[name] = Fixed.from_float(1 + rng.normal(0, 0.1, model_dim), io)
            else:
                out[name] = Fixed.from_float(rng.normal(0, 0.1, model_dim), io)
        return out

    def __call__(self, x: Fixed, weights: dict[str, Fixed], *,
                 overflows: dict[str, int] | None = None) -> Fixed:
        """The layer on ``x`` (T x D); ``overflows``, when given, counts per assignment
        (Q, K, V, the attention's QK ... AV over all heads, O, RES1, LN1.*, FF1, FF2, RES2,
        LN2.*) the values it wrapped or saturated."""
        io, o = self.linear.io_type, overflows
        x = x.cast(io)
        model_dim = x.shape[1]
        width = model_dim // self.heads
        scale = self.score_scale(width) if self.scale_scores else None
        q = self.linear(x, weights["wq"], weights["bq"], scale=scale, overflows=o, site="Q")
        k = self.linear(x, weights["wk"], weights["bk"], overflows=o, site="K")
        v = self.linear(x, weights["wv"], weights["bv"], overflows=o, site="V")
        attend = TiledAttention(tile=self.tile, numerics=self.attention)
        heads = [attend(q[:, h * width:(h + 1) * width], k[:, h * width:(h + 1) * width],
                        v[:, h * width:(h + 1) * width], overflows=o)
                 for h in range(self.heads)]
        joined = Fixed(np.concatenate([np.asarray(h.raw) for h in heads], axis=1), io.fraction,
                       io, bits=io.width + 1)
        projected = self.linear(joined, weights["wo"], weights["bo"], overflows=o, site="O")
        first = self.norm(tally(o, "RES1", x + projected, io), weights["gamma1"],
                          weights["beta1"], overflows=o, site="LN1")
        hidden = LinearUnit(io_type=io, weight_type=self.linear.weight_type, gelu=self.gelu)(
            first, weights["w1"], weights["b1"], overflows=o, site="FF1")
        second = self.linear(hidden, weights["w2"], weights["b2"], overflows=o, site="FF2")
        return self.norm(tally(o, "RES2", first + second, io), weights["gamma2"],
                         weights["beta2"], overflows=o, site="LN2")
