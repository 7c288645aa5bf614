"""Everything that decides: tile choice, mapping search, single-Einsum spaces, networks and
FPGA design-space exploration, sweep specs and the results store.

>>> from einsum import load, model
>>> from sim import architecture
>>> search(load("fusemax"), architecture("fusemax"), model("bert").shapes(1024),
...        batch=64, heads=12).report.cycles
1699572
"""

from __future__ import annotations

from ._dse import dse, map_network, pareto, sized_design
from ._explore import ExploreSpec, Platform, explore, load_explore, parse_explore, platform_design
from ._kernels import Call, call_cost
from ._moe import Routing, routing
from ._network import Block, Moe, Network, network, network_names
from ._search import (
    OBJECTIVES,
    Candidate,
    SearchResult,
    scored_candidates,
    search,
    search_workload,
)
from ._space import EinsumSpace, einsum_space
from ._store import COLUMNS, SCHEMA_VERSION, ResultStore, StoreError, storable
from ._studies import study, study_mapping
from ._sweep import (
    ArchitectureAxes,
    Constraints,
    Point,
    SweepError,
    SweepSpec,
    design_architecture,
    load_sweep,
    parse_sweep,
)
from ._tiles import Evaluated, evaluate_mapping, resolve_tiles

__all__ = [
    "COLUMNS",
    "OBJECTIVES",
    "SCHEMA_VERSION",
    "ArchitectureAxes",
    "Block",
    "Call",
    "Candidate",
    "Constraints",
    "EinsumSpace",
    "Evaluated",
    "ExploreSpec",
    "Moe",
    "Network",
    "Platform",
    "Point",
    "ResultStore",
    "Routing",
    "SearchResult",
    "StoreError",
    "SweepError",
    "SweepSpec",
    "call_cost",
    "design_architecture",
    "dse",
    "einsum_space",
    "evaluate_mapping",
    "explore",
    "load_explore",
    "load_sweep",
    "map_network",
    "network",
    "network_names",
    "pareto",
    "parse_explore",
    "parse_sweep",
    "platform_design",
    "resolve_tiles",
    "routing",
    "scored_candidates",
    "search",
    "search_workload",
    "sized_design",
    "storable",
    "study",
    "study_mapping",
]
