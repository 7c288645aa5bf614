"""``cascade reproduce fusemax``: the FuseMax study from (cascade, architecture, mapping).

Runs the five configurations for every model and length, the end-to-end layer (attention
plus six linear layers) and the array-size sweep, and writes CSV files, PNG plots and a
summary with the paper's published numbers beside ours.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from einsum import check_output_folder, load, model, parse_text, staged_folder, write_csv
from mapper import evaluate_mapping, study, study_mapping
from sim import Architecture, Report, architecture, mapping_from_dict

from ._progress import Progress

__all__ = ["METRICS", "artifact_accounting_j", "compare_with_artifact", "published",
           "reproduce_fusemax", "run_fusemax_study"]

_SHOWN = {"unfused": "Unfused", "flat": "FLAT", "cascade": "+Cascade",
          "architecture": "+Architecture", "binding": "+Binding"}


def published() -> dict[tuple[str, str, int], dict[str, float]]:
    """The artifact's published attention results, keyed by (configuration, model, length)."""
    text = resources.files("mapper").joinpath("studies", "fusemax_published.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {(r["configuration"], r["model"], int(r["seq_len"])):
            {k: float(v) for k, v in r.items() if k not in ("configuration", "model", "seq_len")}
            for r in rows}


METRICS = {"latency_s": "relative", "energy_j": "relative",
           "energy_j_artifact_accounting": "relative", "dram_bytes": "relative",
           "util_2d": "absolute", "util_1d": "absolute"}
"""The artifact's per-point metrics and how a difference from it is measured: relative for
amounts (ours / artifact - 1), absolute for utilisations (ours - artifact)."""


_ARTIFACT_METRIC = {"energy_j_artifact_accounting": "energy_j"}
"""Our metrics compared with another of the artifact's (the same quantity, counted its way)."""


def artifact_accounting_j(report: Report, arch: Architecture) -> float:
    """Energy as the artifact's Accelergy run counts it: it charges Timeloop's per-instance
    register-file counts ("Scalar reads (per-instance)", src/utils/stats.py) to one register
    file of each array (reg_file[1], src/accel/cascade.py build_accelergy_yaml), so each
    unit's register-file energy counts once, not once per PE."""
    pj = sum(v / arch.units[k.split(".")[0]].pes if k.endswith(".rf") else v
             for k, v in report.energy_pj.items())
    return pj * 1e-12


def _error(metric: str, ours: float, theirs: float) -> float:
    return ours / theirs - 1 if METRICS[metric] == "relative" else ours - theirs


