"""``cascade report``: a static HTML report to decide from, plus CSV and Parquet, from a
results database.

Comparisons are made only between points of the same workload (model, sequence length and
batch): a Pareto front across workloads would compare different jobs. Every workload gets
its own section and figure, and its fastest design meeting every constraint its own page
(``designs/<workload>/design.html``), rebuilt from the stored mapping and checked to give
the stored cycles. Points that break a constraint of their sweep are drawn hollow and left
out of the fronts.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from einsum import CascadeError, library_names, load, model, model_names, staged_folder, write_csv
from mapper import Constraints, ResultStore, design_architecture, evaluate_mapping, pareto
from sim import Architecture, architecture, architecture_names, mapping_from_dict

from ._design_page import (
    LEVELS,
    Column,
    Image,
    design_page,
    energy_parts,
    grid,
    render,
    save_figure,
    set_scale,
    shown,
    slug,
    table,
    write_row_page,
)

__all__ = ["MAX_TABLE_ROWS", "write_report"]

MAX_TABLE_ROWS = 2000
"""Most rows the page's results table shows (the CSV and Parquet files hold all)."""

_FLAT_COLUMNS = ("utilisation_by_unit", "energy_pj_by_action", "accesses", "mapping")
_BASELINE = "three_pass"
_MARKERS = "osD^vph<>P*8"  # filled shapes only: each can also be drawn hollow
_MAX_UNMAPPABLE = 200

Workload = tuple[str, int, int]
Row = dict[str, Any]


def _rows(store: ResultStore, sweep: str | None) -> tuple[list[Row], list[str],
                                                          dict[str, Constraints]]:
    """Rows of one sweep or of all (each key once), with ``feasible`` and ``violations``,
    and the constraints of each sweep."""
    sweeps = store.sweeps()
    names = [s["name"] for s in sweeps]
    if sweep is not None and sweep not in names:
        raise CascadeError(f"no sweep named {sweep!r} in {store.path}; sweeps: "
                           f"{', '.join(names) or 'none'}")
    chosen = [s for s in sweeps if sweep is None or s["name"] == sweep]
    rows: dict[str, Row] = {}
    limits = {s["name"]: Constraints(**s["constraints"]) for s in chosen}
    for s in chosen:
        for row in store.rows(s["name"]):
            broken = limits[s["name"]].violations(
                area_mm2=row["area_mm2"], power_w=row["power_w"],
                fits=None if row["fits"] is None else bool(row["fits"]))
            if row["key"] in rows:
                rows[row["key"]]["violations"] += [v for v in broken
                                                   if v not in rows[row["key"]]["violations"]]
            else:
                rows[row["key"]] = {**row, "sweep": s["name"], "violations": broken}
    out = list(rows.values())
    for row in out:
        row["feasible"] = row["status"] == "ok" and not row["violations"]
    return out, [s["name"] for s in chosen], limits


def _workload(row: Row) -> Workload:
    return (row["model"], row["seq"], row["batch"])


def _heading(w: Workload) -> str:
    return f"{w[0]}, seq {w[1]:,}, batch {w[2]:,}"


def _label(row: Row) -> str:
    """Algorithm, architecture and the parameters the row gives (a network's row may
    give fewer)."""
    parts = [row["device"] or (f"{row['array']}x{row['array']}" if row["array"] else None),
             *(f"{row[k]:.4g} {unit}" for k, unit in (("buffer_mib", "MiB"),
                                                      ("bandwidth_gib_s", "GiB/s"),
                                                      ("clock_mhz", "MHz"))
               if row[k] is not None),
             f"{row['objective']} mapping" if row["objective"] else None]
    given = ", ".join(p for p in parts if p)
    return f"{row['algorithm']} on {row['architecture']}" + (f" ({given})" if given else "")


def _rank(row: Row) -> tuple[Any, ...]:
    """Faster first; ties broken by energy, then area (unknown last), then the key."""
    def known(value: float | None) -> float:
        return math.inf if value is None else value

    return (row["seconds"], known(row["energy_j"]), known(row["area_mm2"]), row["key"])


