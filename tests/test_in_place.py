"""Intermediates stored in place of a dead input (``Mapping.in_place``)."""

from __future__ import annotations

import pytest

from einsum import load, parse_text
from mapper import search
from sim import (
    MappingError,
    architecture,
    evaluate,
    in_place_pairs,
    in_place_problem,
    mapping_from_dict,
    workload,
)

SHAPES = {"E": 64, "F": 64, "M": 4096, "P": 4096}
_ARRAYS = {"QK": "array2d", "AV": "array2d"}


def _mapping(in_place: dict[str, str], tile: int = 1024) -> dict[str, object]:
    names = ["QK", "GM", "SN", "SD", "A", "AV"]
    return {"name": "rows",
            "bindings": {n: {"unit": _ARRAYS.get(n, "array1d"),
                             "spatial": ["M", "P"] if n in _ARRAYS else ["P"]} for n in names},
            "dram_loops": ["P"], "tiles": {"P": tile},
            "placement": {"QK": "spill", "SN": "spill"}, "in_place": in_place,
            "stages": [names]}


def _cost(in_place: dict[str, str], tile: int = 1024, buffer: int = 16 * 2**20):
    arch = architecture("flat", buffer_mib=buffer // 2**20)
    return evaluate(load("three_pass"), arch, mapping_from_dict(_mapping(in_place, tile)),
                    SHAPES)


def test_scores_overwritten_by_their_exponentials_halve_the_buffer() -> None:
    apart, shared = _cost({}), _cost({"SN": "QK"})
    # 1,024 rows of 4,096 scores are 8 MiB: apart, QK and SN need 16 MiB beside AV, GM, SD
    assert apart.spilled["SN"] > 0 and apart.dram_bytes > shared.dram_bytes
    assert shared.spilled == {"QK": 0.0, "SN": 0.0}
    assert shared.buffer_bytes_by_tensor["SN"] == 0
    assert shared.buffer_bytes == apart.buffer_bytes - apart.buffer_bytes_by_tensor["SN"]
    assert shared.cycles == apart.cycles


def test_what_overflows_overflows_for_both() -> None:
    # 4,096 rows of scores are 32 MiB in a 16 MiB buffer: half of QK spills, and SN with it
    r = _cost({"SN": "QK"}, tile=4096)
    assert r.spilled["SN"] == r.spilled["QK"] > 0.5
    assert r.dram_bytes_by_tensor["SN"] == r.dram_bytes_by_tensor["QK"]


def test_a_search_stores_in_place_wherever_it_may() -> None:
    w = workload(load("three_pass"), SHAPES)
    assert in_place_pairs(w) == {"SN": "QK", "A": "SN"}
    found = search(load("three_pass"), architecture("flat"), SHAPES)
    assert found.mapping.in_place == {"SN": "QK", "A": "SN"}


@pytest.mark.parametrize(("tensor", "host", "why"), [
    ("GM", "QK", "their ranks differ ([P] and [M, P])"),
    ("AV", "A", "AV is not an intermediate of three_pass"),
    ("SD", "SN", "their ranks differ ([P] and [M, P])"),
    ("A", "QK", "A does not read QK at the index it writes"),
    ("SN", "Q", "Q is not an intermediate of three_pass"),
])
def test_what_cannot_be_stored_in_place(tensor: str, host: str, why: str) -> None:
    w = workload(load("three_pass"), SHAPES)
    assert in_place_problem(w, tensor, host) == why
    with pytest.raises(MappingError) as caught:
        _cost({tensor: host})
    assert str(caught.value) == (f"mapping rows: {tensor} cannot be stored in place of "
                                 f"{host}: {why}")


def test_a_later_reader_keeps_its_input_alive() -> None:
    # Z reads X in the pass that writes Y: Y may not overwrite X, only Z (its last use)
    cascade = parse_text("X[m,p] = Q[m,p] * K[m,p]\nZ[m,p] = X[m,p] * K[m,p]\n"
                         "Y[m,p] = X[m,p] * Z[m,p]\nW[m,p] = Y[m,p] * K[m,p]\n", name="late")
    w = workload(cascade, {"M": 8, "P": 8})
    assert in_place_problem(w, "Y", "X") == "Z still read(s) X in the pass that writes Y"
    assert in_place_pairs(w) == {"Y": "Z"}


def test_one_host_holds_one_tensor() -> None:
    with pytest.raises(MappingError) as caught:
        _cost({"SN": "QK", "A": "QK"})
    assert str(caught.value) == ("mapping rows: A cannot be stored in place of QK: SN is "
                                 "already stored there")
