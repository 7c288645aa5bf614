"""The BERT-base encoder layer as an HLS project, end to end on the command line:
`cascade emit-hls encoder --arch zcu102 --model bert --seq 8` then `cascade csim`, each in
its own process, timed in CPU seconds (user + system of the process and its children: the
Python model, g++ once, the testbench once for every case). Also records what the plan
says: the structure, the expected latency and DRAM traffic, the resources against the
device and the overflow counts.

Usage: python benchmarks/bench_hls_bert.py [OUT.json]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import emit

COMMANDS = ("emit-hls", "csim")


def _run(argv: list[str]) -> dict[str, Any]:
    """Run ``python -m cascade ...`` and measure its CPU time (it and its children)."""
    start_wall = time.perf_counter()
    before = os.times()
    done = subprocess.run([sys.executable, "-m", "cascade", *argv], capture_output=True,
                          text=True)
    after = os.times()
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return {"argv": ["cascade", *argv], "status": done.returncode,
            "cpu_seconds": round(cpu, 1),
            "wall_seconds": round(time.perf_counter() - start_wall, 1),
            "stdout": done.stdout, "stderr": done.stderr.strip()}


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        out = Path(root) / "bert"
        emitted = _run(["emit-hls", "encoder", "--arch", "zcu102", "--model", "bert",
                        "--seq", "8", "--out", str(out)])
        simulated = _run(["csim", str(out), "--json"])
        details = json.loads(simulated.pop("stdout")) if simulated["status"] == 0 else {}
        emitted["summary"] = emitted.pop("stdout").strip()
        meta = json.loads((out / "cascade.json").read_text())
        readme = (out / "README.md").read_text()
        overflow = [line for line in (out / "tb" / "vectors" / "random" /
                                      "overflows.txt").read_text().splitlines()]
    emit({"benchmark": "hls_bert", "design": "encoder, BERT-base, 8 tokens, zcu102",
          "target_cpu_seconds": 120,
          "emit_hls": emitted, "csim": simulated,
          "csim_cpu_seconds_total": round(emitted["cpu_seconds"] + simulated["cpu_seconds"], 1),
          "bit_exact": bool(details.get("passed")), "compared": details.get("compared"),
          "warnings": details.get("warnings"),
          "overflows_in_random_case": overflow,
          "parallelism": meta["parallelism"], "latency_cycles": meta["latency"],
          "resources": meta["resources"],
          "weights_note": next((line[2:] for line in readme.splitlines()
                                if "weights and biases total" in line), "")})


if __name__ == "__main__":
    main()
