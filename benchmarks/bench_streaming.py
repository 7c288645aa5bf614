"""Peak memory of executing the 1-pass FuseMax cascade at M = 4K, 64K and 1M keys (P = 4
queries, E = F = 16): whole (every tensor materialised) against streaming (K and V arrive
in chunks of 4,096 keys and only the running max, sum and numerator are carried). Peaks are
tracemalloc's, which sees NumPy's allocations; streamed inputs are generated per chunk.

Usage: python benchmarks/bench_streaming.py [OUT.json]
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator

import numpy as np
from _report import emit

from einsum import execute, execute_streaming, load

P, E, F, CHUNK, TILE = 4, 16, 16, 4096, 256


def _chunks(m: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    for start in range(0, m, CHUNK):
        size = min(CHUNK, m - start)
        yield {"K": rng.normal(size=(E, size)), "V": rng.normal(size=(F, size))}


def _peak(run: Callable[[], np.ndarray]) -> tuple[int, float, np.ndarray]:
    tracemalloc.start()
    start = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, seconds, out


def main() -> None:
    cascade = load("fusemax")
    q = np.random.default_rng(1).normal(size=(E, P))
    rows = []
    for m in (4096, 65536, 1 << 20):
        streamed_peak, streamed_s, streamed = _peak(lambda m=m: execute_streaming(
            cascade, {"Q": q}, _chunks(m, 2), shapes={"M0": TILE})["AV"])

        def whole(m: int = m) -> np.ndarray:
            parts = list(_chunks(m, 2))
            k = np.concatenate([c["K"] for c in parts], axis=1)
            v = np.concatenate([c["V"] for c in parts], axis=1)
            del parts
            return execute(cascade, {"Q": q, "K": k, "V": v}, shapes={"M0": TILE})["AV"]

        whole_peak, whole_s, reference = _peak(whole)
        rows.append({"M": m, "streaming_peak_mib": round(streamed_peak / 2**20, 2),
                     "streaming_seconds": round(streamed_s, 2),
                     "whole_peak_mib": round(whole_peak / 2**20, 2),
                     "whole_seconds": round(whole_s, 2),
                     "max_relative_difference": float(np.max(np.abs(streamed - reference))
                                                      / np.max(np.abs(reference)))})
    first, last = rows[0], rows[-1]
    emit({"benchmark": "streaming_execution", "cascade": "fusemax", "P": P, "E": E, "F": F,
          "chunk": CHUNK, "tile": TILE, "runs": rows,
          "streaming_peak_ratio_1M_over_4K": round(last["streaming_peak_mib"]
                                                   / first["streaming_peak_mib"], 3),
          "whole_peak_ratio_1M_over_4K": round(last["whole_peak_mib"]
                                               / first["whole_peak_mib"], 1)})


if __name__ == "__main__":
    main()
