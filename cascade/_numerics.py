"""``cascade numerics``: how much accuracy each fixed-point choice costs.

Random attention inputs (several score ranges and lengths) run through the Edge-MoE online
softmax for a grid of widths and table sizes, beside hls4ml's default softmax; GELU tables
beside the tanh formula. Errors are absolute, against float64 on the unquantised inputs:
probabilities, and outputs ``P @ V`` with V ~ N(0, 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim import (
    DEFAULT_SOFTMAX,
    Fixed,
    FixedType,
    GeluUnit,
    Hls4mlSoftmax,
    gelu_erf,
    gelu_tanh,
    softmax_config,
)

__all__ = ["numerics_study", "plot"]


def _errors(probabilities: np.ndarray, exact: np.ndarray, v: np.ndarray) -> dict[str, float]:
    difference = np.abs(probabilities - exact)
    outputs = np.abs(probabilities @ v.T - exact @ v.T)
    return {"prob_max": float(difference.max()), "prob_mean": float(difference.mean()),
            "out_max": float(outputs.max()), "out_mean": float(outputs.mean())}


def _combine(parts: list[dict[str, float]]) -> dict[str, float]:
    return {"prob_max": max(p["prob_max"] for p in parts),
            "prob_mean": float(np.mean([p["prob_mean"] for p in parts])),
            "out_max": max(p["out_max"] for p in parts),
            "out_mean": float(np.mean([p["out_mean"] for p in parts]))}


def numerics_study(*, lengths: Sequence[int] = (64, 256), scales: Sequence[float] = (1, 2, 4),
                   widths: Sequence[int] = (16, 18, 24, 32),
                   table_bits: Sequence[int] = (4, 6, 8), rows: int = 8,
                   seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, scale in itertools.product(lengths, scales):
        scores = rng.normal(size=(rows, n)) * scale
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        cases.append((n, scale, scores, weights / weights.sum(axis=1, keepdims=True),
                      rng.normal(size=(4, n))))

    softmax_rows = []
    hls4ml = Hls4mlSoftmax()
    parts = [_errors(hls4ml(s), exact, v) for _n, _scale, s, exact, v in cases]
    softmax_rows.append({"design": "hls4ml default (stable)", "width": 16, "table_entries": 1024,
                         "table_bits": 18, **_combine(parts)})
    for width, bits in itertools.product(widths, table_bits):
        unit = softmax_config(width, bits)
        parts = []
        for _n, _scale, s, exact, v in cases:
            fixed = Fixed.from_float(s, unit.score_type)
            parts.append(_errors(unit.probabilities(fixed).to_float(), exact, v))
        softmax_rows.append({"design": "online softmax", "width": width,
                             "table_entries": 2**bits + 1, "table_bits": width,
                             **_combine(parts)})

    x = np.linspace(-8, 8, 2**16 + 1)
    gelu_rows = [{"design": "tanh formula (float)", "width": 64, "step": None,
                  "max": float(np.abs(gelu_tanh(x) - gelu_erf(x)).max())}]
    for width, step_bits in itertools.product((16, 24, 32), (4, 5, 6)):
        unit = GeluUnit(io_type=FixedType(width, 10 if width > 16 else 6), step_bits=step_bits)
        fx = Fixed.from_float(x, unit.io_type)
        gelu_rows.append({"design": "Edge-MoE table", "width": width, "step": 2.0**-step_bits,
                          "max": float(np.abs(unit(fx).to_float() - gelu_erf(x)).max())})
    return {"softmax": softmax_rows, "gelu": gelu_rows,
            "inputs": {"lengths": list(lengths), "scales": list(scales), "rows": rows},
            "default": {"width": DEFAULT_SOFTMAX[0], "table_bits": DEFAULT_SOFTMAX[1]}}


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ours = [r for r in result["softmax"] if r["design"] == "online softmax"]
    for entries in sorted({r["table_entries"] for r in ours}):
        pts = [r for r in ours if r["table_entries"] == entries]
        ax.plot([r["width"] for r in pts], [r["prob_max"] for r in pts], marker="o",
                label=f"online softmax, {entries}-entry tables")
    ref = result["softmax"][0]
    ax.axhline(ref["prob_max"], color="red", linestyle="--", label="hls4ml default softmax")
    ax.axhline(ref["prob_max"] / 10, color="red", linestyle=":", label="10x better")
    ax.set_yscale("log")
    ax.set_xlabel("width (bits)")
    ax.set_ylabel("max |p - softmax|")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "softmax_error.png", dpi=110)
    plt.close(fig)
