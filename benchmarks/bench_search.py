"""Mapping candidates evaluated per second on one core.

* one Einsum (a linear layer of BERT's FFN at 64K tokens): the exhaustive vectorised space;
* the whole FuseMax cascade: the dominance-pruned search of ``cascade map``.

Usage: python benchmarks/bench_search.py [OUT.json]
"""

from __future__ import annotations

import time

from _report import emit

from einsum import load, model, parse_text
from mapper import einsum_space, search
from sim import architecture


def _rate(run, repeat: int) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    run()  # warm up
    start = time.perf_counter()
    count = 0
    for _ in range(repeat):
        count += run()
    return count, time.perf_counter() - start


def main() -> None:
    gemm = parse_text("Y[n,t] = X[k,t] * W[k,n]", name="linear")
    shapes = {"K": 768, "N": 3072, "T": 64 * 65536}
    arch = architecture("fusemax")
    count, seconds = _rate(lambda: einsum_space(gemm, arch, "array2d", shapes).candidates, 20)
    bert = model("bert")
    cascade = load("fusemax")
    batches = iter(range(1, 100))
    # A new batch size each run: a new workload, so nothing is remembered from the last run.
    whole, whole_seconds = _rate(lambda: search(cascade, arch, bert.shapes(65536),
                                                batch=next(batches),
                                                heads=bert.heads).evaluated, 3)
    result = {
        "benchmark": "mapping_search",
        "one_einsum": {"einsum": "Y[n,t] = X[k,t] * W[k,n]", "shapes": shapes,
                       "candidates": count, "seconds": round(seconds, 4),
                       "candidates_per_second": round(count / seconds)},
        "fusemax_cascade": {"mappings": whole, "seconds": round(whole_seconds, 4),
                            "mappings_per_second": round(whole / whole_seconds)},
        "target_per_second_per_core": 1_000_000,
    }
    emit(result)


if __name__ == "__main__":
    main()
