"""Passes, op counts, footprints and live state, against REFERENCE.md and by hand."""

from __future__ import annotations

import networkx as nx
import pytest

from einsum import (
    analyze,
    load,
    op_counts,
    parse_text,
    pass_levels,
    passes,
    resolve_shapes,
    validate,
)

EXPECTED_PASSES = {
    "three_pass": 3,
    "two_pass_deferred": 2,
    "two_pass_online": 2,
    "one_pass": 1,
    "fusemax": 1,
}


@pytest.mark.parametrize(("name", "expected"), EXPECTED_PASSES.items())
def test_library_passes(name: str, expected: int) -> None:
    assert passes(load(name)) == expected


def test_three_pass_levels_and_boundaries() -> None:
    c = load("three_pass")
    assert pass_levels(c) == {"QK": 1, "GM": 1, "SN": 2, "SD": 2, "A": 3, "AV": 3}
    a = analyze(c, {"E": 4, "F": 4, "M": 8, "P": 2})
    assert a.boundaries == ("SN waits for GM", "A waits for SD")


OWN_CASES = {
    "two independent full reductions on one chain": (
        """
        GM[p] = X[m,p] reduce max over m
        GS[p] = X[m,p] reduce + over m
        Y[m,p] = X[m,p] - GM[p] + GS[p]
        Z[p] = Y[m,p] reduce + over m
        """, 2),
    "three dependent full reductions (layer-norm then max)": (
        """
        MU[p] = X[m,p] reduce + over m
        D[m,p] = X[m,p] - MU[p]
        VAR[p] = D[m,p] * D[m,p] reduce + over m
        N[m,p] = D[m,p] / sqrt(VAR[p])
        MX[p] = N[m,p] reduce max over m
        Z[m,p] = N[m,p] - MX[p]
        """, 4),
    "a full reduction consumed only with per-query data": (
        """
        S[p] = X[m,p] reduce + over m
        T[p] = S[p] * S[p]
        """, 1),
    "a summary derived from a summary still ends a pass": (
        """
        S[p] = X[m,p] reduce + over m
        R[p] = 1 / S[p]
        Y[m,p] = X[m,p] * R[p]
        """, 2),
    "tile-local max over m0 is no boundary": (
        """
        M -> M1, M0
        BX[m1,m0,p] = X[m1*M0+m0,p]
        LM[m1,p] = BX[m1,m0,p] reduce max over m0
        Y[m1,m0,p] = BX[m1,m0,p] - LM[m1,p]
        """, 1),
    "a reduction over the tiles m1 is a boundary": (
        """
        M -> M1, M0
        BX[m1,m0,p] = X[m1*M0+m0,p]
        Y[m0,p] = BX[m1,m0,p] reduce + over m1
        Z[m1,m0,p] = BX[m1,m0,p] - Y[m0,p]
        """, 2),
    "a reduction over a non-streamed rank is no boundary": (
        """
        N[m,p] = X[e,m,p] reduce max over e
        Y[e,m,p] = X[e,m,p] - N[m,p]
        """, 1),
    "the final value of a recurrence read with m ends a pass": (
        """
        RM[0,p] = -inf
        RM[m+1,p] = max(RM[m,p], X[m,p])
        Y[m,p] = X[m,p] - RM[M,p]
        """, 2),
}


@pytest.mark.parametrize(("text", "expected"), OWN_CASES.values(), ids=list(OWN_CASES))
def test_own_pass_cases(text: str, expected: int) -> None:
    assert passes(parse_text(text, name="case")) == expected


def test_stream_rank_can_be_chosen() -> None:
    text = "stream N\nS[p] = X[n,p] reduce + over n\nY[n,p] = X[n,p] - S[p]\n"
    assert passes(parse_text(text, name="n")) == 2
    assert passes(parse_text(text.replace("stream N\n", ""), name="n")) == 1