def _fastest(rows: Iterable[Row]) -> Row | None:
    return min(rows, key=_rank, default=None)


@dataclass(frozen=True)
class _Choice:
    """The fastest feasible and the fastest design of all of one workload, and what the
    designs between them break."""

    feasible: Row | None
    any: Row | None
    binding: str


def _choice(group: list[Row]) -> _Choice:
    ok = [r for r in group if r["status"] == "ok"]
    best = _fastest(r for r in ok if r["feasible"])
    fastest = _fastest(ok)
    faster = [r for r in ok if not r["feasible"] and (best is None or _rank(r) < _rank(best))]
    kinds: dict[str, list[Row]] = defaultdict(list)
    for r in sorted(faster, key=_rank):
        for v in r["violations"]:
            kinds[v.split(" ")[0]].append(r)
    parts = []
    for kind, broken in sorted(kinds.items(), key=lambda k: (-len(k[1]), k[0])):
        example = next(v for v in broken[0]["violations"] if v.split(" ")[0] == kind)
        what = "faster design" if best is not None else "design"
        parts.append(f"{example} ({len(broken):,} {what}{'s' if len(broken) != 1 else ''})")
    if parts:
        binding = "; ".join(parts)
    elif best is None:
        binding = "no design could be mapped"
    else:
        binding = "none: the fastest design meets every constraint"
    return _Choice(best, fastest, binding)


# ----- styles


@dataclass(frozen=True)
class _Styles:
    """One colour and one marker per algorithm, the same in every figure."""

    colour: dict[str, Any]
    marker: dict[str, str]

    def handles(self, names: Iterable[str]) -> list[Any]:
        from matplotlib.lines import Line2D

        return [Line2D([], [], linestyle="none", marker=self.marker[n], color=self.colour[n],
                       label=n) for n in names]


def _styles(rows: list[Row]) -> _Styles:
    import matplotlib

    names = sorted({r["algorithm"] for r in rows})
    cmap = matplotlib.colormaps["tab10"]
    return _Styles({n: cmap(i % 10) for i, n in enumerate(names)},
                   {n: _MARKERS[i % len(_MARKERS)] for i, n in enumerate(names)})


