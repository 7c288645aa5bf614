"""Map one attention layer onto the TPU-v4i-like architecture with AccelForge and print
one JSON document. Run by benchmarks/bench_accelforge.py with the Python >= 3.12 venv
that has accelforge installed (``.venv-accelforge/bin/python``), never by the suite.

Usage: python _accelforge_driver.py --tokens N [--metric latency|energy] [--jobs J]
                                    [--no-fuse]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "accelforge"
CLOCK_HZ = 1.05e9   # the arch's MAC and vector throughputs are 1.05e9 per second per lane


def _plain(value):
    """numpy scalars and 1-element lists as floats."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--metric", choices=("latency", "energy"), default="latency")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-fuse", action="store_true",
                        help="keep every tensor in DRAM (no fusion)")
    args = parser.parse_args()

    start = time.perf_counter()
    import accelforge as af
    imported = time.perf_counter()
    af.set_n_parallel_jobs(args.jobs, print_message=False)
    spec = af.Spec.from_yaml(HERE / "tpu_v4i.arch.yaml", HERE / "attention.workload.yaml",
                             jinja_parse_data={"N_TOKENS": args.tokens})
    if args.no_fuse:
        for node in spec.arch.nodes:
            if isinstance(node, af.arch.Memory):
                node.tensors.keep = "All"
                break
    spec.mapper.metrics = (af.mapper.Metrics.LATENCY if args.metric == "latency"
                           else af.mapper.Metrics.ENERGY)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        mapping = spec.map_workload_to_arch(print_progress=False)
    mapped = time.perf_counter()

    latency_s = _plain(mapping.latency())
    actions = {f"{c}.{a}": _plain(v)
               for (c, a), v in mapping.actions(per_component=True).items()}
    dram_bits = {key: value for key, value in actions.items()
                 if key.startswith("MainMemory.")}
    per_tensor = mapping.actions(per_component=True, per_tensor=True)
    dram_by_tensor = {}
    for (component, tensor, action), value in per_tensor.items():
        if component == "MainMemory":
            dram_by_tensor[f"{tensor}.{action}"] = _plain(value) / 8
    result = {
        "tool": "accelforge",
        "version": af.__dict__.get("__version__") or _version(),
        "tokens": args.tokens,
        "metric": args.metric,
        "fusion_allowed": not args.no_fuse,
        "parallel_jobs": args.jobs,
        "import_seconds": round(imported - start, 2),
        "map_seconds": round(mapped - imported, 2),
        "energy_j": _plain(mapping.energy()),
        "latency_s": latency_s,
        "latency_cycles": latency_s * CLOCK_HZ,
        "dram_bytes": sum(dram_bits.values()) / 8,
        "dram_bytes_by_tensor": dram_by_tensor,
        "energy_j_by_component": {k: _plain(v) for k, v in
                                  mapping.energy(per_component=True).items()},
        "energy_j_by_einsum": {k: _plain(v) for k, v in
                               mapping.energy(per_einsum=True).items()},
        "latency_s_by_einsum": {k: _plain(v) for k, v in
                                mapping.latency(per_einsum=True).items()},
        "latency_s_by_einsum_and_component": {
            f"{e}.{c}": _plain(v) for (e, c), v in
            mapping.latency(per_einsum=True, per_component=True).items()},
        "actions": actions,
        "mapper_log_tail": log.getvalue().strip().splitlines()[-5:],
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def _version() -> str:
    from importlib.metadata import version
    return version("accelforge")


if __name__ == "__main__":
    sys.exit(main())
