"""The algorithm library beyond softmax attention's pass variants: every cascade checked
against a direct numpy formula of its algorithm (einsum/_references.py), not against
another cascade, at several shapes including a single key or query, a window longer than
the sequence and ragged tiles; op counts of sparse cascades count only computed points."""

from __future__ import annotations

import json

import pytest

from cascade import main
from einsum import (
    REFERENCES,
    TOLERANCE,
    analyze,
    check_cascade,
    library_names,
    load,
    table_shape,
    validate,
)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_cascade_matches_its_formula(name: str) -> None:
    results = check_cascade(load(name), seed=3)
    assert len(results) == len(REFERENCES[name].shapes) >= 2
    for r in results:
        assert r.relative_error <= TOLERANCE, (r.shapes, r.relative_error)
    # an edge case: a single key or a single query
    assert any(r.shapes.get(rank) == 1 for r in results for rank in ("M", "P", "PY", "SQ"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_k_is_exact_for_any_split(seed: int) -> None:
    """Worker counts that divide M, that do not, and a single worker."""
    assert all(r.passed for r in check_cascade(load("split_k"), seed=seed))


def test_gqa_reads_k_and_v_once_per_group() -> None:
    shapes = {"E": 64, "F": 64, "M": 4096, "P": 4096, "R": 4, "G": 8}
    grouped = analyze(load("gqa"), shapes)
    # K and V footprints are per group (G), Q's per head (G * R)
    assert grouped.footprints["K"]["words"] == 64 * 4096 * 8
    assert grouped.footprints["Q"]["words"] == 64 * 4096 * 4 * 8


def test_linear_attention_work_is_linear_in_m() -> None:
    def macs(m: int) -> int:
        return analyze(load("linear_attention"), {"E": 64, "F": 64, "M": m, "P": 1024}
                       ).ops["mac"]
    assert macs(8192) - macs(4096) == 2 * (macs(4096) - macs(2048)) > 0


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_analyze_works_on_every_algorithm(name: str) -> None:
    shapes = dict(REFERENCES[name].shapes[0])
    result = analyze(load(name), shapes)
    assert result.passes >= 1 and sum(result.ops.values()) > 0


def test_cli_check_reports_each_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "mla_absorbed", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and [r["shapes"]["L"] for r in data["runs"]] == [4, 2]


@pytest.mark.parametrize(("name", "shapes", "expected"), [
    # causal: M (M + 1) / 2 scores; the exponentials and products follow the mask
    ("causal", {"E": 4, "F": 4, "M": 64, "P": 64}, 64 * 65 // 2),
    ("causal_fusemax", {"E": 4, "F": 4, "M": 64, "P": 64, "M0": 16}, 64 * 65 // 2),
    # a causal window of W keys: W (W + 1) / 2 for the first W queries, then W each
    ("sliding_window", {"E": 4, "F": 4, "M": 64, "P": 64, "W": 8, "D": 1},
     8 * 9 // 2 + (64 - 8) * 8),
    # block-diagonal blocks of 8 plus the first block column: 8 blocks of 64, 7 more of 64
    ("block_sparse", {"E": 4, "F": 4, "M": 64, "P": 64, "B": 8}, 8 * 64 + 7 * 64),
])
def test_sparse_op_counts_follow_the_mask(name: str, shapes: dict[str, int],
                                          expected: int) -> None:
    result = analyze(load(name), shapes)
    points = {c.name: c.points for c in result.einsums}
    e = shapes["E"]
    assert points["QK"] == expected * e            # QK[.., p] summed over e
    assert points["SLN" if "SLN" in points else "SN"] == expected
    dense = analyze(load("one_pass"), {k: v for k, v in shapes.items() if k in "EFMP"})
    assert result.ops["exp"] < dense.ops["exp"]


def test_radial_attention_is_subquadratic() -> None:
    def scores(frames: int) -> int:
        shapes = {"E": 2, "F": 2, "SQ": 16, "TQ": frames, "SK": 16, "TK": frames}
        return next(c.points for c in analyze(load("radial"), shapes).einsums
                    if c.name == "SN")
    dense = (16 * 32) ** 2
    assert scores(32) < dense / 3
    assert scores(32) / scores(16) < 3  # dense attention would grow 4x


def test_docs_table_is_current() -> None:
    """docs/algorithms.md is what `cascade table --out docs/algorithms.md` writes now."""
    from pathlib import Path

    from einsum import catalog, library_document

    document = Path(__file__).parents[1] / "docs" / "algorithms.md"
    assert document.read_text() == library_document(catalog()), (
        "regenerate it: cascade table --out docs/algorithms.md")


def test_list_shows_passes_and_growth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = {line.split()[0]: line.split()[1:4] for line in capsys.readouterr().out.splitlines()}
    assert lines["sliding_window"] == ["1", "pass", "O(M)"]
    assert lines["three_pass"] == ["3", "passes", "O(M^2)"]
    # radial streams key frames TK; its global max GM ends a pass, as in block_sparse
    assert lines["radial"][:3] == ["2", "passes", "O(M"]  # O(M log M)


def test_masked_cascades_cost_less_on_an_array() -> None:
    """The cost model skips what a where condition masks (to first order)."""
    from mapper import search
    from sim import architecture

    sizes = {"E": 64, "F": 64, "M": 4096, "P": 4096}
    arch = architecture("fusemax")
    dense = search(load("one_pass"), arch, sizes).report
    causal = search(load("causal"), arch, sizes).report
    window = search(load("sliding_window"), arch, {**sizes, "W": 256, "D": 1}).report
    assert 0.45 < causal.cycles / dense.cycles < 0.55
    assert 0.45 < causal.energy_j / dense.energy_j < 0.6
    assert window.cycles < causal.cycles / 4


# The tensor that holds the keys: the cache C for MLA with absorbed weights (it never
# materialises K); K, input or computed, everywhere else.
KEYS = {"mla_absorbed": "C"}


@pytest.mark.parametrize("name", library_names())
def test_every_stream_rank_indexes_the_keys(name: str) -> None:
    """No algorithm streams a rank its keys lack (the default M, silently)."""
    cascade = load(name)
    layout = validate(cascade)
    keys = layout.ranks[KEYS.get(name, "K")]
    assert cascade.stream in layout.all_ranks()
    assert layout.stream_ranks(cascade.stream) & set(keys), (cascade.stream, keys)


_ONE_PASS = "E*P + F*P + 2*P"  # Q, the running numerator, max and denominator per query
_TWO_PASS = "E*P + F*P + M*P + 2*P"  # and a row of scores buffered for the second pass
LIVE_STATE = {
    "aaren": _ONE_PASS, "causal": _ONE_PASS, "causal_fusemax": _ONE_PASS,
    "decode": _ONE_PASS, "fusemax": _ONE_PASS, "one_pass": _ONE_PASS, "sinks": _ONE_PASS,
    "sliding_window": _ONE_PASS,
    "duo_attention": "E*P*H + F*P*H + 2*P*H",
    "s2_attention": "E*P*H + F*P*H + 2*P*H",
    "gqa": "E*P*R*G + F*P*R*G + 2*P*R*G",
    "mla": "E*P + F*P + L*E + L*F + 2*P",          # and the up-projections WK, WV
    "mla_absorbed": "2*L*P + 2*P",                 # the query and numerator in latent space
    "block_sparse": _TWO_PASS, "medusa_tree": _TWO_PASS, "two_pass_deferred": _TWO_PASS,
    "two_pass_online": _TWO_PASS,
    "three_pass": "E*P + F*P + 2*M*P + 2*P",      # QK and SN rows, for passes 2 and 3
    "split_k": "W*F*P + E*P + F*P + 2*W*P + 2*P",  # every worker's partials
    "agent_attention": "E*N + F*N + M*N + 2*N",    # the agents play the queries
    "neighborhood_2d": "MY*MX*PY*PX + E*PY*PX + F*PY*PX + 2*PY*PX",
    "radial": "SK*TK*SQ*TQ + E*SQ*TQ + F*SQ*TQ + 2*SQ*TQ",
    "linear_attention": "E*F + E",                 # the sums KV and Z, per (batch, head)
    "linear_attention_causal": "E*F + E",
    # S and Z; the queries and their intra- and inter-block numerators and denominators
    "lightning_attention2": "E*F + E*N + 2*F*N + E + 2*N",
}


@pytest.mark.parametrize("name", library_names())
def test_live_state_of_every_algorithm(name: str) -> None:
    cascade = load(name)
    result = analyze(cascade, table_shape(cascade))
    state = result.live_state
    assert state["expr"] == LIVE_STATE[name]
    assert state["words"] > 0
    # buffering between passes is what makes the state grow with the stream
    assert state["grows_with_stream"] == (result.passes > 1)
