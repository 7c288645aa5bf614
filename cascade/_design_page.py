"""A page per design: ``design.html`` with the mapping, the cost of every Einsum, buffer
occupancy and DRAM traffic by tensor and by level, a roofline and the energy by level and
action.

The report (``cascade report``) writes one for the fastest design of every workload, and
``cascade map --out`` one for the design it maps. The page helpers the report shares
(templates, tables, figures) live here too, so that both pages render one way: jinja2
templates with autoescape, never HTML built from strings.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from einsum import Cascade
from sim import Architecture, Mapping, Report, design_resources

__all__ = [
    "LEVELS",
    "Cell",
    "Column",
    "Grid",
    "Image",
    "Table",
    "architecture_facts",
    "axis_scale",
    "design_page",
    "energy_parts",
    "grid",
    "render",
    "save_figure",
    "set_scale",
    "shown",
    "slug",
    "table",
    "write_design_page",
    "write_row_page",
]

LEVELS = ("DRAM", "global buffer", "register files", "compute")
"""Where energy goes, from the farthest level to the PEs."""

_DPI = 80


# ----- templates and tables


@cache
def _environment() -> jinja2.Environment:
    # Autoescape everything: titles, tensor and model names come from user files.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True)


def render(template: str, path: Path, **context: Any) -> None:
    """Render ``template`` (a file of ``cascade/templates``) into ``path``."""
    path.write_text(_environment().get_template(template).render(**context), "utf-8")


def shown(value: Any) -> str:
    """A value as a table shows it: thousands separated, four significant digits."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.0f}" if abs(value) >= 1e4 and abs(value) < 1e15 and \
            value == int(value) else f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | None = None
    """The number a column sorts by (None: sort by the text)."""
    href: str | None = None
    css: str = ""
    """Classes: ``text`` (left-aligned) unless a number, and the column's own."""


@dataclass(frozen=True)
class Column:
    header: str
    """With its unit, e.g. ``latency (s)``."""
    value: str | Callable[[dict[str, Any]], Any]
    """A key of the records, or a function of a record."""
    href: Callable[[dict[str, Any]], str | None] | None = None
    css: str = ""
    """Extra class of the column's cells, e.g. ``wide`` for long text."""

    def cell(self, record: dict[str, Any]) -> Cell:
        value = record.get(self.value) if isinstance(self.value, str) else self.value(record)
        number = isinstance(value, int | float) and not isinstance(value, bool) and \
            math.isfinite(value)
        css = " ".join(c for c in ("" if number else "text", self.css) if c)
        return Cell(shown(value), float(value) if number else None,
                    self.href(record) if self.href else None, css)


@dataclass(frozen=True)
class Table:
    id: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


def table(name: str, records: Iterable[dict[str, Any]], columns: Sequence[Column]) -> Table:
    """A table of ``records``, one row each, for the ``sortable`` template macro."""
    return Table(name, tuple(columns),
                 tuple(tuple(c.cell(r) for c in columns) for r in records))


def slug(text: str) -> str:
    """``text`` as a file or anchor name: letters, digits, dots, dashes."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.").lower() or "x"


# ----- figures


@dataclass(frozen=True)
class Image:
    src: str
    alt: str
    caption: str
    width: int
    height: int


@dataclass(frozen=True)
class Grid:
    """A figure of panels laid out with fixed margins, in inches, and a column on the right
    for legends (outside the data). Fixed margins instead of a layout engine: the engine
    measures every label twice per figure, which doubles the time a report takes."""

    figure: Any
    axes: list[Any]
    legend_x: float
    """Left edge of the legend column, as a fraction of the figure's width."""
    panels_top: float
    """Top of the panels, as a fraction of the figure's height."""

    def title(self, text: str) -> None:
        """A title above the panels, centred on them."""
        self.figure.suptitle(text, fontsize=10, x=self.legend_x / 2,
                             y=1 - 0.08 / self.figure.get_figheight(), va="top")

    def legend(self, handles: Sequence[Any] | None = None, *, title: str | None = None,
               below: int = 0) -> None:
        """A legend in the right column, ``below`` lines of legend text under the top of
        the panels."""
        kwargs: dict[str, Any] = {} if handles is None else {"handles": list(handles)}
        top = self.panels_top - below * 0.16 / self.figure.get_figheight()
        self.figure.legend(**kwargs, loc="upper left", bbox_to_anchor=(self.legend_x, top),
                           fontsize=7, title=title, title_fontsize=8, frameon=False)


