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


_ARCH = ".arch.yaml"
"""A study's own architecture file (read by ``sim.architecture`` by path), not a study."""


@cache
def _studies() -> dict[str, Any]:
    folder = resources.files("mapper").joinpath("studies")
    found = {}
    for p in folder.iterdir():
        if p.name.endswith(".yaml") and not p.name.endswith(_ARCH):
            data = yaml.safe_load(p.read_text("utf-8"))
            for config in data.get("configurations", ()):
                # An architecture file beside the study is named by its path.
                if str(config.get("architecture", "")).endswith(_ARCH):
                    config["architecture"] = str(folder.joinpath(config["architecture"]))
            found[p.name[:-5]] = data
    return found


def study(name: str) -> dict[str, Any]:
    """A study preset: configurations of (cascade, architecture, mapping)."""
    found = _studies().get(name)
    if found is None:
        raise CascadeError(f"unknown study {name!r}; known: {', '.join(sorted(_studies()))}")
    return found


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = (_merged(merged[key], value)
                       if isinstance(value, dict) and isinstance(merged.get(key), dict)
                       else value)
    return merged


def study_mapping(study_name: str, configuration: str, *, model: str | None = None,
                  seq_len: int | None = None) -> Mapping:
    """A configuration's mapping; at a workload (``model``, ``seq_len``), with the changes
    its ``per_workload`` entries make there (a baseline whose own search picked a different
    dataflow per workload, as FLAT's did)."""
    for config in study(study_name)["configurations"]:
        if config["name"] == configuration:
            data = config["mapping"]
            for entry in config.get("per_workload", ()):
                if (("models" not in entry or model in entry["models"])
                        and ("seq_lens" not in entry or seq_len in entry["seq_lens"])):
                    data = (entry["mapping"] if entry.get("replace")
                            else _merged(data, entry["mapping"]))
            return mapping_from_dict(data)
    raise CascadeError(f"study {study_name} has no configuration {configuration!r}")
