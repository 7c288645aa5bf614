"""One transformer encoder layer (post-LayerNorm, as BERT and ViT's blocks), bit-accurate,
composed from the unit models: the golden model of the HLS encoder kernel.

``h = LN1(x + (attention(x Wq + bq, x Wk + bk, x Wv + bv) Wo + bo))`` per head, then
``out = LN2(h + GELU(h W1 + b1) W2 + b2)``.

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

from dataclasses import dataclass, field

import numpy as np

from einsum import CascadeError

from ._attention import AttentionNumerics, TiledAttention
from ._fixed import Fixed, FixedType
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

    def __post_init__(self) -> None:
        if self.attention.io != self.linear.io_type or self.norm.io_type != self.linear.io_type \
                or self.gelu.io_type != self.linear.io_type:
            raise CascadeError("the encoder's attention, GELU and LayerNorm must use the "
                               "linear unit's I/O type")

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

    def __call__(self, x: Fixed, weights: dict[str, Fixed]) -> Fixed:
        io = self.linear.io_type
        x = x.cast(io)
        model_dim = x.shape[1]
        width = model_dim // self.heads
        q, k, v = (self.linear(x, weights[f"w{n}"], weights[f"b{n}"]) for n in "qkv")
        attend = TiledAttention(tile=self.tile, numerics=self.attention)
        heads = [attend(q[:, h * width:(h + 1) * width], k[:, h * width:(h + 1) * width],
                        v[:, h * width:(h + 1) * width]) for h in range(self.heads)]
        joined = Fixed(np.concatenate([np.asarray(h.raw) for h in heads], axis=1), io.fraction,
                       io, bits=io.width + 1)
        projected = self.linear(joined, weights["wo"], weights["bo"])
        first = self.norm((x + projected).cast(io), weights["gamma1"], weights["beta1"])
        hidden = LinearUnit(io_type=io, weight_type=self.linear.weight_type, gelu=self.gelu)(
            first, weights["w1"], weights["b1"])
        second = self.linear(hidden, weights["w2"], weights["b2"])
        return self.norm((first + second).cast(io), weights["gamma2"], weights["beta2"])
