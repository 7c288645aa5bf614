"""``cascade reproduce fusemax`` end to end, through the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cascade import main


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repro") / "fusemax"
    assert main(["reproduce", "fusemax", "--out", str(out)]) == 0
    return out


def test_files(study_dir: Path) -> None:
    names = sorted(p.name for p in study_dir.iterdir())
    assert names == [".cascade-output", "area_latency.png", "area_sweep.csv",
                     "artifact_comparison.csv", "attention.csv", "end_to_end.csv",
                     "energy_vs_flat.png", "speedup_vs_flat.png", "summary.json",
                     "utilisation.png"]
    for png in study_dir.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_attention_rows_and_published_columns(study_dir: Path) -> None:
    rows = list(csv.DictReader((study_dir / "attention.csv").open()))
    assert len(rows) == 5 * 4 * 6
    bert = next(r for r in rows if (r["configuration"], r["model"], r["seq_len"])
                == ("binding", "bert", "1024"))
    assert int(bert["cycles"]) == 1_892_352
    assert float(bert["published_latency_s"]) == pytest.approx(float(bert["latency_s"]))


def test_summary_headlines(study_dir: Path) -> None:
    summary = json.loads((study_dir / "summary.json").read_text())
    assert summary["attention_speedup_vs_flat"] == pytest.approx(6.7, rel=0.05)
    assert summary["end_to_end_speedup_vs_flat"] == pytest.approx(5.3, rel=0.05)
    # The published energy ratios count each array's register files once, as the artifact
    # does; counting every PE's, FuseMax gains more (FLAT's PEs read two operands a MAC).
    assert summary["attention_energy_vs_flat_artifact_accounting"] == pytest.approx(0.79,
                                                                                  rel=0.02)
    assert summary["end_to_end_energy_vs_flat_artifact_accounting"] == pytest.approx(0.83,
                                                                                   rel=0.02)
    assert summary["attention_energy_vs_flat"] == pytest.approx(0.692, abs=0.001)
    assert summary["end_to_end_energy_vs_flat"] == pytest.approx(0.765, abs=0.001)
    assert summary["bert_1k_binding"]["cycles"] == 1_892_352
    assert summary["flat_util_2d"] == {"bert": 0.125, "trxl": 0.125, "t5": 0.125, "xlm": 0.25}


def test_area_sweep_trades_area_for_latency(study_dir: Path) -> None:
    rows = [r for r in csv.DictReader((study_dir / "area_sweep.csv").open())
            if r["configuration"] == "binding" and r["model"] == "bert"]
    areas = [float(r["area_mm2"]) for r in rows]
    latencies = [float(r["latency_s"]) for r in rows]
    assert areas == sorted(areas) and latencies == sorted(latencies, reverse=True)


def test_refuses_a_non_empty_folder(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "fusemax", "--out", str(study_dir)]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {study_dir} exists and is not empty; "
                                       "pass --force to replace it\n")


def test_artifact_comparison_per_point(study_dir: Path) -> None:
    rows = list(csv.DictReader((study_dir / "artifact_comparison.csv").open()))
    assert len(rows) == 5 * 4 * 6
    summary = json.loads((study_dir / "summary.json").read_text())
    worst = summary["worst_error_vs_artifact"]
    assert set(worst) == {"latency_s", "energy_j", "energy_j_artifact_accounting",
                          "dram_bytes", "util_2d", "util_1d"}
    for metric, found in worst.items():
        errors = [float(r[f"{metric}_error"]) for r in rows]
        assert abs(found["error"]) == max(abs(e) for e in errors)
        assert found["kind"] == ("absolute" if metric.startswith("util") else "relative")
    bert = next(r for r in rows if (r["configuration"], r["model"], r["seq_len"])
                == ("binding", "bert", "1024"))
    assert float(bert["latency_s_error"]) == pytest.approx(0, abs=1e-9)


# Per point, how close each configuration lands to the artifact (relative error for
# latency, energy and DRAM bytes; absolute for utilisations). README's table explains
# every bound wider than the target (latency 2%, energy and DRAM 5%, utilisation 0.01).
REACHED = {
    # Timeloop's randomised mapper tiles Unfused's QK and AV differently run to run.
    "unfused": {"latency_s": 0.0022, "dram_bytes": 0.003, "util_2d": 0.001, "util_1d": 0.002},
    "flat": {"latency_s": 1e-6, "util_2d": 1e-6, "util_1d": 1e-6},
    "cascade": {"latency_s": 1e-6, "dram_bytes": 1e-9, "util_2d": 1e-6, "util_1d": 1e-6},
    "architecture": {"latency_s": 1e-6, "dram_bytes": 1e-9, "util_2d": 1e-6,
                     "util_1d": 1e-6},
    "binding": {"latency_s": 1e-6, "dram_bytes": 1e-9, "util_2d": 1e-6, "util_1d": 1e-6},
}
# Energy, counted as the artifact counts it (one register file per array): within 5% at
# every point; counted in full, every PE's register file adds these ranges (README).
ARTIFACT_ENERGY = 0.05
ENERGY = {"unfused": (0.036, 0.078), "flat": (0.208, 0.317), "cascade": (0.040, 0.121),
          "architecture": (0.094, 0.102), "binding": (0.099, 0.107)}
# FLAT's DRAM bytes: exact at 1K (E = 64) and from 256K; elsewhere FLAT's own spill share
# (1/129 of the buffered traffic, flat_validation.csv) against ours from capacity, and at
# XLM 1K V staged once per 256 query rows where FLAT keeps it for the whole head.
FLAT_DRAM = {("bert", 4096): -0.0662, ("bert", 16384): -0.0671, ("bert", 65536): -0.0430,
             ("xlm", 1024): 0.3, ("xlm", 4096): -0.0299, ("xlm", 16384): -0.1641,
             ("xlm", 65536): -0.0750}


def test_every_point_within_the_reached_tolerance(study_dir: Path) -> None:
    rows = list(csv.DictReader((study_dir / "artifact_comparison.csv").open()))
    for r in rows:
        config, name, seq = r["configuration"], r["model"], int(r["seq_len"])
        where = (config, name, seq)
        for metric, bound in REACHED[config].items():
            assert abs(float(r[f"{metric}_error"])) <= bound, (where, metric)
        low, high = ENERGY[config]
        assert low <= float(r["energy_j_error"]) <= high, where
        assert abs(float(r["energy_j_artifact_accounting_error"])) <= ARTIFACT_ENERGY, where
        if config == "flat":
            # TrXL and T5 share BERT's head size, so they land where BERT does.
            key = ("bert" if name in ("trxl", "t5") else name, seq)
            want = FLAT_DRAM.get(key, 0.0)
            assert float(r["dram_bytes_error"]) == pytest.approx(want, abs=1e-4), where
