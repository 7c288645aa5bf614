"""Architectures, mappings, mapping search and design-space exploration."""

from __future__ import annotations

from ._arch import Architecture, Unit, architecture, architecture_names
from ._mapping import Binding, Mapping, Stage, mapping_from_dict, study, study_mapping

__all__ = [
    "Architecture",
    "Binding",
    "Mapping",
    "Stage",
    "Unit",
    "architecture",
    "architecture_names",
    "mapping_from_dict",
    "study",
    "study_mapping",
]
