"""The same sweep on a dask.distributed LocalCluster equals the local run."""

from __future__ import annotations

from pathlib import Path

from distributed import LocalCluster

from cascade import run_sweep
from mapper import ResultStore, parse_sweep

SPEC = """name: on-dask
algorithms: [fusemax, two_pass_deferred]
architectures:
  - {preset: fusemax, array: [64, 256], buffer_mib: [1, 16]}
  - {preset: zcu102, device: [zcu102, u250]}
models: [bert, mistral-7b]
seq: [512, 4096]
objective: [latency, edp]
"""

_MACHINE_DEPENDENT = ("created", "eval_seconds")


def _results(db: Path) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k not in _MACHINE_DEPENDENT}
            for row in ResultStore(db).rows("on-dask")]


def test_dask_run_equals_local_run(tmp_path: Path) -> None:
    spec = parse_sweep(SPEC)
    local = run_sweep(spec, tmp_path / "local.sqlite", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        remote = run_sweep(spec, tmp_path / "dask.sqlite", dask=cluster.scheduler_address)
        again = run_sweep(spec, tmp_path / "dask.sqlite", dask=cluster.scheduler_address)
    assert (local.points, local.computed, remote.computed, remote.workers) == (80, 80, 80, 0)
    assert (again.reused, again.computed) == (80, 0)
    assert _results(tmp_path / "dask.sqlite") == _results(tmp_path / "local.sqlite")
