"""Study presets: named configurations of (cascade, architecture, mapping), such as the
FuseMax study, kept as data in ``mapper/studies``.

>>> m = study_mapping("fusemax", "binding")
>>> m.bindings["QK"].unit, m.bindings["QK"].spatial
('array2d', ('M0', 'P'))
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from einsum import CascadeError
from sim import Mapping, mapping_from_dict

__all__ = ["study", "study_mapping"]


@cache
def _studies() -> dict[str, Any]:
    folder = resources.files("mapper").joinpath("studies")
    return {p.name[:-5]: yaml.safe_load(p.read_text("utf-8"))
            for p in folder.iterdir() if p.name.endswith(".yaml")}


def study(name: str) -> dict[str, Any]:
    """A study preset: configurations of (cascade, architecture, mapping)."""
    found = _studies().get(name)
    if found is None:
        raise CascadeError(f"unknown study {name!r}; known: {', '.join(sorted(_studies()))}")
    return found


def study_mapping(study_name: str, configuration: str) -> Mapping:
    for config in study(study_name)["configurations"]:
        if config["name"] == configuration:
            return mapping_from_dict(config["mapping"])
    raise CascadeError(f"study {study_name} has no configuration {configuration!r}")
