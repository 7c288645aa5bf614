"""The kernels an HLS project can hold: their sizes, types, parallelism (from a mapping),
template context and test vectors (from the Python golden models).

Each builder returns a :class:`Kernel`; the renderer turns it into files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from einsum import CascadeError, library_names, load
from mapper import search
from sim import (
    DEFAULT_SOFTMAX,
    WEIGHT_NAMES,
    Architecture,
    AttentionNumerics,
    EncoderLayer,
    Fixed,
    FixedType,
    GeluUnit,
    LinearUnit,
    OnlineSoftmax,
    TiledAttention,
    softmax_config,
)

from ._units import exact_sum, exp_context, gelu_context, layernorm_context, reciprocal_context

__all__ = ["KERNELS", "Kernel", "Port", "build_kernel"]


@dataclass(frozen=True)
class Port:
    name: str
    type: FixedType
    shape: tuple[int, ...]
    input: bool

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class Kernel:
    name: str
    title: str
    template: str
    top: str
    sizes: dict[str, int]
    types: dict[str, FixedType]
    ports: list[Port]
    context: dict[str, Any]
    units: dict[str, list[dict[str, Any]]]
    tables: list[dict[str, Any]]
    cases: dict[str, dict[str, Fixed]] = field(default_factory=dict)
    """Test vectors: per case, every port's values (inputs and expected outputs)."""
    parallelism: dict[str, int] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    """Extra templates rendered into ``src/`` (cores the kernel includes)."""


def _lanes(size: int, wanted: int) -> int:
    """An unroll factor: the unit's lanes, never more than the loop's trip count."""
    return max(1, min(size, wanted))


def _spatial(mapping: Any, arch: Architecture, einsum: str) -> dict[str, int]:
    binding = mapping.bindings[einsum]
    shape = arch.units[binding.unit].shape
    return {rank: shape[axis] for axis, rank in enumerate(binding.spatial)}


# ----- FuseMax tiled attention


@dataclass
class _AttentionCore:
    """What attention_core.h needs: parallelism from the mapping, types, units, tables."""

    tile: int
    par: dict[str, int]
    types: dict[str, FixedType]
    context: dict[str, Any]
    units: dict[str, list[dict[str, Any]]]
    tables: list[dict[str, Any]]


def _attention_core(arch: Architecture, sizes: dict[str, int],
                    n: AttentionNumerics) -> _AttentionCore:

    e, f, p, m = sizes["E"], sizes["F"], sizes["P"], sizes["M"]
    tile = min(sizes.get("M0", 256), m)
    found = search(load("fusemax"), arch, {"E": e, "F": f, "M": m, "P": p, "M0": tile},
                   batch=1, heads=1)
    qk, sln, slnv = (_spatial(found.mapping, arch, name) for name in ("QK", "SLN", "SLNV"))
    par = {"qk_p": _lanes(p, qk.get("P", 1)),
           "qk_e": _lanes(e, qk.get("E", 1)), "qk_m0": _lanes(tile, qk.get("M0", 1)),
           "sln_m0": _lanes(tile, sln.get("M0", 1)), "slnv_f": _lanes(f, slnv.get("F", 1)),
           "slnv_m0": _lanes(tile, slnv.get("M0", 1))}
    par["qk_ii"] = math.ceil(e / par["qk_e"])
    par["slnv_ii"] = math.ceil(tile / par["slnv_m0"])
    exp, exp_table = exp_context("exp_unit", n.exp)
    recip, recip_table = reciprocal_context("recip_unit", n.reciprocal)
    dot = exact_sum(2 * n.io.width, 2 * n.io.integer, e)
    exp_sum = exact_sum(n.weight.width, n.weight.integer, tile)
    nv = exact_sum(n.weight.width + n.io.width, n.weight.integer + n.io.integer, tile)
    bindings = found.mapping.bindings
    note = ", ".join(f"{name} on {bindings[name].unit} "
                     f"{'x'.join(map(str, arch.units[bindings[name].unit].shape))}"
                     f" over {','.join(bindings[name].spatial) or '-'}"
                     for name in ("QK", "SLN", "SLNV"))
    return _AttentionCore(
        tile=tile, par=par,
        types={"io_t": n.io, "score_t": n.score, "difference_t": n.difference,
               "exp_t": n.weight, "sum_t": n.sum, "acc_t": n.accumulator,
               "recip_t": n.reciprocal.out_type},
        context={"par": par, "mapping_note": note,
                 "acc": {"dot_w": dot[0], "dot_i": dot[1], "weight_sum_w": exp_sum[0],
                         "weight_sum_i": exp_sum[1], "nv_w": nv[0], "nv_i": nv[1]}},
        units={"exps": [exp], "reciprocals": [recip], "gelus": [], "layernorms": []},
        tables=[exp_table, recip_table])


