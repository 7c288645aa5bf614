"""cascade beside AccelForge (PyPI ``accelforge``, the successor of Timeloop) on one
attention layer: QK -> softmax -> AV of GPT-3 6.7B (32 heads of 128, batch 1) at 1K and 4K
tokens on a TPU-v4i-like chip (4 cores x [4 MiB local buffer, 128 x 128 systolic array,
128-lane vector unit], 128 MiB shared buffer, 614 GB/s DRAM, 1.05 GHz, 16-bit words).

cascade runs in this process (its venv, Python 3.11): ``cascade.map("three_pass", ...)``,
timed as the call and as the whole command ``python -m cascade map ... --json``.
AccelForge needs Python >= 3.12, so it runs in a subprocess of its own venv
(``.venv-accelforge/bin/python benchmarks/_accelforge_driver.py``, at nice 10), with the
specs in ``benchmarks/accelforge/``. Without that venv and package the benchmark says so in
one line and exits 2; it never writes numbers it did not measure.

cascade's architecture is ``--arch tpu-v4i`` where that preset exists (then the layer is
also costed on the single-level approximation ``benchmarks/tpu_v4i_single_level.yaml``, as
``cascade_single_level``), otherwise that approximation alone (the JSON says which).

Usage: python benchmarks/bench_accelforge.py [OUT.json] [--tokens 1024 4096]
           [--cascade-root DIR] [--jobs 2] [--accelforge-python PATH]
Default OUT: benchmarks/results/accelforge.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPECS = HERE / "accelforge"
DRIVER = HERE / "_accelforge_driver.py"
MODEL_CONFIG = SPECS / "gpt3-6.7b.json"
SINGLE_LEVEL = HERE / "tpu_v4i_single_level.yaml"
ALGORITHM = "three_pass"
CLOCK_HZ = 1.05e9

DIFFERENCES = [
    {"topic": "softmax cost",
     "accelforge": "softmax is one Einsum with one operand, QK_softmax[b,m,p,h] = "
                   "QK[b,m,p,h]: one vector-unit operation per score, and the example's "
                   "vector unit costs 0 J; no max or sum reduction, no exp, no divide.",
     "cascade": "three_pass is the safe softmax as Einsums: a max over keys, exp(x - max), "
                "a sum over keys and a divide: 4 vector-unit operations per score, each "
                "with cycles and energy. On this chip (512 vector lanes against 65,536 "
                "MACs, 128 MACs per score) the vector unit, not the MXU, bounds cascade's "
                "latency: 4 x 32 x N^2 / 512 cycles. Counted as 1 op per score it would be "
                "a quarter of that and the MXU would bound it."},
    {"topic": "overlap of Einsums, compute and memory",
     "accelforge": "within one Einsum every component (MACs, each memory's reads and "
                   "writes, DRAM) overlaps perfectly: the Einsum takes its slowest "
                   "component; Einsums run one after another, the layer's latency is the "
                   "sum over QK, softmax and AV (latency_s_by_einsum: the softmax alone "
                   "is a third of it).",
     "cascade": "the searched mapping is one overlapped stage: the MXU's QK and AV of one "
                "tile run while the vector unit does another tile's softmax (passes "
                "order work within a tile only), so the latency is the busiest unit; DRAM "
                "overlaps compute (max of compute and DRAM cycles)."},
    {"topic": "memory levels and bandwidths",
     "accelforge": "DRAM -> 128 MiB GlobalBuffer (read 2,048 GB/s, write 1,024 GB/s, "
                   "separate ports) -> 4 x 4 MiB LocalBuffer (one per core, unbounded "
                   "bandwidth) -> a register per PE (stationary operand) -> MAC; the "
                   "GlobalBuffer's bandwidth, not the MACs, bounds QK and the softmax at "
                   "1K and 4K (latency_s_by_einsum_and_component). The 4 cores are a "
                   "spatial fanout the mapper may spread any rank over.",
     "cascade": "with sim/presets/tpu-v4i.yaml: DRAM -> 128 MiB shared buffer -> 4 MiB "
                "local buffer per core (inputs, state and outputs; filled from the shared "
                "buffer at 487.6 B a cycle per core) -> registers; the cores split the 32 "
                "heads (8 each), the scores between passes stay in the shared buffer, "
                "whose reads by the arrays have no bandwidth limit (only the link into the "
                "local buffer has one: link_cycles in levels). The single-level file "
                "(cascade_single_level) has no local buffer and one 128 x 512 array."},
    {"topic": "what energy counts",
     "accelforge": "every bit moved at every level: DRAM reads and writes, GlobalBuffer "
                   "reads and writes (including the intermediates QK and QK_softmax written "
                   "and read there), LocalBuffer reads and writes, register reads (0 J), "
                   "MACs; the vector unit 0 J.",
     "cascade": "DRAM accesses, buffer rows filled from DRAM and written by the arrays "
                "(each value of what a buffer holds, once), operand rows the arrays read "
                "from the buffer (once for the steps a word stays in its PE, once per fold "
                "for the stationary operand, none for an operand the same PEs just made), "
                "ops (MAC and softmax ops), register-file accesses; the local buffer is "
                "charged for its fills and reads. Per-action constants are the same in both "
                "(the preset and the single-level file take AccelForge's per-bit numbers), "
                "so the gap is in the counting."},
    {"topic": "DRAM traffic",
     "accelforge": "optimising latency only, the mapper does not minimise DRAM traffic "
                   "where DRAM does not bound latency: its mapping reads Q, K and V twice "
                   "at 1K and 8 times at 4K, and at 4K writes AV's partial sums out and "
                   "reads them back (dram_bytes_by_tensor).",
     "cascade": "latency ties are broken by energy and tiles by least DRAM traffic: Q, K, "
                "V read once, AV written once."},
    {"topic": "fusion",
     "accelforge": "fusion-aware mapper (FFM): the scores QK and their softmax are "
                   "intermediates that may bypass DRAM; the mapping found fuses the three "
                   "Einsums under a loop over heads, with QK and QK_softmax held in the "
                   "GlobalBuffer.",
     "cascade": "the three passes are fused in one stage: QK and SN stay in the buffer "
                "between passes (no DRAM loop), only Q, K, V and AV touch DRAM."},
    {"topic": "systolic fill and drain",
     "accelforge": "none: a MAC array does 1 MAC per PE per cycle from the first cycle.",
     "cascade": "SCALE-Sim's fill and drain (rows + cols - 2, plus the stationary load "
                "under ws) paid once per Einsum's run (fold_overlap: true): a few hundred "
                "cycles."},
    {"topic": "mapping search",
     "accelforge": "FFM explores tile shapes, loop orders, spatial fanouts and fusion at "
                   "every level and joins per-Einsum Pareto fronts (minutes per layer).",
     "cascade": "per DRAM loop order: power-of-two tiles, every binding x dataflow x legal "
                "spatial choice per Einsum, combinations scored with numpy (tens of "
                "milliseconds per layer)."},
]


def _cascade_arch(root: Path) -> tuple[str, str]:
    """The preset name if it exists under ``root``, else the single-level file; and why."""
    if (root / "sim" / "presets" / "tpu-v4i.yaml").exists():
        return "tpu-v4i", (
            "the preset sim/presets/tpu-v4i.yaml (4 cores splitting the heads, each a "
            "128 x 128 MXU, a 128-lane vector unit and a 4 MiB local buffer; a 128 MiB "
            "shared buffer). cascade_single_level is the same layer on "
            "benchmarks/tpu_v4i_single_level.yaml, for reference.")
    return str(SINGLE_LEVEL), (
        "approximation: sim/presets/tpu-v4i.yaml did not exist when this ran, so cascade "
        "used benchmarks/tpu_v4i_single_level.yaml: one 128 MiB buffer feeding the arrays "
        "directly (no 4 MiB local buffers, no buffer bandwidth limit), the 4 cores' "
        "128 x 128 arrays as one 128 x 512 array and their vector units as one 512-lane "
        "unit, AccelForge's per-bit energies.")


def _commit(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if done.returncode == 0:
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "cascade", "einsum", "sim", "mapper"],
                               capture_output=True, text=True).stdout.strip()
        return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    marker = root / "COMMIT"   # a `git archive` export of a commit
    return marker.read_text().strip() if marker.exists() else "unknown"


def _run_cascade(root: Path, arch: str, tokens: int) -> dict[str, Any]:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import cascade  # from ``root`` (imported here, after the path is set)
    start = time.perf_counter()
    result = cascade.map(ALGORITHM, arch=arch, model_config=MODEL_CONFIG, seq=tokens)
    call_seconds = time.perf_counter() - start
    argv = [sys.executable, "-m", "cascade", "map", ALGORITHM, "--arch", arch,
            "--model-config", str(MODEL_CONFIG), "--seq", str(tokens), "--json"]
    env = dict(os.environ, PYTHONPATH=str(root))
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=root)
    command_seconds = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"cascade map failed: {done.stderr.strip()}")
    document = json.loads(done.stdout)
    report = document["report"]
    assert report["cycles"] == result.cycles, "the command and the call disagree"
    return {
        "tool": "cascade",
        "algorithm": ALGORITHM,
        "wall_seconds_call": round(call_seconds, 3),
        "wall_seconds_command": round(command_seconds, 2),
        "cpu_seconds_command": round(after.children_user - before.children_user
                                     + after.children_system - before.children_system, 2),
        "search_seconds": round(document["search"]["seconds"], 3),
        "mappings_evaluated": document["search"]["evaluated"],
        "energy_j": result.energy_j,
        "latency_cycles": report["cycles"],
        "latency_s": report["seconds"],
        "dram_bytes": report["dram_bytes"],
        "dram_bytes_by_tensor": report["dram_bytes_by_tensor"],
        "energy_j_by_component": {k: v * 1e-12 for k, v in report["energy_pj"].items()},
        "unit_cycles": report["unit_cycles"],
        "compute_cycles": report["compute_cycles"],
        "dram_cycles": report["dram_cycles"],
        "buffer_bytes": report["buffer_bytes"],
        "levels": report.get("levels"),
        "einsums": [{k: e[k] for k in ("name", "unit", "cycles", "ops", "dataflow",
                                       "fill_cycles")} for e in report["einsums"]],
        "mapping": document["mapping"],
    }


def _accelforge_python(given: str | None) -> Path:
    return Path(given) if given else ROOT / ".venv-accelforge" / "bin" / "python"


def _accelforge_missing(python: Path) -> str | None:
    if not python.exists():
        return f"AccelForge is missing: no {python} (python3.12 -m venv .venv-accelforge; " \
               ".venv-accelforge/bin/pip install accelforge)"
    done = subprocess.run([str(python), "-c", "import accelforge"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"AccelForge is missing: {python} cannot import accelforge ({last})"
    return None


def _run_accelforge(python: Path, tokens: int, jobs: int) -> dict[str, Any]:
    argv = ["nice", "-n", "10", str(python), str(DRIVER), "--tokens", str(tokens),
            "--metric", "latency", "--jobs", str(jobs)]
    before = os.times()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:   # it writes mapping.svg to its cwd
        done = subprocess.run(argv, capture_output=True, text=True, cwd=scratch)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"AccelForge failed at {tokens} tokens: "
                         f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    result = json.loads(done.stdout)
    result["wall_seconds_command"] = round(wall, 1)
    result["cpu_seconds_command"] = round(after.children_user - before.children_user
                                          + after.children_system - before.children_system,
                                          1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE / "results" / "accelforge.json"))
    parser.add_argument("--tokens", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--cascade-root", default=str(ROOT),
                        help="import cascade from here (default: this repository)")
    parser.add_argument("--jobs", type=int, default=2, help="AccelForge's parallel jobs")
    parser.add_argument("--accelforge-python", default=None)
    args = parser.parse_args()

    python = _accelforge_python(args.accelforge_python)
    missing = _accelforge_missing(python)
    if missing:
        print(missing)
        return 2
    root = Path(args.cascade_root).resolve()
    arch, approximation = _cascade_arch(root)
    rows = []
    for tokens in args.tokens:
        ours = _run_cascade(root, arch, tokens)
        print(f"cascade {tokens}: {ours['latency_cycles']:,} cycles, "
              f"{ours['energy_j']:.4g} J, {ours['wall_seconds_command']} s", file=sys.stderr)
        single = (_run_cascade(root, str(SINGLE_LEVEL), tokens)
                  if arch == "tpu-v4i" else None)
        theirs = _run_accelforge(python, tokens, args.jobs)
        print(f"accelforge {tokens}: {theirs['latency_cycles']:,.0f} cycles, "
              f"{theirs['energy_j']:.4g} J, {theirs['wall_seconds_command']} s",
              file=sys.stderr)
        rows.append({
            "tokens": tokens,
            "cascade": ours,
            "accelforge": theirs,
            **({"cascade_single_level": single} if single else {}),
            "ratio_cascade_over_accelforge": {
                key: round(ours[key] / theirs[key], 3)
                for key in ("latency_cycles", "energy_j", "dram_bytes")},
            "wall_speedup_command": round(theirs["wall_seconds_command"]
                                          / ours["wall_seconds_command"], 1),
        })
    document = {
        "benchmark": "accelforge",
        "layer": "QK -> softmax -> AV, GPT-3 6.7B (32 heads, head dim 128), batch 1",
        "architecture": "TPU-v4i-like: 4 cores x [4 MiB local buffer, 128x128 systolic "
                        "array, 128-lane vector unit], 128 MiB shared buffer, 614 GB/s "
                        "DRAM, 1.05 GHz, 16-bit words",
        "objective": "latency (both tools)",
        "cascade_arch": arch if arch == "tpu-v4i" else str(Path(arch).relative_to(ROOT)),
        "cascade_arch_note": approximation,
        "cascade_commit": _commit(root),
        "accelforge_specs": ["benchmarks/accelforge/tpu_v4i.arch.yaml",
                             "benchmarks/accelforge/attention.workload.yaml"],
        "accelforge_run": f"nice 10, {args.jobs} parallel jobs, on a shared 2-core machine",
        "units": {"energy_j": "J", "latency_s": "s", "latency_cycles": "cycles at 1.05 GHz",
                  "dram_bytes": "bytes read + written", "wall_seconds_*": "s, wall clock"},
        "results": rows,
        "differences": DIFFERENCES,
    }
    text = json.dumps(document, indent=2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
