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

from einsum import CascadeError, load
from mapper import Architecture
from sim._attention import AttentionNumerics, TiledAttention
from sim._fixed import Fixed, FixedType
from sim._gelu import GeluUnit
from sim._linear import LinearUnit
from sim._softmax import DEFAULT_SOFTMAX, OnlineSoftmax, softmax_config

from ._units import exp_context, gelu_context, reciprocal_context

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


def _exact(width: int, integer: int, terms: int) -> tuple[int, int]:
    """Width and integer bits of an exact sum of ``terms`` values of a type."""
    grow = max(1, math.ceil(math.log2(terms))) + 1 if terms > 1 else 1
    return width + grow, integer + grow


def _spatial(mapping: Any, arch: Architecture, einsum: str) -> dict[str, int]:
    binding = mapping.bindings[einsum]
    shape = arch.units[binding.unit].shape
    return {rank: shape[axis] for axis, rank in enumerate(binding.spatial)}


# ----- FuseMax tiled attention


def _attention(arch: Architecture, sizes: dict[str, int], rng: np.random.Generator,
               numerics: AttentionNumerics) -> Kernel:
    from mapper._search import search

    cascade = load("fusemax")
    shapes = {r: sizes[r] for r in ("E", "F", "M", "P")}
    tile = min(sizes.get("M0", 256), sizes["M"])
    found = search(cascade, arch, {**shapes, "M0": tile}, batch=1, heads=1)
    qk, sln, slnv = (_spatial(found.mapping, arch, n) for n in ("QK", "SLN", "SLNV"))
    e, f = sizes["E"], sizes["F"]
    par = {"qk_p": _lanes(sizes["P"], qk.get("P", 1)),
           "qk_e": _lanes(e, qk.get("E", 1)), "qk_m0": _lanes(tile, qk.get("M0", 1)),
           "sln_m0": _lanes(tile, sln.get("M0", 1)), "slnv_f": _lanes(f, slnv.get("F", 1)),
           "slnv_m0": _lanes(tile, slnv.get("M0", 1))}
    par["qk_ii"] = math.ceil(e / par["qk_e"])
    par["slnv_ii"] = math.ceil(tile / par["slnv_m0"])
    n = numerics
    exp, exp_table = exp_context("exp_unit", n.exp)
    recip, recip_table = reciprocal_context("recip_unit", n.reciprocal)
    dot = _exact(2 * n.io.width, 2 * n.io.integer, e)
    weight_sum = _exact(n.weight.width, n.weight.integer, tile)
    nv = _exact(n.weight.width + n.io.width, n.weight.integer + n.io.integer, tile)
    types = {"io_t": n.io, "score_t": n.score, "difference_t": n.difference,
             "weight_t": n.weight, "sum_t": n.sum, "acc_t": n.accumulator,
             "recip_t": n.reciprocal.out_type}
    note = ", ".join(f"{name} on {found.mapping.bindings[name].unit} "
                     f"{'x'.join(map(str, arch.units[found.mapping.bindings[name].unit].shape))}"
                     f" over {','.join(found.mapping.bindings[name].spatial) or '-'}"
                     for name in ("QK", "SLN", "SLNV"))
    kernel = Kernel(
        name="fusemax", title="FuseMax 1-pass tiled attention", template="attention.cpp.j2",
        headers=["attention_core.h.j2"],
        top="fusemax_attention", sizes={"P": sizes["P"], "M": sizes["M"], "E": e, "F": f,
                                        "M0": tile, "PQ": par["qk_p"]},
        types=types,
        ports=[Port("q", n.io, (sizes["P"], e), True), Port("k", n.io, (sizes["M"], e), True),
               Port("v", n.io, (sizes["M"], f), True), Port("av", n.io, (sizes["P"], f), False)],
        context={"par": par, "mapping_note": note,
                 "acc": {"dot_w": dot[0], "dot_i": dot[1], "weight_sum_w": weight_sum[0],
                         "weight_sum_i": weight_sum[1], "nv_w": nv[0], "nv_i": nv[1]},
                 "depths": {"q": par["qk_p"] * e, "k": tile * e, "v": tile * f, "av": f}},
        units={"exps": [exp], "reciprocals": [recip], "gelus": []},
        tables=[exp_table, recip_table], parallelism=par)
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
        units={"exps": [exp], "reciprocals": [recip], "gelus": []},
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
        context={"lanes": lanes}, units={"exps": [], "reciprocals": [], "gelus": [gelu]},
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
    units: dict[str, list[dict[str, Any]]] = {"exps": [], "reciprocals": [], "gelus": []}
    tables = []
    if unit.gelu is not None:
        gelu, table = gelu_context("gelu_unit", unit.gelu)
        units["gelus"].append(gelu)
        tables.append(table)
    acc = _exact(unit.io_type.width + unit.weight_type.width,
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


KERNELS: dict[str, tuple[tuple[str, ...], Callable[..., Kernel]]] = {
    "fusemax": (("P", "M", "E", "F"), _attention),
    "softmax": (("P", "M"), _softmax),
    "gelu": (("N",), _gelu),
    "linear": (("T", "K", "N"), lambda *a: _linear(*a, with_gelu=False)),
    "linear_gelu": (("T", "K", "N"), lambda *a: _linear(*a, with_gelu=True)),
}
"""Kernel name -> (sizes it needs, builder)."""


def build_kernel(name: str, arch: Architecture, sizes: dict[str, int], *, seed: int = 0,
                 numerics: AttentionNumerics | None = None) -> Kernel:
    if name not in KERNELS:
        raise CascadeError(f"unknown HLS kernel {name!r}; known: {', '.join(KERNELS)}")
    needed, builder = KERNELS[name]
    missing = [r for r in needed if r not in sizes]
    if missing:
        raise CascadeError(f"kernel {name} needs sizes {', '.join(needed)}; missing "
                           f"{', '.join(missing)}")
    return builder(arch, sizes, np.random.default_rng(seed), numerics or AttentionNumerics())
