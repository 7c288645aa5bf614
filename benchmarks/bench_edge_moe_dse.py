"""Run the Edge-MoE design-space exploration (benchmarks/sweep_edge_moe.yaml) and write its
report: benchmarks/results/edge_moe_dse.json (every point) and edge_moe_dse.md (the
published design on each board, each board's Pareto front of latency against DSPs for the
published model, the fastest fitting design per model, and one axis at a time from the
published design).

    python benchmarks/bench_edge_moe_dse.py [SPEC.yaml]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"linear": 16, "query_group": 4, "port_bits": 256, "experts": 16, "top_k": 2,
             "routing": "uniform"}
"""Edge-MoE as published (include/hardware.hpp:9,13-15; include/model.hpp:19-20)."""


def _ms(point: dict[str, Any]) -> str:
    return f"{point['seconds_per_image'] * 1e3:.2f}" if "seconds_per_image" in point else "-"


def _design(point: dict[str, Any]) -> str:
    return (f"{point['linear']}x{point['linear']} linear, {point['query_group']} queries, "
            f"{point['port_bits']}-bit ports")


def _row(point: dict[str, Any]) -> str:
    return (f"| {_design(point)} | {point['dsp']:,} | {point['bram36']:,} | {point['lut']:,} | "
            f"{_ms(point)} | {point.get('bound_by', '-')} |")


def report(result: dict[str, Any], seconds: float) -> str:
    points = result["points"]
    fitting = sum(p["fits"] for p in points)
    out = [f"# {result['name']}: {result['network']} on {result['architecture']}", "",
           f"{len(points)} designs, {fitting} fit their board; explored in {seconds:.1f} s "
           "(benchmarks/bench_edge_moe_dse.py, spec benchmarks/sweep_edge_moe.yaml).", "",
           "Latency per image at 300 MHz; `bound` is what most of the image's cycles wait for "
           "(compute, DRAM: weight loads and port-bound streams, routing: the MoE gate).", ""]

    def published(device: str, **change: Any) -> dict[str, Any] | None:
        wanted = {**PUBLISHED, **change, "device": device}
        return next((p for p in points if all(p[k] == v for k, v in wanted.items())), None)

    out += ["## The published design on each board", "",
            "| board | design | DSP | BRAM36 | LUT | ms/image | bound | fits |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for device in result["pareto"]:
        p = published(device)
        if p is not None:
            out.append(f"| {device} {_row(p)} {'yes' if p['fits'] else 'no'} |")
    label = f"{PUBLISHED['experts']} experts, top-{PUBLISHED['top_k']}"
    for device, fronts in result["pareto"].items():
        out += ["", f"## {device}: Pareto front, {label}", "",
                "| design | DSP | BRAM36 | LUT | ms/image | bound |",
                "| --- | ---: | ---: | ---: | ---: | --- |"]
        out += [_row(p) for p in fronts.get(label, [])]
    out += ["", "## Fastest fitting design per model", "",
            "| board | model | design | DSP | ms/image | bound |",
            "| --- | --- | --- | ---: | ---: | --- |"]
    for device, best in result["best"].items():
        for model, p in best.items():
            out.append(f"| {device} | {model} | {_design(p)} | {p['dsp']:,} | {_ms(p)} | "
                       f"{p['bound_by']} |")
    out += ["", "## One axis at a time from the published design (zcu102)", "",
            "| change | DSP | ms/image | bound | fits |", "| --- | ---: | ---: | --- | --- |"]
    base = published("zcu102")
    if base is not None:
        out.append(f"| as published | {base['dsp']:,} | {_ms(base)} | {base['bound_by']} | "
                   f"{'yes' if base['fits'] else 'no'} |")
        for axis in ("linear", "query_group", "port_bits", "experts", "top_k"):
            values = sorted({p[axis] for p in points})
            for value in values:
                if value == PUBLISHED[axis]:
                    continue
                p = published("zcu102", **{axis: value})
                if p is not None:
                    out.append(f"| {axis} {value} | {p['dsp']:,} | {_ms(p)} | "
                               f"{p.get('bound_by', '-')} | {'yes' if p['fits'] else 'no'} |")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from mapper import explore, load_explore

    spec = load_explore(argv[0] if argv else ROOT / "benchmarks" / "sweep_edge_moe.yaml")
    start = time.perf_counter()
    result = explore(spec)
    seconds = time.perf_counter() - start
    folder = ROOT / "benchmarks" / "results"
    # Every point as a row of a table (one a line); fronts and the best as row numbers.
    points = result["points"]
    columns = list(dict.fromkeys(k for p in points for k in p))
    rows = ",\n".join(json.dumps([p.get(c) for c in columns]) for p in points)
    index = {id(p): i for i, p in enumerate(points)}
    head = json.dumps({
        "benchmark": "edge_moe_dse", "seconds": round(seconds, 1), "name": result["name"],
        "network": result["network"], "architecture": result["architecture"],
        "pareto": {d: {m: [index[id(p)] for p in front] for m, front in fronts.items()}
                   for d, fronts in result["pareto"].items()},
        "best": {d: {m: index[id(p)] for m, p in best.items()}
                 for d, best in result["best"].items()},
        "columns": columns})
    (folder / "edge_moe_dse.json").write_text(f"{head[:-1]}, \"points\": [\n{rows}\n]}}\n",
                                              encoding="utf-8")
    text = report(result, seconds)
    (folder / "edge_moe_dse.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
