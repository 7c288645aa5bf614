"""Run a sweep: evaluate every point of a spec (process pool or Dask) into a results store.

A point's key hashes its cascade text, its resolved architecture, its workload, its
objective and the code version (a hash of the einsum, mapper and sim sources), so a rerun,
a resumed run or another sweep never recomputes a stored point, and a change of code
recomputes everything. Results reach the store in small transactions as chunks finish;
a killed run keeps every finished chunk.

>>> import os, tempfile
>>> from mapper import parse_sweep
>>> spec = parse_sweep("algorithms: [fusemax]\\narchitectures: [{preset: fusemax}]\\n"
...                    "models: [bert]\\nseq: [1024, 2048]")
>>> db = os.path.join(tempfile.mkdtemp(), "r.sqlite")
>>> first, again = run_sweep(spec, db), run_sweep(spec, db)
>>> (first.computed, again.computed, again.reused)
(2, 0, 2)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from einsum import Cascade, CascadeError, Model, load, passes, to_text
from mapper import Point, ResultStore, SweepSpec, design_architecture, search
from sim import Architecture, design_resources

from ._progress import Progress

__all__ = ["SweepSummary", "code_version", "evaluate_points", "point_key", "run_sweep"]

_CHUNK = 32  # points per task: large enough to hide scheduling, small enough to resume


@dataclass(frozen=True)
class SweepSummary:
    sweep: str
    points: int
    reused: int
    computed: int
    seconds: float
    workers: int
    """Local processes; 0 when the points ran on a Dask cluster."""
    statuses: dict[str, int]
    interrupted: bool = False

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["points_per_second"] = self.computed / self.seconds if self.seconds else None
        return data


@cache
def code_version() -> str:
    """Hash of the sources and data of the packages a result depends on."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for package in ("einsum", "mapper", "sim"):
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".yaml", ".json", ".csv") and path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=64)
def _cascade(algorithm: str) -> Cascade:
    return load(algorithm)


@lru_cache(maxsize=4096)
def _architecture_json(design: tuple[Any, ...]) -> str:
    return json.dumps(dataclasses.asdict(design_architecture(design)), sort_keys=True,
                      default=str)


