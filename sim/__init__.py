"""The hardware simulated: analytical cost (latency, energy, area, traffic, utilisation)."""

from __future__ import annotations

from ._cost import EinsumReport, MappingError, Report, evaluate

__all__ = ["EinsumReport", "MappingError", "Report", "evaluate"]
