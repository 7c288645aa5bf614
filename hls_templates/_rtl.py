"""Verilog for the datapath units (jinja2 templates in ``rtl/``), from the same Python models
the HLS C++ is checked against.

>>> import tempfile
>>> from pathlib import Path
>>> out = Path(tempfile.mkdtemp()) / "exp"
>>> emit_rtl("exp", {}, out=out)["files"]
['cascade_rtl.json', 'exp_unit.v', 'lerp.v']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from einsum import CascadeError, staged_folder
from sim import (
    AttentionNumerics,
    ExpUnit,
    Fixed,
    FixedType,
    GeluUnit,
    OnlineSoftmax,
    ReciprocalUnit,
    TiledAttention,
    softmax_config,
)

from ._rtl_unit import RtlError, RtlUnit
from ._units import words
from ._verilator import lint, run_testbench

__all__ = ["ENGINE_CASES", "RTL_UNITS", "STREAMING_EINSUMS", "RtlError", "RtlUnit", "emit_rtl",
           "engine_sizes", "engine_streams", "engine_vectors", "rtl_unit", "unit_params",
           "unit_vectors"]


def _environment() -> jinja2.Environment:
    folder = resources.files("hls_templates").joinpath("rtl")
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)


def _int_param(params: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = params.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RtlError(f"parameter {key} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise RtlError(f"parameter {key} must be {low}..{high}, not {number}")
    return number


def _lerp() -> str:
    return resources.files("hls_templates").joinpath("rtl", "lerp.v").read_text()


# ----- exp


def exp_unit(params: dict[str, Any]) -> ExpUnit:
    width = _int_param(params, "width", 16, 8, 40)
    integer = _int_param(params, "integer", 6, 2, width - 4)
    table_bits = _int_param(params, "table_bits", 6, 2, 10)
    if width - integer - 1 <= table_bits:
        raise RtlError(f"exp: {width - integer} fraction bits leave no weight after "
                       f"{table_bits} index bits")
    return ExpUnit(in_type=FixedType(width + 1, integer + 1),
                   out_type=FixedType(width, 1, signed=False), table_bits=table_bits)


def exp_verilog(unit: ExpUnit, *, name: str = "exp_unit", side_w: int = 0) -> str:
    log2e_type = FixedType(unit.log2e_bits + 2, 2, signed=False, quantisation="RND")
    log2e = Fixed.from_float([math.log2(math.e)], log2e_type)
    in_t, out_t, table_t = unit.in_type, unit.out_type, unit.table_type
    table_w, out_w = table_t.width, out_t.width
    shifted = ("power_shifted" if out_w == table_w else
               f"{{{out_w - table_w}'d0, power_shifted}}" if out_w > table_w else
               f"power_shifted[{out_w - 1}:0]")
    context = {
        "name": name, "side_w": side_w, "entries": len(unit.table),
        "table_bits": unit.table_bits, "table": words(unit.table), "in_t": in_t.c_type(),
        "out_t": out_t.c_type(), "table_t": table_t.c_type(), "in_w": in_t.width,
        "in_f": in_t.fraction, "out_w": out_w, "table_w": table_w, "n_w": in_t.integer + 1,
        "weight_w": in_t.fraction - unit.table_bits, "log2e": words(log2e)[0],
        "log2e_f": log2e_type.fraction, "product_w": in_t.width + 1 + log2e_type.width,
        "shifted": shifted,
    }
    return _environment().get_template("exp_unit.v.j2").render(context)


def _exp(params: dict[str, Any]) -> RtlUnit:
    unit = exp_unit(params)
    files = {"exp_unit.v": exp_verilog(unit), "lerp.v": _lerp()}
    return RtlUnit("exp", "exp_unit", files,
                   {"in_type": str(unit.in_type), "out_type": str(unit.out_type),
                    "table_bits": unit.table_bits, "latency": 3, **params})


# ----- reciprocal


def reciprocal_unit(params: dict[str, Any]) -> ReciprocalUnit:
    width = _int_param(params, "width", 32, 8, 48)
    integer = _int_param(params, "integer", 14, 1, width - 1)
    out_width = _int_param(params, "out_width", 32, 8, 48)
    table_bits = _int_param(params, "table_bits", 6, 2, 10)
    if width <= table_bits:
        raise RtlError(f"reciprocal: width {width} must exceed table_bits {table_bits}")
    return ReciprocalUnit(in_type=FixedType(width, integer, signed=False),
                          out_type=FixedType(out_width, 2, signed=False),
                          table_bits=table_bits)


def reciprocal_verilog(unit: ReciprocalUnit, *, name: str = "reciprocal_unit",
                       side_w: int = 0) -> str:
    in_t, out_t, table_t = unit.in_type, unit.out_type, unit.table_type
    if in_t.signed:
        raise RtlError("the reciprocal unit takes an unsigned input (a sum)")
    top_w = in_t.width.bit_length()
    context = {
        "name": name, "side_w": side_w, "entries": len(unit.table),
        "table_bits": unit.table_bits, "table": words(unit.table), "in_t": in_t.c_type(),
        "out_t": out_t.c_type(), "table_t": table_t.c_type(), "in_w": in_t.width,
        "in_f": in_t.fraction, "out_w": out_t.width, "out_max": out_t.max_raw,
        "table_w": table_t.width, "top_w": top_w, "power_w": top_w + 2,
        "weight_w": in_t.width - unit.table_bits,
        "wide_w": table_t.width + max(in_t.fraction, 0) + 1,
    }
    return _environment().get_template("reciprocal_unit.v.j2").render(context)


def _reciprocal(params: dict[str, Any]) -> RtlUnit:
    unit = reciprocal_unit(params)
    files = {"reciprocal_unit.v": reciprocal_verilog(unit), "lerp.v": _lerp()}
    return RtlUnit("reciprocal", "reciprocal_unit", files,
                   {"in_type": str(unit.in_type), "out_type": str(unit.out_type),
                    "table_bits": unit.table_bits, "latency": 3, **params})


# ----- GELU


def gelu_unit(params: dict[str, Any]) -> GeluUnit:
    width = _int_param(params, "width", 32, 12, 40)
    integer = _int_param(params, "integer", 10, 4, width - 6)
    step_bits = _int_param(params, "step_bits", 5, 2, 8)
    if width - integer <= step_bits:
        raise RtlError(f"gelu: {width - integer} fraction bits leave no weight after "
                       f"step_bits {step_bits}")
    return GeluUnit(io_type=FixedType(width, integer), step_bits=step_bits)


def _gelu(params: dict[str, Any]) -> RtlUnit:
    unit = gelu_unit(params)
    io, table_t = unit.io_type, unit.table_type
    context = {
        "name": "gelu_unit", "entries": unit.entries, "step_bits": unit.step_bits,
        "table": words(unit.table), "io_t": io.c_type(), "table_t": table_t.c_type(),
        "io_w": io.width, "table_w": table_t.width,
        "index_w": (unit.entries - 1).bit_length() + 1,
        "weight_w": io.fraction - unit.step_bits,
    }
    files = {"gelu_unit.v": _environment().get_template("gelu_unit.v.j2").render(context),
             "lerp.v": _lerp()}
    return RtlUnit("gelu", "gelu_unit", files,
                   {"io_type": str(io), "step_bits": unit.step_bits, "latency": 3, **params})


# ----- the online softmax


def softmax_unit(params: dict[str, Any]) -> OnlineSoftmax:
    width = _int_param(params, "width", 16, 12, 32)
    table_bits = _int_param(params, "table_bits", 6, 3, 8)
    return softmax_config(width, table_bits)


def _fit(expr: str, width: int, target: int) -> str:
    """An unsigned ``width``-bit expression zero-extended or cut to ``target`` bits."""
    if width == target:
        return expr
    return f"{{{target - width}'d0, {expr}}}" if width < target else f"{expr}[{target - 1}:0]"


def _softmax(params: dict[str, Any]) -> RtlUnit:
    unit = softmax_unit(params)
    score, total, weight = unit.score_type, unit.sum_type, unit.exp.out_type
    shift = weight.fraction - total.fraction
    if shift >= 0:
        weight_as_sum = _fit(f"weight[{weight.width - 1}:{shift}]", weight.width - shift,
                             total.width)
    else:
        weight_as_sum = _fit(f"{{weight, {-shift}'d0}}", weight.width - shift, total.width)
    initial = Fixed.constant(unit.initial_bias, score, (1,))
    context = {
        "name": "softmax_unit", "exp_name": "softmax_exp", "recip_name": "softmax_recip",
        "score_t": score.c_type(), "sum_t": total.c_type(), "score_w": score.width,
        "diff_w": score.width + 1, "weight_w": weight.width, "weight_f": weight.fraction,
        "sum_w": total.width, "product_w": total.width + weight.width,
        "sum_one": 1 << total.fraction, "weight_as_sum": weight_as_sum,
        "recip_w": unit.reciprocal.out_type.width, "initial_bias": words(initial)[0],
    }
    files = {
        "softmax_unit.v": _environment().get_template("softmax_unit.v.j2").render(context),
        "softmax_exp.v": exp_verilog(unit.exp, name="softmax_exp", side_w=score.width + 2),
        "softmax_recip.v": reciprocal_verilog(unit.reciprocal, name="softmax_recip",
                                              side_w=score.width),
        "lerp.v": _lerp(),
    }
    return RtlUnit("softmax", "softmax_unit", files,
                   {"score_type": str(score), "sum_type": str(total),
                    "recip_type": str(unit.reciprocal.out_type), "latency": 7, **params})


def softmax_vectors(params: dict[str, Any], rows: list[np.ndarray]
                    ) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """Score words, last flags, and per row the expected (bias, 1/sum) words."""
    unit = softmax_unit(params)
    t = unit.score_type
    stream: list[int] = []
    last: list[int] = []
    expected: list[tuple[int, int]] = []
    for row in rows:
        scores = Fixed.from_float(row[None, :], t)
        recip, bias = unit.statistics(scores)
        stream += words(scores)
        last += [0] * (len(row) - 1) + [1]
        expected.append((words(bias, t)[0], words(recip, unit.reciprocal.out_type)[0]))
    return stream, last, expected


# ----- the 2D systolic array and the 1D vector array


def _type_param(params: dict[str, Any], key: str, default: str) -> FixedType:
    text = str(params.get(key, default))
    try:
        return FixedType.parse(text)
    except CascadeError as error:
        raise RtlError(f"parameter {key}: {error.message}") from None


def systolic_types(params: dict[str, Any]) -> tuple[int, int, FixedType, FixedType, int]:
    """(rows, cols, A type, B type, accumulator width) of a systolic array: exact sums of up
    to ``max_k`` products of the operands (an unsigned operand gets a zero sign bit)."""
    rows = _int_param(params, "rows", 4, 1, 32)
    cols = _int_param(params, "cols", 4, 1, 32)
    a = _type_param(params, "a", "ap_fixed<16,6>")
    b = _type_param(params, "b", "ap_fixed<16,6>")
    depth = systolic_depth(params)
    return rows, cols, a, b, a.width + b.width + depth.bit_length() + 1


def systolic_depth(params: dict[str, Any]) -> int:
    """``max_k``: the most beats (products) one accumulation is exact for."""
    return _int_param(params, "max_k", 4096, 1, 1 << 20)


def _operand(t: FixedType, port: str, index: str) -> tuple[int, str]:
    """(width inside the array, the lane as a signed expression) of an operand type."""
    lane = f"{port}[{index} * {t.width} +: {t.width}]"
    return (t.width, lane) if t.signed else (t.width + 1, f"{{1'b0, {lane}}}")


def systolic_verilog(*, name: str, rows: int, cols: int, a: FixedType, b: FixedType,
                     acc_w: int, max_k: int) -> str:
    drain = rows + cols - 2
    ai_w, a_in = _operand(a, "in_a", "r")
    bi_w, b_in = _operand(b, "in_b", "c")
    if acc_w < ai_w + bi_w:
        raise RtlError(f"systolic array: a {acc_w}-bit accumulator cannot hold a "
                       f"{ai_w} x {bi_w}-bit product")
    return _environment().get_template("systolic_array.v.j2").render(
        {"name": name, "rows": rows, "cols": cols, "a_w": a.width, "b_w": b.width,
         "ai_w": ai_w, "bi_w": bi_w, "a_in": a_in, "b_in": b_in, "a_t": a.c_type(),
         "b_t": b.c_type(), "acc_w": acc_w, "drain": drain,
         "count_w": max(drain, 1).bit_length() + 1, "row_w": max(rows - 1, 1).bit_length(),
         "max_k": max_k, "k_w": (max_k + 1).bit_length()})


def _mac_pe() -> str:
    return resources.files("hls_templates").joinpath("rtl", "mac_pe.v").read_text()


def _systolic(params: dict[str, Any]) -> RtlUnit:
    rows, cols, a, b, acc_w = systolic_types(params)
    max_k = systolic_depth(params)
    files = {"systolic_array.v": systolic_verilog(name="systolic_array", rows=rows, cols=cols,
                                                  a=a, b=b, acc_w=acc_w, max_k=max_k),
             "mac_pe.v": _mac_pe()}
    return RtlUnit("systolic", "systolic_array", files,
                   {"rows": rows, "cols": cols, "acc_w": acc_w, "drain": rows + cols - 2,
                    "a_type": str(a), "b_type": str(b), "max_k": max_k})


def vector_types(params: dict[str, Any]) -> tuple[int, FixedType, FixedType, FixedType]:
    lanes = _int_param(params, "lanes", 8, 1, 256)
    a = _type_param(params, "a", "ap_fixed<32,14>")
    b = _type_param(params, "b", "ap_ufixed<18,1>")
    y = _type_param(params, "y", "ap_fixed<32,14>")
    if a.fraction + b.fraction < y.fraction:
        raise RtlError("vector array: a*b needs at least the fraction bits of y")
    if a.fraction != y.fraction or a.width > y.width:
        raise RtlError("vector array: max(a, c) needs a with y's fraction and no more bits")
    if not y.signed:
        raise RtlError("vector array: y (and c) must be a signed type (ap_fixed)")
    return lanes, a, b, y


def _vector(params: dict[str, Any]) -> RtlUnit:
    lanes, a, b, y = vector_types(params)
    b_w = b.width + (0 if b.signed else 1)  # an unsigned b gets a zero sign bit
    ai_w = a.width + (0 if a.signed else 1)  # so does an unsigned a, inside the lane
    extend = f"a_raw[{a.width - 1}]" if a.signed else "1'b0"
    a_as_y = "a_raw" if a.width == y.width else \
        f"{{{{{y.width - a.width}{{{extend}}}}}, a_raw}}"
    context = {"name": "vector_array", "lanes": lanes, "a_w": a.width, "b_w": b_w,
               "ai_w": ai_w, "a_signed": "a_raw" if a.signed else "{1'b0, a_raw}",
               "y_w": y.width, "wide_w": max(ai_w + b_w + 1, y.width),
               "shift": a.fraction + b.fraction - y.fraction, "a_as_y": a_as_y,
               "a_t": a.c_type(), "b_t": b.c_type(), "y_t": y.c_type()}
    files = {"vector_array.v": _environment().get_template("vector_array.v.j2")
             .render(context)}
    return RtlUnit("vector", "vector_array", files,
                   {"lanes": lanes, "a_type": str(a), "b_type": str(b), "y_type": str(y),
                    "b_w": b_w, "latency": 1})


# ----- the streaming attention engine


ENGINE_LIMITS = {"p": (4, 1, 16), "m0": (16, 1, 64), "e": (64, 1, 128), "f": (64, 1, 128),
                 "m": (256, 1, 1 << 20)}
"""Each engine parameter's (default, least, most)."""


