"""``cascade report``: a static HTML page with plots, plus CSV and Parquet, from a results
database.

Comparisons are made only between points of the same workload (model, sequence length and
batch): a Pareto front across workloads would compare different jobs. Points that break a
constraint of their sweep are drawn hollow and left out of the fronts.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from einsum import CascadeError, staged_folder, write_csv
from mapper import Constraints, ResultStore, pareto

__all__ = ["write_report"]

_FLAT_COLUMNS = ("utilisation_by_unit", "energy_pj_by_action", "accesses", "mapping")
_MAX_PANELS = 12


def _rows(store: ResultStore, sweep: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of one sweep or of all (each key once), with ``feasible`` and ``violations``."""
    sweeps = store.sweeps()
    names = [s["name"] for s in sweeps]
    if sweep is not None and sweep not in names:
        raise CascadeError(f"no sweep named {sweep!r} in {store.path}; sweeps: "
                           f"{', '.join(names) or 'none'}")
    chosen = [s for s in sweeps if sweep is None or s["name"] == sweep]
    rows: dict[str, dict[str, Any]] = {}
    for s in chosen:
        limits = Constraints(**s["constraints"])
        for row in store.rows(s["name"]):
            broken = limits.violations(area_mm2=row["area_mm2"], power_w=row["power_w"],
                                       fits=None if row["fits"] is None else bool(row["fits"]))
            if row["key"] in rows:
                rows[row["key"]]["violations"] += [v for v in broken
                                                   if v not in rows[row["key"]]["violations"]]
            else:
                rows[row["key"]] = {**row, "sweep": s["name"], "violations": broken}
    out = list(rows.values())
    for row in out:
        row["feasible"] = row["status"] == "ok" and not row["violations"]
    return out, [s["name"] for s in chosen]


def _workload(row: dict[str, Any]) -> tuple[str, int, int]:
    return (row["model"], row["seq"], row["batch"])


def _label(row: dict[str, Any]) -> str:
    where = row["device"] or f"{row['array']}x{row['array']}"
    return (f"{row['algorithm']} on {row['architecture']} ({where}, "
            f"{row['buffer_mib']:g} MiB, {row['bandwidth_gib_s']:g} GiB/s)")


# ----- plots


def _panels(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, int, int], list[dict[str, Any]]]]:
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[_workload(row)].append(row)
    return sorted(groups.items())[:_MAX_PANELS]


def _grid(plt: Any, count: int) -> tuple[Any, list[Any]]:
    cols = min(count, 4)
    lines = math.ceil(count / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(4.2 * cols, 3.4 * lines), squeeze=False)
    flat = [ax for line in axes for ax in line]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _colours(rows: list[dict[str, Any]]) -> dict[str, Any]:
    import matplotlib

    names = sorted({r["algorithm"] for r in rows})
    cmap = matplotlib.colormaps["tab10"]
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def _front_plot(plt: Any, rows: list[dict[str, Any]], y: str, ylabel: str, path: Path) -> bool:
    """Latency against ``y`` per workload, the Pareto front of feasible points joined."""
    usable = [r for r in rows if r["status"] == "ok" and r[y] is not None]
    if not usable:
        return False
    colours = _colours(usable)
    panels = _panels(usable)
    fig, axes = _grid(plt, len(panels))
    for ax, ((model, seq, batch), group) in zip(axes, panels, strict=True):
        for name, colour in colours.items():
            for feasible in (True, False):
                mine = [r for r in group if r["algorithm"] == name and r["feasible"] == feasible]
                if mine:
                    ax.scatter([r["seconds"] for r in mine], [r[y] for r in mine], s=14,
                               color=colour if feasible else "none", edgecolors=colour,
                               label=name if feasible else None, alpha=0.8)
        front = pareto([r for r in group if r["feasible"]], "seconds", y)
        if front:
            ax.step([r["seconds"] for r in front], [r[y] for r in front], where="post",
                    color="black", linewidth=1, label="Pareto front")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{model}, seq {seq:,}, batch {batch}", fontsize=9)
        ax.set_xlabel("latency (s)")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
    _save(plt, fig, path)
    return True


def _best_by(rows: list[dict[str, Any]], keys: Callable[[dict[str, Any]], Any],
             metric: str) -> dict[Any, dict[str, Any]]:
    best: dict[Any, dict[str, Any]] = {}
    for row in rows:
        if row["feasible"] and row[metric] is not None:
            k = keys(row)
            if k not in best or row[metric] < best[k][metric]:
                best[k] = row
    return best


def _by_seq_plot(plt: Any, rows: list[dict[str, Any]], metric: str, ylabel: str, path: Path,
                 *, log_y: bool) -> bool:
    """Per model, the fastest feasible design of each (algorithm, architecture) against
    sequence length, plotting ``metric`` of that design."""
    best = _best_by(rows, lambda r: (r["model"], r["batch"], r["algorithm"], r["architecture"],
                                     r["seq"]), "seconds")
    if not best:
        return False
    models = sorted({(k[0], k[1]) for k in best})[:_MAX_PANELS]
    fig, axes = _grid(plt, len(models))
    for ax, (model, batch) in zip(axes, models, strict=True):
        lines = sorted({(k[2], k[3]) for k in best if (k[0], k[1]) == (model, batch)})
        for algorithm, arch in lines:
            points = sorted((k[4], r[metric]) for k, r in best.items()
                            if k[:4] == (model, batch, algorithm, arch))
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    label=f"{algorithm} / {arch}")
        ax.set_xscale("log", base=2)
        if log_y:
            ax.set_yscale("log")
        ax.set_title(f"{model}, batch {batch}", fontsize=9)
        ax.set_xlabel("sequence length")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
    _save(plt, fig, path)
    return True


