"""The page of one design (``cascade/_design_page.py``): rebuilt from a stored row to the
exact stored cycles, its tables, roofline and energy breakdown, and its helpers."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import cascade._design_page as page_module
import cascade._report as report_module
from cascade import run_sweep
from einsum import load, model
from mapper import ResultStore, evaluate_mapping, parse_sweep
from sim import Report, mapping_from_dict

SPEC = """name: pages
algorithms: [fusemax, three_pass]
architectures:
  - {preset: fusemax, array: [64]}
  - {preset: zcu102}
  - {preset: zcu102, array: [16]}
models: [bert, llama-3-8b]
seq: [1024]
objective: [latency, energy]
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = tmp_path_factory.mktemp("pages") / "r.sqlite"
    run_sweep(parse_sweep(SPEC), path, workers=1)
    store = ResultStore(path, create=False)
    try:
        return [{**r, "sweep": "pages", "violations": []} for r in store.rows("pages")]
    finally:
        store.close()


def _rebuild(row: dict[str, Any]) -> dict[str, Any]:
    """The design of a stored row, as the report rebuilds it."""
    cascade = load(row["algorithm"])
    preset = model(row["model"])
    shapes, instances = preset.workload(cascade, row["seq"])
    heads = instances // preset.batch
    arch = report_module._architecture_of(row)
    mapping = mapping_from_dict(row["mapping"])
    report = evaluate_mapping(cascade, arch, mapping, shapes, batch=row["batch"],
                              heads=heads).report
    return {"cascade": cascade, "arch": arch, "mapping": mapping, "report": report,
            "batch": row["batch"], "heads": heads}


def test_stored_rows_rebuild_to_the_stored_numbers(rows: list[dict[str, Any]]) -> None:
    assert len(rows) == 2 * (2 + 1 + 1) * 2  # the FPGA designs are searched for latency only
    for row in rows:
        assert row["status"] == "ok"
        design = _rebuild(row)
        report: Report = design["report"]
        assert report.cycles == row["cycles"]
        assert report.seconds == row["seconds"] and report.dram_bytes == row["dram_bytes"]
        assert report.energy_pj == row["energy_pj_by_action"]
        assert sum(u.pes for u in design["arch"].units.values()) == row["pes"]
    # the preset ZCU102 and the one sized 16 everywhere share the stored array size (16);
    # their PE counts tell them apart
    zcu = {r["pes"] for r in rows if r["architecture"] == "zcu102"}
    assert len(zcu) == 2 and {r["array"] for r in rows if r["architecture"] == "zcu102"} == {16}


def _section(text: str, heading: str) -> str:
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start:end if end >= 0 else None]


