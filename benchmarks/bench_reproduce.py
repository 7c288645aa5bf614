"""Wall time of ``cascade reproduce fusemax`` (the artifact takes about 9 hours).

Usage: python benchmarks/bench_reproduce.py [OUT.json]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from _report import emit

from cascade import reproduce_fusemax, run_fusemax_study


def main() -> None:
    start = time.perf_counter()
    run_fusemax_study()
    model_only = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        summary = reproduce_fusemax(Path(folder) / "fusemax", progress=False)
        total = time.perf_counter() - start
    result = {
        "benchmark": "reproduce_fusemax",
        "cpus": os.cpu_count(),
        "model_seconds": round(model_only, 3),
        "total_seconds_with_files_and_plots": round(total, 3),
        "target_seconds": 10,
        "attention_speedup_vs_flat": summary["attention_speedup_vs_flat"],
    }
    emit(result)


if __name__ == "__main__":
    main()
