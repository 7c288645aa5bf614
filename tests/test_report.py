"""``cascade report``: files, tables, errors, and the page rendered by headless Chromium."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from matplotlib import image

from cascade import main, run_sweep, write_report
from mapper import parse_sweep

SPEC = """name: report
algorithms: [fusemax, three_pass]
architectures:
  - {preset: fusemax, array: [64, 256]}
  - {preset: zcu102, device: [zcu102, u250]}
models: [bert, llama-3-8b]
seq: [256, 4096]
objective: [latency, energy]
constraints: {area_mm2: 400}
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "r.sqlite"
    run_sweep(parse_sweep(SPEC), path, workers=2)
    return path


def test_report_files(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    summary = write_report(db, out)
    assert summary["rows"] == 48 and summary["sweeps"] == ["report"]
    # the 256 x 256 array breaks the 400 mm^2 limit; the 64 x 64 one and the FPGAs do not
    assert summary["feasible"] == 48 - 16
    assert summary["files"] == ["index.html", "results.csv", "results.parquet",
                                "pareto_latency_energy.png", "pareto_latency_area.png",
                                "pareto_latency_dsp.png", "utilisation_vs_seq.png",
                                "algorithms_latency.png", "energy_breakdown.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted([".cascade-output", *summary["files"]])
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 48 and {r["violations"] for r in rows} == {
        "", "area 1214.5 > 400 mm^2"}
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == 48 and table.column("cycles").type == "int64"
    page = (out / "index.html").read_text()
    for name in summary["files"][3:]:
        assert f"<img src='{name}'" in page
    assert "48 design points (48 ok); 32 meet every constraint" in page


def test_report_errors(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["report", str(db), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {out} exists and is not empty; pass "
                                       "--force to replace it\n")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert main(["report", str(db), "--out", str(tmp_path / "x"), "--sweep", "nope"]) == 2
    assert capsys.readouterr().err == (f"cascade: error: no sweep named 'nope' in {db}; "
                                       "sweeps: report\n")
    assert main(["report", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "y")]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {tmp_path / 'none.sqlite'}: no such "
                                       "results file\n")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert main(["report", str(db), "--out", str(out), "--force", "--json"]) == 2
    assert capsys.readouterr().err == (f"cascade: error: {out} was not written by cascade (it "
                                       "holds no .cascade-output); --force replaces only "
                                       "cascade's own output folders\n")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert main(["report", str(db), "--out", str(out), "--json"]) == 0
    assert main(["report", str(db), "--out", str(out), "--force", "--json"]) == 0
    assert (out / "index.html").exists()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CASCADE_REQUIRE_TOOLS"):
        pytest.fail("Chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("Chromium is not installed here; apt-get install chromium")


def test_page_renders_in_headless_chromium(db: Path, tmp_path: Path) -> None:
    browser = _chromium()
    out = tmp_path / "rep"
    write_report(db, out)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
                    "--window-size=1280,2400", f"--screenshot={shot}",
                    (out / "index.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    # Text alone is grey on white; the plots' coloured markers show the images loaded.
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (pixels < 0.9).mean() > 0.02
    assert (saturation > 0.3).mean() > 0.002
    assert float(np.std(pixels)) > 0.05
