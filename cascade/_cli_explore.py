"""Commands that explore and reproduce: ``sweep`` (a design space into a results
database), ``report`` (HTML, CSV and Parquet from it), ``reproduce`` (a published study)
and ``numerics`` (fixed-point error of softmax and GELU choices)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from einsum import CascadeError, staged_folder
from mapper import load_sweep

from ._cli_args import add_command, add_out, digits, print_json, whole
from ._numerics import numerics_study, plot
from ._report import write_report
from ._reproduce import reproduce_fusemax
from ._sweep import default_workers, run_sweep

__all__ = ["add_explore_commands"]


def add_explore_commands(commands: Any) -> None:
    sweeping = add_command(
        commands, "sweep", _sweep, summary="evaluate every point of a sweep spec into a "
                                           "results database (resumable)",
        description="Every combination of the spec's algorithms, architectures, models, "
                    "sequence lengths and objectives, searched and stored in SQLite; points "
                    "already stored are reused, so an interrupted sweep resumes.",
        example="cascade sweep benchmarks/sweep_10k.yaml --db results.sqlite --workers 2")
    sweeping.add_argument("spec", metavar="SPEC.yaml")
    sweeping.add_argument("--db", required=True, metavar="FILE.sqlite",
                          help="results database (created if missing, shared by sweeps)")
    sweeping.add_argument("--workers", type=whole, default=default_workers(),
                          help="local processes (default: the cores this process may use)")
    sweeping.add_argument("--dask", metavar="ADDRESS",
                          help="run on a dask.distributed scheduler, e.g. tcp://host:8786")
    sweeping.add_argument("--replace", action="store_true",
                          help="a sweep of the same name with other axes is in the database: "
                               "let this spec's axes replace its membership")

    reporting = add_command(
        commands, "report", _report, summary="HTML report with plots, CSV and Parquet from a "
                                             "results database",
        description="Every workload of the database with its Pareto fronts, the fastest "
                    "design per workload (and the constraint that binds), a page per chosen "
                    "design, and a sortable table of every point.",
        example="cascade report results.sqlite --out report/ --force")
    reporting.add_argument("db", metavar="FILE.sqlite")
    add_out(reporting, help="output folder")
    reporting.add_argument("--sweep", help="one sweep of the database (default: all)")

    reproducing = add_command(
        commands, "reproduce", _reproduce, summary="reproduce a published study",
        description="The FuseMax study (Nayak et al., MICRO 2024): attention and end-to-end "
                    "speedup and energy against FLAT over four models and five sequence "
                    "lengths, with CSV, plots and a summary beside the published numbers.",
        example="cascade reproduce fusemax --out study/")
    reproducing.add_argument("study", choices=("fusemax",))
    add_out(reproducing, help="output folder")

    numbers = add_command(
        commands, "numerics", _numerics, summary="fixed-point error of softmax and GELU "
                                                 "choices, beside hls4ml's default",
        description="Absolute error of fixed-point online softmax and GELU designs against "
                    "float64, for each width and table size, with hls4ml's softmax beside.",
        example="cascade numerics --lengths 64,4096 --widths 16,24 --out numerics/")
    numbers.add_argument("--lengths", default="64,256", help="sequence lengths, e.g. 64,4096")
    numbers.add_argument("--widths", default="16,18,24,32", help="bit widths to try")
    numbers.add_argument("--table-bits", default="4,6,8", help="log2 of table sizes to try")
    add_out(numbers, required=False, help="folder for softmax_error.png and numerics.json")


def _sweep(args: argparse.Namespace) -> int:
    spec = load_sweep(args.spec)
    summary = run_sweep(spec, args.db, workers=args.workers, dask=args.dask, progress=None,
                        replace=args.replace)
    if args.json:
        print_json(summary.to_json())
    else:
        where = f"Dask at {args.dask}" if args.dask else f"{summary.workers} workers"
        rate = summary.computed / summary.seconds if summary.seconds else 0.0
        states = ", ".join(f"{n:,} {s}" for s, n in summary.statuses.items())
        print(f"{summary.sweep}: {summary.points:,} points, {summary.reused:,} already stored, "
              f"{summary.computed:,} computed in {summary.seconds:.1f} s ({rate:,.0f} points/s "
              f"on {where}); stored: {states or 'none'}; results in {args.db}")
    if summary.interrupted:
        print(f"cascade: interrupted; {summary.reused + summary.computed:,} of "
              f"{summary.points:,} points are stored; run again to resume", file=sys.stderr)
        return 130
    return 0


def _report(args: argparse.Namespace) -> int:
    summary = write_report(args.db, Path(args.out), sweep=args.sweep, force=args.force)
    if args.json:
        print_json(summary)
    else:
        print(f"report of {summary['rows']:,} points ({', '.join(summary['sweeps'])}): "
              f"{args.out}/index.html and {len(summary['files']) - 1} more files")
    return 0


def _numbers(text: str, what: str, low: int, high: int) -> tuple[int, ...]:
    """Whole numbers in ``low..high`` separated by commas (the study allocates arrays of
    these sizes, so they are bounded before anything is built)."""
    values = [digits(part, 9) for part in text.split(",")]
    if len(values) > 16 or not all(v is not None and low <= v <= high for v in values):
        raise CascadeError(f"{what} must be at most 16 whole numbers {low}..{high} separated by "
                           f"commas, not {text!r}")
    return tuple(v for v in values if v is not None)


_NUMERICS_WORK = 2 * (64 + 256) * 4 * 3
"""The most (keys summed over lengths) x widths x table sizes the numerics study takes: twice
the default study (about 8 s here), so no flag makes it run for hours."""


def _numerics(args: argparse.Namespace) -> int:
    lengths = _numbers(args.lengths, "--lengths", 1, 4096)
    widths = _numbers(args.widths, "--widths", 8, 32)
    table_bits = _numbers(args.table_bits, "--table-bits", 1, 12)
    work = sum(lengths) * len(widths) * len(table_bits)
    if work > _NUMERICS_WORK:
        raise CascadeError(f"the numerics study would take {work:,} key-designs (summed "
                           f"lengths x widths x table sizes); at most {_NUMERICS_WORK:,}")
    result = numerics_study(lengths=lengths, widths=widths, table_bits=table_bits)
    if args.out:
        with staged_folder(Path(args.out), force=args.force) as staging:
            plot(result, staging)
            (staging / "numerics.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print_json(result)
        return 0
    print("softmax: absolute error against float64 (probabilities; outputs P @ V)")
    print(f"{'design':<26} {'bits':>4} {'table':>6} {'p max':>10} {'p mean':>10} "
          f"{'out max':>10} {'out mean':>10}")
    for r in result["softmax"]:
        print(f"{r['design']:<26} {r['width']:>4} {r['table_entries']:>6} {r['prob_max']:>10.3g} "
              f"{r['prob_mean']:>10.3g} {r['out_max']:>10.3g} {r['out_mean']:>10.3g}")
    print()
    print("GELU: max absolute error against erf-GELU")
    for r in result["gelu"]:
        step = "-" if r["step"] is None else f"{r['step']:g}"
        print(f"{r['design']:<26} {r['width']:>4} step {step:<8} {r['max']:.4g}")
    default = result["default"]
    print(f"\ndefault: online softmax, {default['width']}-bit, "
          f"{2**default['table_bits'] + 1}-entry tables")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    summary = reproduce_fusemax(Path(args.out), force=args.force)
    if args.json:
        print_json(summary)
    else:
        _print_reproduction(summary, args.out)
    return 0


def _print_reproduction(summary: dict[str, object], out: str) -> None:
    paper = summary["published"]
    assert isinstance(paper, dict)
    print(f"wrote {out}/attention.csv, end_to_end.csv, area_sweep.csv, "
          "artifact_comparison.csv, summary.json and plots")
    for key in ("attention_speedup_vs_flat", "attention_energy_vs_flat",
                "end_to_end_speedup_vs_flat", "end_to_end_energy_vs_flat"):
        ours = summary[key]
        assert isinstance(ours, float)
        counted = summary.get(f"{key}_artifact_accounting")
        theirs = ("" if counted is None else
                  f"; {counted:.3f} with register files counted as the artifact counts them")
        print(f"{key}: {ours:.3f} (published {paper[key]}{theirs})")