def grid(rows: int, cols: int, *, panel: tuple[float, float] = (4.0, 2.9),
         legend: float = 2.0, left: float = 0.8, bottom: float = 0.7, top: float = 0.7,
         gap: tuple[float, float] = (0.85, 1.0)) -> Grid:
    """``rows`` x ``cols`` panels of ``panel`` inches drawn by Agg outside pyplot (no global
    state to leak), ``legend`` inches to their right."""
    from matplotlib.figure import Figure

    width = left + cols * panel[0] + (cols - 1) * gap[0] + legend
    height = bottom + rows * panel[1] + (rows - 1) * gap[1] + top
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=(width - legend) / width,
                        bottom=bottom / height, top=1 - top / height,
                        wspace=gap[0] / panel[0], hspace=gap[1] / panel[1])
    axes = list(fig.subplots(rows, cols, squeeze=False).flatten())
    return Grid(fig, axes, (width - legend + 0.15) / width, 1 - top / height)


def save_figure(fig: Any, folder: Path, name: str, *, alt: str, caption: str,
                src: str | None = None) -> Image:
    """Save ``fig`` as ``folder/name`` (PNG); ``src`` is how the page refers to it."""
    path = folder / name
    fig.savefig(path, dpi=_DPI, format="png")
    with path.open("rb") as f:
        width, height = struct.unpack(">II", f.read(24)[16:24])  # the PNG's IHDR
    return Image(src or name, alt, caption, width, height)


