"""A 10,000-point sweep on the cores this process may use: points per second, the cost of a
rerun with everything stored, and the overhead of a SIGKILL half-way plus resume.

Usage: python benchmarks/bench_sweep.py [OUT.json]
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import emit

from cascade import default_workers, run_sweep
from mapper import load_sweep

SPEC = Path(__file__).with_name("sweep_10k.yaml")


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as con:
            return int(con.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _killed_half_way(db: Path, total: int, workers: int) -> tuple[float, int]:
    """Run the sweep as a command, SIGKILL it once half the points are stored."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cascade", "sweep", str(SPEC), "--db",
                                str(db), "--workers", str(workers)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while _rows(db) < total // 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return time.perf_counter() - start, _rows(db)


def main() -> None:
    workers = default_workers()
    spec = load_sweep(SPEC)
    folder = Path(tempfile.mkdtemp())
    fresh = run_sweep(spec, folder / "fresh.sqlite", workers=workers)
    rerun = run_sweep(spec, folder / "fresh.sqlite", workers=workers)
    killed_seconds, kept = _killed_half_way(folder / "killed.sqlite", fresh.points, workers)
    resumed = run_sweep(spec, folder / "killed.sqlite", workers=workers)
    interrupted_total = killed_seconds + resumed.seconds
    emit({
        "benchmark": "sweep",
        "spec": "benchmarks/sweep_10k.yaml",
        "points": fresh.points,
        "workers": workers,
        "statuses": fresh.statuses,
        "fresh": {"seconds": round(fresh.seconds, 2),
                  "points_per_second": round(fresh.computed / fresh.seconds)},
        "target_seconds": 60,
        "rerun_all_stored": {"seconds": round(rerun.seconds, 2), "computed": rerun.computed},
        "kill_and_resume": {"killed_after_s": round(killed_seconds, 2), "rows_kept": kept,
                            "resume_seconds": round(resumed.seconds, 2),
                            "resume_computed": resumed.computed,
                            "total_seconds": round(interrupted_total, 2),
                            "overhead_vs_fresh": round(interrupted_total / fresh.seconds - 1,
                                                       3)},
    })


if __name__ == "__main__":
    main()
