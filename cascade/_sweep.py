"""Run a sweep: evaluate every point of a spec (process pool or Dask) into a results store.

A point's key hashes its cascade text, its resolved architecture, its workload, its
objective and the code version (a hash of the einsum, mapper and sim sources), so a rerun,
a resumed run or another sweep never recomputes a stored point, and a change of code
recomputes everything. Results reach the store in small transactions as chunks finish;
a killed run keeps every finished chunk. Pool workers end with their parent, however it
ends (SIGKILL included). A point whose numbers overflow the cost model's or the store's
64-bit counts is stored as unmappable, with the reason, rather than stopping the sweep.

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

import asyncio
import ctypes
import dataclasses
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from einsum import Cascade, CascadeError, Model, load, passes, to_text
from mapper import (
    COLUMNS,
    Point,
    ResultStore,
    SweepError,
    SweepSpec,
    design_architecture,
    search,
    storable,
)
from sim import Architecture, design_resources

from ._progress import Progress

__all__ = ["SweepSummary", "code_version", "evaluate_points", "point_key", "run_sweep"]

_CHUNK = 32  # points per task: large enough to hide scheduling, small enough to resume
CONNECT_SECONDS = 5
"""How long a Dask scheduler has to answer."""
_RESULT_COLUMNS = ("cycles", "seconds", "energy_j", "power_w", "dram_bytes", "buffer_bytes",
                   "utilisation", "utilisation_by_unit", "energy_pj_by_action", "accesses",
                   "mapping", "mappings_evaluated")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class SweepSummary:
    sweep: str
    points: int
    reused: int
    computed: int
    seconds: float
    workers: int
    """Local processes (at most four per core); 0 when the points ran on a Dask cluster."""
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
        "algorithm": Path(point.algorithm).stem, "architecture": Path(point.preset).stem,
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
    except ArithmeticError as error:  # sizes beyond the cost model's 64-bit counts
        row.update(status="unmappable", error=f"numbers beyond the cost model's 64-bit counts "
                                              f"({type(error).__name__}: {error})")
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
    _keep_storable(row)
    row["eval_seconds"] = time.perf_counter() - start
    return row


def _keep_storable(row: dict[str, Any]) -> None:
    """A row the store would refuse (an integer beyond 64 bits) or change (NaN becomes
    NULL) is kept as unmappable, without its results, so that the sweep goes on."""
    bad = [c for c, v in row.items() if c in COLUMNS and not storable(v)]
    if bad:
        for column in (*_RESULT_COLUMNS, *bad):
            row[column] = None
        row.update(status="unmappable", error=f"{', '.join(bad)} beyond what the store keeps "
                                              "(64-bit integers, numbers other than NaN)")


def evaluate_points(tasks: Sequence[tuple[Point, str]], cascades: dict[str, Cascade],
                    code: str) -> list[dict[str, Any]]:
    """Evaluate ``(point, key)`` pairs; the unit of work sent to a pool or a Dask worker.
    Refuses to run where the code differs from the code the keys were made with."""
    here = code_version()
    if here != code:
        raise SweepError(f"a worker runs code version {here}, the sweep expects {code}; "
                         "install the same cascade on every worker")
    rows = []
    for point, key in tasks:
        row = _evaluate(point, cascades[point.algorithm])
        row.update(key=key, code_version=code, created=time.time())
        rows.append(row)
    return rows


def _start_worker(parent: int) -> None:
    """A pool worker's set-up: it ignores Ctrl-C and ends with its parent."""
    # Ctrl-C reaches the whole process group; the parent alone decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, SIGTERM) cannot stop its pool, and an orphaned
    # worker would wait on its task pipe for ever. Linux sends the parent-death signal
    # the moment the parent goes; the watching thread covers other systems and a parent
    # that died before the signal was asked for.
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent",
                     daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


_Chunks = list[list[tuple[Point, str]]]
_Rows = Generator[list[dict[str, Any]], None, None]


def _local(workers: int) -> Callable[[_Chunks, dict[str, Cascade], str], _Rows]:
    def run(chunks: _Chunks, cascades: dict[str, Cascade], code: str) -> _Rows:
        if workers == 1 or len(chunks) <= 1:
            for chunk in chunks:
                yield evaluate_points(chunk, cascades, code)
            return
        pool = ProcessPoolExecutor(min(workers, len(chunks)), initializer=_start_worker,
                                   initargs=(os.getpid(),))
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
                    try:
                        rows = future.result()
                    except BrokenProcessPool:
                        raise SweepError("a pool worker died (killed, or out of memory); "
                                         "run again to resume") from None
                    yield rows
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return run