def _breakdown_plot(plt: Any, rows: list[dict[str, Any]], path: Path) -> bool:
    """Energy by level and action of each algorithm's lowest-energy feasible design at the
    largest workload that has energies."""
    usable = [r for r in rows if r["feasible"] and r["energy_j"] is not None]
    if not usable:
        return False
    workload = max({_workload(r) for r in usable}, key=lambda w: (w[1], w[0], w[2]))
    best = _best_by([r for r in usable if _workload(r) == workload],
                    lambda r: r["algorithm"], "energy_j")
    names = sorted(best)
    parts = sorted({k for r in best.values() for k in r["energy_pj_by_action"]})
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 4, 4.2))
    bottom = [0.0] * len(names)
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    for i, part in enumerate(parts):
        values = [best[n]["energy_pj_by_action"].get(part, 0.0) * 1e-12 for n in names]
        ax.bar(names, values, bottom=bottom, label=part, color=cmap(i % 20))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    model, seq, batch = workload
    ax.set_title(f"energy by level and action, {model}, seq {seq:,}, batch {batch} "
                 "(lowest-energy design per algorithm)", fontsize=9)
    ax.set_ylabel("energy (J)")
    ax.legend(fontsize=6, ncol=2, bbox_to_anchor=(1.01, 1), loc="upper left")
    _save(plt, fig, path)
    return True


def _plots(rows: list[dict[str, Any]], out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for name, title, draw in (
        ("pareto_latency_energy.png", "Pareto fronts: latency vs energy",
         lambda p: _front_plot(plt, rows, "energy_j", "energy (J)", p)),
        ("pareto_latency_area.png", "Pareto fronts: latency vs area",
         lambda p: _front_plot(plt, rows, "area_mm2", "compute area (mm^2)", p)),
        ("pareto_latency_dsp.png", "Pareto fronts: latency vs DSPs (FPGA)",
         lambda p: _front_plot(plt, rows, "dsp", "DSP slices", p)),
        ("utilisation_vs_seq.png", "Utilisation against sequence length (fastest design)",
         lambda p: _by_seq_plot(plt, rows, "utilisation", "PE-weighted utilisation", p,
                                log_y=False)),
        ("algorithms_latency.png", "Algorithms compared: latency of the fastest design",
         lambda p: _by_seq_plot(plt, rows, "seconds", "latency (s)", p, log_y=True)),
        ("energy_breakdown.png", "Energy by level and action",
         lambda p: _breakdown_plot(plt, rows, p)),
    ):
        if draw(out / name):
            made.append((name, title))
    return made


# ----- tables and page


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if k not in _FLAT_COLUMNS}
    flat["violations"] = "; ".join(row["violations"])
    for column in _FLAT_COLUMNS:
        flat[column] = None if row[column] is None else json.dumps(row[column], sort_keys=True)
    return flat


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value))


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#eef}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}"""


def _page(rows: list[dict[str, Any]], sweeps: list[str], plots: list[tuple[str, str]]) -> str:
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    feasible = sum(r["feasible"] for r in rows)
    fastest = sorted(_best_by(rows, _workload, "seconds").values(), key=_workload)
    summary = ", ".join(f"{n:,} {s}" for s, n in sorted(statuses.items()))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>cascade report: {html.escape(', '.join(sweeps))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Design-space exploration: {html.escape(', '.join(sweeps))}</h1>",
        f"<p>{len(rows):,} design points ({summary}); {feasible:,} meet every constraint. "
        "Data: <a href='results.csv'>results.csv</a>, "
        "<a href='results.parquet'>results.parquet</a>.</p>",
        "<h2>Fastest feasible design per workload</h2>",
        _table([{**r, "design": _label(r)} for r in fastest],
               ["model", "seq", "batch", "design", "objective", "cycles", "seconds",
                "energy_j", "area_mm2", "dsp", "utilisation"]),
    ]
    for name, title in plots:
        parts.append(f"<h2>{html.escape(title)}</h2><img src='{name}' alt='{html.escape(title)}'>")
    unmappable = [r for r in rows if r["status"] != "ok"][:50]
    if unmappable:
        parts.append("<h2>Points that could not be mapped (first 50)</h2>")
        parts.append(_table([{**r, "design": _label(r)} for r in unmappable],
                            ["model", "seq", "batch", "design", "error"]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(db: str | Path, out: Path, *, sweep: str | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Write ``index.html``, its PNG plots, ``results.csv`` and ``results.parquet`` into
    ``out`` (all or nothing); return a summary."""
    store = ResultStore(db, create=False)
    try:
        rows, sweeps = _rows(store, sweep)
    finally:
        store.close()
    if not rows:
        raise CascadeError(f"{db}: no results to report")
    with staged_folder(out, force=force) as staging:
        flat = [_flat(r) for r in rows]
        write_csv(staging / "results.csv", flat)
        _write_parquet(staging / "results.parquet", flat)
        plots = _plots(rows, staging)
        (staging / "index.html").write_text(_page(rows, sweeps, plots), "utf-8")
    return {"rows": len(rows), "sweeps": sweeps,
            "feasible": sum(r["feasible"] for r in rows),
            "files": ["index.html", "results.csv", "results.parquet", *(n for n, _ in plots)]}