def _cells(table: str) -> list[list[str]]:
    body = table[table.index("<tbody>"):]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in
             re.findall(r"<td[^>]*>(.*?)</td>", line, re.S)]
            for line in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_design_page_of_an_asic_design(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    row = next(r for r in rows if r["architecture"] == "fusemax" and r["model"] == "bert"
               and r["algorithm"] == "three_pass")
    design = _rebuild(row)
    report: Report = design["report"]
    files = page_module.write_design_page(tmp_path, title="three_pass <on> fusemax", **design)
    assert files == ["design.html", "roofline.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    text = (tmp_path / "design.html").read_text()
    assert "<h1>three_pass &lt;on&gt; fusemax</h1>" in text  # autoescaped
    assert "<dt>technology node</dt><dd>45nm</dd>" in text
    assert "<dt>clock</dt><dd>940 MHz</dd>" in text
    assert f"batch 64 x heads 12 = {report.instances:,}" in text
    # the mapping, as YAML, loads back to the mapping
    shown_yaml = re.search(r"<pre>(.*?)</pre>", text, re.S)
    assert shown_yaml and yaml.safe_load(html.unescape(shown_yaml.group(1))) == \
        design["mapping"].to_dict()
    # one line per Einsum with its unit, spatial ranks, cycles and ops
    einsums = _cells(_section(text, "Einsums"))
    assert [line[0] for line in einsums] == [e.name for e in report.einsums]
    for line, e in zip(einsums, report.einsums, strict=True):
        assert line[2] == e.unit and line[4] == f"{e.cycles:,}"
        assert line[3] == ", ".join(design["mapping"].bindings[e.name].spatial)
        assert line[6] == f"{sum(e.ops.values()):,}"
        assert 0 < float(line[5]) <= 100
    # tensors: occupancy and traffic as the report has them
    tensors = {line[0]: line for line in _cells(_section(text, "Tensors: buffer occupancy "
                                                               "and DRAM traffic"))}
    assert set(tensors) == {*report.buffer_bytes_by_tensor, *report.dram_bytes_by_tensor,
                            *report.spilled}
    for name, moved in report.dram_bytes_by_tensor.items():
        assert tensors[name][3] == page_module.shown(moved)
    # energy: the level lines add up to the whole
    energy = _cells(_section(text, "Energy by level and action"))
    levels = [line for line in energy if line[1] == "all"]
    assert [line[0] for line in levels] == ["DRAM", "global buffer", "register files",
                                            "compute"]
    assert sum(float(line[2]) for line in levels) == pytest.approx(report.energy_j, rel=1e-3)
    roofline = _section(text, "Roofline")
    assert "split equally between the Einsums that read or write it" in roofline
    assert 'src="roofline.png"' in roofline


def test_design_page_of_an_fpga_design(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    row = next(r for r in rows if r["architecture"] == "zcu102")
    design = _rebuild(row)
    files = page_module.write_design_page(tmp_path, title="on the ZCU102", **design)
    assert files == ["design.html", "roofline.png"]
    text = (tmp_path / "design.html").read_text()
    assert ("<p>Energy is not modelled for this design: zcu102 does not give an energy for "
            "every action (FPGA presets give none).</p>") in text
    assert "<dt>technology node</dt><dd>16nm (Zynq UltraScale+)</dd>" in text
    assert "<dt>FPGA device</dt><dd>zcu102 (xczu9eg-ffvb1156-2-e)</dd>" in text
    resources = {line[0]: line for line in _cells(_section(text, "FPGA resources"))}
    assert resources["total"][1] == f"{row['dsp']:,}"


def test_dram_shares_keep_every_byte(rows: list[dict[str, Any]]) -> None:
    for row in rows[:4]:
        design = _rebuild(row)
        shares = page_module._dram_shares(design["cascade"], design["report"])
        assert sum(shares.values()) == pytest.approx(design["report"].dram_bytes)


def test_energy_parts_by_level_and_action(rows: list[dict[str, Any]]) -> None:
    row = next(r for r in rows if r["architecture"] == "fusemax")
    design = _rebuild(row)
    report: Report = design["report"]
    parts = page_module.energy_parts(report.energy_pj, report.accesses, design["arch"])
    assert sum(pj for *_, pj in parts) == pytest.approx(sum(report.energy_pj.values()))
    assert [p[0] for p in parts] == sorted((p[0] for p in parts),
                                           key=page_module.LEVELS.index)
    actions = {(level, action) for level, action, _ in parts}
    assert {("DRAM", "accesses"), ("global buffer", "row reads"),
            ("global buffer", "row writes"), ("register files", "array2d reads"),
            ("register files", "array2d writes"), ("compute", "array2d mac")} <= actions
    # without the architecture, reads and writes stay together
    coarse = page_module.energy_parts({"dram": 1.0, "global_buffer": 2.0, "pe.rf": 3.0,
                                       "pe.mul": 4.0})
    assert coarse == [("DRAM", "accesses", 1.0),
                      ("global buffer", "row reads and writes", 2.0),
                      ("register files", "pe reads and writes", 3.0),
                      ("compute", "pe mul", 4.0)]


def test_axes_are_linear_under_a_decade() -> None:
    assert page_module.axis_scale([1.0, 9.99]) == "linear"
    assert page_module.axis_scale([1.0, 10.0]) == "log"
    assert page_module.axis_scale([0.0, 100.0]) == "linear"
    assert page_module.axis_scale([]) == "linear"
    assert [page_module._power(v) for v in (1e-3, 1.0, 1e12, 2e3)] == [
        "10\u207b\u00b3", "10\u2070", "10\u00b9\u00b2", "2000"]


def test_slugs_are_file_names() -> None:
    assert page_module.slug("Llama 3/8B: seq 4096") == "llama-3-8b-seq-4096"
    assert page_module.slug("../..") == "x"
