"""cascade: attention accelerators from Einsum cascades, in Python and on the command line.

The public face for scripts and notebooks (the ``cascade`` command is a thin layer over it):

>>> import cascade
>>> cascade.analyze("fusemax", model="bert", seq=1024).passes
1
>>> design = cascade.map("fusemax", arch="fusemax", model="bert", seq="1k")
>>> design.cycles, round(design.seconds * 1e3, 3)
(1699572, 1.808)
"""

from __future__ import annotations

from einsum import load

from ._api import (
    SCHEMA,
    MapResult,
    NetworkResult,
    Workload,
    analyze,
    check,
    map,
    results,
    sweep,
)
from ._cli import main, version
from ._design_page import write_design_page
from ._numerics import numerics_study
from ._progress import Progress
from ._report import write_report
from ._reproduce import artifact_accounting_j, published, reproduce_fusemax, run_fusemax_study
from ._sweep import (
    SweepSummary,
    code_version,
    default_workers,
    evaluate_points,
    point_key,
    run_sweep,
)

__all__ = [
    "SCHEMA",
    "MapResult",
    "NetworkResult",
    "Progress",
    "SweepSummary",
    "Workload",
    "analyze",
    "artifact_accounting_j",
    "check",
    "code_version",
    "default_workers",
    "evaluate_points",
    "load",
    "main",
    "map",
    "numerics_study",
    "point_key",
    "published",
    "reproduce_fusemax",
    "results",
    "run_fusemax_study",
    "run_sweep",
    "sweep",
    "version",
    "write_design_page",
    "write_report",
]

__version__ = version()