def _connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address``, or a SweepError within
    :data:`CONNECT_SECONDS`. The address is tried first with a bare connection: a Client
    that fails to start spends twice its timeout closing itself and prints tracebacks."""
    from distributed import Client
    from distributed.comm import connect

    async def probe() -> None:
        comm = await connect(address, timeout=CONNECT_SECONDS)
        await comm.close()

    where = f"--dask {address}"
    try:
        asyncio.run(probe())
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError):
        raise SweepError(f"no Dask scheduler answered within {CONNECT_SECONDS} s",
                         file=where) from None
    except ValueError as error:
        raise SweepError(f"not a Dask scheduler address: {error}", file=where) from None
    except Exception as error:  # a server that is not a scheduler answers anything at all
        raise SweepError(f"cannot talk to a Dask scheduler there ({type(error).__name__})",
                         file=where) from None


def _dask(client: Any, address: str) -> Callable[[_Chunks, dict[str, Cascade], str], _Rows]:
    def run(chunks: _Chunks, cascades: dict[str, Cascade], code: str) -> _Rows:
        from distributed import as_completed

        shared = client.scatter(cascades, broadcast=True)
        futures = [client.submit(evaluate_points, chunk, shared, code, pure=False)
                   for chunk in chunks]
        try:
            for future in as_completed(futures, loop=client.loop):
                try:
                    rows = future.result()
                except CascadeError:
                    raise
                except Exception as error:  # a lost scheduler or worker, a killed task
                    raise SweepError(f"the Dask cluster failed ({type(error).__name__}: "
                                     f"{str(error).splitlines()[0] if str(error) else ''}); "
                                     "run again to resume", file=f"--dask {address}") from None
                yield rows
        finally:  # on Ctrl-C or a failure, drop what the cluster has not run yet
            client.cancel([f for f in futures if not f.done()])
    return run


def run_sweep(spec: SweepSpec, db: str | Path, *, workers: int = 1, dask: str | None = None,
              progress: bool | None = False, replace: bool = False) -> SweepSummary:
    """Evaluate the points of ``spec`` not yet in ``db``; ``progress=None`` draws a bar when
    standard error is a terminal, ``False`` never, ``True`` always. Ctrl-C stops cleanly:
    what finished is kept. A sweep of the same name with other axes already in ``db`` is
    refused (a :class:`SweepError` at the spec's name) unless ``replace``. The Dask
    scheduler and the database are checked before anything is written."""
    start = time.perf_counter()
    code = code_version()
    cascades = {a: _cascade(a) for a in spec.algorithms}
    todo_by_key: dict[str, Point] = {}
    for p in spec.points():  # a key once, however often the spec gives its point
        todo_by_key.setdefault(point_key(p, cascades[p.algorithm], code), p)
    keys = list(todo_by_key)
    workers = min(max(1, workers), 4 * default_workers())  # more only thrash (or fork-bomb)
    client = _connect(dask) if dask else None
    try:
        store = ResultStore(db)
        try:
            described = _spec_json(spec)
            difference = store.conflict(spec.name, described)
            if difference and not replace:
                raise SweepError(f"sweep {spec.name!r} is already in {db} with other axes "
                                 f"({difference}); give this sweep another name",
                                 file=spec.file, line=spec.name_line)
            store.register(spec.name, spec=described,
                           constraints=dataclasses.asdict(spec.constraints), keys=keys,
                           replace=replace)
            stored = store.finished(keys)
            todo = [(p, k) for k, p in todo_by_key.items() if k not in stored]
            chunks = [todo[i:i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
            runner = _dask(client, str(dask)) if client else _local(workers)
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
    finally:
        if client is not None:
            client.close()
    return SweepSummary(sweep=spec.name, points=len(keys), reused=len(keys) - len(todo),
                        computed=computed, seconds=time.perf_counter() - start,
                        workers=0 if dask else workers, statuses=statuses,
                        interrupted=interrupted)


def _spec_json(spec: SweepSpec) -> dict[str, Any]:
    return {"file": spec.file, "algorithms": list(spec.algorithms),
            "architectures": [dataclasses.asdict(a) for a in spec.architectures],
            "models": [m.name for m in spec.models], "seq": list(spec.seq),
            "batch": list(spec.batch), "objectives": list(spec.objectives)}


def default_workers() -> int:
    return len(os.sched_getaffinity(0))