def _attention(arch: Architecture, sizes: dict[str, int], rng: np.random.Generator,
               numerics: AttentionNumerics) -> Kernel:
    n = numerics
    core = _attention_core(arch, sizes, n)
    tile, par = core.tile, core.par
    e, f = sizes["E"], sizes["F"]
    kernel = Kernel(
        name="fusemax", title="FuseMax 1-pass tiled attention", template="attention.cpp.j2",
        headers=["attention_core.h.j2"],
        top="fusemax_attention", sizes={"P": sizes["P"], "M": sizes["M"], "E": e, "F": f,
                                        "M0": tile, "PQ": par["qk_p"]},
        types=core.types,
        ports=[Port("q", n.io, (sizes["P"], e), True), Port("k", n.io, (sizes["M"], e), True),
               Port("v", n.io, (sizes["M"], f), True), Port("av", n.io, (sizes["P"], f), False)],
        context={**core.context,
                 "depths": {"q": par["qk_p"] * e, "k": tile * e, "v": tile * f, "av": f}},
        units=core.units, tables=core.tables, parallelism=par)
    unit = TiledAttention(tile=tile, numerics=n)
    p, m = sizes["P"], sizes["M"]
    top = 2.0 ** (n.io.integer - 1) * 0.95
    inputs = {
        "random": (rng.normal(size=(p, e)), rng.normal(size=(m, e)), rng.normal(size=(m, f))),
        "large_scores": (rng.uniform(-top, top, (p, e)), rng.uniform(-top, top, (m, e)),
                         rng.normal(size=(m, f))),
        "very_negative": (np.full((p, e), top), -np.abs(rng.uniform(top / 2, top, (m, e))),
                          rng.normal(size=(m, f))),
        "all_equal": (rng.normal(size=(p, e)), np.repeat(rng.normal(size=(1, e)), m, axis=0),
                      rng.normal(size=(m, f))),
    }
    for case, (qv, kv, vv) in inputs.items():
        q, k, v = (Fixed.from_float(x, n.io) for x in (qv, kv, vv))
        kernel.cases[case] = {"q": q, "k": k, "v": v, "av": unit(q, k, v)}
    return kernel


# ----- Edge-MoE single-pass softmax


def _softmax(arch: Architecture, sizes: dict[str, int], rng: np.random.Generator,
             numerics: AttentionNumerics) -> Kernel:
    unit: OnlineSoftmax = softmax_config(*DEFAULT_SOFTMAX) if numerics.io.width <= 16 else \
        OnlineSoftmax()
    rows, keys = sizes["P"], sizes["M"]
    exp, exp_table = exp_context("exp_unit", unit.exp)
    recip, recip_table = reciprocal_context("recip_unit", unit.reciprocal)
    lanes = arch.units["softmax"].shape[0] if "softmax" in arch.units else 1
    initial = Fixed.constant(unit.initial_bias, unit.score_type, (1,))
    kernel = Kernel(
        name="softmax", title="Edge-MoE single-pass online softmax", template="softmax.cpp.j2",
        top="online_softmax", sizes={"ROWS": rows, "KEYS": keys},
        types={"score_t": unit.score_type, "difference_t": unit.difference_type,
               "weight_t": unit.exp.out_type, "sum_t": unit.sum_type,
               "recip_t": unit.reciprocal.out_type, "prob_t": unit.prob_type},
        ports=[Port("scores", unit.score_type, (rows, keys), True),
               Port("probs", unit.prob_type, (rows, keys), False)],
        context={"rows_in_parallel": _lanes(rows, lanes),
                 "initial_bias": repr(float(initial.to_float()[0]))},
        units={"exps": [exp], "reciprocals": [recip], "gelus": [], "layernorms": []},
        tables=[exp_table, recip_table], parallelism={"rows": _lanes(rows, lanes)})
    top = 2.0 ** (unit.score_type.integer - 1)
    inputs = {"random": rng.normal(0, 3, (rows, keys)),
              "large_scores": rng.uniform(-top, top * 0.99, (rows, keys)),
              "very_negative": -top * 0.99 + rng.uniform(0, 1, (rows, keys)),
              "all_equal": np.full((rows, keys), 1.5)}
    for case, values in inputs.items():
        scores = Fixed.from_float(values, unit.score_type)
        kernel.cases[case] = {"scores": scores, "probs": unit.probabilities(scores)}
    return kernel


# ----- GELU and the unified linear unit