def _fusemax_reference(E: int, F: int, M: int, P: int, M0: int) -> dict[str, int]:
    M1 = -(-M // M0)
    # REFERENCE.md section 2, work per (batch, head).
    return {"QK": M * P * E, "SLNV": M * P * F, "LM": M * P, "SLN": M * P, "SLD": M * P,
            "RM": M1 * P, "PRM": M1 * P, "SPD": M1 * P, "RD": M1 * P,
            "SPNV": M1 * P * F, "RNV": M1 * P * F, "AV": P * F}


@pytest.mark.parametrize("seq", [1024, 4096, 65536, 1 << 20])
def test_fusemax_work_matches_reference(seq: int) -> None:
    E = F = 64
    a = analyze(load("fusemax"), {"E": E, "F": F, "M": seq, "P": seq})
    points = {c.name: c.points for c in a.einsums if c.ops}
    assert points == _fusemax_reference(E, F, seq, seq, 256)
    # One op per point for every Einsum, as REFERENCE.md counts the work.
    assert all(sum(c.ops.values()) == c.points for c in a.einsums if c.ops)
    M, P, M1 = seq, seq, seq // 256
    assert a.ops == {
        "mac": M * P * E + M * P * F,                  # QK, SLNV
        "mul": M1 * P + M1 * P * F,                     # SPD, SPNV
        "add": M * P + M1 * P + M1 * P * F,             # SLD, RD, RNV
        "max": M * P + M1 * P,                          # LM, RM
        "exp": M * P + M1 * P,                          # SLN, PRM: exp(a - b) is one exp
        "div": P * F,                                   # AV
        "gelu": 0, "other": 0,
    }


def test_op_kinds_of_one_pass_multiply_accumulates() -> None:
    shapes = resolve_shapes(load("one_pass"), {"E": 2, "F": 3, "M": 5, "P": 7})
    ops = op_counts(load("one_pass"), shapes)
    # RD: PRM*RD + SLN is one MAC; RNV: PRM*RNV + SLN*V is one MAC and one multiply.
    assert ops["mac"] == 5 * 7 * 2 + 5 * 7 + 5 * 7 * 3
    assert ops["mul"] == 5 * 7 * 3


def test_totals_scale_with_batch_and_heads() -> None:
    a = analyze(load("three_pass"), {"E": 8, "F": 8, "M": 16, "P": 16}, batch=64, heads=12)
    data = a.to_json()
    assert data["ops_total"]["mac"] == 64 * 12 * data["ops_per_head"]["mac"]


@pytest.mark.parametrize("name", ["one_pass", "fusemax"])
def test_one_pass_live_state_is_independent_of_m(name: str) -> None:
    states = [analyze(load(name), {"E": 64, "F": 64, "M": m, "P": 512}).live_state
              for m in (1024, 65536, 1 << 20)]
    assert {s["words"] for s in states} == {512 * (64 + 64 + 2)}
    assert all(s["per_query_row"] == "E + F + 2" for s in states)
    assert not any(s["grows_with_stream"] for s in states)
    # the tile sums over m0 (LM, SLD, SLNV) end within their tile: nothing accumulates
    assert all(s["accumulated"] == [] for s in states)


def test_three_pass_buffers_whole_rows() -> None:
    state = analyze(load("three_pass"), {"E": 64, "F": 64, "M": 4096, "P": 256}).live_state
    assert state["buffered_between_passes"] == ["QK", "SN"]
    # Q, the buffered QK and SN rows, GM and SD, and the AV accumulator of the last pass
    assert state["accumulated"] == ["GM", "SD", "AV"]
    assert state["words"] == 256 * (64 + 64 + 2 * 4096 + 2) == 2_130_432
    assert state["per_query_row"] == "E + F + 2*M + 2"
    assert state["grows_with_stream"]


@pytest.mark.parametrize("m", [1024, 4096, 1 << 20])
def test_linear_attention_keeps_its_sums_on_chip(m: int) -> None:
    """KV[e,f] and Z[e] sum over every key and are read only after the last one."""
    state = analyze(load("linear_attention"), {"E": 64, "F": 32, "M": m, "P": 512}
                    ).live_state
    assert state["accumulated"] == ["KV", "Z"]
    assert (state["words"], state["expr"]) == (64 * 32 + 64, "E*F + E") == (2112, "E*F + E")
    assert "per_query_row" not in state  # per (batch, head), not per query
    assert not state["grows_with_stream"]
    # the same state as the causal form, whose running S and Z are carried instead
    causal = analyze(load("linear_attention_causal"), {"E": 64, "F": 32, "M": m}).live_state
    assert (causal["words"], causal["carried"]) == (2112, ["S", "Z"])


def test_deferred_division_accumulates_numerator_and_denominator() -> None:
    state = analyze(load("two_pass_deferred"), {"E": 64, "F": 64, "M": 4096, "P": 256}
                    ).live_state
    assert state["accumulated"] == ["GM", "SD", "SNV"]
    assert state["resident"] == ["Q", "GM"]  # GM counts once
    assert state["words"] == 256 * (64 + 64 + 4096 + 2) == 1_081_856


def test_a_sum_over_the_tiles_accumulates_per_tile_position() -> None:
    text = """
        M -> M1, M0
        BX[m1,m0,p] = X[m1*M0+m0,p]
        Y[m0,p] = BX[m1,m0,p] reduce + over m1
        """
    state = analyze(parse_text(text, name="tiles"), {"M": 64, "M0": 8, "P": 3}).live_state
    assert state["accumulated"] == ["Y"]
    assert (state["expr"], state["words"]) == ("M0*P", 24)


def test_a_named_stream_rank_is_the_one_analysed() -> None:
    """neighborhood_2d streams key rows MY: its global max GM ends a pass and its sums
    accumulate per query pixel."""
    c = load("neighborhood_2d")
    assert c.stream == "MY"
    a = analyze(c, {"E": 4, "F": 3, "PY": 5, "PX": 6, "MY": 5, "MX": 6, "W": 1, "D": 1})
    assert (a.passes, a.boundaries) == (2, ("SN waits for GM",))
    state = a.live_state
    assert state["accumulated"] == ["GM", "SD", "SNV"]
    assert state["expr"] == "MY*MX*PY*PX + E*PY*PX + F*PY*PX + 2*PY*PX"
    assert state["words"] == 900 + 120 + 90 + 60 == 1170
    assert state["grows_with_stream"]


def test_footprints() -> None:
    a = analyze(load("fusemax"), {"E": 64, "F": 32, "M": 1000, "P": 8, "M0": 256})
    assert a.shapes["M1"] == 4
    assert a.footprints["QK"] == {"ranks": ["M1", "M0", "P"], "expr": "M1*M0*P",
                                  "words": 4 * 256 * 8}
    assert a.footprints["RNV"] == {"ranks": ["M1", "F", "P"], "expr": "(M1+1)*F*P",
                                   "words": 5 * 32 * 8}


def test_dependency_graph() -> None:
    graph = validate(load("fusemax")).graph
    assert nx.is_directed_acyclic_graph(graph)
    # The recurrences read the previous step, so RD -> SPD is no same-step edge.
    assert graph.has_edge("RM", "SLN") and graph.has_edge("SPD", "RD")
    assert not graph.has_edge("RD", "SPD")
    assert set(graph.predecessors("AV")) == {"RNV", "RD"}
