"""Run the property tests under fresh random seeds to look for new failures.

CI runs them derandomized (conftest.py), so CI is reproducible but never draws a new
example; this is where new examples are drawn. Each round is one pytest run with its own
``--hypothesis-seed``; a failing round is kept with the seed that reproduces it.

Usage: python benchmarks/hunt_properties.py [OUT.json] [--rounds N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

from _report import emit

ROOT = Path(__file__).resolve().parent.parent
PROPERTY_TESTS = ["tests/test_sparsity.py", "tests/test_cost_core.py",
                  "tests/test_hostile_inputs.py", "tests/test_parser_property.py"]


def hunt(rounds: int, seed: int) -> dict[str, object]:
    """``rounds`` pytest runs of the property tests, seeds drawn from ``seed``."""
    draw = random.Random(seed)
    failures: list[dict[str, object]] = []
    start = time.perf_counter()
    for _ in range(rounds):
        round_seed = draw.randrange(2**32)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--hypothesis-seed={round_seed}", *PROPERTY_TESTS],
            cwd=ROOT, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            failed = [line.split()[1] for line in run.stdout.splitlines()
                      if line.startswith("FAILED ")]
            failures.append({"seed": round_seed, "failed": failed})
    return {"rounds": rounds, "seed": seed, "failing_rounds": len(failures),
            "failures": failures, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    emit(hunt(args.rounds, args.seed), args.out)


if __name__ == "__main__":
    main()