def engine_sizes(params: dict[str, Any]) -> dict[str, int]:
    """P, M0, E, F and M of an engine, checked (one-line errors)."""
    return {key: _int_param(params, key, *limits) for key, limits in ENGINE_LIMITS.items()}


def _bits(count: int) -> int:
    """Index bits for ``count`` items (at least one)."""
    return max(1, (count - 1).bit_length())


_DISTRIBUTED_BITS = 2048
"""A RAM of at most this many bits is left to LUTs (as sim/_resources.py costs it)."""


def _max_tree(p: int, m0: int, last_keys: int, score_w: int) -> str:
    """Per query row, the maximum of the dumped tile's scores over its keys: a tree of
    comparisons (lanes past the last tile's keys count as the most negative score)."""
    lowest = f"{{1'b1, {score_w - 1}'d0}}"
    lines = []
    for row in range(p):
        level = []
        for j in range(m0):
            value = f"acc_cast[{(row * m0 + j) * score_w} +: {score_w}]"
            if j >= last_keys:
                value = f"acc_tlast ? {lowest} : {value}"
            name = f"lm{row}_0_{j}"
            lines.append(f"    wire signed [{score_w - 1}:0] {name} = {value};")
            level.append(name)
        depth = 0
        while len(level) > 1:
            depth += 1
            up = []
            for i in range(0, len(level) - 1, 2):
                name = f"lm{row}_{depth}_{i // 2}"
                a, b = level[i], level[i + 1]
                lines.append(f"    wire signed [{score_w - 1}:0] {name} = {a} > {b} ? {a} : {b};")
                up.append(name)
            if len(level) % 2:
                up.append(level[-1])
            level = up
        lines.append(f"    assign lm[{row * score_w} +: {score_w}] = {level[0]};")
    return "\n".join(lines)