def _gelu(arch: Architecture, sizes: dict[str, int], rng: np.random.Generator,
          numerics: AttentionNumerics) -> Kernel:
    unit = GeluUnit()
    count = sizes["N"]
    gelu, table = gelu_context("gelu_unit", unit)
    lanes = _lanes(count, arch.units["gelu"].shape[0] if "gelu" in arch.units else 1)
    kernel = Kernel(
        name="gelu", title="Edge-MoE GELU unit", template="gelu.cpp.j2", top="gelu_kernel",
        sizes={"N": count}, types={"io_t": unit.io_type},
        ports=[Port("x", unit.io_type, (count,), True),
               Port("y", unit.io_type, (count,), False)],
        context={"lanes": lanes},
        units={"exps": [], "reciprocals": [], "gelus": [gelu], "layernorms": []},
        tables=[table], parallelism={"lanes": lanes})
    io = unit.io_type
    inputs = {"random": rng.normal(0, 3, count),
              "edges": np.resize([io.min_raw * io.lsb, io.max_raw * io.lsb, 0.0, -5.5, 5.5,
                                  -5.5 + io.lsb, 5.5 - io.lsb, -io.lsb, io.lsb], count)}
    for case, values in inputs.items():
        x = Fixed.from_float(values, io)
        kernel.cases[case] = {"x": x, "y": unit(x)}
    return kernel


def _linear(arch: Architecture, sizes: dict[str, int], rng: np.random.Generator,
            numerics: AttentionNumerics, *, with_gelu: bool) -> Kernel:
    unit = LinearUnit(gelu=GeluUnit() if with_gelu else None)
    tokens, inner, outer = sizes["T"], sizes["K"], sizes["N"]
    shape = arch.units["linear"].shape if "linear" in arch.units else (1, 1)
    par = {"k": _lanes(inner, shape[0]), "n": _lanes(outer, shape[-1])}
    units: dict[str, list[dict[str, Any]]] = {"exps": [], "reciprocals": [], "gelus": [],
                                              "layernorms": []}
    tables = []
    if unit.gelu is not None:
        gelu, table = gelu_context("gelu_unit", unit.gelu)
        units["gelus"].append(gelu)
        tables.append(table)
    acc = exact_sum(unit.io_type.width + unit.weight_type.width,
                 unit.io_type.integer + unit.weight_type.integer, inner + 1)
    name = "linear_gelu" if with_gelu else "linear"
    kernel = Kernel(
        name=name, title="unified linear unit" + (" with GELU" if with_gelu else ""),
        template="linear.cpp.j2", headers=["linear_core.h.j2"], top=f"{name}_kernel",
        sizes={"T": tokens, "K": inner, "N": outer},
        types={"io_t": unit.io_type, "weight_t": unit.weight_type},
        ports=[Port("x", unit.io_type, (tokens, inner), True),
               Port("w", unit.weight_type, (inner, outer), True),
               Port("b", unit.weight_type, (outer,), True),
               Port("y", unit.io_type, (tokens, outer), False)],
        context={"lin": par, "acc": {"w": acc[0], "i": acc[1]}, "with_gelu": with_gelu},
        units=units, tables=tables, parallelism=par)
    wt = unit.weight_type
    top = wt.max_raw * wt.lsb
    inputs = {"random": (rng.normal(0, 2, (tokens, inner)), rng.normal(0, 0.2, (inner, outer)),
                         rng.normal(0, 0.5, outer)),
              "extremes": (np.resize([unit.io_type.min_raw * unit.io_type.lsb,
                                      unit.io_type.max_raw * unit.io_type.lsb], (tokens, inner)),
                           np.resize([top, -top], (inner, outer)), np.full(outer, top))}
    for case, (xv, wv, bv) in inputs.items():
        x, w, b = Fixed.from_float(xv, unit.io_type), Fixed.from_float(wv, wt), \
            Fixed.from_float(bv, wt)
        kernel.cases[case] = {"x": x, "w": w, "b": b, "y": unit(x, w, b)}
    return kernel


# ----- one encoder layer