def _baseline(groups: dict[Workload, list[Row]]) -> str | None:
    """:data:`_BASELINE` where it has results, otherwise the slowest algorithm: the one
    whose fastest feasible design is, in geometric mean over the workloads, the most times
    slower than the workload's fastest."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for group in groups.values():
        best: dict[str, float] = {}
        for r in group:
            if r["feasible"] and r["seconds"]:
                best[r["algorithm"]] = min(best.get(r["algorithm"], math.inf), r["seconds"])
        if best:
            least = min(best.values())
            for name, seconds in best.items():
                ratios[name].append(math.log(seconds / least))
    if _BASELINE in ratios:
        return _BASELINE
    return max(sorted(ratios), key=lambda n: sum(ratios[n]) / len(ratios[n]), default=None)


# ----- figures


def _scatter(ax: Any, group: list[Row], y: str, ylabel: str, styles: _Styles) -> None:
    """Latency against ``y``; filled feasible, hollow infeasible; the feasible front."""
    usable = [r for r in group if r["status"] == "ok" and r[y] is not None]
    for name in sorted({r["algorithm"] for r in usable}):
        colour, marker = styles.colour[name], styles.marker[name]
        for feasible in (True, False):
            mine = [r for r in usable if r["algorithm"] == name and r["feasible"] == feasible]
            if mine:
                # Lines without a line, not scatter: every scatter registers a colour-map
                # callback, and registering grows slower with every figure of the process
                ax.plot([r["seconds"] for r in mine], [r[y] for r in mine], linestyle="none",
                        marker=marker, markersize=4, markerfacecolor=colour if feasible
                        else "none", markeredgecolor=colour, markeredgewidth=0.8, alpha=0.8)
    front = pareto([r for r in usable if r["feasible"]], "seconds", y)
    if front:
        ax.step([r["seconds"] for r in front], [r[y] for r in front], where="post",
                color="black", linewidth=1)
    set_scale(ax, "x", [r["seconds"] for r in usable])
    set_scale(ax, "y", [r[y] for r in usable])
    ax.set_xlabel("latency (s)")
    ax.set_ylabel(ylabel)


def _best_per(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, Row]:
    best: dict[Any, Row] = {}
    for r in rows:
        if r["feasible"]:
            k = key(r)
            if k not in best or _rank(r) < _rank(best[k]):
                best[k] = r
    return best


def _speedup_bars(ax: Any, group: list[Row], baseline: str, styles: _Styles) -> list[str]:
    """Fastest feasible design of each algorithm over the baseline's, per architecture;
    returns the architectures left out for want of a feasible baseline design."""
    best = _best_per(group, lambda r: (r["architecture"], r["algorithm"]))
    presets = sorted({a for a, _ in best})
    names = sorted({n for _, n in best})
    kept = [p for p in presets if (p, baseline) in best]
    width = 0.8 / max(len(names), 1)
    values = []
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, preset in enumerate(kept):
            if (preset, name) in best:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(best[(preset, baseline)]["seconds"] / best[(preset, name)]["seconds"])
        values += ys
        # bars grow from the baseline's 1x: up where faster, down where slower
        ax.bar(xs, [y - 1.0 for y in ys], bottom=1.0, width=width,
               color=styles.colour[name], edgecolor="black", linewidth=0.4)
        # a bar of exactly 1x has no height: its end marks it
        ax.plot(xs, ys, linestyle="none", marker="_", markersize=9, markeredgewidth=2,
                color=styles.colour[name])
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(kept)), kept)
    set_scale(ax, "y", [*values, 1.0])
    low, high = min([*values, 1.0]), max([*values, 1.0])
    if ax.get_yscale() == "log":
        ax.set_ylim(low / 1.3, high * 1.3)
    else:
        margin = 0.08 * (high - low) or 0.1
        ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("architecture (fastest feasible design of each algorithm)")
    ax.set_ylabel(f"speedup over {baseline} (x)")
    return [p for p in presets if p not in kept]


def _energy_shares(ax: Any, group: list[Row]) -> list[Any]:
    """Share of each level in the energy of each algorithm's lowest-energy feasible design;
    returns the legend handles of the levels."""
    import matplotlib

    usable = [r for r in group if r["feasible"] and r["energy_j"]]
    best: dict[str, Row] = {}
    for r in usable:
        if r["algorithm"] not in best or (r["energy_j"], _rank(r)) < (
                best[r["algorithm"]]["energy_j"], _rank(best[r["algorithm"]])):
            best[r["algorithm"]] = r
    names = sorted(best)
    cmap = matplotlib.colormaps["viridis"]
    colours = {level: cmap(i / (len(LEVELS) - 1)) for i, level in enumerate(LEVELS)}
    bottom = [0.0] * len(names)
    totals = {n: sum(best[n]["energy_pj_by_action"].values()) for n in names}
    for level in LEVELS:
        shares = [100 * sum(pj for lv, _, pj in energy_parts(best[n]["energy_pj_by_action"])
                            if lv == level) / totals[n] if totals[n] else 0.0 for n in names]
        ax.bar(range(len(names)), shares, bottom=bottom, color=colours[level],
               edgecolor="white", linewidth=0.4)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_xticks(range(len(names)), [f"{n}\n{shown(best[n]['energy_j'])} J" for n in names],
                  fontsize=7, rotation=25, ha="right", rotation_mode="anchor")
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of energy (%)")
    ax.set_xlabel("algorithm (lowest-energy feasible design; total below)")
    return [matplotlib.patches.Patch(color=colours[level], label=level) for level in LEVELS]


def _workload_figure(folder: Path, name: str, w: Workload, group: list[Row],
                     baseline: str | None, styles: _Styles) -> Image | None:
    """One figure per workload: latency against energy, area and DSPs, speedups over the
    baseline algorithm, and where the energy goes."""
    from matplotlib.lines import Line2D

    ok = [r for r in group if r["status"] == "ok"]
    panels: list[tuple[str, Callable[[Any], Any]]] = []
    for column, label in (("energy_j", "energy (J)"), ("area_mm2", "compute area (mm^2)"),
                          ("dsp", "DSP slices")):
        if any(r[column] is not None for r in ok):
            panels.append((f"latency vs {label}", lambda ax, c=column, lb=label:
                           _scatter(ax, group, c, lb, styles)))
    left_out: list[str] = []
    has_baseline = baseline is not None and any(
        r["feasible"] and r["algorithm"] == baseline for r in group)
    if has_baseline:
        assert baseline is not None
        panels.append((f"speedup over {baseline}",
                       lambda ax: left_out.extend(_speedup_bars(ax, group, baseline, styles))))
    level_handles: list[Any] = []
    energies = any(r["feasible"] and r["energy_j"] for r in group)
    if energies:
        panels.append(("energy by level",
                       lambda ax: level_handles.extend(_energy_shares(ax, group))))
    if not panels:
        return None
    cols = min(len(panels), 3)
    lines = math.ceil(len(panels) / cols)
    # the energy panel comes last, in the bottom line: its slanted names need room below
    layout = grid(lines, cols, bottom=1.15 if energies else 0.7)
    fig, axes = layout.figure, layout.axes
    for ax, (title, draw) in zip(axes, panels, strict=False):
        draw(ax)
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    layout.title(_heading(w))
    names = sorted({r["algorithm"] for r in ok})
    handles = [*styles.handles(names),
               Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                      markeredgecolor="grey", label="hollow: breaks a constraint"),
               Line2D([], [], color="black", linewidth=1, label="Pareto front (feasible)")]
    layout.legend(handles, title="algorithm")
    if level_handles:
        layout.legend(level_handles, title="energy level", below=len(handles) + 3)
    caption = (f"{_heading(w)}: {len(ok):,} mapped designs. Filled markers meet every "
               "constraint, hollow ones break at least one; the black step line is the "
               "Pareto front of the feasible designs.")
    if has_baseline:
        caption += (f" Speedup: latency of {baseline}'s fastest feasible design over that of "
                    "each algorithm, on the same architecture.")
        if left_out:
            caption += f" No feasible {baseline} design on {', '.join(left_out)}."
    elif baseline is not None:
        caption += f" No speedups: {baseline}, the baseline, has no feasible design here."
    if level_handles:
        caption += (" Energy: share of each level (DRAM, global buffer, register files, "
                    "compute operations) in each algorithm's lowest-energy feasible design.")
    return save_figure(fig, folder, f"{name}.png", alt=f"plots of {_heading(w)}",
                       caption=caption, src=f"figures/{name}.png")


def _trend_figure(folder: Path, name: str, model_name: str, batch: int, rows: list[Row],
                  baseline: str | None, styles: _Styles) -> Image | None:
    """Per model: latency, speedup and utilisation of the fastest feasible design of each
    (algorithm, architecture) against sequence length."""
    from matplotlib.lines import Line2D

    best = _best_per(rows, lambda r: (r["algorithm"], r["architecture"], r["seq"]))
    seqs = sorted({k[2] for k in best})
    if len(seqs) < 2:
        return None
    lines = sorted({k[:2] for k in best})
    presets = sorted({k[1] for k in best})
    styles_of = {p: s for p, s in zip(presets, ("-", "--", ":", "-."), strict=False)}
    layout = grid(1, 3, bottom=0.85)
    fig, axes = layout.figure, layout.axes
    for ax, (metric, label) in zip(axes, (
            ("seconds", "latency (s)"),
            ("speedup", f"speedup over {baseline} (x)" if baseline else "speedup"),
            ("utilisation", "PE-weighted utilisation (%)")), strict=True):
        values = []
        for algorithm, preset in lines:
            points = []
            for seq in seqs:
                r = best.get((algorithm, preset, seq))
                if r is None:
                    continue
                if metric == "speedup":
                    base = best.get((baseline, preset, seq))
                    if base is None:
                        continue
                    points.append((seq, base["seconds"] / r["seconds"]))
                elif metric == "utilisation":
                    if r["utilisation"] is not None:
                        points.append((seq, 100 * r["utilisation"]))
                else:
                    points.append((seq, r[metric]))
            values += [p[1] for p in points]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points],
                        color=styles.colour[algorithm], marker=styles.marker[algorithm],
                        linestyle=styles_of.get(preset, "-"), markersize=4, linewidth=1)
        set_scale(ax, "x", seqs)
        ax.set_xticks(seqs, [f"{n:,}" for n in seqs], rotation=30, ha="right",
                      rotation_mode="anchor", fontsize=7)
        set_scale(ax, "y", values)
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    layout.title(f"{model_name}, batch {batch:,}: fastest feasible design of each "
                 "algorithm and architecture")
    handles = [*styles.handles(sorted({k[0] for k in best})),
               *(Line2D([], [], color="grey", linestyle=styles_of.get(p, "-"),
                        label=f"on {p}") for p in presets)]
    layout.legend(handles, title="algorithm; architecture")
    caption = (f"{model_name}, batch {batch:,}: for each algorithm (colour and marker) and "
               "architecture (line style), the fastest design meeting every constraint at "
               "each sequence length: its latency, its speedup over the same architecture's "
               f"fastest feasible {baseline} design, and its PE-weighted utilisation.")
    return save_figure(fig, folder, f"{name}.png", alt=f"trends of {model_name}",
                       caption=caption, src=f"figures/{name}.png")


# ----- design pages


def _architecture_of(row: Row) -> Architecture:
    """The row's architecture: the sweep sized every unit to ``array`` or left the preset's
    sizes; the stored PE count tells which."""
    for array in (row["array"], None):
        try:
            arch = design_architecture((row["architecture"], array, row["buffer_mib"],
                                        row["bandwidth_gib_s"], row["clock_mhz"],
                                        row["device"]))
        except CascadeError:
            continue
        if sum(u.pes for u in arch.units.values()) == row["pes"]:
            return arch
    raise CascadeError(f"no {row['architecture']} design with {row['pes']:,} PEs and array "
                       f"{row['array']}")


def _design_page(folder: Path, row: Row, back: str) -> list[str]:
    """The page of a stored design: rebuilt and re-evaluated from its row where the row
    holds a mapping of a library cascade and a preset model, what the row says otherwise."""
    title = f"{_label(row)}: {_heading(_workload(row))}"
    facts = [("workload", _heading(_workload(row))), ("design", _label(row)),
             ("objective of the search", row["objective"]), ("sweep", row["sweep"]),
             ("constraints", "; ".join(row["violations"]) or "all met"),
             ("stored latency", f"{row['cycles']:,} cycles = {row['seconds']:.6g} s"),
             ("database key", row["key"])]
    reason = None
    if row["mapping"] is None:
        reason = ("This row holds no Einsum-level mapping (a network is mapped block by "
                  "block), so the per-Einsum costs, roofline and energy breakdown cannot be "
                  "rebuilt; the facts above are what the database holds.")
    elif row["algorithm"] not in library_names():
        reason = (f"The cascade {row['algorithm']} is not in the library (a cascade file, "
                  "which the database names but does not hold), so the design cannot be "
                  "rebuilt; the facts above are what the database holds.")
    elif row["architecture"] not in architecture_names():
        reason = (f"The architecture {row['architecture']} is not a preset (an architecture "
                  "file, which the database names but does not hold), so the design cannot "
                  "be rebuilt; the facts above are what the database holds.")
    elif row["model"] not in model_names():
        reason = (f"The model {row['model']} is not a preset (a model config file, which "
                  "the database names but does not hold), so the design cannot be rebuilt; "
                  "the facts above are what the database holds.")
    if reason is None:
        try:
            cascade = load(row["algorithm"])
            preset = model(row["model"])
            shapes, instances = preset.workload(cascade, row["seq"])
            heads = instances // preset.batch
            arch = _architecture_of(row)
            mapping = mapping_from_dict(row["mapping"])
            report = evaluate_mapping(cascade, arch, mapping, shapes, batch=row["batch"],
                                      heads=heads).report
        except CascadeError as error:
            reason = (f"The design could not be rebuilt from its row ({error.message}); the "
                      "facts above are what the database holds.")
    if reason is not None:
        return write_row_page(folder, title=title, facts=facts, reason=reason, back=back)
    warnings = []
    if report.cycles != row["cycles"]:
        warnings.append(f"Re-evaluating the stored mapping gives {report.cycles:,} cycles, "
                        f"not the stored {row['cycles']:,}: the cost model changed since the "
                        f"sweep (code version {row['code_version']}), or the row comes from "
                        "an architecture file named like the preset; the page shows the "
                        "re-evaluation.")
    return design_page(folder, cascade=cascade, arch=arch, mapping=mapping, report=report,
                       batch=row["batch"], heads=heads, title=title, facts=facts,
                       warnings=warnings, back=back)


# ----- tables


def _flat(row: Row) -> Row:
    flat = {k: v for k, v in row.items() if k not in _FLAT_COLUMNS}
    flat["violations"] = "; ".join(row["violations"])
    for column in _FLAT_COLUMNS:
        flat[column] = None if row[column] is None else json.dumps(row[column], sort_keys=True)
    return flat


def _write_parquet(path: Path, rows: list[Row]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


_RESULT_COLUMNS = (
    Column("model", "model"), Column("seq (tokens)", "seq"), Column("batch", "batch"),
    Column("algorithm", "algorithm"), Column("architecture", "architecture"),
    Column("device", "device"), Column("array (PEs per axis)", "array"),
    Column("buffer (MiB)", "buffer_mib"), Column("DRAM bandwidth (GiB/s)", "bandwidth_gib_s"),
    Column("clock (MHz)", "clock_mhz"), Column("objective", "objective"),
    Column("status", "status"), Column("latency (cycles)", "cycles"),
    Column("latency (s)", "seconds"), Column("energy (J)", "energy_j"),
    Column("power (W)", "power_w"), Column("compute area (mm^2)", "area_mm2"),
    Column("DSP slices", "dsp"), Column("DRAM traffic (B)", "dram_bytes"),
    Column("global buffer at the peak (B)", "buffer_bytes"),
    Column("utilisation (%)", lambda r: _percent(r["utilisation"])),
    Column("meets constraints", "feasible"),
    Column("violations", lambda r: "; ".join(r["violations"])),
)


def _shown_rows(groups: dict[Workload, list[Row]], total: int) -> tuple[list[Row], str]:
    """At most :data:`MAX_TABLE_ROWS`: the fastest of every workload alike."""
    if total <= MAX_TABLE_ROWS:
        rows = [r for g in groups.values() for r in sorted(g, key=_order)]
        return rows, f"All {total:,} design points; click a header to sort, type to filter."
    each = max(1, MAX_TABLE_ROWS // len(groups))
    rows = [r for g in groups.values() for r in sorted(g, key=_order)[:each]]
    rows = rows[:MAX_TABLE_ROWS]
    return rows, (f"{len(rows):,} of {total:,} design points, to keep the page small: the "
                  f"{each:,} fastest of each workload. results.csv and results.parquet hold "
                  "all. Click a header to sort, type to filter.")


def _order(row: Row) -> tuple[Any, ...]:
    """Mapped points fastest first, then those that could not be mapped."""
    return (0, *_rank(row)) if row["status"] == "ok" else (1, row["key"])


def _architectures(rows: list[Row]) -> list[Row]:
    found = []
    for preset in sorted({r["architecture"] for r in rows}):
        mine = [r for r in rows if r["architecture"] == preset]
        arch = architecture(preset) if preset in architecture_names() else None
        found.append({
            "preset": preset, "title": arch.title if arch else None,
            "node": arch.node if arch else None,
            "clock": ", ".join(f"{c:g}" for c in sorted({r["clock_mhz"] for r in mine})),
            "arrays": ", ".join(str(a) for a in sorted({r["array"] for r in mine})),
            "devices": ", ".join(sorted({r["device"] for r in mine if r["device"]})) or None,
            "points": len(mine)})
    return found


_ARCH_COLUMNS = (
    Column("preset", "preset"), Column("title", "title"), Column("technology node", "node"),
    Column("clock (MHz)", "clock"), Column("arrays (PEs per axis)", "arrays"),
    Column("FPGA devices", "devices"), Column("design points", "points"),
)


def _fastest_columns(pages: dict[Workload, str]) -> tuple[Column, ...]:
    def chosen(key: str) -> Callable[[Row], Any]:
        return lambda r: r["choice"].feasible[key] if r["choice"].feasible else None

    def speedup(r: Row) -> float | None:
        c: _Choice = r["choice"]
        if c.feasible is None or c.any is None:
            return None
        return c.feasible["seconds"] / c.any["seconds"]

    return (
        Column("model", "model"), Column("seq (tokens)", "seq"), Column("batch", "batch"),
        Column("fastest feasible design", lambda r: _label(r["choice"].feasible)
               if r["choice"].feasible else "none meets every constraint",
               href=lambda r: pages.get(r["workload"]), css="wide"),
        Column("latency (s)", chosen("seconds")), Column("latency (cycles)", chosen("cycles")),
        Column("energy (J)", chosen("energy_j")), Column("compute area (mm^2)",
                                                         chosen("area_mm2")),
        Column("DSP slices", chosen("dsp")),
        Column("utilisation (%)", lambda r: _percent(chosen("utilisation")(r))),
        Column("binding constraint", lambda r: r["choice"].binding, css="wide"),
        Column("fastest design of all", lambda r: "the same" if r["choice"].any is
               r["choice"].feasible else _label(r["choice"].any) if r["choice"].any else None,
               css="wide"),
        Column("its latency (s)", lambda r: r["choice"].any["seconds"]
               if r["choice"].any else None),
        Column("its speedup (x)", speedup),
    )


_UNMAPPABLE_COLUMNS = (
    Column("model", "model"), Column("seq (tokens)", "seq"), Column("batch", "batch"),
    Column("design", _label, css="wide"), Column("why", "error", css="wide"),
)


def _constraint_lines(limits: dict[str, Constraints]) -> list[str]:
    lines = []
    for name, c in limits.items():
        parts = []
        if c.area_mm2 is not None:
            parts.append(f"compute area at most {c.area_mm2:g} mm^2")
        if c.power_w is not None:
            parts.append(f"power at most {c.power_w:g} W")
        if c.fit_device:
            parts.append("FPGA designs fit their device")
        lines.append(f"Constraints of sweep {name}: {', '.join(parts) or 'none'}.")
    return lines


# ----- the report


def _summary_line(rows: list[Row], groups: dict[Workload, list[Row]]) -> str:
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    feasible = sum(r["feasible"] for r in rows)
    states = ", ".join(f"{n:,} {s}" for s, n in sorted(statuses.items()))
    return (f"{len(rows):,} design points ({states}) over {len(groups):,} workloads; "
            f"{feasible:,} meet every constraint.")


def _page_files(out: Path, rows: list[Row], sweeps: list[str],
                limits: dict[str, Constraints]) -> list[str]:
    """Figures, design pages and ``index.html``; returns the files written, figures and
    pages first."""
    groups: dict[Workload, list[Row]] = defaultdict(list)
    for r in rows:
        groups[_workload(r)].append(r)
    groups = dict(sorted(groups.items()))
    styles = _styles(rows)
    baseline = _baseline(groups)
    figures = out / "figures"
    figures.mkdir()
    files: list[str] = []
    ids: dict[Workload, str] = {}
    for w in groups:
        name = slug(f"{w[0]}-seq{w[1]}-b{w[2]}")
        while name in ids.values():
            name += "-x"
        ids[w] = name
    choices = {w: _choice(g) for w, g in groups.items()}
    pages: dict[Workload, str] = {}
    sections = []
    for w, group in groups.items():
        image = _workload_figure(figures, ids[w], w, group, baseline, styles)
        if image is not None:
            files.append(image.src)
        chosen = choices[w].feasible
        if chosen is not None:
            folder = out / "designs" / ids[w]
            folder.mkdir(parents=True)
            written = _design_page(folder, chosen, back=f"../../index.html#{ids[w]}")
            files += [f"designs/{ids[w]}/{f}" for f in written]
            pages[w] = f"designs/{ids[w]}/design.html"
        ok = sum(r["status"] == "ok" for r in group)
        sections.append({
            "id": ids[w], "heading": _heading(w),
            "summary": f"{len(group):,} design points, {ok:,} mapped, "
                       f"{sum(r['feasible'] for r in group):,} meet every constraint.",
            "design": pages.get(w), "label": _label(chosen) if chosen else None,
            "images": [image] if image else []})
    trends = []
    for model_name, batch in sorted({(w[0], w[2]) for w in groups}):
        image = _trend_figure(figures, slug(f"trend-{model_name}-b{batch}"), model_name, batch,
                              [r for r in rows if (r["model"], r["batch"]) == (model_name, batch)],
                              baseline, styles)
        if image is not None:
            trends.append(image)
            files.append(image.src)
    shown_rows, note = _shown_rows(groups, len(rows))
    unmappable = [r for r in rows if r["status"] != "ok"]
    render("report.j2", out / "index.html", title=f"cascade report: {', '.join(sweeps)}",
           sweeps=sweeps, summary=_summary_line(rows, groups),
           constraints=_constraint_lines(limits),
           baseline=f"the baseline algorithm {baseline} ("
                    + ("the library's three-pass cascade" if baseline == _BASELINE else
                       "the slowest algorithm in the results") + ")"
           if baseline else "no baseline (no algorithm has a feasible design)",
           architectures=table("architectures", _architectures(rows), _ARCH_COLUMNS),
           fastest=table("fastest", [{"model": w[0], "seq": w[1], "batch": w[2],
                                      "workload": w, "choice": choices[w]} for w in groups],
                         _fastest_columns(pages)),
           workloads=sections, trends=trends,
           results=table("results", shown_rows, _RESULT_COLUMNS), results_note=note,
           unmappable=table("unmappable", unmappable[:_MAX_UNMAPPABLE], _UNMAPPABLE_COLUMNS)
           if unmappable else None,
           unmappable_note=f"The first {_MAX_UNMAPPABLE:,} of {len(unmappable):,}, each "
                           "with why; results.csv holds all." if len(unmappable) >
                           _MAX_UNMAPPABLE else f"All {len(unmappable):,}, each with why.")
    return ["index.html", *files]


def write_report(db: str | Path, out: Path, *, sweep: str | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Write ``index.html``, its figures (``figures/``), a page per workload's fastest
    feasible design (``designs/``), ``results.csv`` and ``results.parquet`` into ``out``
    (all or nothing); return a summary."""
    store = ResultStore(db, create=False)
    try:
        rows, sweeps, limits = _rows(store, sweep)
    finally:
        store.close()
    if not rows:
        raise CascadeError(f"{db}: no results to report")
    with staged_folder(out, force=force) as staging:
        flat = [_flat(r) for r in rows]
        write_csv(staging / "results.csv", flat)
        _write_parquet(staging / "results.parquet", flat)
        pages = _page_files(staging, rows, sweeps, limits)
    return {"rows": len(rows), "sweeps": sweeps,
            "feasible": sum(r["feasible"] for r in rows),
            "files": [pages[0], "results.csv", "results.parquet", *pages[1:]]}
