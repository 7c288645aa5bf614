"""Numerics of the HLS kernels: scores scaled by 1/sqrt(dh) where the reference scales them,
a saturating option beside wrapping, and C simulation that counts every overflow, agrees
with the Python model's count, and fails on any unless the project allows them."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from cascade import main
from hls_templates import HlsError, build_kernel, csim, emit_hls, load_numerics
from sim import AttentionNumerics, EncoderLayer, Fixed, FixedType, architecture, gelu_erf, tally

ZCU102 = architecture("zcu102")
LINEAR = {"T": 3, "K": 20, "N": 24}


def _reference_layer(x: np.ndarray, weights: dict[str, Fixed], heads: int, *,
                     scale: bool) -> np.ndarray:
    """A post-LN BERT encoder layer in float64 (softmax(Q K^T / sqrt(dh)) V, erf GELU)."""
    f = {name: value.to_float() for name, value in weights.items()}
    width = x.shape[1] // heads
    q, k, v = (x @ f[f"w{n}"] + f[f"b{n}"] for n in "qkv")
    attended = np.zeros_like(x)
    for h in range(heads):
        cols = slice(h * width, (h + 1) * width)
        s = q[:, cols] @ k[:, cols].T / (math.sqrt(width) if scale else 1.0)
        p = np.exp(s - s.max(1, keepdims=True))
        attended[:, cols] = p / p.sum(1, keepdims=True) @ v[:, cols]

    def norm(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        centred = z - z.mean(1, keepdims=True)
        return centred / np.sqrt((centred**2).mean(1, keepdims=True) + 1e-5) * gamma + beta

    h1 = norm(x + attended @ f["wo"] + f["bo"], f["gamma1"], f["beta1"])
    out = h1 + gelu_erf(h1 @ f["w1"] + f["b1"]) @ f["w2"] + f["b2"]
    return norm(out, f["gamma2"], f["beta2"])


@pytest.mark.parametrize(("tokens", "width", "heads", "ffn"), [(6, 8, 2, 16), (16, 64, 4, 128)])
def test_encoder_scores_are_scaled_as_bert_scales_them(tokens: int, width: int, heads: int,
                                                       ffn: int) -> None:
    """The golden encoder (and so the C++) follows softmax(Q K^T / sqrt(dh)): within 3e-4 of
    a float64 BERT layer; the unscaled layer it replaced is 100x further from it, and as
    close as the scaled one only to an unscaled float64 layer."""
    layer = EncoderLayer(heads=heads, tile=4)
    rng = np.random.default_rng(0)
    weights = layer.random_weights(rng, model_dim=width, ffn_dim=ffn)
    x = Fixed.from_float(rng.normal(0, 1, (tokens, width)), layer.linear.io_type)
    ours = layer(x, weights).to_float()
    unscaled = dataclasses.replace(layer, scale_scores=False)(x, weights).to_float()
    reference = _reference_layer(x.to_float(), weights, heads, scale=True)
    plain = _reference_layer(x.to_float(), weights, heads, scale=False)
    assert np.abs(ours - reference).max() < 3e-4
    assert np.abs(unscaled - reference).max() > 100 * np.abs(ours - reference).max()
    assert np.abs(unscaled - plain).max() < 3e-4
    assert EncoderLayer.score_scale(width // heads).to_float()[0] == 1 / math.sqrt(width // heads)


def test_the_scale_is_folded_into_the_q_projection() -> None:
    kernel = build_kernel("encoder", ZCU102, {"T": 8, "D": 768, "H": 12, "FF": 3072})
    assert kernel.context["lin"]["scaled"] and kernel.context["lin"]["scale"] == "0.125"
    assert "linear: score scale" not in kernel.multipliers  # 1/8 is a shift, no multiplier


def test_tally_counts_what_the_cast_wraps_or_saturates() -> None:
    values = Fixed.from_float([7.5, 8.0, -8.0, -8.5, 100.0], FixedType(16, 8))
    for overflow in ("WRAP", "SAT"):
        counts: dict[str, int] = {}
        out = tally(counts, "y", values, FixedType(8, 4, overflow=overflow))
        assert counts == {"y": 3}
        wrapped = overflow == "WRAP"
        assert out.to_float().tolist() == ([7.5, -8.0, -8.0, 7.5, 4.0] if wrapped
                                           else [7.5, 7.9375, -8.0, -8.0, 7.9375])


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The linear kernel with allow_overflow (so its vectors include sums far beyond the
    output type), wrapping and saturating."""
    root = tmp_path_factory.mktemp("overflow")
    folders = {}
    for mode in ("wrap", "saturate"):
        path = root / f"{mode}.yaml"
        path.write_text(f"overflow: {mode}\nallow_overflow: true\n")
        folders[mode] = root / mode
        emit_hls("linear", ZCU102, LINEAR, out=folders[mode], numerics=load_numerics(path))
    return folders