def _encoder(arch: Architecture, sizes: dict[str, int], rng: np.random.Generator,
             numerics: AttentionNumerics) -> Kernel:
    tokens, width, heads, ffn = sizes["T"], sizes["D"], sizes["H"], sizes["FF"]
    if width % heads:
        raise CascadeError(f"D = {width} is not a multiple of H = {heads} heads")
    head = width // heads
    layer = EncoderLayer(heads=heads, tile=min(sizes.get("M0", 256), tokens))
    core = _attention_core(arch, {"P": tokens, "M": tokens, "E": head, "F": head,
                                  **({"M0": sizes["M0"]} if "M0" in sizes else {})},
                           layer.attention)
    lin = arch.units["linear"].shape if "linear" in arch.units else (1, 1)
    lin_par = {"k": _lanes(min(width, ffn), lin[0]), "n": _lanes(min(width, ffn), lin[-1])}
    gelu_lanes = _lanes(ffn, arch.units["gelu"].shape[0] if "gelu" in arch.units else 1)
    gelu, gelu_table = gelu_context("gelu_unit", layer.gelu)
    norm, norm_table = layernorm_context("layer_norm", layer.norm, width)
    io, wt = layer.linear.io_type, layer.linear.weight_type
    acc_d = exact_sum(io.width + wt.width, io.integer + wt.integer, width + 1)
    acc_ff = exact_sum(io.width + wt.width, io.integer + wt.integer, ffn + 1)
    blocks = math.ceil(tokens / core.par["qk_p"])
    shapes = {"wq": (width, width), "bq": (width,), "wk": (width, width), "bk": (width,),
              "wv": (width, width), "bv": (width,), "wo": (width, width), "bo": (width,),
              "w1": (width, ffn), "b1": (ffn,), "w2": (ffn, width), "b2": (width,),
              "gamma1": (width,), "beta1": (width,), "gamma2": (width,), "beta2": (width,)}
    ports = [Port("x", io, (tokens, width), True),
             *(Port(n, io if n.startswith(("gamma", "beta")) else wt, shapes[n], True)
               for n in WEIGHT_NAMES),
             Port("y", io, (tokens, width), False)]
    par = {**{f"attention_{k}": v for k, v in core.par.items()},
           **{f"linear_{k}": v for k, v in lin_par.items()}, "gelu": gelu_lanes}
    kernel = Kernel(
        name="encoder", title="one transformer encoder layer", template="encoder.cpp.j2",
        headers=["attention_core.h.j2", "linear_core.h.j2"], top="encoder_layer",
        sizes={"T": tokens, "D": width, "H": heads, "DH": head, "FF": ffn, "P": tokens,
               "M": tokens, "E": head, "F": head, "M0": core.tile, "PQ": core.par["qk_p"]},
        types={**core.types, "weight_t": wt}, ports=ports,
        context={**core.context, "lin": lin_par, "gelu_lanes": gelu_lanes,
                 "acc_d": {"w": acc_d[0], "i": acc_d[1]},
                 "acc_ff": {"w": acc_ff[0], "i": acc_ff[1]},
                 "depths": {"q_head": tokens * head, "k_head": blocks * tokens * head,
                            "av_head": tokens * head, "tokens": tokens * width,
                            "row": width}},
        units={**core.units, "gelus": [gelu], "layernorms": [norm]},
        tables=[*core.tables, gelu_table, norm_table], parallelism=par)
    weights = layer.random_weights(rng, model_dim=width, ffn_dim=ffn)
    inputs = {"random": rng.normal(0, 1, (tokens, width)),
              "large_inputs": rng.uniform(-30, 30, (tokens, width))}
    for case, values in inputs.items():
        x = Fixed.from_float(values, io)
        kernel.cases[case] = {"x": x, **weights, "y": layer(x, weights)}
    return kernel


KERNELS: dict[str, tuple[tuple[str, ...], Callable[..., Kernel]]] = {
    "fusemax": (("P", "M", "E", "F"), _attention),
    "softmax": (("P", "M"), _softmax),
    "gelu": (("N",), _gelu),
    "linear": (("T", "K", "N"), lambda *a: _linear(*a, with_gelu=False)),
    "linear_gelu": (("T", "K", "N"), lambda *a: _linear(*a, with_gelu=True)),
    "encoder": (("T", "D", "H", "FF"), _encoder),
}
"""Kernel name -> (sizes it needs, builder)."""


def check_kernel(name: str) -> None:
    """Refuse a name that is not an HLS kernel; a cascade (a library algorithm or a file)
    is told plainly that only the hand-built kernels can be emitted."""
    if name in KERNELS:
        return
    if name in library_names() or name.endswith((".cascade", ".yaml", ".yml")):
        raise CascadeError(f"emit-hls cannot emit the cascade {name}: HLS templates exist "
                           f"only for the kernels {', '.join(KERNELS)} (cost a cascade with "
                           "cascade map; fusemax is the attention kernel)")
    raise CascadeError(f"unknown HLS kernel {name!r}; known: {', '.join(KERNELS)}")


def build_kernel(name: str, arch: Architecture, sizes: dict[str, int], *, seed: int = 0,
                 numerics: AttentionNumerics | None = None) -> Kernel:
    check_kernel(name)
    needed, builder = KERNELS[name]
    missing = [r for r in needed if r not in sizes]
    if missing:
        raise CascadeError(f"kernel {name} needs sizes {', '.join(needed)}; missing "
                           f"{', '.join(missing)}")
    return builder(arch, sizes, np.random.default_rng(seed), numerics or AttentionNumerics())
