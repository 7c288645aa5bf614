"""Every library algorithm mapped on FuseMax at BERT's shapes, at 4K and at 1M keys: seconds
per `search` (masks are counted by blocks, never per point), cycles, DRAM bytes, and how
the DRAM bytes grow from 4K to 1M keys (16x the keys: a masked O(M) algorithm should move
about 16x the bytes, a dense one about 256x).

Usage: python benchmarks/bench_map_library.py [OUT.json]
"""

from __future__ import annotations

import time

from _report import emit

from einsum import CascadeError, library_names, load, model, table_shape
from mapper import search
from sim import MappingError, architecture

SEQS = (4096, 1 << 20)


def main() -> None:
    arch = architecture("fusemax")
    bert = model("bert")
    rows = []
    for name in library_names():
        cascade = load(name)
        row: dict[str, object] = {"algorithm": name}
        for seq in SEQS:
            start = time.perf_counter()
            try:
                shapes, instances = bert.workload(cascade, seq)
                # Ranks a model does not size (agents, latents, windows) at the catalog's.
                shapes = {**{r: v for r, v in table_shape(cascade).items()
                             if r not in shapes and r not in ("M", "P")}, **shapes}
                found = search(cascade, arch, shapes, batch=bert.batch,
                               heads=instances // bert.batch)
            except (MappingError, CascadeError) as error:
                row[str(seq)] = {"error": error.message}
                continue
            row[str(seq)] = {"seconds": round(time.perf_counter() - start, 3),
                             "cycles": found.report.cycles,
                             "dram_bytes": found.report.dram_bytes}
        small, big = row.get(str(SEQS[0])), row.get(str(SEQS[1]))
        if isinstance(small, dict) and isinstance(big, dict) and "dram_bytes" in big:
            row["dram_growth_4k_to_1m"] = round(big["dram_bytes"] / small["dram_bytes"], 1)
        rows.append(row)
    slowest = max((r[str(SEQS[1])]["seconds"] for r in rows
                   if "seconds" in r[str(SEQS[1])]), default=None)
    emit({"benchmark": "map_library", "architecture": "fusemax", "model": "bert",
          "target_seconds": 1.0, "slowest_at_1m_seconds": slowest, "algorithms": rows})


if __name__ == "__main__":
    main()