def point_key(point: Point, cascade: Cascade, code: str) -> str:
    """The store key of a point: a hash of everything its evaluation depends on."""
    m = point.model
    identity = {
        "cascade": [point.algorithm, to_text(cascade)],
        "architecture": [point.preset, _architecture_json(point.design)],
        "model": [m.name, m.heads, m.kv_heads, m.head_dim, m.model_dim, m.ffn_dim, m.layers],
        "seq": point.seq, "batch": point.batch, "objective": point.objective, "code": code,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _identity(point: Point, arch: Architecture) -> dict[str, Any]:
    m = point.model
    return {
        "algorithm": Path(point.algorithm).stem, "architecture": point.preset,
        "device": arch.device.name if arch.device else None,
        "array": max(max(u.shape) for u in arch.units.values()),
        "pes": sum(u.pes for u in arch.units.values()),
        "buffer_mib": arch.global_buffer.capacity_bytes / 2**20,
        "bandwidth_gib_s": arch.dram.bandwidth_bytes_per_s / 2**30,
        "clock_mhz": arch.clock_mhz, "model": m.name, "seq": point.seq,
        "batch": point.batch, "heads": m.heads, "kv_heads": m.kv_heads, "layers": m.layers,
        "objective": point.objective,
    }


@lru_cache(maxsize=64)
def _passes(cascade: Cascade) -> int:
    return passes(cascade)


@lru_cache(maxsize=4096)
def _sizes(cascade: Cascade, preset: Model, seq: int) -> tuple[dict[str, int], int]:
    """Shapes and heads per sequence (head ranks the cascade carries are not counted again)."""
    shapes, instances = preset.workload(cascade, seq)
    return shapes, instances // preset.batch


def _evaluate(point: Point, cascade: Cascade) -> dict[str, Any]:
    start = time.perf_counter()
    arch = point.architecture()
    row = _identity(point, arch)
    row["passes"] = _passes(cascade)
    row["area_mm2"] = arch.area_mm2
    if arch.device is not None:
        resources = design_resources(arch)
        row.update(resources.to_json()["total"], fits=resources.fits)
    try:
        shapes, heads = _sizes(cascade, point.model, point.seq)
        found = search(cascade, arch, shapes, batch=point.batch, heads=heads,
                       objective=point.objective, keep=0)
    except CascadeError as error:
        row.update(status="unmappable", error=error.message)
    else:
        report = found.report
        pes = {name: arch.units[name].pes for name in report.utilisation}
        row.update(
            status="ok", cycles=report.cycles, seconds=report.seconds,
            energy_j=report.energy_j if report.energy_modelled else None,
            power_w=report.energy_j / report.seconds if report.energy_modelled else None,
            dram_bytes=report.dram_bytes, buffer_bytes=report.buffer_bytes,
            utilisation=sum(u * pes[n] for n, u in report.utilisation.items())
            / sum(pes.values()),
            utilisation_by_unit=report.utilisation, energy_pj_by_action=report.energy_pj,
            accesses=report.accesses, mapping=found.mapping.to_dict(),
            mappings_evaluated=found.evaluated)
    row["eval_seconds"] = time.perf_counter() - start
    return row


def evaluate_points(tasks: Sequence[tuple[Point, str]], cascades: dict[str, Cascade],
                    code: str) -> list[dict[str, Any]]:
    """Evaluate ``(point, key)`` pairs; the unit of work sent to a pool or a Dask worker.
    Refuses to run where the code differs from the code the keys were made with."""
    here = code_version()
    if here != code:
        raise RuntimeError(f"worker runs code version {here}, the sweep expects {code}")
    rows = []
    for point, key in tasks:
        row = _evaluate(point, cascades[point.algorithm])
        row.update(key=key, code_version=code, created=time.time())
        rows.append(row)
    return rows


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the parent alone decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_Chunks = list[list[tuple[Point, str]]]
_Rows = Generator[list[dict[str, Any]], None, None]


def _local(workers: int) -> Callable[[_Chunks, dict[str, Cascade], str], _Rows]:
    def run(chunks: _Chunks, cascades: dict[str, Cascade], code: str) -> _Rows:
        if workers == 1:
            for chunk in chunks:
                yield evaluate_points(chunk, cascades, code)
            return
        pool = ProcessPoolExecutor(workers, initializer=_ignore_interrupts)
        try:
            queue = iter(chunks)

            def submit(count: int) -> set[Future[list[dict[str, Any]]]]:
                return {pool.submit(evaluate_points, chunk, cascades, code)
                        for chunk in islice(queue, count)}

            pending = submit(4 * workers)  # a few tasks per worker in flight, not all of them
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    pending |= submit(1)
                    yield future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return run


def _dask(address: str) -> Callable[[_Chunks, dict[str, Cascade], str], _Rows]:
    def run(chunks: _Chunks, cascades: dict[str, Cascade], code: str) -> _Rows:
        from distributed import Client, as_completed

        with Client(address, set_as_default=False) as client:
            shared = client.scatter(cascades, broadcast=True)
            futures = [client.submit(evaluate_points, chunk, shared, code, pure=False)
                       for chunk in chunks]
            try:
                for future in as_completed(futures, loop=client.loop):
                    yield future.result()
            finally:  # on Ctrl-C, drop what the cluster has not run yet
                client.cancel([f for f in futures if not f.done()])
    return run


def run_sweep(spec: SweepSpec, db: str | Path, *, workers: int = 1, dask: str | None = None,
              progress: bool | None = False) -> SweepSummary:
    """Evaluate the points of ``spec`` not yet in ``db``; ``progress=None`` draws a bar when
    standard error is a terminal, ``False`` never, ``True`` always. Ctrl-C stops cleanly:
    what finished is kept."""
    start = time.perf_counter()
    code = code_version()
    cascades = {a: _cascade(a) for a in spec.algorithms}
    points = spec.points()
    keys = [point_key(p, cascades[p.algorithm], code) for p in points]
    store = ResultStore(db)
    try:
        store.register(spec.name, spec=_spec_json(spec),
                       constraints=dataclasses.asdict(spec.constraints), keys=keys)
        stored = store.finished(keys)
        todo = list({k: (p, k) for p, k in zip(points, keys, strict=True)
                     if k not in stored}.values())
        chunks = [todo[i:i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
        runner = _dask(dask) if dask else _local(max(1, workers))
        bar = Progress(len(todo), label=spec.name, enabled=progress)
        computed, interrupted = 0, False
        results = runner(chunks, cascades, code)
        try:
            for rows in results:
                store.add(rows)
                computed += len(rows)
                bar.update(len(rows))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            results.close()  # stops the pool or cancels the cluster's tasks now
            bar.close()
        statuses = store.statuses(spec.name)
    finally:
        store.close()
    return SweepSummary(sweep=spec.name, points=len(points), reused=len(points) - len(todo),
                        computed=computed, seconds=time.perf_counter() - start,
                        workers=0 if dask else max(1, workers), statuses=statuses,
                        interrupted=interrupted)


def _spec_json(spec: SweepSpec) -> dict[str, Any]:
    return {"file": spec.file, "algorithms": list(spec.algorithms),
            "architectures": [dataclasses.asdict(a) for a in spec.architectures],
            "models": [m.name for m in spec.models], "seq": list(spec.seq),
            "batch": list(spec.batch), "objectives": list(spec.objectives)}


def default_workers() -> int:
    return len(os.sched_getaffinity(0))
