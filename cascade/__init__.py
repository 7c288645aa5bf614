"""The cascade command line and the flows that join the engines: the FuseMax study, sweeps
into a results store, reports and the numerics study.

>>> from cascade import published
>>> len(published()) > 0
True
"""

from __future__ import annotations

from ._cli import main
from ._numerics import numerics_study
from ._progress import Progress
from ._report import write_report
from ._reproduce import published, reproduce_fusemax, run_fusemax_study
from ._sweep import (
    SweepSummary,
    code_version,
    default_workers,
    evaluate_points,
    point_key,
    run_sweep,
)

__all__ = [
    "Progress",
    "SweepSummary",
    "code_version",
    "default_workers",
    "evaluate_points",
    "main",
    "numerics_study",
    "point_key",
    "published",
    "reproduce_fusemax",
    "run_fusemax_study",
    "run_sweep",
    "write_report",
]
