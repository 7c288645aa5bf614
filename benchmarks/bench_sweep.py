"""A 10,000-point sweep on the cores this process may use: points per second and CPU
seconds of a fresh run (the `cascade sweep` command, children's user + system time), the
cost of a rerun with everything stored, and the overhead of a SIGKILL half-way plus resume.
With ``--baseline REV`` the same command also runs from a git worktree of REV, alternating
with this checkout (two runs each), and the JSON holds both and their ratio.

Usage: python benchmarks/bench_sweep.py [OUT.json] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sqlite3
import statistics
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


def _timed_sweep(root: Path, db: Path, workers: int) -> dict[str, float]:
    """Wall and CPU seconds of one fresh `cascade sweep` run with the code under ``root``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cascade", "sweep", str(SPEC), "--db", str(db),
                    "--workers", str(workers)], cwd=root, check=True,
                   env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}


def _against(baseline: str, folder: Path, workers: int) -> dict[str, object]:
    here = Path(__file__).resolve().parents[1]
    other = folder / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(other), baseline], cwd=here,
                   check=True, capture_output=True)
    try:
        runs: dict[str, list[dict[str, float]]] = {"current": [], "baseline": []}
        for k in range(2):
            runs["current"].append(_timed_sweep(here, folder / f"c{k}.sqlite", workers))
            runs["baseline"].append(_timed_sweep(other, folder / f"b{k}.sqlite", workers))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=here,
                       check=False, capture_output=True)
    median = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
              for name, rs in runs.items()}
    return {"baseline_rev": baseline, "runs": runs, "median": median,
            "cpu_ratio_current_over_baseline": round(median["current"]["cpu_seconds"]
                                                     / median["baseline"]["cpu_seconds"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?")
    parser.add_argument("--baseline")
    args = parser.parse_args()
    workers = default_workers()
    spec = load_sweep(SPEC)
    folder = Path(tempfile.mkdtemp())
    fresh = run_sweep(spec, folder / "fresh.sqlite", workers=workers)
    rerun = run_sweep(spec, folder / "fresh.sqlite", workers=workers)
    killed_seconds, kept = _killed_half_way(folder / "killed.sqlite", fresh.points, workers)
    resumed = run_sweep(spec, folder / "killed.sqlite", workers=workers)
    interrupted_total = killed_seconds + resumed.seconds
    command = _timed_sweep(Path(__file__).resolve().parents[1], folder / "command.sqlite",
                           workers)
    compared = _against(args.baseline, folder, workers) if args.baseline else None
    emit({
        "benchmark": "sweep",
        "spec": "benchmarks/sweep_10k.yaml",
        "points": fresh.points,
        "workers": workers,
        "statuses": fresh.statuses,
        "fresh": {"seconds": round(fresh.seconds, 2),
                  "points_per_second": round(fresh.computed / fresh.seconds)},
        "fresh_command": command,
        "target_cpu_seconds": 12,
        "rerun_all_stored": {"seconds": round(rerun.seconds, 2), "computed": rerun.computed},
        "kill_and_resume": {"killed_after_s": round(killed_seconds, 2), "rows_kept": kept,
                            "resume_seconds": round(resumed.seconds, 2),
                            "resume_computed": resumed.computed,
                            "total_seconds": round(interrupted_total, 2),
                            "overhead_vs_fresh": round(interrupted_total / fresh.seconds - 1,
                                                       3)},
        "against_baseline": compared,
    }, args.out)


if __name__ == "__main__":
    main()
