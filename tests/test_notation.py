"""The text form and YAML wrapper: REFERENCE.md's cascades as written, and round trips."""

from __future__ import annotations

import dataclasses

import pytest

from einsum import (
    Bound,
    CascadeError,
    Compose,
    Const,
    Next,
    Op,
    Ref,
    Var,
    library_names,
    load,
    load_yaml_text,
    parse_text,
    to_text,
    to_yaml,
)

# REFERENCE.md section 2, copied as written (the cascades are ASCII there already).
THREE_PASS = """
QK[m,p] = Q[e,p] * K[e,m]
GM[p]   = QK[m,p]            reduce max over m
SN[m,p] = exp(QK[m,p] - GM[p])
SD[p]   = SN[m,p]            reduce + over m
A[m,p]  = SN[m,p] / SD[p]
AV[f,p] = A[m,p] * V[f,m]    reduce + over m
"""
TWO_PASS_DEFERRED = """
QK[m,p] = Q[e,p] * K[e,m]
GM[p]   = QK[m,p]            reduce max over m
SN[m,p] = exp(QK[m,p] - GM[p])
SD[p]   = SN[m,p]            reduce + over m
SNV[f,p] = SN[m,p]*V[f,m]    reduce + over m
AV[f,p] = SNV[f,p] / SD[p]
"""
ONE_PASS = """
QK[m,p]       = Q[e,p] * K[e,m]
RM[m+1,p]     = max(RM[m,p], QK[m,p])
SLN[m,p]      = exp(QK[m,p] - RM[m+1,p])
PRM[m,p]      = exp(RM[m,p] - RM[m+1,p])
RD[m+1,p]     = PRM[m,p] * RD[m,p] + SLN[m,p]
RNV[m+1,f,p]  = PRM[m,p] * RNV[m,f,p] + SLN[m,p] * V[f,m]
AV[f,p]       = RNV[M,f,p] / RD[M,p]
"""
FUSEMAX = """
QK[m1,m0,p]   = Q[e,p] * BK[e,m1,m0]          reduce + over e
LM[m1,p]      = QK[m1,m0,p]                   reduce max over m0
RM[m1+1,p]    = max(RM[m1,p], LM[m1,p])
SLN[m1,m0,p]  = exp(QK[m1,m0,p] - RM[m1+1,p])
PRM[m1,p]     = exp(RM[m1,p] - RM[m1+1,p])
SPD[m1,p]     = PRM[m1,p] * RD[m1,p]
SLD[m1,p]     = SLN[m1,m0,p]                  reduce + over m0
RD[m1+1,p]    = SPD[m1,p] + SLD[m1,p]
SPNV[m1,f,p]  = PRM[m1,p] * RNV[m1,f,p]
SLNV[m1,f,p]  = SLN[m1,m0,p] * BV[m1,m0,f]    reduce + over m0
RNV[m1+1,f,p] = SPNV[m1,f,p] + SLNV[m1,f,p]
AV[f,p]       = RNV[M1,f,p] / RD[M1,p]
"""
# Section 1: initial values and the split views, in the paper's own notation.
INITIAL_1PASS = "RM[0,p] = -inf\nRD[0,p] = 0\nRNV[0,f,p] = 0\n"
INITIAL_FUSEMAX = "RM[0,p] = -inf\nRD[0,p] = 0\nRNV[0,f,p] = 0\n"
SPLIT_VIEWS = """
M -> M1, M0
M0 = 256
BK[e,m1,m0] = K[e,m1*M0+m0]
BV[m1,m0,f] = V[f,m1*M0+m0]
"""


@pytest.mark.parametrize(
    ("text", "library"),
    [
        (THREE_PASS, "three_pass"),
        (TWO_PASS_DEFERRED, "two_pass_deferred"),
        (INITIAL_1PASS + ONE_PASS, "one_pass"),
        (SPLIT_VIEWS + INITIAL_FUSEMAX + FUSEMAX, "fusemax"),
    ],
    ids=["three_pass", "two_pass_deferred", "one_pass", "fusemax"],
)
def test_reference_cascades_parse_as_written(text: str, library: str) -> None:
    parsed = parse_text(text, name=library)
    shipped = load(library)
    assert parsed.einsums == shipped.einsums
    assert parsed.initial_values == shipped.initial_values
    assert parsed.splits == shipped.splits


def test_fusemax_ir_has_every_feature() -> None:
    c = load("fusemax")
    assert c.einsum("BK").expr == Ref("K", (Var("e"), Compose("m1", "M0", "m0")))
    rm = c.einsum("RM")
    assert rm.output == Ref("RM", (Next("m1"), Var("p")))
    assert rm.expr == Op("max", (Ref("RM", (Var("m1"), Var("p"))),
                                 Ref("LM", (Var("m1"), Var("p")))))
    assert c.einsum("AV").expr.args[0] == Ref("RNV", (Bound("M1"), Var("f"), Var("p")))
    lm = c.einsum("LM")
    assert (lm.reduce_op, lm.reduce_ranks, lm.reduced_ranks) == ("max", ("m0",), ("m0",))
    assert c.einsum("QK").reduced_ranks == ("e",)
    assert c.initial_values == {"RM": float("-inf"), "RD": 0.0, "RNV": 0.0}
    assert c.default_shapes == {"M0": 256}


def test_default_reduction_is_sum_over_every_rank_missing_on_the_left() -> None:
    e = parse_text("QK[m,p] = Q[e,p] * K[e,m]", name="qk").einsums[0]
    assert (e.reduce_op, e.reduced_ranks, e.reduction) == (None, ("e",), "+")


@pytest.mark.parametrize("name", library_names())
def test_text_round_trip(name: str) -> None:
    c = load(name)
    again = parse_text(to_text(c), name=c.name)
    assert dataclasses.replace(again, title=c.title, source=c.source,
                               description=c.description) == c
    assert to_text(again) == to_text(c)


@pytest.mark.parametrize("name", library_names())
def test_yaml_round_trip(name: str) -> None:
    c = load(name)
    assert load_yaml_text(to_yaml(c)) == c


def test_printer_keeps_the_expression_tree() -> None:
    text = "X[p] = A[p] - (B[p] - C[p]) / (D[p] * -E[p]) + -1 * exp(-F[p])"
    c = parse_text(text, name="x")
    assert parse_text(to_text(c), name="x") == c
    assert c.einsums[0].expr.args[1].args[0] == Const(-1.0)


def test_error_names_file_and_line() -> None:
    with pytest.raises(CascadeError) as caught:
        parse_text("QK[m,p] = Q[e,p] * K[e,m]\n\nGM[p] = tanh(QK[m,p])", name="x", file="x.txt")
    assert str(caught.value) == ("x.txt:3: unknown operator 'tanh'; known: neg, max, min, exp, "
                                 "recip, abs, sqrt, log, gelu")
    assert (caught.value.file, caught.value.line) == ("x.txt", 3)


def test_yaml_error_line_points_into_the_cascade_block() -> None:
    text = ("name: x\ncascade: |\n  QK[m,p] = Q[e,p] * K[e,m]\n"
            "  GM[p] = QK[m,p] reduce mean over m\n")
    with pytest.raises(CascadeError) as caught:
        load_yaml_text(text, file="x.yaml")
    assert str(caught.value) == "x.yaml:4: unknown reduction operator 'mean'; known: +, max, min"
