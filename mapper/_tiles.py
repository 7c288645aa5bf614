"""Tile choice: turn a mapping's ``auto`` tiles into numbers.

For each group of stages that shares the buffer, every combination of power-of-two tiles
of its ``auto`` ranks is costed at once with the cost rules (occupancy, spills, DRAM
traffic over arrays of candidates); the tiling that fits with the least DRAM traffic wins,
and among equals the largest tiles (in the order the mapping names them). The result is a
mapping with only numbers, which :func:`sim.evaluate` costs exactly as printed.

>>> from einsum import load, model
>>> from sim import architecture, workload
>>> from mapper import study_mapping
>>> w = workload(load("fusemax"), model("bert").shapes(1024), batch=64, heads=12)
>>> resolve_tiles(w, architecture("fusemax"), study_mapping("fusemax", "binding")).tiles
{'P': 1024}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass

import numpy as np

from einsum import Cascade
from sim import (
    Architecture,
    LevelTiling,
    Mapping,
    Plan,
    Report,
    Workload,
    buffer_plan,
    dram_words,
    evaluate_workload,
    level_groups,
    level_words,
    plan_groups,
    resolved_tiles,
    stage_index,
    workload,
)

__all__ = ["Evaluated", "evaluate_mapping", "resolve_tiles"]


def _powers(size: int) -> np.ndarray:
    return 2 ** np.arange(size.bit_length(), dtype=np.int64)


def _choose(w: Workload, arch: Architecture, mapping: Mapping, stage_of: dict[str, int],
            groups: list[tuple[frozenset[int], tuple[str, ...], dict[str, int | str]]],
            chosen: list[dict[str, int]], g: int, ranks: list[str]) -> None:
    """Set the tiles of ``ranks`` in group ``g``: every power-of-two combination is costed
    at once; the one that fits with the least DRAM traffic wins, then the largest tiles in
    the order the mapping names them. Nothing changes where none fits."""
    if not ranks:
        return
    axes = np.meshgrid(*(_powers(w.sizes[r]) for r in ranks), indexing="ij")
    grid = {r: a.reshape(-1) for r, a in zip(ranks, axes, strict=True)}
    plans: dict[int, Plan] = {}
    for h, (stages, loops, _wanted) in enumerate(groups):
        tiles = {**chosen[h], **grid} if h == g else chosen[h]
        plans.update(dict.fromkeys(stages, buffer_plan(w, arch, mapping, stage_of, stages,
                                                       loops, tiles)))
    plan = plans[min(groups[g][0])]
    traffic = sum(dram_words(w, mapping, stage_of, plans)[0].values(), start=0)
    traffic = np.broadcast_to(np.asarray(traffic, dtype=float), plan.fits.shape)
    fits = np.flatnonzero(plan.fits)
    if fits.size == 0:
        return
    keys = [*(-grid[r][fits] for r in reversed(ranks)), traffic[fits]]
    best = fits[np.lexsort(keys)[0]]
    chosen[g].update({r: int(grid[r][best]) for r in ranks})


def _extent(w: Workload, rank: str, loops: tuple[str, ...], tiles: dict[str, object]
            ) -> np.ndarray:
    """Elements of ``rank`` a level holds at once (as ``sim``'s occupancy counts them)."""
    split = w.layout.splits.get(rank)
    if split is not None and split[0] in loops:
        return w.sizes[split[1]] * np.asarray(tiles.get(split[0], 1))
    if rank in loops:
        return np.minimum(np.asarray(tiles.get(rank, 1)), w.sizes[rank])
    return np.asarray(w.sizes[rank])


def _choose_level(w: Workload, arch: Architecture, mapping: Mapping, stage_of: dict[str, int],
                  name: str, parents: list[tuple[tuple[str, ...], dict[str, int]]],
                  chosen: dict[str, int], ranks: list[str]) -> None:
    """Set the tiles of ``ranks`` of level ``name`` (``chosen``): every power-of-two
    combination no larger than the level above holds is costed at once; the one that fits
    with the least traffic over the level's link wins, then the largest tiles."""
    if not ranks:
        return
    groups = level_groups(mapping, name)
    axes = np.meshgrid(*(_powers(w.sizes[r]) for r in ranks), indexing="ij")
    grid = {r: a.reshape(-1) for r, a in zip(ranks, axes, strict=True)}
    tiles = {**chosen, **grid}
    plans: dict[int, Plan] = {}
    ok = np.ones(axes[0].size, dtype=bool)
    for (stages, loops, _wanted), (up_loops, up_tiles) in zip(groups, parents, strict=True):
        plan = buffer_plan(w, arch, mapping, stage_of, stages, loops, tiles, level=name)
        plans.update(dict.fromkeys(stages, plan))
        ok = ok & plan.fits
        for rank in dict.fromkeys((*loops, *up_loops)):
            ok = ok & (_extent(w, rank, loops, tiles) <= _extent(w, rank, up_loops, up_tiles))
    traffic = sum(level_words(w, arch, mapping, stage_of, name, plans)[0].values(), start=0)
    traffic = np.broadcast_to(np.asarray(traffic, dtype=float), ok.shape)
    fits = np.flatnonzero(ok)
    if fits.size == 0:
        return
    keys = [*(-grid[r][fits] for r in reversed(ranks)), traffic[fits]]
    best = fits[np.lexsort(keys)[0]]
    chosen.update({r: int(grid[r][best]) for r in ranks})


def _resolve_levels(w: Workload, arch: Architecture, mapping: Mapping) -> Mapping:
    """``mapping`` with the ``auto`` tiles of its levels below the global buffer chosen,
    outer to inner, each within the tiles of the level above."""
    wanted_any = any(t == "auto" for lt in mapping.levels.values() for t in lt.tiles.values())
    if not wanted_any:
        return mapping
    stage_of = stage_index(w.cascade, mapping)
    masked = any(f.masked for f in w.facts.values())
    parents = [(loops, resolved_tiles(mapping, wanted, w.sizes))
               for _stages, loops, wanted in plan_groups(mapping)]
    levels = dict(mapping.levels)
    for name in arch.levels:
        tiling = levels.get(name)
        if tiling is None:
            continue
        chosen = resolved_tiles(mapping, {r: 1 if t == "auto" else t
                                          for r, t in tiling.tiles.items()}, w.sizes)
        auto = [r for r, t in tiling.tiles.items() if t == "auto"]
        current = dataclasses.replace(mapping, levels={**levels, name: LevelTiling(
            tiling.loops, dict(chosen))})
        if not masked or len(auto) < 2:
            _choose_level(w, arch, current, stage_of, name, parents, chosen, auto)
        else:
            for _sweep in range(2):
                for rank in auto:
                    _choose_level(w, arch, current, stage_of, name, parents, chosen, [rank])
        levels[name] = LevelTiling(tiling.loops, dict(chosen))
        parents = [(loops, dict(chosen)) for _s, loops, _t in level_groups(
            dataclasses.replace(mapping, levels=levels), name)]
    return dataclasses.replace(mapping, levels=levels)


def resolve_tiles(w: Workload, arch: Architecture, mapping: Mapping) -> Mapping:
    """``mapping`` with every ``auto`` tile chosen (unchanged if there is none), the
    global buffer's first, then each level's below it. Where no tiling fits, the smallest
    is kept and :func:`sim.evaluate` says what does not fit."""
    groups = plan_groups(mapping)
    if not any(t == "auto" for _s, _l, wanted in groups for t in wanted.values()):
        return _resolve_levels(w, arch, mapping)
    stage_of = stage_index(w.cascade, mapping)
    # Every auto tile starts at 1; the numbers given are checked and kept.
    chosen = [resolved_tiles(mapping, {r: 1 if t == "auto" else t for r, t in wanted.items()},
                             w.sizes) for _stages, _loops, wanted in groups]
    # Masked traffic is counted block by block, so a masked workload is not scored on the
    # whole grid of tilings at once: one rank's tiles at a time, the others held, twice.
    masked = any(f.masked for f in w.facts.values())
    for g, (_stages, _loops, wanted) in enumerate(groups):
        auto = [r for r, t in wanted.items() if t == "auto"]
        if not masked or len(auto) < 2:
            _choose(w, arch, mapping, stage_of, groups, chosen, g, auto)
            continue
        for _sweep in range(2):
            for rank in auto:
                _choose(w, arch, mapping, stage_of, groups, chosen, g, [rank])
    if mapping.memory != "overlapped":  # stages that run whole have their own tilings
        stages = list(mapping.stages)
        for (group_stages, _loops, _wanted), tiles in zip(groups, chosen, strict=True):
            (i,) = group_stages
            stages[i] = dataclasses.replace(stages[i], tiles=dict(tiles))
        return _resolve_levels(w, arch, dataclasses.replace(mapping, tiles={},
                                                             stages=tuple(stages)))
    return _resolve_levels(w, arch, dataclasses.replace(mapping, tiles=dict(chosen[0])))


@dataclass(frozen=True)
class Evaluated:
    """A given mapping with its tiles chosen, and its cost."""

    mapping: Mapping
    report: Report


def evaluate_mapping(cascade: Cascade, arch: Architecture, mapping: Mapping,
                     shapes: MappingABC[str, int], *, batch: int = 1,
                     heads: int = 1) -> Evaluated:
    """Cost of a given mapping (no search), its ``auto`` tiles chosen first; the returned
    mapping holds only numbers and :func:`sim.evaluate` of it gives the same report."""
    w = workload(cascade, shapes, batch=batch, heads=heads)
    chosen = resolve_tiles(w, arch, mapping)
    return Evaluated(chosen, evaluate_workload(w, arch, chosen))