def axis_scale(values: Iterable[float]) -> str:
    """``log`` where positive data span a decade or more, ``linear`` otherwise."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if not data or min(data) <= 0:
        return "linear"
    return "log" if max(data) / min(data) >= 10 else "linear"


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075"
                             "\u2076\u2077\u2078\u2079")


def _plain(value: float, _: Any = None) -> str:
    return f"{value:g}"


def _power(value: float, _: Any = None) -> str:
    """``10`` with its exponent as superscript where ``value`` is a power of ten."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    if not math.isclose(value, 10.0**exponent, rel_tol=1e-9):
        return f"{value:g}"
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def set_scale(ax: Any, axis: str, values: Iterable[float]) -> None:
    """Scale ``ax``'s ``x`` or ``y`` axis by :func:`axis_scale`. Log axes get labelled
    ticks at 1, 2 and 5 per decade where they span few decades, and no minor ticks (they
    cost most of the drawing time and carry no label)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

    data = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    scale = axis_scale(data)
    (ax.set_xscale if axis == "x" else ax.set_yscale)(scale)
    target = ax.xaxis if axis == "x" else ax.yaxis
    if scale == "log":
        # Few decades: plain numbers (at 1, 2 and 5 of each decade where there is room)
        # read better than powers. Powers are written with Unicode superscripts: mathtext
        # labels would take a third of the drawing time.
        decades = math.log10(max(data) / min(data))
        plain = decades < 3 and min(data) >= 1e-4 and max(data) < 1e6
        target.set_major_locator(LogLocator(10, subs=(1.0, 2.0, 5.0) if decades < 2 else
                                            (1.0,)))
        target.set_major_formatter(FuncFormatter(_plain if plain else _power))
    else:
        target.set_major_locator(MaxNLocator(nbins=6))  # room for long labels
    target.set_minor_locator(NullLocator())


# ----- energy


def energy_parts(energy_pj: dict[str, float], accesses: dict[str, float] | None = None,
                 arch: Architecture | None = None) -> list[tuple[str, str, float]]:
    """``(level, action, pJ)`` of a report's ``energy_pj``: DRAM accesses, global-buffer
    rows, register files and the units' operations. With the accesses and architecture the
    buffer and register files are split into reads and writes."""
    parts: list[tuple[str, str, float]] = []
    for key, pj in sorted(energy_pj.items()):
        unit, _, action = key.partition(".")
        if key == "dram":
            parts.append(("DRAM", "accesses", pj))
        elif key == "global_buffer":
            parts += _split(pj, "global buffer", "row", accesses,
                            "global_buffer.row_reads", "global_buffer.row_writes",
                            None if arch is None else (arch.global_buffer.read_pj_per_row,
                                                       arch.global_buffer.write_pj_per_row))
        elif action == "rf":
            rf = None if arch is None or unit not in arch.units else \
                arch.units[unit].register_file
            parts += _split(pj, "register files", unit, accesses,
                            f"{unit}.rf.reads", f"{unit}.rf.writes",
                            None if rf is None else (rf.read_pj, rf.write_pj))
        else:
            parts.append(("compute", f"{unit} {action}" if action else key, pj))
    return sorted(parts, key=lambda p: (LEVELS.index(p[0]), p[1]))


def _split(pj: float, level: str, what: str, accesses: dict[str, float] | None,
           reads: str, writes: str,
           costs: tuple[float | None, float | None] | None) -> list[tuple[str, str, float]]:
    """Reads and writes apart where their counts and costs rebuild the total."""
    if accesses is not None and costs is not None and None not in costs \
            and reads in accesses and writes in accesses:
        read_pj = accesses[reads] * costs[0]
        write_pj = accesses[writes] * costs[1]
        if math.isclose(read_pj + write_pj, pj, rel_tol=1e-6, abs_tol=1e-3):
            return [(level, f"{what} reads", read_pj), (level, f"{what} writes", write_pj)]
    return [(level, f"{what} reads and writes", pj)]


# ----- the design page


def _dram_shares(cascade: Cascade, report: Report) -> dict[str, float]:
    """Bytes of DRAM traffic per Einsum: each tensor's traffic split equally between the
    computed Einsums that write or read it (the cost model counts traffic per tensor). An
    Einsum that reads a view (a broadcast, computed by no unit) reads the view's source."""
    computed = {r.name for r in report.einsums}
    views = {e.name: [r.tensor for r in e.refs] for e in cascade.einsums
             if e.name not in computed}

    def sources(tensor: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if tensor not in views or tensor in seen:
            return {tensor}
        return {s for t in views[tensor] for s in sources(t, seen | {tensor})}

    touching: dict[str, set[str]] = {}
    for e in cascade.einsums:
        if e.name in computed:
            for tensor in {e.name, *(s for r in e.refs for s in sources(r.tensor))}:
                touching.setdefault(tensor, set()).add(e.name)
    shares = dict.fromkeys(computed, 0.0)
    for tensor, moved in report.dram_bytes_by_tensor.items():
        users = sorted(touching.get(tensor, ()))
        for e in users:
            shares[e] += moved / len(users)
    return shares


def _einsum_records(cascade: Cascade, arch: Architecture, mapping: Mapping,
                    report: Report) -> list[dict[str, Any]]:
    shares = _dram_shares(cascade, report)
    records = []
    for e in report.einsums:
        unit = arch.units.get(e.unit or "")
        binding = mapping.bindings.get(e.name)
        ops = sum(e.ops.values())
        total_ops = ops * report.instances
        records.append({
            "einsum": e.name, "stage": e.stage, "unit": e.unit,
            "spatial": ", ".join(binding.spatial) if binding else None,
            "cycles": e.cycles,
            "utilisation": 100 * e.busy_pe_cycles / (unit.pes * e.cycles)
            if unit and e.cycles else None,
            "ops": ops, "mix": ", ".join(f"{k} {v:,}" for k, v in sorted(e.ops.items())),
            "dram": shares.get(e.name, 0.0),
            "intensity": total_ops / shares[e.name] if shares.get(e.name) else None,
            "performance": ops * arch.clock_hz / e.cycles if e.cycles else None,
            # As if it ran alone: the longer of its compute and the transfer of its DRAM
            # share (with memory overlapped, the design hides one under other Einsums)
            "alone": total_ops / max(e.cycles * report.instances / arch.clock_hz,
                                     shares.get(e.name, 0.0)
                                     / arch.dram.bandwidth_bytes_per_s) if e.cycles else None,
        })
    return records


_EINSUM_COLUMNS = (
    Column("Einsum", "einsum"), Column("stage", "stage"), Column("unit", "unit"),
    Column("spatial ranks", "spatial"), Column("cycles per (batch, head)", "cycles"),
    Column("utilisation of its unit (%)", "utilisation"),
    Column("ops per (batch, head)", "ops"),
    Column("op mix (ops per (batch, head))", "mix", css="wide"),
    Column("DRAM share, all instances (B)", "dram"),
    Column("operational intensity (ops/B)", "intensity"),
    Column("performance while computing (ops/s)", "performance"),
    Column("performance alone, with its DRAM share (ops/s)", "alone"),
)


def _roofline(folder: Path, arch: Architecture, report: Report,
              records: list[dict[str, Any]]) -> Image:
    """Operational intensity against performance: a roof per unit (PEs x clock), the DRAM
    roof (bandwidth x intensity), each Einsum that moves DRAM data and the whole design."""
    import matplotlib

    bandwidth = arch.dram.bandwidth_bytes_per_s
    roofs = {name: u.pes * arch.clock_hz for name, u in arch.units.items()}
    total_ops = sum(sum(e.ops.values()) for e in report.einsums) * report.instances
    whole = (total_ops / report.dram_bytes if report.dram_bytes else None,
             total_ops / report.seconds if report.seconds else None)
    drawn = [r for r in records if r["intensity"] and r["alone"]]
    xs = [r["intensity"] for r in drawn] + ([whole[0]] if whole[0] else [])
    ys = [r["alone"] for r in drawn] + ([whole[1]] if whole[1] else [])
    knees = [roof / bandwidth for roof in roofs.values()]
    low = min([*xs, *knees]) / 4
    high = max([*xs, *knees]) * 4
    layout = grid(1, 1, panel=(5.4, 3.6), legend=3.3, top=0.35)
    fig, ax = layout.figure, layout.axes[0]
    colours = matplotlib.colormaps["tab10"]
    unit_colour = {name: colours(i % 10) for i, name in enumerate(sorted(roofs))}
    span = [low * (high / low) ** (i / 200) for i in range(201)]
    ax.plot(span, [bandwidth * x for x in span], color="grey", linestyle=":",
            label=f"DRAM roof: {bandwidth / 2**30:,.4g} GiB/s x intensity")
    for name, roof in sorted(roofs.items()):
        ax.plot(span, [min(roof, bandwidth * x) for x in span], color=unit_colour[name],
                label=f"{name} roof: {arch.units[name].pes:,} PEs x "
                      f"{arch.clock_mhz:g} MHz = {roof:.3g} ops/s")
    markers = "osD^vP*Xph<>"
    for i, r in enumerate(drawn):
        ax.plot([r["intensity"]], [r["alone"]], linestyle="none", markersize=6,
                color=unit_colour.get(r["unit"], "black"), marker=markers[i % len(markers)],
                markeredgecolor="black", markeredgewidth=0.5,
                label=f"{r['einsum']} on {r['unit']}")
    if whole[0] and whole[1]:
        ax.plot([whole[0]], [whole[1]], linestyle="none", markersize=11, marker="*",
                color="black", label="whole design")
    set_scale(ax, "x", [low, high])
    bottom = min([*ys, *roofs.values(), bandwidth * low]) / 3
    top = max([*ys, *roofs.values()]) * 3
    set_scale(ax, "y", [bottom, top])
    ax.set_ylim(bottom, top)
    ax.set_xlabel("operational intensity (ops/B of DRAM traffic)")
    ax.set_ylabel("performance (ops/s)")
    ax.set_title(f"{report.cascade} on {arch.name}", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    layout.legend()
    left_out = [r["einsum"] for r in records if r not in drawn]
    caption = ("Roofline. Lines: each unit's compute roof (its PEs x the clock, one op per "
               "PE per cycle) capped by the DRAM roof (bandwidth x intensity). Points: each "
               "Einsum's operations over its share of the DRAM traffic (each tensor's "
               "traffic split equally between the Einsums that read or write it) against "
               "its operations per second as if it ran alone (over the longer of its "
               "compute time and the time its DRAM share takes at the bandwidth); the star "
               "is the whole design (all operations over all DRAM traffic, against the "
               "latency).")
    if left_out:
        caption += (f" Not drawn, as their tensors never leave the chip (no DRAM traffic): "
                    f"{', '.join(left_out)}.")
    return save_figure(fig, folder, "roofline.png", alt="roofline", caption=caption)


def _energy_groups(parts: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
    """Energy by level, each with its actions, as joules, shares and bar widths."""
    total = sum(pj for *_, pj in parts)
    largest = max((pj for *_, pj in parts), default=0.0)

    def entry(name: str, pj: float, top: float) -> dict[str, Any]:
        return {"name": name, "joules": shown(pj * 1e-12),
                "share": shown(100 * pj / total) if total else shown(None),
                "width": f"{100 * pj / top:.1f}" if top else "0"}

    groups = []
    for level in LEVELS:
        mine = [p for p in parts if p[0] == level]
        if mine:
            level_pj = sum(pj for *_, pj in mine)
            groups.append({**entry(level, level_pj, total),
                           "parts": [entry(action, pj, largest) for _, action, pj in mine]})
    return groups


def _level_records(arch: Architecture, report: Report,
                   parts: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
    def energy(level: str, prefix: str = "") -> float | None:
        if not report.energy_modelled:
            return None
        return sum(pj for lv, action, pj in parts if lv == level
                   and action.startswith(prefix)) * 1e-12

    gb = arch.global_buffer
    acc = report.accesses
    records = [
        {"level": "DRAM", "capacity": None, "occupancy": None, "moved": report.dram_bytes,
         "reads": acc.get("dram"), "writes": None, "energy": energy("DRAM"),
         "note": f"{arch.dram.bandwidth_bytes_per_s / 2**30:,.4g} GiB/s, "
                 f"{arch.dram.access_bits}-bit accesses (reads and writes counted together)"},
        {"level": "global buffer", "capacity": gb.capacity_bytes,
         "occupancy": report.buffer_bytes, "moved": None,
         "reads": acc.get("global_buffer.row_reads"),
         "writes": acc.get("global_buffer.row_writes"), "energy": energy("global buffer"),
         "note": f"{100 * report.buffer_bytes / gb.capacity_bytes:.1f}% of capacity at the "
                 f"peak; rows of {gb.row_values} values, {gb.banks} banks"
         if gb.capacity_bytes else ""},
    ]
    for name, unit in arch.units.items():
        rf = unit.register_file
        records.append({
            "level": f"register files of {name}",
            "capacity": rf.entries * arch.word_bytes * unit.pes if rf else None,
            "occupancy": None, "moved": None, "reads": acc.get(f"{name}.rf.reads"),
            "writes": acc.get(f"{name}.rf.writes"),
            "energy": energy("register files", f"{name} "),
            "note": f"{rf.entries} entries per PE" if rf else "no register file modelled"})
    return records


_LEVEL_COLUMNS = (
    Column("level", "level"), Column("capacity (B)", "capacity"),
    Column("peak occupancy (B)", "occupancy"), Column("DRAM traffic (B)", "moved"),
    Column("reads (accesses)", "reads"), Column("writes (accesses)", "writes"),
    Column("energy (J)", "energy"), Column("notes", "note", css="wide"),
)


def _unit_records(arch: Architecture, report: Report,
                  parts: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
    return [{
        "unit": name, "shape": " x ".join(str(s) for s in unit.shape), "pes": unit.pes,
        "roof": unit.pes * arch.clock_hz, "cycles": report.unit_cycles.get(name, 0),
        "utilisation": 100 * report.utilisation.get(name, 0.0),
        "energy": sum(pj for lv, action, pj in parts if lv == "compute"
                      and action.startswith(f"{name} ")) * 1e-12
        if report.energy_modelled else None,
        "area": unit.area_um2_per_pe * unit.pes * 1e-6 if unit.area_um2_per_pe else None,
    } for name, unit in arch.units.items()]


_UNIT_COLUMNS = (
    Column("unit", "unit"), Column("shape (PEs per axis)", "shape"), Column("PEs", "pes"),
    Column("compute roof (ops/s)", "roof"), Column("busy, all instances (cycles)", "cycles"),
    Column("utilisation over the latency (%)", "utilisation"),
    Column("operation energy (J)", "energy"), Column("area (mm^2)", "area"),
)


def _tensor_records(mapping: Mapping, report: Report) -> list[dict[str, Any]]:
    names = sorted({*report.buffer_bytes_by_tensor, *report.dram_bytes_by_tensor,
                    *report.spilled})
    return [{"tensor": t, "placement": mapping.placement.get(t, "on chip"),
             "buffer": report.buffer_bytes_by_tensor.get(t),
             "dram": report.dram_bytes_by_tensor.get(t),
             "spilled": 100 * report.spilled[t] if t in report.spilled else None}
            for t in names]


_TENSOR_COLUMNS = (
    Column("tensor", "tensor"), Column("placement", "placement"),
    Column("global-buffer occupancy (B)", "buffer"),
    Column("DRAM traffic, all instances (B)", "dram"),
    Column("spilled part of its on-chip tile (%)", "spilled"),
)


def _summary(report: Report) -> dict[str, Any]:
    return {
        "cycles": report.cycles, "seconds": report.seconds,
        "compute": report.compute_cycles, "dram_cycles": report.dram_cycles,
        "energy": report.energy_j if report.energy_modelled else None,
        "power": report.energy_j / report.seconds
        if report.energy_modelled and report.seconds else None,
        "area": report.area_mm2, "dram": report.dram_bytes, "buffer": report.buffer_bytes,
        "capacity": report.buffer_capacity_bytes,
    }


_SUMMARY_COLUMNS = (
    Column("latency (cycles)", "cycles"), Column("latency (s)", "seconds"),
    Column("compute (cycles)", "compute"), Column("DRAM transfers (cycles)", "dram_cycles"),
    Column("energy (J)", "energy"), Column("power (W)", "power"),
    Column("compute area (mm^2)", "area"), Column("DRAM traffic (B)", "dram"),
    Column("global buffer at the peak (B)", "buffer"),
    Column("global-buffer capacity (B)", "capacity"),
)


def _resources(arch: Architecture) -> Table | None:
    if arch.device is None:
        return None
    found = design_resources(arch)
    kinds = ("dsp", "bram36", "uram", "lut", "ff")
    records = [{"part": name, **{k: getattr(r, k) for k in kinds}}
               for name, r in [*found.units.items(), ("global buffer", found.buffer),
                               ("total", found.total), ("available", found.available)]]
    records.append({"part": "used (%)", **{k: 100 * found.utilisation[k]
                                           for k in kinds if k in found.utilisation}})
    return table("resources", records, [
        Column("part of the design", "part"), Column("DSP slices", "dsp"),
        Column("BRAM36 blocks", "bram36"), Column("URAM blocks", "uram"),
        Column("LUTs", "lut"), Column("flip-flops", "ff")])


def architecture_facts(arch: Architecture) -> list[tuple[str, str]]:
    """What the page says about the hardware: name, technology node, clock, memories."""
    facts = [("architecture", f"{arch.title} ({arch.name})" if arch.title else arch.name),
             ("technology node", arch.node or "not given"),
             ("clock", f"{arch.clock_mhz:g} MHz")]
    if arch.device is not None:
        facts.append(("FPGA device", f"{arch.device.name} ({arch.device.part})"))
    facts += [("DRAM bandwidth", f"{arch.dram.bandwidth_bytes_per_s / 2**30:,.4g} GiB/s"),
              ("global buffer", f"{arch.global_buffer.capacity_bytes / 2**20:,.4g} MiB"),
              ("units", ", ".join(f"{n} ({' x '.join(map(str, u.shape))} PEs)"
                                  for n, u in arch.units.items()))]
    return facts


def design_page(folder: Path, *, cascade: Cascade, arch: Architecture, mapping: Mapping,
                report: Report, batch: int, heads: int, title: str,
                facts: Sequence[tuple[str, str]] = (), warnings: Sequence[str] = (),
                back: str | None = None) -> list[str]:
    """:func:`write_design_page` with extra facts and warnings and a link back to the page
    that lists the design."""
    records = _einsum_records(cascade, arch, mapping, report)
    parts = energy_parts(report.energy_pj, report.accesses, arch) \
        if report.energy_modelled else []
    roofline = _roofline(folder, arch, report, records)
    files = ["design.html", roofline.src]
    shapes = ", ".join(f"{r}={n:,}" for r, n in sorted(report.shapes.items()))
    render("design.j2", folder / "design.html", title=title, back=back, reason=None,
           warnings=list(warnings),
           facts=[*facts, *architecture_facts(arch),
                  ("cascade", f"{cascade.name} ({len(cascade.einsums)} Einsums)"),
                  ("shapes", shapes),
                  ("instances", f"batch {batch:,} x heads {heads:,} = "
                                f"{report.instances:,}"),
                  ("mapping", mapping.name)],
           instances=f"{report.instances:,}",
           summary=table("summary", [_summary(report)], _SUMMARY_COLUMNS),
           einsums=table("einsums", records, _EINSUM_COLUMNS),
           units=table("units", _unit_records(arch, report, parts), _UNIT_COLUMNS),
           levels=table("levels", _level_records(arch, report, parts), _LEVEL_COLUMNS),
           tensors=table("tensors", _tensor_records(mapping, report), _TENSOR_COLUMNS),
           resources=_resources(arch), roofline=roofline, energy=_energy_groups(parts),
           energy_note=f"Energy is not modelled for this design: {arch.name} does not give "
                       "an energy for every action (FPGA presets give none).",
           mapping_yaml=yaml.safe_dump(mapping.to_dict(), sort_keys=False))
    return files


def write_design_page(folder: Path, *, cascade: Cascade, arch: Architecture,
                      mapping: Mapping, report: Report, batch: int, heads: int,
                      title: str) -> list[str]:
    """Write ``design.html`` and its images into the existing ``folder``; return their
    file names."""
    return design_page(folder, cascade=cascade, arch=arch, mapping=mapping, report=report,
                       batch=batch, heads=heads, title=title)


def write_row_page(folder: Path, *, title: str, facts: Sequence[tuple[str, str]],
                   reason: str, back: str | None = None) -> list[str]:
    """``design.html`` for a design that cannot be rebuilt from its stored row (a network
    mapped block by block, a cascade file or model config the store names but does not
    hold): what the row says and why there is no more."""
    render("design.j2", folder / "design.html", title=title, back=back, reason=reason,
           warnings=[], facts=list(facts))
    return ["design.html"]