def compare_with_artifact(rows: list[dict[str, Any]],
                          ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Ours against the artifact at every point: one row per point with each metric, the
    artifact's value and the error; and per metric the worst error and where it is."""
    paper = published()
    table: list[dict[str, Any]] = []
    worst: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = (r["configuration"], r["model"], r["seq_len"])
        theirs = paper.get(key)
        if theirs is None:
            continue
        row: dict[str, Any] = dict(zip(("configuration", "model", "seq_len"), key, strict=True))
        for metric in METRICS:
            reference = theirs[_ARTIFACT_METRIC.get(metric, metric)]
            error = _error(metric, float(r[metric]), reference)
            row |= {metric: r[metric], f"artifact_{metric}": reference,
                    f"{metric}_error": error}
            if metric not in worst or abs(error) > abs(worst[metric]["error"]):
                worst[metric] = {"error": error, "kind": METRICS[metric],
                                 "configuration": key[0], "model": key[1], "seq_len": key[2]}
        table.append(row)
    return table, worst


def _points(spec: dict[str, Any]) -> Iterator[tuple[str, int]]:
    for name in spec["models"]:
        for seq in spec["sequence_lengths"]:
            yield name, seq


def _attention(spec: dict[str, Any], tick: Callable[[], None]
               ) -> dict[tuple[str, str, int], tuple[Report, float]]:
    """Each point's report, and its energy counted the artifact's way."""
    results = {}
    for config in spec["configurations"]:
        cascade, arch = load(config["cascade"]), architecture(config["architecture"])
        for name, seq in _points(spec):
            preset = model(name)
            mapping = study_mapping("fusemax", config["name"], model=name, seq_len=seq)
            report = evaluate_mapping(cascade, arch, mapping, preset.shapes(seq),
                                      batch=preset.batch, heads=preset.heads).report
            results[config["name"], name, seq] = (report, artifact_accounting_j(report, arch))
            tick()
    return results


def _linear(spec: dict[str, Any], arch_name: str, name: str, seq: int,
            cache: dict[tuple[str, int, int, int], Report]) -> tuple[float, float, float]:
    """Seconds and joules (and joules counted the artifact's way) of the six linear layers
    of one layer."""
    e2e = spec["end_to_end"]
    cascade = parse_text(e2e["cascade"], name="linear")
    mapping = mapping_from_dict(e2e["mapping"])
    preset = model(name)
    arch = architecture(arch_name)
    seconds = joules = counted = 0.0
    for layer in e2e["linear_layers"]:
        k, n = getattr(preset, layer["k"]), getattr(preset, layer["n"])
        key = (arch_name, k, n, preset.batch * seq)
        if key not in cache:
            cache[key] = evaluate_mapping(cascade, arch, mapping,
                                          {"K": k, "N": n, "T": preset.batch * seq}).report
        seconds += cache[key].seconds
        joules += cache[key].energy_j
        counted += artifact_accounting_j(cache[key], arch)
    return seconds, joules, counted


def run_fusemax_study(tick: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Every number of the study, as plain rows (no files written)."""
    spec = study("fusemax")
    attention = _attention(spec, tick)
    paper = published()
    rows = []
    for (config, name, seq), (r, counted) in attention.items():
        base = {b: attention[b, name, seq] for b in ("unfused", "flat")}
        pub = paper.get((config, name, seq), {})
        row: dict[str, Any] = {
            "configuration": config, "model": name, "seq_len": seq,
            "cycles": r.cycles, "latency_s": r.seconds, "energy_j": r.energy_j,
            "energy_j_artifact_accounting": counted,
            "dram_bytes": r.dram_bytes, "util_2d": r.utilisation["array2d"],
            "util_1d": r.utilisation["array1d"],
        }
        for b, (other, other_counted) in base.items():
            row[f"speedup_vs_{b}"] = other.seconds / r.seconds
            row[f"energy_vs_{b}"] = r.energy_j / other.energy_j
            row[f"energy_vs_{b}_artifact_accounting"] = counted / other_counted
        for key in ("latency_s", "energy_j", "dram_bytes", "util_2d", "util_1d"):
            row[f"published_{key}"] = pub.get(key, "")
        for b in base:
            ref = paper.get((b, name, seq))
            if pub and ref:
                row[f"published_speedup_vs_{b}"] = ref["latency_s"] / pub["latency_s"]
                row[f"published_energy_vs_{b}"] = pub["energy_j"] / ref["energy_j"]
        rows.append(row)

    cache: dict[tuple[str, int, int, int], Report] = {}
    e2e_rows = []
    for config in spec["configurations"]:
        for name, seq in _points(spec):
            seconds, joules, counted = _linear(spec, config["architecture"], name, seq, cache)
            att, att_counted = attention[config["name"], name, seq]
            e2e_rows.append({"configuration": config["name"], "model": name, "seq_len": seq,
                             "attention_s": att.seconds, "linear_s": seconds,
                             "latency_s": att.seconds + seconds,
                             "energy_j": att.energy_j + joules,
                             "energy_j_artifact_accounting": att_counted + counted})
            tick()
    by_key = {(r["configuration"], r["model"], r["seq_len"]): r for r in e2e_rows}
    for r in e2e_rows:
        flat = by_key["flat", r["model"], r["seq_len"]]
        r["speedup_vs_flat"] = flat["latency_s"] / r["latency_s"]
        r["energy_vs_flat"] = r["energy_j"] / flat["energy_j"]
        r["energy_vs_flat_artifact_accounting"] = (r["energy_j_artifact_accounting"]
                                                   / flat["energy_j_artifact_accounting"])

    sweep = spec["area_sweep"]
    configs = {c["name"]: c for c in spec["configurations"]}
    area_rows = []
    for config_name in sweep["configurations"]:
        config = configs[config_name]
        cascade = load(config["cascade"])
        for size in sweep["array_sizes"]:
            arch = architecture(config["architecture"], array=size)
            for name in spec["models"]:
                preset = model(name)
                mapping = study_mapping("fusemax", config_name, model=name,
                                        seq_len=sweep["sequence_length"])
                r = evaluate_mapping(cascade, arch, mapping,
                                     preset.shapes(sweep["sequence_length"]),
                                     batch=preset.batch, heads=preset.heads).report
                area_rows.append({"configuration": config_name, "array": size, "model": name,
                                  "area_mm2": arch.area_mm2, "latency_s": r.seconds,
                                  "util_2d": r.utilisation["array2d"],
                                  "util_1d": r.utilisation["array1d"]})
                tick()

    def mean(rows_: list[dict[str, Any]], key: str, config: str = "binding") -> float:
        return statistics.fmean(r[key] for r in rows_ if r["configuration"] == config)

    headline = spec["headline"]
    summary = {
        "attention_speedup_vs_flat": mean(rows, "speedup_vs_flat"),
        "attention_energy_vs_flat": mean(rows, "energy_vs_flat"),
        "end_to_end_speedup_vs_flat": mean(e2e_rows, "speedup_vs_flat"),
        "end_to_end_energy_vs_flat": mean(e2e_rows, "energy_vs_flat"),
        # the published ratios count register files the artifact's way
        "attention_energy_vs_flat_artifact_accounting":
            mean(rows, "energy_vs_flat_artifact_accounting"),
        "end_to_end_energy_vs_flat_artifact_accounting":
            mean(e2e_rows, "energy_vs_flat_artifact_accounting"),
        "published": headline,
        "published_recomputed": {
            "attention_speedup_vs_flat": mean(rows, "published_speedup_vs_flat"),
            "attention_energy_vs_flat": mean(rows, "published_energy_vs_flat"),
        },
        "bert_1k_binding": {k: rows_by(rows, "binding", "bert", 1024)[k]
                            for k in ("cycles", "latency_s", "util_2d", "util_1d", "energy_j")},
        "flat_util_2d": {name: rows_by(rows, "flat", name, 1024)["util_2d"]
                         for name in spec["models"]},
    }
    comparison, worst = compare_with_artifact(rows)
    summary["worst_error_vs_artifact"] = worst
    return {"attention": rows, "end_to_end": e2e_rows, "area_sweep": area_rows,
            "comparison": comparison, "summary": summary}


def rows_by(rows: list[dict[str, Any]], config: str, name: str, seq: int) -> dict[str, Any]:
    return next(r for r in rows if (r["configuration"], r["model"], r["seq_len"])
                == (config, name, seq))


def _plots(out: Path, result: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["attention"]
    spec = study("fusemax")
    models, seqs = spec["models"], spec["sequence_lengths"]
    for metric, label, name in (("speedup_vs_flat", "speedup over FLAT", "speedup_vs_flat"),
                                ("energy_vs_flat", "energy relative to FLAT",
                                 "energy_vs_flat")):
        fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.4), sharey=True)
        for ax, m in zip(axes, models, strict=True):
            for config in ("cascade", "architecture", "binding"):
                ours = [rows_by(rows, config, m, s)[metric] for s in seqs]
                paper = [rows_by(rows, config, m, s).get(f"published_{metric}") for s in seqs]
                line, = ax.plot(seqs, ours, marker="o", label=f"{_SHOWN[config]} (this model)")
                ax.plot(seqs, paper, linestyle="--", marker="x", color=line.get_color(),
                        label=f"{_SHOWN[config]} (published)")
            ax.set_xscale("log", base=2)
            ax.set_title(m.upper())
            ax.set_xlabel("sequence length")
        axes[0].set_ylabel(label)
        axes[-1].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, unit in zip(axes, ("util_2d", "util_1d"), strict=True):
        for config in ("flat", "binding"):
            for m in models:
                ax.plot(seqs, [rows_by(rows, config, m, s)[unit] for s in seqs], marker="o",
                        label=f"{_SHOWN[config]} {m}")
        ax.set_xscale("log", base=2)
        ax.set_title(f"{unit[-2:].upper()} utilisation")
        ax.set_xlabel("sequence length")
    axes[-1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "utilisation.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for config in spec["area_sweep"]["configurations"]:
        pts = [r for r in result["area_sweep"] if r["configuration"] == config
               and r["model"] == "bert"]
        ax.plot([r["area_mm2"] for r in pts], [r["latency_s"] for r in pts], marker="o",
                label=_SHOWN[config])
        for r in pts:
            ax.annotate(str(r["array"]), (r["area_mm2"], r["latency_s"]), fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("array area (mm^2)")
    ax.set_ylabel("BERT attention latency at 256K (s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "area_latency.png", dpi=110)
    plt.close(fig)


def reproduce_fusemax(out: Path, *, force: bool = False, progress: bool | None = None,
                      ) -> dict[str, Any]:
    """Write the study into ``out`` (all or nothing) and return its summary."""
    check_output_folder(out, force=force)  # before minutes of work, not after
    bar = Progress(5 * 24 + 5 * 24 + 2 * 6 * 4, label="fusemax", enabled=progress)
    result = run_fusemax_study(lambda: bar.update(1))
    bar.close()
    with staged_folder(out, force=force) as staging:
        write_csv(staging / "attention.csv", result["attention"])
        write_csv(staging / "end_to_end.csv", result["end_to_end"])
        write_csv(staging / "area_sweep.csv", result["area_sweep"])
        write_csv(staging / "artifact_comparison.csv", result["comparison"])
        (staging / "summary.json").write_text(json.dumps(result["summary"], indent=2) + "\n")
        _plots(staging, result)
    return result["summary"]