def test_overflows_are_counted_as_the_model_counts_them(overflowing: dict[str, Path]) -> None:
    for folder in overflowing.values():
        result = csim(folder)
        assert result.passed and result.mismatches == [] and result.overflow_mismatches == []
        outputs = LINEAR["T"] * LINEAR["N"]
        assert result.overflows == {"random": {"Y": 0}, "extremes": {"Y": 0},
                                    "overflowing": {"Y": outputs}}
        assert result.expected_overflows == result.overflows
        assert result.warnings == [f"overflow (allowed) in overflowing: Y {outputs} values"]


def test_saturation_is_a_choice_and_both_are_bit_exact(overflowing: dict[str, Path]) -> None:
    outputs = {}
    for mode, folder in overflowing.items():
        kernel_h = (folder / "src" / "kernel.h").read_text()
        assert f"typedef ap_fixed<32,10,AP_TRN,AP_{'SAT' if mode == 'saturate' else 'WRAP'}> " \
               "io_t;" in kernel_h
        csim(folder)
        outputs[mode] = (folder / "build" / "out" / "overflowing_y.txt").read_text().split()
    io_max = str((1 << 31) - 1)
    assert set(outputs["saturate"]) == {io_max}  # every sum clipped to the largest value
    assert io_max not in outputs["wrap"]          # wrapped: other values, as the model says


def test_an_overflow_fails_csim_unless_allowed(overflowing: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = overflowing["wrap"]
    with pytest.raises(HlsError) as caught:
        csim(folder, allow_overflow=False)
    assert str(caught.value) == (
        f"C simulation of {folder} overflowed (overflowing: Y 72 values wrapped or saturated; "
        "outputs bit-exact with the Python model): widen the types, or emit with a numerics "
        "file saying allow_overflow: true")
    assert main(["csim", str(folder)]) == 0  # emitted with allow_overflow: warnings only
    out = capsys.readouterr().out
    assert "warning: overflow (allowed) in overflowing: Y 72 values" in out


def test_a_count_the_model_did_not_predict_fails(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    emit_hls("linear", ZCU102, LINEAR, out=folder,
             numerics=AttentionNumerics(allow_overflow=True))
    (folder / "tb" / "vectors" / "overflowing" / "overflows.txt").write_text("Y 71\n")
    result = csim(folder)
    assert not result.passed and result.mismatches == []
    assert result.overflow_mismatches == ["overflowing: Y overflowed 72 times, the Python "
                                          "model 71"]


def test_default_vectors_do_not_overflow(tmp_path: Path) -> None:
    """Without allow_overflow every case stays in range: large scores are large for the
    score type they are checked against, not beyond it."""
    for name, kernel, sizes in (("f", "fusemax", {"P": 4, "M": 6, "E": 64, "F": 8, "M0": 4}),
                                ("l", "linear", {"T": 2, "K": 8, "N": 8})):
        emit_hls(kernel, ZCU102, sizes, out=tmp_path / name)
        result = csim(tmp_path / name)
        assert result.passed and result.overflowed == 0 and result.warnings == []


def test_scores_that_overflow_are_caught_in_attention(tmp_path: Path) -> None:
    numerics = AttentionNumerics(allow_overflow=True)
    emit_hls("fusemax", ZCU102, {"P": 5, "M": 10, "E": 8, "F": 8, "M0": 4},
             out=tmp_path / "f", numerics=numerics)
    result = csim(tmp_path / "f")
    assert result.passed
    assert result.overflows["overflowing_scores"]["QK"] == 5 * 10  # every score
    assert sum(result.overflows["random"].values()) == 0


@pytest.mark.parametrize(("text", "message"), [
    ("overflow: clamp\n", "overflow must be wrap or saturate, not 'clamp'"),
    ("allow_overflow: 1\n", "allow_overflow must be true or false, not 1"),
])
def test_numerics_file_options_are_checked(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "n.yaml"
    path.write_text(text)
    with pytest.raises(Exception) as caught:
        load_numerics(path)
    assert str(caught.value) == f"{path}:1: {message}"


def test_saturate_reaches_every_stored_type(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("overflow: saturate\n")
    numerics = load_numerics(path)
    assert (numerics.io.overflow, numerics.score.overflow, numerics.sum.overflow,
            numerics.accumulator.overflow, numerics.allow_overflow) == ("SAT",) * 4 + (False,)
    encoder = build_kernel("encoder", ZCU102, {"T": 4, "D": 8, "H": 2, "FF": 16},
                           numerics=numerics)
    assert {encoder.types[t].overflow for t in ("io_t", "score_t", "sum_t", "acc_t")} == {"SAT"}
    softmax = build_kernel("softmax", ZCU102, {"P": 2, "M": 4}, numerics=numerics)
    assert {softmax.types[t].overflow for t in ("score_t", "sum_t", "prob_t")} == {"SAT"}


def test_the_encoder_keeps_its_own_types(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("io: ap_fixed<12,5>\n")
    with pytest.raises(Exception, match="the encoder's types are its units' own"):
        build_kernel("encoder", ZCU102, {"T": 4, "D": 8, "H": 2, "FF": 16},
                     numerics=load_numerics(path))