def _balanced_sum(terms: list[str]) -> str:
    if len(terms) == 1:
        return terms[0]
    half = (len(terms) + 1) // 2
    return f"({_balanced_sum(terms[:half])} + {_balanced_sum(terms[half:])})"


def _engine(params: dict[str, Any]) -> RtlUnit:
    n = AttentionNumerics()
    z = engine_sizes(params)
    p, m0, e, f, m = z["p"], z["m0"], z["e"], z["f"], z["m"]
    io, score, weight, total, acc = n.io, n.score, n.weight, n.sum, n.accumulator
    recip_t = n.reciprocal.out_type
    tiles = -(-m // m0)
    last_keys = m - (tiles - 1) * m0
    qk_acc_w = 2 * io.width + e.bit_length()        # exact: |sum| <= E 2^(2 io_w - 2)
    qk_shift = 2 * io.fraction - score.fraction
    nvp_w = weight.width + 1 + io.width             # an unsigned weight times a signed value
    nv_shift = weight.fraction + io.fraction - acc.fraction
    nv_wide_w = max(nvp_w + m0.bit_length(), nv_shift + acc.width)
    sum_shift = total.fraction - weight.fraction
    sld_w = weight.width + m0.bit_length()
    if min(qk_shift, nv_shift, sum_shift) < 0:
        raise RtlError("the engine's types must not gain fraction bits in a cast")
    sld = f"{{sld_exact, {sum_shift}'d0}}" if sum_shift else "sld_exact"
    dot_w = max(qk_acc_w, qk_shift + score.width)
    dot_ext = "acc" if dot_w == qk_acc_w else \
        f"{{{{{dot_w - qk_acc_w}{{acc[{qk_acc_w - 1}]}}}}, acc}}"
    nv_ext = nv_wide_w - nvp_w
    nv_terms = "\n".join(
        f"            wire signed [{nv_wide_w - 1}:0] t{j} = {{{{{nv_ext}{{nv_prod[(gp * {m0}"
        f" + {j}) * {nvp_w} + {nvp_w - 1}]}}}}, nv_prod[(gp * {m0} + {j}) * {nvp_w} +: "
        f"{nvp_w}]}};" for j in range(m0))
    o_depth = 8
    name = "attention_engine"
    context = {
        "name": name, **z, "tiles": tiles, "last_keys": last_keys,
        "io_t": io.c_type(), "score_t": score.c_type(), "weight_t": weight.c_type(),
        "sum_t": total.c_type(), "acc_t": acc.c_type(), "recip_t": recip_t.c_type(),
        "io_w": io.width, "score_w": score.width, "diff_w": score.width + 1,
        "weight_w": weight.width, "weight_f": weight.fraction, "sum_w": total.width,
        "acc_w": acc.width, "recip_w": recip_t.width,
        "qk_acc_w": qk_acc_w, "qk_shift": qk_shift, "dot_w": dot_w, "dot_ext": dot_ext,
        "nvp_w": nvp_w, "nv_shift": nv_shift, "nv_wide_w": nv_wide_w,
        "nv_terms": nv_terms, "nv_tree": _balanced_sum([f"t{j}" for j in range(m0)]),
        "sp_w": acc.width + weight.width + 1, "spd_w": total.width + weight.width,
        "sld_w": sld_w, "sld_as_sum": _fit(sld, sld_w + sum_shift, total.width),
        "av_w": acc.width + recip_t.width + 1,
        "av_shift": acc.fraction + recip_t.fraction - io.fraction,
        "e_w": _bits(e), "qc_w": e.bit_length(), "t_w": _bits(tiles), "f_w": _bits(f),
        "x_w": m0.bit_length(), "p_w": _bits(p), "o_depth": o_depth,
        "o_w": o_depth.bit_length(),
        "q_style": "block" if e * p * io.width > _DISTRIBUTED_BITS else "distributed",
        "rnv_style": "block" if f * p * acc.width > _DISTRIBUTED_BITS else "distributed",
        "max_tree": _max_tree(p, m0, last_keys, score.width),
    }
    files = {
        f"{name}.v": _environment().get_template("attention_engine.v.j2").render(context),
        f"{name}_exp.v": exp_verilog(n.exp, name=f"{name}_exp", side_w=m0.bit_length() + 1),
        f"{name}_recip.v": reciprocal_verilog(n.reciprocal, name=f"{name}_recip",
                                              side_w=_bits(p) + 1),
        "lerp.v": _lerp(),
    }
    return RtlUnit("engine", name, files,
                   {**z, "tiles": tiles, "io_type": str(io),
                    "q_ram": context["q_style"], "rnv_ram": context["rnv_style"]})


ENGINE_CASES = ("random", "large_scores", "very_negative", "all_equal", "extremes",
                "largest", "smallest")
"""Test vectors of the engine: normal values; large scores; very negative scores; equal keys;
operands drawn from the two ends of the I/O type; every operand its largest or smallest
value."""


def engine_vectors(params: dict[str, Any], case: str, seed: int) -> dict[str, list[int]]:
    """One run's Q (P x E), K (M x E), V (M x F) and the golden model's AV (P x F), as
    row-major I/O words (sim/_attention.py's TiledAttention with tile M0)."""
    z = engine_sizes(params)
    n = AttentionNumerics()
    t = n.io
    rng = np.random.default_rng(seed)
    p, m, e, f = z["p"], z["m"], z["e"], z["f"]
    top = 2.0 ** (t.integer - 1) * 0.95
    shapes = ((p, e), (m, e), (m, f))
    if case in ("extremes", "largest", "smallest"):
        ends = {"extremes": [t.min_raw, t.max_raw], "largest": [t.max_raw],
                "smallest": [t.min_raw]}[case]
        fq, fk, fv = (Fixed.from_raw(rng.choice(ends, size=s), t) for s in shapes)
    elif case in ("random", "large_scores", "very_negative", "all_equal"):
        q, k, v = (rng.normal(size=s) for s in shapes)
        if case == "large_scores":
            q, k = rng.uniform(-top, top, (p, e)), rng.uniform(-top, top, (m, e))
        elif case == "very_negative":
            q, k = np.full((p, e), top), -np.abs(rng.uniform(top / 2, top, (m, e)))
        elif case == "all_equal":
            k = np.repeat(rng.normal(size=(1, e)), m, axis=0)
        fq, fk, fv = (Fixed.from_float(x, t) for x in (q, k, v))
    else:
        raise RtlError(f"no engine case {case!r}; known: {', '.join(ENGINE_CASES)}")
    av = TiledAttention(tile=z["m0"], numerics=n)(fq, fk, fv)
    return {"q": words(fq), "k": words(fk), "v": words(fv), "av": words(av, t)}


def engine_streams(params: dict[str, Any], vectors: dict[str, list[int]], seed: int
                   ) -> dict[str, Any]:
    """The words of each stream of one run, beat by beat, lane 0 first: the Q frame (E beats
    of P lanes), the K and V frames per tile (E and F beats of M0 lanes; lanes past the last
    key hold random words, which the engine must ignore) and the expected output frame (F
    beats of P lanes)."""
    z = engine_sizes(params)
    p, m0, m, e, f = z["p"], z["m0"], z["m"], z["e"], z["f"]
    rng = np.random.default_rng(seed)
    q = np.array(vectors["q"], dtype=np.int64).reshape(p, e)
    k = np.array(vectors["k"], dtype=np.int64).reshape(m, e)
    v = np.array(vectors["v"], dtype=np.int64).reshape(m, f)
    av = np.array(vectors["av"], dtype=np.int64).reshape(p, f)
    tiles = -(-m // m0)
    pad = tiles * m0 - m
    k = np.concatenate([k, rng.integers(0, 1 << 16, (pad, e))])
    v = np.concatenate([v, rng.integers(0, 1 << 16, (pad, f))])
    return {"q": [int(w) for w in q.T.reshape(-1)],
            "k": [[int(w) for w in k[t * m0:(t + 1) * m0].T.reshape(-1)] for t in range(tiles)],
            "v": [[int(w) for w in v[t * m0:(t + 1) * m0].T.reshape(-1)] for t in range(tiles)],
            "o": [int(w) for w in av.T.reshape(-1)]}


# ----- test vectors from the golden models (the same at every level)


def unit_vectors(kind: str, params: dict[str, Any], count: int, seed: int
                 ) -> tuple[list[int], list[int]]:
    """Input and expected output words of a streaming unit: edge values, then random ones."""
    rng = np.random.default_rng(seed)
    if kind == "exp":
        exp = exp_unit(params)
        t = exp.in_type
        edges = [0.0, -t.lsb, t.lsb, 1.0, t.min_raw * t.lsb, t.max_raw * t.lsb, -0.5, -20.0]
        x = Fixed.from_float(np.concatenate([edges, -rng.exponential(4, count - len(edges))]),
                             t)
        return words(x, t), words(exp(x), exp.out_type)
    if kind == "reciprocal":
        recip = reciprocal_unit(params)
        t = recip.in_type
        edges = [0.0, t.lsb, 1.0, 1.5, 2.0 - t.lsb, t.max_raw * t.lsb, 3.0, 1000.0 % t.max_raw]
        values = np.concatenate([edges, np.exp(rng.uniform(np.log(t.lsb),
                                                           np.log(t.max_raw * t.lsb),
                                                           count - len(edges)))])
        x = Fixed.from_float(np.minimum(values, t.max_raw * t.lsb), t)
        return words(x, t), words(recip(x), recip.out_type)
    if kind == "gelu":
        gelu = gelu_unit(params)
        t = gelu.io_type
        edges = [0.0, t.min_raw * t.lsb, t.max_raw * t.lsb, -gelu.limit, gelu.limit,
                 -gelu.limit + t.lsb, gelu.limit - t.lsb, -t.lsb, t.lsb]
        x = Fixed.from_float(np.concatenate([edges, rng.normal(0, 3, count - len(edges))]), t)
        return words(x, t), words(gelu(x), t)
    raise RtlError(f"no streaming vectors for {kind!r}")


STREAMING_EINSUMS = {"exp": "Y[n] = exp(X[n])", "reciprocal": "Y[n] = recip(X[n])",
                     "gelu": "Y[n] = gelu(X[n])"}
"""The one-Einsum cascade each streaming unit computes, for the analytical model's cycles."""


@dataclass(frozen=True)
class _Spec:
    """One RTL unit: its renderer, its parameters (whole numbers unless listed in
    ``types``, fixed-point types), and the cocotb module (in rtl_tests/) that verifies it."""

    render: Callable[[dict[str, Any]], RtlUnit]
    params: tuple[str, ...]
    testbench: str
    types: tuple[str, ...] = ()
    einsum: str | None = None


_SPECS: dict[str, _Spec] = {
    "exp": _Spec(_exp, ("width", "integer", "table_bits"), "tb_units",
                 einsum=STREAMING_EINSUMS["exp"]),
    "reciprocal": _Spec(_reciprocal, ("width", "integer", "out_width", "table_bits"),
                        "tb_units", einsum=STREAMING_EINSUMS["reciprocal"]),
    "gelu": _Spec(_gelu, ("width", "integer", "step_bits"), "tb_units",
                  einsum=STREAMING_EINSUMS["gelu"]),
    "softmax": _Spec(_softmax, ("width", "table_bits"), "tb_softmax",
                     einsum=STREAMING_EINSUMS["exp"]),
    "systolic": _Spec(_systolic, ("rows", "cols", "a", "b", "max_k"), "tb_arrays",
                      types=("a", "b")),
    "vector": _Spec(_vector, ("lanes", "a", "b", "y"), "tb_arrays", types=("a", "b", "y")),
    "engine": _Spec(_engine, ("p", "m0", "e", "f", "m"), "tb_engine"),
}

RTL_UNITS: dict[str, Callable[[dict[str, Any]], RtlUnit]] = {
    kind: spec.render for kind, spec in _SPECS.items()}
"""Unit name -> renderer of its Verilog from parameters."""

PARAMETERS = {kind: spec.params for kind, spec in _SPECS.items()}
"""The parameters each unit takes."""

TESTBENCHES = {kind: spec.testbench for kind, spec in _SPECS.items()}
"""The cocotb module (in rtl_tests/) that verifies each unit."""


def _spec(kind: str) -> _Spec:
    if kind not in _SPECS:
        raise RtlError(f"unknown RTL unit {kind!r}; known: {', '.join(_SPECS)}")
    return _SPECS[kind]


def unit_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as the unit takes them: whole numbers as ``int``, types in their canonical
    spelling (``ap_ufixed<18,1,AP_TRN,AP_WRAP>``), whatever text they came as (the command
    line gives strings). Unknown names and malformed values are one-line errors.

    >>> unit_params("systolic", {"rows": "8", "b": "ap_ufixed<18,1>"})
    {'rows': 8, 'b': 'ap_ufixed<18,1,AP_TRN,AP_WRAP>'}
    """
    spec = _spec(kind)
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise RtlError(f"unit {kind} has no parameter {', '.join(unknown)}; it takes "
                       f"{', '.join(spec.params)}")
    typed: dict[str, Any] = {}
    for key, value in params.items():
        if key in spec.types:
            typed[key] = _type_param(params, key, "").c_type()
        else:
            typed[key] = _whole(key, value)
    return typed


def _whole(key: str, value: object) -> int:
    """A whole-number parameter: an int, or ASCII digits with an optional sign (at most 15,
    so that a typo of thousands of digits is an error, not Python's digit limit)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 15:
        raise RtlError(f"parameter {key} must be a whole number, not {_shown(value)}")
    return int(text)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def rtl_unit(kind: str, params: dict[str, Any]) -> RtlUnit:
    return _spec(kind).render(unit_params(kind, params))


def emit_rtl(kind: str, params: dict[str, Any], *, out: Path, force: bool = False
             ) -> dict[str, Any]:
    """Write the unit's Verilog and a ``cascade_rtl.json`` describing it into ``out``; the
    parameters are recorded as the unit took them (numbers as numbers)."""

    params = unit_params(kind, params)
    unit = rtl_unit(kind, params)
    with staged_folder(out, force=force) as staging:
        for name, text in unit.files.items():
            (staging / name).write_text(text)
        (staging / "cascade_rtl.json").write_text(json.dumps(
            {"unit": unit.kind, "top": unit.top, "params": params,
             "files": sorted(unit.files)}, indent=2, sort_keys=True) + "\n")
    return {"unit": unit.kind, "top": unit.top, "out": str(out),
            "files": sorted([*unit.files, "cascade_rtl.json"]), "params": unit.params}


def bench_config(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the unit's cocotb testbench reads from CASCADE_RTL_CONFIG."""
    params = unit_params(kind, params)
    unit = rtl_unit(kind, params)
    return {"unit": kind, "params": params, "einsum": _spec(kind).einsum,
            "latency": unit.params.get("latency"), "b_w": unit.params.get("b_w")}


def verify_rtl(folder: Path) -> dict[str, Any]:
    """Lint an emitted unit and run its cocotb testbench under Verilator; the result lists
    the cycles measured against the model's (``cycles``: case, model, measured)."""

    folder = Path(folder).resolve()
    meta_path = folder / "cascade_rtl.json"
    if not meta_path.is_file():
        raise RtlError(f"{folder} is not an emitted RTL unit (no cascade_rtl.json)")
    try:
        meta = json.loads(meta_path.read_text())
        kind, params = meta["unit"], meta["params"]
    except (ValueError, KeyError, TypeError):
        raise RtlError(f"{meta_path}: not a cascade_rtl.json written by emit-rtl") from None
    if not isinstance(kind, str) or not isinstance(params, dict):
        raise RtlError(f"{meta_path}: not a cascade_rtl.json written by emit-rtl")
    unit = rtl_unit(kind, params)
    warnings = lint(folder, unit.top)
    if warnings:
        raise RtlError(f"verilator --lint-only -Wall: {warnings[0]}")
    report = folder / "cycles.json"
    report.unlink(missing_ok=True)
    config = {**bench_config(kind, params), "report": str(report)}
    tests = run_testbench(unit, folder, _spec(kind).testbench, config=config)
    cycles = json.loads(report.read_text()) if report.is_file() else []
    return {"folder": str(folder), "unit": kind, "testbench": _spec(kind).testbench,
            "tests": tests, "lint": "clean", "cycles": cycles}
