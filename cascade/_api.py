"""The Python face of cascade for scripts and notebooks; the command line is a thin layer
over it.

>>> import cascade
>>> result = cascade.map("fusemax", arch="fusemax", model="bert", seq=1024)
>>> result.cycles, result.mapping.dram_loops
(1699572, ())
>>> again = cascade.map("fusemax", arch="fusemax", model="bert", seq="1k",
...                     mapping=result.mapping)
>>> again.cycles == result.cycles and again.energy_j == result.energy_j
True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from einsum import (
    Analysis,
    Cascade,
    CascadeError,
    CheckResult,
    Model,
    check_cascade,
    check_shape,
    load,
    model_from_config,
    parse_shape_text,
    staged_folder,
)
from einsum import analyze as analyze_cascade
from einsum import model as model_preset
from mapper import (
    OBJECTIVES,
    ResultStore,
    SweepSpec,
    evaluate_mapping,
    load_sweep,
    map_network,
    network_names,
    parse_sweep,
    search,
)
from sim import (
    Architecture,
    Mapping,
    Report,
    architecture,
    architecture_yaml,
    design_resources,
    load_mapping,
    mapping_from_dict,
    mapping_yaml,
)

from ._design_page import write_design_page
from ._sweep import default_workers, run_sweep
from ._user_reference import import_reference, user_reference

if TYPE_CHECKING:
    import pandas

__all__ = ["SCHEMA", "MapResult", "NetworkResult", "Workload", "analyze", "check", "digits", "map",
           "model_and_seq", "resolve_architecture", "resolve_workload", "results",
           "sequence_length", "sweep"]

SCHEMA = 1
"""Version of every JSON document cascade writes (``"schema": 1``); it changes only when
a key users read changes meaning or goes away."""

_SUFFIXES = {"k": 2**10, "m": 2**20}


def digits(text: str | None, longest: int) -> int | None:
    """The number at most ``longest`` ASCII digits spell, or None (``int`` also takes other
    scripts' digits, signs, spaces and underscores, which a typo should not turn into a size).

    >>> digits("4096", 15), digits("4_096", 15), digits("\u0664", 15)
    (4096, None, None)
    """
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > longest:
        return None
    return int(text)


def sequence_length(value: int | str) -> int:
    """A sequence length from a whole number or a size such as ``"8k"`` (8,192: sequence
    lengths are counted in powers of two, as the models' contexts are).

    >>> sequence_length("8k"), sequence_length("1M"), sequence_length(4096)
    (8192, 1048576, 4096)
    """
    if isinstance(value, str):
        scale = _SUFFIXES.get(value[-1:].lower(), 1)
        count = digits(value[:-1] if scale > 1 else value, 15)
        if count is None:
            raise CascadeError(f"--seq must be a positive whole number such as 4096 or 8k, "
                               f"not {value!r}")
        value = count * scale
    if isinstance(value, bool) or not isinstance(value, int):
        raise CascadeError(f"seq must be a whole number or a size such as '8k', not {value!r}")
    return check_shape("seq", value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Workload:
    """Rank sizes and how many (batch, head) instances of them run."""

    shapes: dict[str, int]
    batch: int
    heads: int
    model: str | None = None
    seq: int | None = None


def model_and_seq(*, model: str | Model | None, model_config: str | Path | None,
                  seq: int | str | None) -> tuple[Model, int] | None:
    """The model (a preset name, a :class:`~einsum.Model` or a HuggingFace config file) and
    sequence length given, which go together, or None."""
    if model is not None and model_config is not None:
        raise CascadeError("give --model or --model-config, not both")
    preset = model_from_config(model_config) if model_config is not None else \
        model_preset(model) if isinstance(model, str) else model
    if (preset is None) != (seq is None):
        raise CascadeError("--model (or --model-config) and --seq go together")
    return None if preset is None else (preset, sequence_length(seq))  # type: ignore[arg-type]


def resolve_workload(cascade: Cascade, *, model: str | Model | None = None,
                     model_config: str | Path | None = None, seq: int | str | None = None,
                     shape: str | MappingABC[str, int] | None = None,
                     batch: int | None = None) -> Workload:
    """The workload a model and sequence length (or explicit rank sizes) give ``cascade``.

    Head ranks a cascade carries itself (GQA's G and R) are sized from the model and not
    multiplied again; ``batch`` replaces the model's batch.
    """
    given = model_and_seq(model=model, model_config=model_config, seq=seq)
    shapes: dict[str, int] = {}
    runs, heads = 1, 1
    preset, length = given if given is not None else (None, None)
    if preset is not None and length is not None:
        shapes, instances = preset.workload(cascade, length)
        runs, heads = preset.batch, instances // preset.batch
    if shape is not None:
        shapes.update(parse_shape_text(shape) if isinstance(shape, str) else
                      {rank: check_shape(rank, size) for rank, size in shape.items()})
    if not shapes:
        raise CascadeError("give --model and --seq, or --shape like E=64,F=64,M=4096,P=4096")
    if batch is not None:
        runs = check_shape("batch", batch)
    return Workload(shapes=shapes, batch=runs, heads=heads,
                    model=None if preset is None else preset.name, seq=length)


def resolve_architecture(arch: str | Path | Architecture, *, array: int | None = None,
                         buffer_mib: float | None = None, bandwidth_gib_s: float | None = None,
                         clock_mhz: float | None = None) -> Architecture:
    """A preset name, a YAML file or an :class:`~sim.Architecture`, with the given sizes
    changed."""
    changes = {k: v for k, v in (("array", array), ("buffer_mib", buffer_mib),
                                 ("bandwidth_gib_s", bandwidth_gib_s),
                                 ("clock_mhz", clock_mhz)) if v is not None}
    if isinstance(arch, Architecture):
        return arch.replace(**changes) if changes else arch
    return architecture(str(arch), **changes)


def check(algorithm: str | Path | Cascade, *,
          reference: str | Callable[[dict[str, Any]], Any] | None = None,
          shape: str | MappingABC[str, int] | Sequence[str | MappingABC[str, int]] | None = None,
          seed: int = 0) -> list[CheckResult]:
    """Execute ``algorithm`` in float64 on random inputs and compare with a reference: a
    library algorithm's own formula, exact attention, or ``reference`` (a function of the
    input arrays, or ``"module:function"``) at each ``shape``.

    >>> all(r.passed for r in check("fusemax"))
    True
    """
    cascade = _cascade(algorithm)
    if reference is None:
        if shape is not None:
            raise CascadeError("--shape sets the sizes a --reference is checked at; library "
                               "algorithms and attention are checked at their own sizes")
        return check_cascade(cascade, seed=seed)
    formula = import_reference(reference) if isinstance(reference, str) else reference
    shapes = [] if shape is None else [shape] if isinstance(shape, str | MappingABC) else shape
    sizes = [parse_shape_text(s) if isinstance(s, str) else
             {rank: check_shape(rank, size) for rank, size in s.items()} for s in shapes]
    return check_cascade(cascade, seed=seed, reference=user_reference(cascade, formula, sizes))


def _cascade(algorithm: str | Path | Cascade) -> Cascade:
    return algorithm if isinstance(algorithm, Cascade) else load(algorithm)


def analyze(algorithm: str | Path | Cascade, *, model: str | Model | None = None,
            model_config: str | Path | None = None, seq: int | str | None = None,
            shape: str | MappingABC[str, int] | None = None,
            batch: int | None = None) -> Analysis:
    """Passes, op counts, footprints and live state of an algorithm on a workload.

    >>> analyze("three_pass", model="xlm", seq="4k").passes
    3
    """
    cascade = _cascade(algorithm)
    w = resolve_workload(cascade, model=model, model_config=model_config, seq=seq,
                         shape=shape, batch=batch)
    return analyze_cascade(cascade, w.shapes, batch=w.batch, heads=w.heads)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MapResult:
    """A design: an algorithm mapped onto an architecture, and its cost."""

    cascade: Cascade
    arch: Architecture
    workload: Workload
    mapping: Mapping
    report: Report
    objective: str
    search: dict[str, Any] | None
    """Mappings evaluated, bindings pruned and seconds taken; None for a given mapping."""
    runners_up: tuple[dict[str, Any], ...] = ()

    @property
    def cycles(self) -> int:
        return self.report.cycles

    @property
    def seconds(self) -> float:
        return self.report.seconds

    @property
    def energy_j(self) -> float | None:
        """None where the architecture has no energy model (the FPGA presets)."""
        return self.report.energy_j if self.report.energy_modelled else None

    @property
    def dram_bytes(self) -> int:
        return self.report.dram_bytes

    @property
    def resources(self) -> dict[str, Any] | None:
        return design_resources(self.arch).to_json() if self.arch.device is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The document ``cascade map --json`` prints."""
        w = self.workload
        return {"schema": SCHEMA, "cascade": self.cascade.name, "architecture": self.arch.name,
                "workload": {"model": w.model, "seq": w.seq, "batch": w.batch,
                             "heads": w.heads, "shapes": dict(w.shapes)},
                "mapping": self.mapping.to_dict(), "report": self.report.to_json(),
                "resources": self.resources,
                "search": None if self.search is None else
                {**self.search, "objective": self.objective},
                "runners_up": list(self.runners_up)}

    def write(self, folder: str | Path, *, force: bool = False) -> list[str]:
        """Write the design into ``folder`` (all or nothing): ``mapping.yaml`` (loadable by
        ``mapping=`` / ``--mapping``), ``architecture.yaml`` (by ``--arch``),
        ``report.json`` (the :meth:`to_dict` document) and a one-page ``design.html``."""
        with staged_folder(Path(folder), force=force) as staging:
            (staging / "mapping.yaml").write_text(mapping_yaml(self.mapping), "utf-8")
            (staging / "architecture.yaml").write_text(architecture_yaml(self.arch), "utf-8")
            (staging / "report.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n",
                                                 "utf-8")
            pages = write_design_page(staging, cascade=self.cascade, arch=self.arch,
                                      mapping=self.mapping, report=self.report,
                                      batch=self.workload.batch, heads=self.workload.heads,
                                      title=self.title)
        return ["mapping.yaml", "architecture.yaml", "report.json", *pages]

    @property
    def title(self) -> str:
        w = self.workload
        what = f"{w.model} at {w.seq:,} tokens" if w.model else \
            ",".join(f"{k}={v}" for k, v in w.shapes.items())
        return f"{self.cascade.name} on {self.arch.name}: {what}"

    def einsums(self) -> pandas.DataFrame:
        """One row per Einsum: unit, spatial ranks, cycles per (batch, head), busy PE
        cycles and ops."""
        import pandas

        rows = []
        for e in self.report.einsums:
            binding = self.mapping.bindings.get(e.name)
            rows.append({"einsum": e.name, "unit": e.unit, "stage": e.stage,
                         "spatial": None if binding is None else ",".join(binding.spatial),
                         "dataflow": e.dataflow, "folds": e.folds,
                         "cycles_per_instance": e.cycles, "fill_cycles": e.fill_cycles,
                         "busy_pe_cycles": e.busy_pe_cycles,
                         **{f"ops_{k}": v for k, v in e.ops.items()}})
        return pandas.DataFrame(rows)


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkResult:
    """A whole network (an FPGA design's blocks) mapped block by block."""

    document: dict[str, Any]

    @property
    def cycles(self) -> int:
        return int(self.document["latency"]["cycles_per_image"])

    @property
    def seconds(self) -> float:
        return float(self.document["latency"]["seconds_per_image"])

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **self.document}

    def blocks(self) -> pandas.DataFrame:
        import pandas

        return pandas.DataFrame([{k: v for k, v in b.items() if k != "units"}
                                 for b in self.document["blocks"]])


def _given_mapping(mapping: str | Path | Mapping | MappingABC[str, Any]) -> Mapping:
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, MappingABC):
        return mapping_from_dict(dict(mapping))
    return load_mapping(mapping)


