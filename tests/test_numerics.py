"""Fixed-point cascades, hls4ml's softmax emulated bit for bit, and the numerics study."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cascade import main, numerics_study
from einsum import exact_attention, execute, load
from sim import (
    DEFAULT_SOFTMAX,
    Fixed,
    FixedNumerics,
    FixedType,
    Hls4mlSoftmax,
    ap_types_include,
    softmax_config,
)

ROW = 64

HARNESS = """\
#include <cstdio>
#include <vector>
#include "ap_fixed.h"
#include "nnet_utils/nnet_activation.h"
struct cfg : nnet::activ_config {
    static const unsigned n_in = ROW;
    static const unsigned n_slice = ROW;
    static const unsigned n_outer = 1;
    static const unsigned n_inner = 1;
    static const unsigned parallelization_factor = -1;
    static const unsigned exp_table_size = 1024;
    static const unsigned inv_table_size = 1024;
    static const unsigned io_type = nnet::io_parallel;
    static const unsigned reuse_factor = 1;
    static const unsigned axis = -1;
    static const nnet::softmax_implementation implementation =
        nnet::softmax_implementation::stable;
    static constexpr float exp_scale = 1.0;
    typedef ap_fixed<18, 8, AP_RND, AP_SAT> exp_table_t;
    typedef ap_fixed<18, 8, AP_RND, AP_SAT> inv_table_t;
    typedef ap_fixed<18 + SCALE, 8 + SCALE> accum_t;
    typedef ap_fixed<18, 8, AP_RND, AP_SAT> inv_inp_t;
    typedef ap_ufixed<15, 5> inp_norm_t;
};
int main() {
    double v;
    std::vector<double> all;
    while (std::scanf("%la", &v) == 1) all.push_back(v);
    for (size_t r = 0; r + ROW <= all.size(); r += ROW) {
        ap_fixed<16, 6> x[ROW], y[ROW];
        for (int i = 0; i < ROW; i++) x[i] = all[r + i];
        nnet::softmax_stable<ap_fixed<16, 6>, ap_fixed<16, 6>, cfg>(x, y);
        for (int i = 0; i < ROW; i++) std::printf("%d\\n", (int)y[i].range(15, 0).to_uint64());
    }
    return 0;
}
"""


def test_hls4ml_softmax_emulation_is_bit_exact(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("hls4ml")
    assert spec is not None and spec.submodule_search_locations
    templates = Path(next(iter(spec.submodule_search_locations))) / "templates" / "vivado"
    (tmp_path / "softmax.cpp").write_text(HARNESS)
    subprocess.run(["g++", "-O1", "-std=c++14", "-w", f"-DROW={ROW}", "-DSCALE=6",
                    f"-I{ap_types_include()}", f"-I{templates}", "softmax.cpp", "-o", "softmax"],
                   cwd=tmp_path, check=True)
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(40, ROW)) * 3
    scores[0], scores[1] = 0.0, np.linspace(-40, 40, ROW)   # all equal; out of range
    done = subprocess.run([str(tmp_path / "softmax")], capture_output=True, text=True,
                          check=True, input="\n".join(float(v).hex() for v in scores.ravel()))
    theirs = np.array(done.stdout.split(), dtype=np.int64).reshape(40, ROW)
    ours = np.round(Hls4mlSoftmax()(scores) * 2**10).astype(np.int64) & 0xFFFF
    assert np.array_equal(ours, theirs)


def test_default_beats_hls4ml_tenfold_at_equal_bits() -> None:
    study = numerics_study(lengths=(64, 256), widths=(DEFAULT_SOFTMAX[0],),
                           table_bits=(DEFAULT_SOFTMAX[1],))
    hls4ml, ours = study["softmax"]
    assert hls4ml["design"].startswith("hls4ml") and hls4ml["prob_max"] > 0.05
    assert ours["width"] <= 16 and ours["prob_max"] * 10 < hls4ml["prob_max"]
    assert ours["out_max"] * 10 < hls4ml["out_max"]
    gelu32 = [r for r in study["gelu"] if r["width"] == 32 and r["step"] == 1 / 32]
    assert gelu32[0]["max"] == pytest.approx(9.755e-5, rel=0.01)


def test_wider_types_and_bigger_tables_are_more_accurate() -> None:
    study = numerics_study(lengths=(64,), widths=(16, 24), table_bits=(4, 8), scales=(2,))
    rows = {(r["width"], r["table_entries"]): r["prob_max"] for r in study["softmax"][1:]}
    assert rows[24, 257] < rows[24, 17] and rows[24, 257] < rows[16, 257]


@pytest.mark.parametrize("name", ["three_pass", "one_pass", "fusemax"])
def test_fixed_point_cascades_approach_float_as_width_grows(name: str) -> None:
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(8, 4)) * 0.5, rng.normal(size=(8, 100)) * 0.5, \
        rng.normal(size=(8, 100))
    want = exact_attention(q, k, v)
    errors = []
    for width in (16, 24, 32):
        numerics = FixedNumerics(default=FixedType(width, 6 if width == 16 else 10))
        got = execute(load(name), {"Q": q, "K": k, "V": v}, numerics=numerics,
                      shapes={"M0": 32} if name == "fusemax" else None)["AV"]
        errors.append(float(np.abs(got - want).max()))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4


def test_fixed_point_values_are_representable() -> None:
    numerics = FixedNumerics(default=FixedType(12, 4))
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 20)), rng.normal(size=(4, 20))
    out = execute(load("one_pass"), {"Q": q, "K": k, "V": v}, numerics=numerics, keep=True)
    for name in ("QK", "RD", "RNV", "AV"):
        scaled = out[name] * 2**8
        assert np.array_equal(scaled, np.round(scaled)), name


def test_softmax_config_types() -> None:
    unit = softmax_config(16, 6)
    assert unit.score_type.c_type() == "ap_fixed<16,6,AP_TRN,AP_WRAP>"
    assert len(unit.exp.table) == 65
    probabilities = unit.probabilities(Fixed.from_float([[0.0, 0.0]], unit.score_type))
    assert probabilities.to_float().tolist() == [[0.5, 0.5]]


def test_numerics_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["numerics", "--lengths", "32", "--widths", "16", "--table-bits", "6",
                   "--json", "--out", str(tmp_path)])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert {"softmax", "gelu", "inputs", "default"} <= set(data)
    assert (tmp_path / "softmax_error.png").stat().st_size > 5000
    assert main(["numerics", "--widths", "sixteen"]) == 2
    assert capsys.readouterr().err == ("cascade: error: --widths must be at most 16 whole "
                                       "numbers 8..32 separated by commas, not 'sixteen'\n")
