"""Edge-MoE's cycles per image, derived by hand from its HLS code's loop structure, and the
model checked against it layer by layer.

The derivation is independent of cascade's model: it does not import it. Every kernel the
top function calls (src/ViT_compute.cpp:138-206) is costed as its loop trip counts times the
initiation interval its ``#pragma HLS pipeline`` asks for (II 1 everywhere but the gate's
softmax, II 3), plus a pipeline depth. Trip counts and the m_axi latency are read from the
code (citations ``FILE:LINE`` in sharc-lab/Edge-MoE at 984b23b); the other depths are not in
the code (no synthesis report is published) and are estimates, each with its reason:
docs/edge_moe_design.md section 2.1.

Two port scenarios (docs/edge_moe_design.md section 2.2):

* ``A``: every port takes one 256-bit beat per cycle (the loop structure alone);
* ``C``: the ports land on 128-bit PS ports at the kernel's clock (bitstream.hwh:6892-6904),
  so a loop that needs a 256-bit beat every cycle on one port gets one every 2 cycles.
  This is the design as built, and what the ``edge-moe`` preset describes.

Calls run one after another in program order (the image and layer loops are ``pipeline
off``: src/ViT_compute.cpp:141,148; no top-level dataflow); iterations of a loop whose body
is a dataflow region are taken as not overlapping (not verifiable without csynth).

Run it to print the comparison and write ``benchmarks/results/edge_moe_validation.json``::

    python benchmarks/edge_moe_derivation.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# ----- the code's constants

TOKENS = 129              # NUM_PATCHES = (256/16)*(128/16) + 1: include/model.hpp:4-6,12-14
DIM = 192                 # FEATURE_DIM: include/model.hpp:8
HIDDEN = 768              # VIT_HIDDEN_DIM: include/model.hpp:9
EXPERT_HIDDEN = 384       # EXPERT_HIDDEN_DIM: include/model.hpp:10
LAYERS = 12               # NUM_LAYERS: include/model.hpp:16
EXPERTS = 16              # NUM_EXPERTS: include/model.hpp:19
BLOCK = 8                 # FEATURE_BLOCK_SIZE = 256 / 32: include/hardware.hpp:9-10
LINEAR = 16               # LINEAR_IN_SIZE = LINEAR_OUT_SIZE = 2 * 8: include/hardware.hpp:13-14
QUERIES = 4               # ATTN_MATMUL_PARALLEL: include/hardware.hpp:15
WEIGHTS_PER_BEAT = 16     # WEIGHT_BLOCK_SIZE = 256 / 16: src/linear.cpp:19
BIASES_PER_BEAT = 16      # BIAS_BLOCK_SIZE = 256 / 16: src/linear.cpp:111
L_M = 64                  # m_axi read latency HLS schedules for: vitis_hls.tcl:17

# ----- depths that are not in the code [est] (docs/edge_moe_design.md section 2.1)

LOAD_DEPTH = L_M + 3      # one read, one register write
LINEAR_DEPTH = 100        # compute_linear fill + drain: L_M + ~20 (16-deep MAC/add) + ~15 (write)
ATTENTION_DEPTH = 100     # the QK and AV dataflow regions, same reasoning
ADD_DEPTH = L_M + 6       # compute_add
ZERO_DEPTH = 20           # zero_output: writes only
ROW_DEPTH = 100           # a patch-embedding row's dataflow region
RSQRT = 22                # LayerNorm: 1/hls::sqrt(var) once per token (src/layernorm.cpp:116-118)
GATE_TOKEN = 24 + 10 + EXPERTS * 3 + 10 + EXPERTS + 5 + 37
"""Gating per token, one call after another (src/moe.cpp:255-269): 24 gate-MAC iterations
(:175-192) + ~10 depth, 16 softmax updates at II 3 (:205-207) + ~10, top-k over 16 (:136)
+ ~5, and ~37 for the two exps and the 32-bit divide of the chosen weights (:236-240)."""


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _load(out_dim: int, in_dim: int, per_beat: int) -> int:
    """load_linear_weights: out x ceil(in/16) beats at II 1 (src/linear.cpp:25-27,44-46),
    then load_linear_bias: ceil(out/16) beats (:117,127-129); per_beat cycles a beat."""
    weights = out_dim * _ceil(in_dim, WEIGHTS_PER_BEAT) * per_beat + LOAD_DEPTH
    bias = _ceil(out_dim, BIASES_PER_BEAT) * per_beat + LOAD_DEPTH
    return weights + bias


def _linear(length: int, out_dim: int, in_dim: int) -> int:
    """compute_linear: length x ceil(out/16) x ceil(in/16) iterations at II 1
    (src/linear.cpp:449-463); its read and write streams stay under 128 bits a cycle."""
    return length * _ceil(out_dim, LINEAR) * _ceil(in_dim, LINEAR) + LINEAR_DEPTH


def _attention(per_beat: int) -> int:
    """compute_q_matmul_k or compute_attn_matmul_v: 33 query groups x 129 keys x 24 dim
    blocks at II 1 (src/attention.cpp:62-68, 404-410), K or V read one beat an iteration
    (:25-43)."""
    groups = (TOKENS + QUERIES - 1) // QUERIES
    return groups * TOKENS * (DIM // BLOCK) * per_beat + ATTENTION_DEPTH


def kernels(counts: Sequence[int] | None, *, port_limited: bool) -> dict[str, int]:
    """Cycles of one layer by block (named as in mapper/networks/vit-edge-moe.yaml); a
    dense layer when ``counts`` is None, else an MoE layer whose experts get ``counts``
    tokens each."""
    beat = 2 if port_limited else 1
    norms = 4 * (DIM // BLOCK + LOAD_DEPTH)  # load_norms: 4 loops of 24 128-bit beats
    # compute_norm: per token, accumulate (24 reads), 1/sqrt, output (24 writes)
    # (src/layernorm.cpp:81-135,147-157)
    norm = TOKENS * (L_M + DIM // BLOCK * beat + RSQRT + DIM // BLOCK * beat)
    projection = _load(DIM, DIM, beat) + _linear(TOKENS, DIM, DIM)
    out = {
        "norm": norms + 2 * norm,
        "query": projection, "key": projection, "value": projection,
        "projection": projection,
        "qk": _attention(beat), "av": _attention(beat),
        # compute_add, twice: 129 x 24 at II 1, reading x and tmp3, writing x (src/add.cpp:11-19)
        "residual": 2 * (TOKENS * (DIM // BLOCK) * beat + ADD_DEPTH),
    }
    if counts is None:
        out["mlp_up"] = _load(HIDDEN, DIM, beat) + _linear(TOKENS, HIDDEN, DIM)
        out["mlp_down"] = _load(DIM, HIDDEN, beat) + _linear(TOKENS, DIM, HIDDEN)
        return out
    # load_w_gate: 16 x 24 beats of 8 x 16-bit (128 bits: no port limit) (src/moe.cpp:28-36)
    out["gate"] = EXPERTS * (DIM // BLOCK) + LOAD_DEPTH + TOKENS * GATE_TOKEN
    out["moe_zero"] = TOKENS * (DIM // BLOCK) * beat + ZERO_DEPTH   # src/moe.cpp:291-302
    active = [n for n in counts if n]
    # Per active expert: FC1 weights and bias, FC1 + GELU over its tokens (gathered); FC2
    # weights and bias, FC2 scatter-added (src/moe.cpp:319-435; queue length: linear.cpp:526).
    out["expert_up"] = sum(_load(EXPERT_HIDDEN, DIM, beat) + _linear(n, EXPERT_HIDDEN, DIM)
                           for n in active)
    out["expert_down"] = sum(_load(DIM, EXPERT_HIDDEN, beat) + _linear(n, DIM, EXPERT_HIDDEN)
                             for n in active)
    return out


def patch_embed(*, port_limited: bool) -> int:
    """compute_patch_embed: 8 rows, each 3 x 16 x 8 x 24 accumulate iterations at II 1
    (src/conv.cpp:48-56) then 16 x 24 output iterations reading pos_embed (:130-139), then
    the cls row's 24 (:160-165)."""
    beat = 2 if port_limited else 1
    rows = 128 // 16
    accumulate = 3 * 16 * (256 // 32) * (DIM // BLOCK)
    return rows * (accumulate + 16 * (DIM // BLOCK) * beat + ROW_DEPTH) + DIM // BLOCK * beat


def derive(histograms: dict[int, Sequence[int]], *, port_limited: bool) -> dict[str, Any]:
    """Cycles per image: the patch embedding and each layer by block; ``histograms`` gives
    the tokens per expert of each MoE (odd) layer (src/ViT_compute.cpp:178-202)."""
    layers = []
    for i in range(LAYERS):
        blocks = kernels(histograms[i] if i % 2 else None, port_limited=port_limited)
        layers.append({"layer": i, "kind": "moe" if i % 2 else "dense", "blocks": blocks,
                       "cycles": sum(blocks.values())})
    first = patch_embed(port_limited=port_limited)
    return {"patch_embed": first, "layers": layers,
            "cycles_per_image": first + sum(layer["cycles"] for layer in layers)}


# ----- the model against the derivation


def _model_layers(result: dict[str, Any]) -> list[dict[str, int]]:
    """The model's cycles per layer by block (map_network gives whole-image block totals
    and per-layer totals; a block's calls in a layer are equal except the experts')."""
    per_layer: list[dict[str, int]] = [{} for _ in range(LAYERS)]
    for block in result["blocks"]:
        if block["name"] == "patch_embed":
            continue
        if block["name"].startswith("expert_"):
            continue  # filled from the expert calls below
        kind_layers = [layer["layer"] for layer in result["layers"]
                       if block["name"] in _KIND_BLOCKS[layer["kind"]]]
        each = block["cycles_total"] // len(kind_layers)
        for i in kind_layers:
            per_layer[i][block["name"]] = each
    for layer in result["layers"]:
        if layer["kind"] == "moe":
            rest = layer["cycles"] - sum(per_layer[layer["layer"]].values())
            per_layer[layer["layer"]]["experts"] = rest
    return per_layer


_SHARED = ("norm", "query", "key", "value", "projection", "qk", "av", "residual")
_KIND_BLOCKS = {"dense": (*_SHARED, "mlp_up", "mlp_down"),
                "moe": (*_SHARED, "gate", "moe_zero")}


def compare(result: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    """Model against derivation: per layer, per block of a layer, the patch embedding and
    the image, each with its relative error (model / derivation - 1)."""
    model_layers = _model_layers(result)
    rows = []
    for layer, derived_layer in zip(result["layers"], derived["layers"], strict=True):
        blocks = dict(derived_layer["blocks"])
        if layer["kind"] == "moe":
            blocks["experts"] = blocks.pop("expert_up") + blocks.pop("expert_down")
        per_block = {name: {"model": model_layers[layer["layer"]][name], "derived": cycles,
                            "error": model_layers[layer["layer"]][name] / cycles - 1}
                     for name, cycles in blocks.items()}
        rows.append({"layer": layer["layer"], "kind": layer["kind"], "model": layer["cycles"],
                     "derived": derived_layer["cycles"],
                     "error": layer["cycles"] / derived_layer["cycles"] - 1,
                     "bound_by": layer["bound_by"], "blocks": per_block})
    patch = next(b for b in result["blocks"] if b["name"] == "patch_embed")["cycles_total"]
    image = result["latency"]["cycles_per_image"]
    return {"layers": rows,
            "patch_embed": {"model": patch, "derived": derived["patch_embed"],
                            "error": patch / derived["patch_embed"] - 1},
            "image": {"model": image, "derived": derived["cycles_per_image"],
                      "error": image / derived["cycles_per_image"] - 1}}


def _table(name: str, comparison: dict[str, Any], clock_hz: float) -> str:
    lines = [f"### {name}", "", "| layer | block | model | derivation | error |",
             "| --- | --- | ---: | ---: | ---: |"]
    for row in comparison["layers"][:2]:  # the other layers repeat these two
        for block, c in row["blocks"].items():
            lines.append(f"| {row['layer']} ({row['kind']}) | {block} | {c['model']:,} | "
                         f"{c['derived']:,} | {c['error']:+.1%} |")
    for row in comparison["layers"]:
        lines.append(f"| {row['layer']} ({row['kind']}) | **layer** ({row['bound_by']}) | "
                     f"{row['model']:,} | {row['derived']:,} | {row['error']:+.1%} |")
    for key in ("patch_embed", "image"):
        c = comparison[key]
        lines.append(f"| | **{key}** | {c['model']:,} | {c['derived']:,} | {c['error']:+.1%} |")
    image = comparison["image"]
    lines.append("")
    lines.append(f"Per image: model {image['model'] / clock_hz * 1e3:.2f} ms, derivation "
                 f"{image['derived'] / clock_hz * 1e3:.2f} ms at {clock_hz / 1e6:g} MHz.")
    return "\n".join(lines)


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    import dataclasses

    from mapper import map_network
    from sim import architecture

    published = architecture("edge-moe")
    # Scenario A's ideal: every port a 256-bit beat a cycle, and DDR able to feed all five.
    ports = {n: dataclasses.replace(p, link_bits=p.bits) for n, p in published.ports.items()}
    dram = dataclasses.replace(published.dram, bandwidth_bytes_per_s=sum(
        p.bytes_per_cycle for p in ports.values()) * published.clock_hz)
    wide = dataclasses.replace(published, name="edge-moe, ideal ports", ports=ports, dram=dram)
    routings = {"uniform": "uniform",
                "measured": str(root / "benchmarks" / "edge_moe_layer1_routing.txt")}
    report: dict[str, Any] = {"benchmark": "edge_moe_validation", "cases": []}
    text = []
    for scenario, arch, limited in (("C", published, True), ("A", wide, False)):
        for label, routing in routings.items():
            result = map_network("vit-edge-moe", arch, experts=routing)
            task = result["moe"]["task"]
            histograms = {layer["layer"]: layer["experts"]["tokens"]
                          for layer in result["layers"] if layer["kind"] == "moe"}
            comparison = compare(result, derive(histograms, port_limited=limited))
            name = f"scenario {scenario} ({arch.name}), {label} routing, task {task}"
            report["cases"].append({"name": name, **comparison})
            text.append(_table(name, comparison, arch.clock_hz))
    out = root / "benchmarks" / "results" / "edge_moe_validation.json"
    out.write_text(json.dumps(report, separators=(",", ":")) + "\n", encoding="utf-8")
    print("\n\n".join(text))
    print(f"\nwrote {out.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