def map(algorithm: str | Path | Cascade, *, arch: str | Path | Architecture,
        model: str | Model | None = None, model_config: str | Path | None = None,
        seq: int | str | None = None, shape: str | MappingABC[str, int] | None = None,
        batch: int | None = None, array: int | None = None, buffer_mib: float | None = None,
        bandwidth_gib_s: float | None = None, clock_mhz: float | None = None,
        objective: str = "latency",
        mapping: str | Path | Mapping | MappingABC[str, Any] | None = None,
        experts: str | Path | None = None, top_k: int | None = None, task: str | None = None,
        expert_count: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> MapResult | NetworkResult:
    """Search the best mapping of ``algorithm`` on ``arch`` by ``objective`` and cost it, or
    cost the given ``mapping`` (a :class:`~sim.Mapping`, its dict or a YAML file) without
    searching. A network name (``cascade list networks``) maps the network block by block.
    For a network with a mixture of experts, ``experts`` is the token distribution
    (``uniform``, ``skewed``, ``skewed:S`` or a histogram file), ``top_k`` and
    ``expert_count`` replace the network's and ``task`` picks whose gate routes.
    ``progress(done, total)`` hears of the search's steps.
    """
    hardware = resolve_architecture(arch, array=array, buffer_mib=buffer_mib,
                                    bandwidth_gib_s=bandwidth_gib_s, clock_mhz=clock_mhz)
    if objective not in OBJECTIVES:
        raise CascadeError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                           f"not {objective!r}")
    if isinstance(algorithm, str) and algorithm in network_names():
        given = [k for k, v in (("model", model), ("model_config", model_config),
                                ("seq", seq), ("shape", shape), ("batch", batch),
                                ("mapping", mapping)) if v is not None]
        if given:
            raise CascadeError(f"{algorithm} is a network with its own workload and mappings; "
                               f"{', '.join(given)} do not apply to it")
        return NetworkResult(document=map_network(
            algorithm, hardware, experts=None if experts is None else str(experts),
            top_k=top_k, task=task, expert_count=expert_count))
    moe = [k for k, v in (("experts", experts), ("top_k", top_k), ("task", task),
                          ("expert_count", expert_count)) if v is not None]
    if moe:
        raise CascadeError(f"{algorithm} is not a network with a mixture of experts "
                           f"({', '.join(network_names())}); {', '.join(moe)} do not apply "
                           "to it")
    cascade = _cascade(algorithm)
    w = resolve_workload(cascade, model=model, model_config=model_config, seq=seq,
                         shape=shape, batch=batch)
    if mapping is not None:
        try:
            chosen = evaluate_mapping(cascade, hardware, _given_mapping(mapping), w.shapes,
                                      batch=w.batch, heads=w.heads)
        except CascadeError as error:
            # a mapping that does not fit this cascade or architecture: say which file
            if isinstance(mapping, str | Path) and error.file is None:
                raise error.located(file=str(mapping)) from None
            raise
        return MapResult(cascade=cascade, arch=hardware, workload=w, mapping=chosen.mapping,
                         report=chosen.report, objective=objective, search=None)
    found = search(cascade, hardware, w.shapes, batch=w.batch, heads=w.heads,
                   objective=objective, progress=progress)
    return MapResult(cascade=cascade, arch=hardware, workload=w, mapping=found.mapping,
                     report=found.report, objective=objective,
                     search={"evaluated": found.evaluated, "pruned": found.pruned,
                             "seconds": found.seconds},
                     runners_up=tuple({"mapping": c.mapping.to_dict(), "cycles": c.cycles,
                                       "energy_j": c.energy_j} for c in found.runners_up))


def sweep(spec: str | Path | SweepSpec, *, db: str | Path, workers: int | None = None,
          dask: str | None = None, replace: bool = False,
          progress: bool | None = False) -> pandas.DataFrame:
    """Evaluate every point of a sweep spec (a YAML file, its text or a
    :class:`~mapper.SweepSpec`) into the results database ``db`` (points already there are
    reused) and return the sweep's rows."""
    if isinstance(spec, str) and "\n" in spec:
        spec = parse_sweep(spec)
    elif not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    run_sweep(spec, db, workers=default_workers() if workers is None else workers, dask=dask,
              progress=progress, replace=replace)
    return results(db, sweep=spec.name)


def results(db: str | Path, *, sweep: str | None = None) -> pandas.DataFrame:
    """The rows of a results database (of one sweep, in its point order, or all) as a
    DataFrame, nested columns (utilisation by unit, energy by action, mapping) as dicts."""
    import pandas

    store = ResultStore(db, create=False)
    try:
        if sweep is not None and sweep not in {s["name"] for s in store.sweeps()}:
            raise CascadeError(f"no sweep named {sweep!r} in {db}")
        return pandas.DataFrame(store.rows(sweep))
    finally:
        store.close()
