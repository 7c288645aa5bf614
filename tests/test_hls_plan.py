"""The plan of each HLS kernel as an FPGA engineer checks it before running Vitis: what it
instantiates (every multiplier at its width, every table copy, array and FIFO) against the
device, weights streamed when they cannot stay on chip, nothing that grows with the
sequence, DRAM words wide enough for the arrays, and the per-loop schedule in its README."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from hls_templates import (
    HlsError,
    Layout,
    build_kernel,
    emit_hls,
    kernel_resources,
    pack,
    render_sources,
    unpack,
)
from sim import architecture, dsp_per_multiplier

ZCU102 = architecture("zcu102")
BERT = {"T": 8, "D": 768, "H": 12, "FF": 3072}


def test_the_bert_layer_fits_by_streaming_its_weights() -> None:
    kernel = build_kernel("encoder", ZCU102, BERT)
    used = kernel_resources(kernel, ZCU102)
    assert used.fits and kernel.parallelism["weights_resident"] == 0
    assert "The layer's weights and biases total 108.1 Mibit; zcu102's block RAM holds 32.1 " \
           "Mibit (912 BRAM36): they stream from DRAM and are never held on chip." in kernel.notes
    # every buffer is counted: the linear unit's input tile and bias, the attention's score
    # tile, the LayerNorm rows, every FIFO
    assert {"linear: x_tile", "linear: bias", "attention: qk tile", "LayerNorm row",
            "linear: FIFO w_blocks"} <= set(used.buffers)
    assert used.total.bram36 == 65 and used.total.dsp == sum(
        n * dsp_per_multiplier(a, b) for n, a, b in kernel.multipliers.values()) == 1496
    assert kernel.latency == 236_576


def test_dsps_are_counted_at_the_emitted_widths() -> None:
    """16-bit attention operands take one DSP48E2 a multiplier: the QK array of 4 x 16 is 64
    DSPs (the preset's 32 x 32 charge would be 256); the encoder's 32-bit ones take 4."""
    fusemax = build_kernel("fusemax", ZCU102, {"P": 64, "M": 256, "E": 64, "F": 64})
    count, a, b = fusemax.multipliers["QK array"]
    assert (count, a, b) == (64, 16, 16) and count * dsp_per_multiplier(a, b) == 64
    encoder = build_kernel("encoder", ZCU102, BERT)
    count, a, b = encoder.multipliers["attention: QK array"]
    assert (count, a, b) == (64, 32, 32) and dsp_per_multiplier(a, b) == 4
    assert encoder.multipliers["linear: linear array"] == (256, 32, 16)


def test_a_design_that_cannot_fit_is_refused_with_its_numbers(tmp_path: Path) -> None:
    with pytest.raises(HlsError) as caught:
        emit_hls("fusemax", architecture("zcu102", array=64),
                 {"P": 64, "M": 64, "E": 64, "F": 64}, out=tmp_path / "p")
    assert str(caught.value).startswith("the fusemax kernel does not fit zcu102: "
                                        "dsp 17,408 > 2,520, lut ")
    assert str(caught.value).endswith("(most: multipliers, dsp 17,408)")
    assert not (tmp_path / "p").exists()


def test_weights_stay_on_chip_when_tiles_reuse_them_and_they_fit() -> None:
    small = build_kernel("linear", ZCU102, {"T": 64, "K": 768, "N": 768})
    assert small.parallelism["weights_resident"] == 1
    assert kernel_resources(small, ZCU102).buffers["weights (resident)"].bram36 == 285
    big = build_kernel("linear", ZCU102, {"T": 64, "K": 3072, "N": 3072})
    assert big.parallelism["weights_resident"] == 0
    assert "(Resident weights would need 144.0 Mibit of on-chip buffer; they do not fit " \
           "zcu102.)" in big.notes


@pytest.mark.parametrize(("kernel", "short", "long"), [
    ("encoder", {**BERT, "T": 512}, {**BERT, "T": 4096}),
    ("fusemax", {"P": 1024, "M": 1024, "E": 64, "F": 64}, {"P": 4096, "M": 4096, "E": 64, "F": 64}),
    ("softmax", {"P": 64, "M": 1024}, {"P": 64, "M": 16384}),
])
def test_nothing_on_chip_grows_with_the_sequence(kernel: str, short: dict[str, int],
                                                 long: dict[str, int]) -> None:
    a, b = build_kernel(kernel, ZCU102, short), build_kernel(kernel, ZCU102, long)
    assert kernel_resources(a, ZCU102).total == kernel_resources(b, ZCU102).total
    assert b.latency > 2 * a.latency


@pytest.mark.parametrize(("kernel", "sizes", "port", "bits"), [
    ("fusemax", {"P": 8, "M": 64, "E": 64, "F": 64}, "k", 256),
    ("encoder", BERT, "x", 512),
    ("encoder", BERT, "w1", 512),
    ("linear", {"T": 8, "K": 64, "N": 64}, "x", 512),
    ("gelu", {"N": 64}, "x", 512),
])
def test_dram_words_feed_a_block_a_cycle(kernel: str, sizes: dict[str, int], port: str,
                                         bits: int) -> None:
    """256- or 512-bit m_axi words, as Edge-MoE's: a K row block of 16 16-bit values, a row
    block of 16 32-bit activations, 32 16-bit weights."""
    k = build_kernel(kernel, ZCU102, sizes)
    assert next(p for p in k.ports if p.name == port).layout.bits == bits


def test_the_readme_states_each_loops_ii_and_the_latency() -> None:
    kernel = build_kernel("fusemax", ZCU102, {"P": 8, "M": 64, "E": 16, "F": 16, "M0": 16})
    readme = render_sources(kernel, ZCU102, "f")["README.md"]
    for loop in kernel.loops:
        row = f"| `{loop.function}` | `{loop.label}` | {loop.trips:,} | {loop.ii} | " \
              f"{loop.runs:,} | {loop.cycles:,} |"
        assert row in readme, row
    assert f"Expected latency of one call: **{kernel.latency:,} cycles**" in readme
    assert "Only a Vitis run can confirm" in readme
    # the schedule follows the mapping's arrays: 4 queries x 16 lanes, 16 keys a tile
    qk = next(loop for loop in kernel.loops if loop.label == "QK")
    assert (qk.trips, qk.runs) == (64 * 16 // 16, 8 // 4)


LAYOUTS = [
    Layout("rows", rows=3, cols=20, lanes=8, container=16, pad=16),
    Layout("blocks", rows=20, cols=24, lanes=32, container=16, block=(16, 16)),
    Layout("blocks", rows=8, cols=8, lanes=32, container=16, block=(4, 4)),
    Layout("groups", rows=70, cols=9, lanes=16, container=16, group=64),
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: x.kind)
def test_the_cocotb_bench_packs_as_the_layout_says(tmp_path: Path, layout: Layout) -> None:
    """The Python bench for Vitis-exported RTL packs DRAM words by the rule the C++ bench
    uses (which csim proves against the kernels)."""
    project = tmp_path / "g"
    emit_hls("gelu", ZCU102, {"N": 8}, out=project)
    spec = importlib.util.spec_from_file_location("bench", project / "cocotb" / "test_kernel.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    raw = [(i * 2654435761) % (1 << 16) for i in range(layout.rows * layout.cols)]
    ctx = layout.context()
    port = {"width": 16, "values": len(raw), "words": layout.words,
            "layout": {k: ctx[k] for k in ("kind", "rows", "cols", "lanes", "container", "a",
                                           "b")}}
    assert bench.pack(raw, port) == pack(raw, layout)
    assert unpack(pack(raw, layout), layout, 16) == bench.unpack(pack(raw, layout), port) == raw
    used = {layout.position(i // layout.cols, i % layout.cols) for i in range(len(raw))}
    assert len(used) == len(raw)  # no two values share a lane


def test_the_tb_position_rule_is_the_layout_rule() -> None:
    """tb/tb.cpp's position() is written from the same three formulas."""
    tb = render_sources(build_kernel("gelu", ZCU102, {"N": 8}), ZCU102, "g")["tb/tb.cpp"]
    for formula in ("word = r * l.a + c / l.lanes;",
                    "word = ((c / l.b) * kb_count + r / l.a) * block_words + index / l.lanes;",
                    "word = ((r / l.a) * l.cols + c) * l.b + index / l.lanes;"):
        assert formula in tb
    assert re.search(r"kind == 1", tb)
