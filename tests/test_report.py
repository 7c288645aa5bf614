"""``cascade report``: files, every workload, the fastest-design table, design pages,
errors, and the pages rendered by headless Chromium."""

from __future__ import annotations

import ast
import csv
import html
import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from matplotlib import image

import cascade._report as report_module
from cascade import main, run_sweep, write_report
from mapper import ResultStore, parse_sweep

ROOT = Path(__file__).resolve().parent.parent

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

# 15 workloads (3 models x 5 lengths), two cheap algorithms on one small array
MANY = """name: many
algorithms: [fusemax, three_pass]
architectures:
  - {preset: fusemax, array: [64]}
models: [bert, trxl, vit-b-16]
seq: [256, 512, 1024, 2048, 4096]
"""
MANY_WORKLOADS = [(m, s, 1 if m == "vit-b-16" else 64) for m in ("bert", "trxl", "vit-b-16")
                  for s in (256, 512, 1024, 2048, 4096)]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "r.sqlite"
    run_sweep(parse_sweep(SPEC), path, workers=2)
    return path


@pytest.fixture(scope="module")
def written(db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("written") / "rep"
    return out, write_report(db, out)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of 15 workloads."""
    folder = tmp_path_factory.mktemp("many")
    run_sweep(parse_sweep(MANY), folder / "r.sqlite", workers=1)
    write_report(folder / "r.sqlite", folder / "rep")
    return folder / "rep"


class _Page(HTMLParser):
    """Sections, images, links and tables (cell texts) of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.headings: dict[str, str] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.headers: dict[str, list[str]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._heading: str | None = None
        self._in_head = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("class") == "workload":
            self.sections.append(a["id"] or "")
        elif tag == "h2" and self.sections and self.sections[-1] not in self.headings:
            self._heading = ""
        elif tag == "img":
            self.images.append(a["src"] or "")
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
            self.headers[self._table] = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table and not self._in_head:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._heading is not None:
            self.headings[self.sections[-1]] = self._heading
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            text = "".join(self._cell).strip()
            if self._in_head:
                self.headers[self._table].append(text)
            else:
                self.tables[self._table][-1].append(text)
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading += data


def _page(path: Path) -> _Page:
    return _Page(path.read_text())


def _all_files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and p.name != ".cascade-output")


def test_report_files(written: tuple[Path, dict]) -> None:
    out, summary = written
    assert summary["rows"] == 48 and summary["sweeps"] == ["report"]
    # the 256 x 256 array breaks the 400 mm^2 limit; the 64 x 64 one and the FPGAs do not
    assert summary["feasible"] == 48 - 16
    per_workload = []
    for name in ("bert-seq256-b64", "bert-seq4096-b64", "llama-3-8b-seq256-b1",
                 "llama-3-8b-seq4096-b1"):
        per_workload += [f"figures/{name}.png", f"designs/{name}/design.html",
                         f"designs/{name}/roofline.png"]
    assert summary["files"] == ["index.html", "results.csv", "results.parquet", *per_workload,
                                "figures/trend-bert-b64.png", "figures/trend-llama-3-8b-b1.png"]
    assert _all_files(out) == sorted(summary["files"])
    assert (out / ".cascade-output").exists()
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 48 and {r["violations"] for r in rows} == {
        "", "area 1214.5 > 400 mm^2"}
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == 48 and table.column("cycles").type == "int64"
    text = (out / "index.html").read_text()
    page = _Page(text)
    assert sorted(page.images) == sorted(f for f in summary["files"] if f.startswith("figures/"))
    assert "48 design points (48 ok) over 4 workloads; 32 meet every constraint." in text
    assert "Constraints of sweep report: compute area at most 400 mm^2." in text
    # technology node and clock of every architecture
    assert page.headers["architectures"] == [
        "preset", "title", "technology node", "clock (MHz)", "arrays (PEs per axis)",
        "FPGA devices", "design points"]
    assert [r[:1] + r[2:] for r in page.tables["architectures"]] == [
        ["fusemax", "45nm", "940", "64, 256", "\u2013", "32"],
        ["zcu102", "16nm (Zynq UltraScale+)", "300", "16", "u250, zcu102", "16"]]
    assert len(page.tables["results"]) == 48


def test_every_workload_has_a_section_and_its_images(many: Path) -> None:
    page = _page(many / "index.html")
    headings = [f"{m}, seq {s:,}, batch {b}" for m, s, b in MANY_WORKLOADS]
    assert sorted(page.headings.values()) == sorted(headings)
    assert len(page.sections) == len(set(page.sections)) == 15
    figures = [i for i in page.images if not i.startswith("figures/trend-")]
    assert len(figures) == 15 and all((many / i).stat().st_size > 10_000 for i in page.images)
    assert sorted(i for i in page.images if i.startswith("figures/trend-")) == [
        "figures/trend-bert-b64.png", "figures/trend-trxl-b64.png",
        "figures/trend-vit-b-16-b1.png"]
    designs = sorted({link.split("#")[0] for link in page.links if link.startswith("designs/")})
    assert len(designs) == 15
    for link in designs:
        design = _page(many / link)
        assert design.images == ["roofline.png"]
        assert (many / link).parent.joinpath("roofline.png").stat().st_size > 10_000
        assert "class=\"warn\"" not in (many / link).read_text()
    # every file the report wrote is referenced
    assert _all_files(many) == sorted(["index.html", "results.csv", "results.parquet",
                                       *page.images, *designs,
                                       *(str(Path(d).parent / "roofline.png")
                                         for d in designs)])


def _rank(row: dict) -> tuple:
    def known(v: str) -> float:
        return float(v) if v else math.inf

    return (float(row["seconds"]), known(row["energy_j"]), known(row["area_mm2"]), row["key"])


def test_fastest_table_names_the_binding_constraint(written: tuple[Path, dict]) -> None:
    out, _ = written
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    page = _page(out / "index.html")
    assert page.headers["fastest"] == [
        "model", "seq (tokens)", "batch", "fastest feasible design", "latency (s)",
        "latency (cycles)", "energy (J)", "compute area (mm^2)", "DSP slices",
        "utilisation (%)", "binding constraint", "fastest design of all", "its latency (s)",
        "its speedup (x)"]
    table = page.tables["fastest"]
    assert [(r[0], r[1], r[2]) for r in table] == [
        ("bert", "256", "64"), ("bert", "4,096", "64"), ("llama-3-8b", "256", "1"),
        ("llama-3-8b", "4,096", "1")]
    for line in table:
        mine = [r for r in rows if (r["model"], f"{int(r['seq']):,}", r["batch"])
                == tuple(line[:3]) and r["status"] == "ok"]
        chosen = min((r for r in mine if not r["violations"]), key=_rank)
        fastest = min(mine, key=_rank)
        assert line[3] == report_module._label({**chosen, "array": int(chosen["array"]),
                                                "buffer_mib": float(chosen["buffer_mib"]),
                                                "bandwidth_gib_s":
                                                    float(chosen["bandwidth_gib_s"]),
                                                "clock_mhz": float(chosen["clock_mhz"])})
        assert line[5] == f"{int(chosen['cycles']):,}"
        assert "256x256" in line[11] and fastest["architecture"] == "fusemax"
        faster = [r for r in mine if r["violations"] and _rank(r) < _rank(chosen)]
        assert line[10] == f"area 1214.5 > 400 mm^2 ({len(faster)} faster designs)"
        assert float(line[13]) == pytest.approx(float(chosen["seconds"])
                                                / float(fastest["seconds"]), rel=1e-3)


def test_choice_breaks_ties_by_energy_then_area() -> None:
    def row(key: str, seconds: float, energy: float | None, area: float | None,
            violations: list[str]) -> dict:
        return {"key": key, "status": "ok", "seconds": seconds, "energy_j": energy,
                "area_mm2": area, "violations": violations, "feasible": not violations}

    group = [row("a", 1.0, 2.0, 10.0, []), row("b", 1.0, 1.0, 20.0, []),
             row("c", 1.0, 1.0, 15.0, []), row("d", 0.5, 1.0, 1.0, ["power 9.0 > 5 W"]),
             row("e", 0.7, 1.0, 1.0, ["power 7.0 > 5 W", "area 900.0 > 400 mm^2"])]
    choice = report_module._choice(group)
    assert choice.feasible is not None and choice.feasible["key"] == "c"
    assert choice.any is not None and choice.any["key"] == "d"
    assert choice.binding == ("power 9.0 > 5 W (2 faster designs); "
                              "area 900.0 > 400 mm^2 (1 faster design)")
    assert report_module._choice(group[:3]).binding == \
        "none: the fastest design meets every constraint"
    only_bad = report_module._choice(group[3:])
    assert only_bad.feasible is None
    assert only_bad.binding == ("power 9.0 > 5 W (2 designs); "
                                "area 900.0 > 400 mm^2 (1 design)")


def test_baseline_is_three_pass_or_the_slowest() -> None:
    def rows(times: dict[str, float]) -> list[dict]:
        return [{"algorithm": a, "seconds": s, "feasible": True} for a, s in times.items()]

    groups = {("m", 1, 1): rows({"a": 1.0, "b": 3.0, "three_pass": 2.0}),
              ("m", 2, 1): rows({"a": 1.0, "b": 3.0})}
    assert report_module._baseline(groups) == "three_pass"
    groups = {("m", 1, 1): rows({"a": 1.0, "b": 3.0, "c": 2.0}),
              ("m", 2, 1): rows({"a": 10.0, "c": 50.0})}
    # geometric means of the times over the fastest: b 3, c sqrt(2 x 5) = 3.2
    assert report_module._baseline(groups) == "c"


def test_results_table_is_capped(db: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_module, "MAX_TABLE_ROWS", 10)
    write_report(db, tmp_path / "rep")
    text = (tmp_path / "rep" / "index.html").read_text()
    page = _Page(text)
    # the 2 fastest of each of the 4 workloads
    assert len(page.tables["results"]) == 8
    assert ("8 of 48 design points, to keep the page small: the 2 fastest of each workload. "
            "results.csv and results.parquet hold all.") in text
    with (tmp_path / "rep" / "results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 48


def test_unmappable_points_are_listed_with_why(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spec = """name: tiny
algorithms: [fusemax]
architectures:
  - {preset: fusemax, array: [64], buffer_mib: [0.0001, 16]}
models: [bert]
seq: [1024, 4096]
"""
    run_sweep(parse_sweep(spec), tmp_path / "r.sqlite", workers=1)
    summary = write_report(tmp_path / "r.sqlite", tmp_path / "rep")
    assert summary["rows"] == 4 and summary["feasible"] == 2
    text = (tmp_path / "rep" / "index.html").read_text()
    page = _Page(text)
    assert [line[:3] for line in page.tables["unmappable"]] == [
        ["bert", "1,024", "64"], ["bert", "4,096", "64"]]
    assert all(line[4].startswith("no mapping of fusemax fits fusemax")
               for line in page.tables["unmappable"])
    assert '<p class="note">All 2, each with why.</p>' in text
    monkeypatch.setattr(report_module, "_MAX_UNMAPPABLE", 1)
    write_report(tmp_path / "r.sqlite", tmp_path / "rep", force=True)
    text = (tmp_path / "rep" / "index.html").read_text()
    assert len(_Page(text).tables["unmappable"]) == 1
    assert '<p class="note">The first 1 of 2, each with why; results.csv holds all.</p>' in text


def test_row_page_says_why_a_design_is_not_rebuilt(db: Path, tmp_path: Path) -> None:
    store = ResultStore(db, create=False)
    try:
        row = {**store.rows("report")[0], "sweep": "report", "violations": []}
    finally:
        store.close()
    cases = {
        "network": ({**row, "mapping": None},
                    "This row holds no Einsum-level mapping (a network is mapped block by "
                    "block), so the per-Einsum costs, roofline and energy breakdown cannot "
                    "be rebuilt; the facts above are what the database holds."),
        "file": ({**row, "algorithm": "my_cascade"},
                 "The cascade my_cascade is not in the library (a cascade file, which the "
                 "database names but does not hold), so the design cannot be rebuilt; the "
                 "facts above are what the database holds."),
        "architecture": ({**row, "architecture": "my_arch"},
                         "The architecture my_arch is not a preset (an architecture file, "
                         "which the database names but does not hold), so the design cannot "
                         "be rebuilt; the facts above are what the database holds."),
        "model": ({**row, "model": "my-model"},
                  "The model my-model is not a preset (a model config file, which the "
                  "database names but does not hold), so the design cannot be rebuilt; the "
                  "facts above are what the database holds."),
        "pes": ({**row, "pes": 3},
                f"The design could not be rebuilt from its row (no {row['architecture']} "
                f"design with 3 PEs and array {row['array']}); the facts above are what the "
                "database holds."),
    }
    for name, (bad, reason) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        assert report_module._design_page(folder, bad, back="../index.html") == ["design.html"]
        text = (folder / "design.html").read_text()
        assert f"<p>{html.escape(reason)}</p>" in text
        assert "<h2>Roofline</h2>" not in text and "database key" in text


_MARKUP = r"</?(html|head|body|table|thead|tbody|tr|td|th|div|span|p|a|img|h[1-6]|ul|ol|li|" \
          r"nav|script|style|section|figure|figcaption|pre|input|label|br|b|i)\b"


def test_design_page_warns_where_the_stored_cycles_differ(db: Path, tmp_path: Path) -> None:
    store = ResultStore(db, create=False)
    try:
        row = {**store.rows("report")[0], "sweep": "report", "violations": []}
    finally:
        store.close()
    files = report_module._design_page(tmp_path, {**row, "cycles": row["cycles"] + 1},
                                       back="../index.html")
    assert files == ["design.html", "roofline.png"]
    assert (f'<p class="warn">Re-evaluating the stored mapping gives {row["cycles"]:,} cycles, '
            f'not the stored {row["cycles"] + 1:,}: the cost model changed since the sweep '
            f'(code version {row["code_version"]}), or the row comes from an architecture '
            "file named like the preset; the page shows the re-evaluation.</p>"
            ) in (tmp_path / "design.html").read_text()


def test_report_builds_no_html_from_strings() -> None:
    """Markup lives in the templates (autoescaped); the Python holds none."""
    for name in ("_report.py", "_design_page.py"):
        tree = ast.parse((ROOT / "cascade" / name).read_text())
        markup = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                  and isinstance(node.value, str) and re.search(_MARKUP, node.value)]
        assert markup == [], name


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
    assert json.loads(capsys.readouterr().out)["error"] == (
        f"{out} was not written by cascade (it holds no .cascade-output); --force replaces "
        "only cascade's own output folders")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert main(["report", str(db), "--out", str(out), "--json"]) == 0
    assert main(["report", str(db), "--out", str(out), "--force", "--json"]) == 0
    assert (out / "index.html").exists()


# ----- headless Chromium


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CASCADE_REQUIRE_TOOLS"):
        pytest.fail("Chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("Chromium is not installed here; apt-get install chromium")


_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
          "--virtual-time-budget=10000"]

# Records errors (scripts, and resources that fail to load) from the first moment
_PROBE_HEAD = """<script>
window.probeErrors = [];
window.addEventListener("error", function (e) {
  var t = e.target || {};
  window.probeErrors.push(e.message || ("failed to load " + (t.src || t.href)));
}, true);
</script>"""

# After load: each image's natural width; the results table sorted by a column (one click,
# then another) and filtered on a word
_PROBE_BODY = """<script>
window.addEventListener("load", function () {
  var out = {errors: window.probeErrors, images: []};
  Array.prototype.forEach.call(document.images, function (i) {
    out.images.push([i.getAttribute("src"), i.naturalWidth]);
  });
  var table = document.getElementById("results");
  if (table) {
    var cells = table.tHead.rows[0].cells;
    var col = Array.prototype.map.call(cells, function (c) { return c.textContent; })
      .indexOf(window.probeColumn);
    var shown = function () {
      return Array.prototype.filter.call(table.tBodies[0].rows, function (r) {
        return !r.hidden;
      }).map(function (r) {
        var v = r.cells[col].getAttribute("data-v");
        return v === null ? r.cells[col].textContent : parseFloat(v);
      });
    };
    cells[col].click();
    out.ascending = shown();
    cells[col].click();
    out.descending = shown();
    var box = document.querySelector("input[data-filter='results']");
    box.value = window.probeFilter;
    box.dispatchEvent(new Event("input"));
    out.filtered = shown().length;
    out.count = document.querySelector("span[data-count='results']").textContent;
  }
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _probe(browser: str, page: Path, profile: Path, *, column: str = "latency (s)",
           word: str = "bert") -> dict:
    """Load a copy of ``page`` with the probe scripts beside it, sorting the results table
    by ``column`` and filtering it on ``word``; return what the scripts saw. The browser's
    log must show no console message (the pages write none)."""
    text = page.read_text()
    probe = page.with_name("probe.html")
    settings = (f"<script>window.probeColumn = {json.dumps(column)}; "
                f"window.probeFilter = {json.dumps(word)};</script>")
    probe.write_text(text.replace("<head>", "<head>" + settings + _PROBE_HEAD, 1)
                     .replace("</body>", _PROBE_BODY + "</body>", 1))
    try:
        done = subprocess.run([browser, *_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                               probe.as_uri()], capture_output=True, text=True, timeout=120,
                              check=True)
    finally:
        probe.unlink()
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


def test_pages_render_in_headless_chromium(many: Path, written: tuple[Path, dict],
                                           tmp_path: Path) -> None:
    browser = _chromium()
    seen = _probe(browser, many / "index.html", tmp_path / "profile")
    assert seen["errors"] == []
    page = _page(many / "index.html")
    assert [src for src, _ in seen["images"]] == page.images and len(page.images) == 18
    assert all(width > 0 for _, width in seen["images"])
    latencies = [float(r[page.headers["results"].index("latency (s)")]) for r in
                 page.tables["results"]]
    assert len(seen["ascending"]) == len(latencies) == 30
    assert seen["ascending"] == sorted(seen["ascending"])
    assert seen["descending"] == sorted(seen["ascending"], reverse=True)
    assert seen["filtered"] == 10 and seen["count"] == "10 of 30 rows"
    # a design page
    design = many / "designs" / "bert-seq4096-b64" / "design.html"
    seen = _probe(browser, design, tmp_path / "profile")
    assert seen["errors"] == [] and seen["images"][0][0] == "roofline.png"
    assert seen["images"][0][1] > 0
    # empty cells sort last both ways
    seen = _probe(browser, written[0] / "index.html", tmp_path / "profile",
                  column="DSP slices", word="zcu102")
    dsps = [v for v in seen["ascending"] if v != "\u2013"]
    assert len(dsps) == 16 and dsps == sorted(dsps)
    assert seen["ascending"][16:] == seen["descending"][16:] == ["\u2013"] * 32
    assert seen["descending"][:16] == sorted(dsps, reverse=True)
    assert seen["filtered"] == 16 and seen["count"] == "16 of 48 rows"
    # a screenshot of the report, kept with the test's files
    shot = tmp_path / "index.png"
    subprocess.run([browser, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-size=1280,2400", f"--screenshot={shot}",
                    (many / "index.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    # Text alone is grey on white; the plots' coloured markers show the images loaded.
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (pixels < 0.9).mean() > 0.02
    assert (saturation > 0.3).mean() > 0.002
    assert float(np.std(pixels)) > 0.05
