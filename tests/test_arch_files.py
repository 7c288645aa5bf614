"""Architecture and mapping files: an architect's own YAML loads with line-numbered errors,
and every architecture or mapping written as YAML loads back equal and costs the same."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from einsum import CascadeError, load
from mapper import evaluate_mapping, search
from sim import (
    Architecture,
    Device,
    Mapping,
    architecture,
    architecture_document,
    architecture_names,
    architecture_yaml,
    evaluate,
    fpga_device,
    load_architecture,
    load_mapping,
    mapping_from_dict,
    mapping_yaml,
)

SHAPES = {"E": 64, "F": 64, "M": 1024, "P": 1024}


def _written(tmp_path: Path, text: str, name: str = "arch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _reloaded(tmp_path: Path, arch: Architecture) -> Architecture:
    return load_architecture(_written(tmp_path, architecture_yaml(arch)))


def _variants() -> list[tuple[str, Architecture]]:
    zcu102 = architecture("zcu102")
    custom = Device(name="vu9p", part="xcvu9p-flga2104-2-i", dsp=6840, bram36=2160, uram=960,
                    lut=1182240, ff=2364480, clock_mhz=250.5)
    return [
        *((name, architecture(name)) for name in architecture_names()),
        ("fusemax array=128", architecture("fusemax", array=128)),
        ("zcu102 with_units", zcu102.with_units({"linear": (8, 8), "softmax": (2,)})),
        ("zcu102 on u50", zcu102.with_device(fpga_device("u50"))),
        ("zcu102 on a part not in devices.yaml", zcu102.with_device(custom)),
        ("zcu102 on a zcu102 at another clock",
         zcu102.with_device(dataclasses.replace(fpga_device("zcu102"), clock_mhz=187.5))),
        ("fusemax replaced", architecture("fusemax").replace(
            buffer_mib=1.5, bandwidth_gib_s=12.3, clock_mhz=1000 / 3)),
        ("flat replaced", architecture("flat", buffer_mib=0.1, bandwidth_gib_s=0.7,
                                       clock_mhz=333.3)),
    ]


VARIANTS = _variants()


@pytest.mark.parametrize("arch", [a for _n, a in VARIANTS], ids=[n for n, _a in VARIANTS])
def test_every_architecture_round_trips_equal(arch: Architecture, tmp_path: Path) -> None:
    text = architecture_yaml(arch)
    assert text.startswith("# cascade architecture; load with --arch FILE\n")
    assert "like:" not in text
    again = _reloaded(tmp_path, arch)
    assert again == arch
    # Every field of every level is written, so the document is the same data again.
    assert architecture_document(again) == architecture_document(arch)
    assert architecture_yaml(again) == text


def test_document_is_complete_and_readable() -> None:
    doc = architecture_document(architecture("fusemax"))
    assert list(doc) == ["name", "title", "source", "node", "clock_mhz", "word_bytes", "dram",
                         "global_buffer", "units", "device"]
    assert doc["device"] is None
    assert doc["units"]["array2d"]["fpga"] is None  # absent fields are written, as null
    assert doc["global_buffer"]["write_pj_per_row"] == 15751.460572
    # A known part is written by name only when the name rebuilds it equal.
    assert architecture_document(architecture("u250"))["device"] == "u250"
    slow = dataclasses.replace(fpga_device("zcu102"), clock_mhz=187.5)
    device = architecture_document(architecture("zcu102").with_device(slow))["device"]
    assert device["name"] == "zcu102" and device["clock_mhz"] == 187.5


def test_floats_round_trip_exactly(tmp_path: Path) -> None:
    arch = architecture("fusemax").replace(clock_mhz=0.1 + 0.2, bandwidth_gib_s=1e-7 + 1)
    again = _reloaded(tmp_path, arch)
    assert again.clock_mhz == 0.1 + 0.2
    assert again.dram.bandwidth_bytes_per_s == (1e-7 + 1) * 2**30


@pytest.mark.parametrize("name", ["fusemax", "flat", "zcu102"])
def test_a_reloaded_preset_costs_the_same(name: str, tmp_path: Path) -> None:
    arch = architecture(name)
    again = _reloaded(tmp_path, arch)
    cascade = load("fusemax")
    found = search(cascade, arch, SHAPES)
    assert evaluate_mapping(cascade, again, found.mapping, SHAPES).report == found.report
    assert evaluate(cascade, again, found.mapping, SHAPES) == \
        evaluate(cascade, arch, found.mapping, SHAPES)


def test_a_128_copy_of_fusemax_costs_what_array_128_costs(tmp_path: Path) -> None:
    path = _written(tmp_path, "# FuseMax with a 128 x 128 array\nlike: fusemax\nunits:\n"
                    "  array2d:\n    shape: [128, 128]\n  array1d:\n    shape: [128]\n")
    mine, preset = load_architecture(path), architecture("fusemax", array=128)
    assert mine == preset
    cascade = load("fusemax")
    found = search(cascade, preset, SHAPES)
    assert evaluate_mapping(cascade, mine, found.mapping, SHAPES).report == found.report
    # architecture() takes the path too, and applies changes to the file's design.
    assert architecture(str(path)) == preset
    assert architecture(path, clock_mhz=500) == preset.replace(clock_mhz=500)


def test_a_full_file_without_like(tmp_path: Path) -> None:
    text = architecture_yaml(architecture("flat")).replace("name: flat", "name: mine")
    arch = load_architecture(_written(tmp_path, text))
    assert arch == dataclasses.replace(architecture("flat"), name="mine")


def test_device_by_name_sets_the_clock_unless_given(tmp_path: Path) -> None:
    text = architecture_yaml(architecture("zcu102"))
    no_clock = text.replace("clock_mhz: 300\n", "")
    assert load_architecture(_written(tmp_path, no_clock)).clock_mhz == 300
    arch = load_architecture(_written(tmp_path, "like: zcu102\ndevice: u50\nclock_mhz: 250\n"))
    assert (arch.device, arch.clock_mhz) == (fpga_device("u50"), 250)


def test_name_or_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _written(tmp_path, "like: fusemax\nclock_mhz: 1000\n", "fast.yaml")
    _written(tmp_path, "like: fusemax\nclock_mhz: 500\n", "slow.yml")
    assert architecture("fast.yaml").clock_mhz == 1000  # a bare name ending in .yaml
    assert architecture("slow.yml").clock_mhz == 500
    assert architecture("./fast.yaml").clock_mhz == 1000
    assert architecture(Path("fast.yaml")).clock_mhz == 1000
    with pytest.raises(CascadeError) as caught:
        architecture("fast")  # a bare word is a preset name, even if a file is close by
    assert str(caught.value) == ("unknown architecture 'fast'; known: edge-moe, flat, fusemax, "
                                 "tpu-v4i, u250, u50, unfused, zcu102")
    with pytest.raises(CascadeError) as caught:
        architecture("missing.yaml")
    assert str(caught.value) == ("missing.yaml: cannot read the architecture file: "
                                 "No such file or directory")


def test_files_are_read_again_when_they_change(tmp_path: Path) -> None:
    path = _written(tmp_path, "like: fusemax\nclock_mhz: 1000\n")
    assert architecture(str(path)).clock_mhz == 1000
    path.write_text("like: fusemax\nclock_mhz: 2000\n", encoding="utf-8")
    assert architecture(str(path)).clock_mhz == 2000


def test_presets_stay_cached() -> None:
    assert architecture("fusemax") is architecture("fusemax")


# ----- bad architecture files: one line, at the file and line of the field

_FUSEMAX = architecture_yaml(architecture("fusemax"))
_NO_UNITS = _FUSEMAX[: _FUSEMAX.index("units:")] + "device: null\n"

BAD_ARCHITECTURES = [
    ("nested unknown field", "like: fusemax\ndram:\n  bandwith: 1\n",
     "3: unknown field 'bandwith' in dram; known: access_bits, bandwidth_bytes_per_s, "
     "energy_pj_per_access"),
    ("unknown field in a unit's register file",
     "like: fusemax\nunits:\n  array1d:\n    register_file:\n      entries: 4\n      reads: 1\n",
     "6: unknown field 'reads' in units.array1d.register_file; known: entries, read_pj, "
     "write_pj"),
    ("unknown top-level field", "like: fusemax\ncolour: red\n",
     "2: unknown field 'colour'; known: buffers, clock_mhz, cores, device, dram, global_buffer, "
     "levels, like, name, node, ports, source, title, units, weight_bytes, word_bytes"),
    ("negative capacity", "like: fusemax\nglobal_buffer:\n  banks: 4\n  capacity_bytes: -1\n",
     "4: global_buffer.capacity_bytes must be a positive whole number (at most 2**50), not -1"),
    ("bool as a number", "like: fusemax\nclock_mhz: true\n",
     "2: clock_mhz must be a positive number (at most 2**50), not True"),
    ("text as a number", "like: fusemax\nword_bytes: two\n",
     "2: word_bytes must be a positive whole number (at most 2**50), not 'two'"),
    ("text as an op's cycles",
     "like: fusemax\nunits:\n  array2d:\n    ops:\n      mac: {cycles: one}\n",
     "5: cycles must be a positive whole number (at most 2**50), not 'one'"),
    ("zero in a shape", "like: fusemax\nunits:\n  array2d:\n    shape: [0, 256]\n",
     "4: unit array2d: each size in shape must be a positive whole number (at most 2**50), "
     "not 0"),
    ("missing units", _NO_UNITS, "2: missing field 'units'"),
    ("missing field of a block, after comments",
     _FUSEMAX.replace("dram:\n", "dram:\n  # HBM\n\n").replace("  access_bits: 64\n", ""),
     "8: missing field 'access_bits' in dram"),
    ("a new unit lacks its shape",
     "like: fusemax\nunits:\n  extra:\n    ops: {mac: {cycles: 1}}\n",
     "3: missing field 'shape' in units.extra"),
    ("unknown op kind", "like: fusemax\nunits:\n  array1d:\n    ops:\n      tanh: {cycles: 1}\n",
     "5: unit array1d: unknown op kind 'tanh'; known: mac, mul, add, max, exp, div, gelu, "
     "other"),
    ("like of an unknown preset", "# mine\nlike: tpu\n",
     "2: unknown architecture 'tpu'; known: edge-moe, flat, fusemax, tpu-v4i, u250, u50, "
     "unfused, zcu102"),
    ("like that is not a name", "like: [fusemax]\n",
     "1: like must be the name of a preset, not a list"),
    ("YAML 1.1 ambiguity", "like: fusemax\nunits:\n  array2d:\n    systolic: yes\n",
     "4: ambiguous YAML value 'yes': YAML 1.1 reads it as a boolean, YAML 1.2 as text; quote "
     "it if it is text, or write true or false"),
    ("top level not a mapping", "- fusemax\n",
     "1: an architecture file must be a mapping of fields (name, dram, units, ...)"),
    ("unknown device", "like: zcu102\ndevice: vu9p\n",
     "2: unknown FPGA device 'vu9p'; known: zcu102, u50, u250"),
    ("device in full, wrong", "like: zcu102\ndevice:\n  name: x\n  part: p\n  dsp: 0\n"
     "  bram36: 1\n  uram: 0\n  lut: 1\n  ff: 1\n  clock_mhz: 100\n",
     "5: device x: dsp must be a positive whole number (at most 2**50), not 0"),
    ("block that is not a mapping", "like: fusemax\ndram: fast\n",
     "2: dram must be a mapping of fields, not 'fast'"),
    ("shape not a list", "like: fusemax\nunits:\n  array1d: {shape: 256}\n",
     "3: units.array1d.shape must be a list like [16, 16], not 256"),
    ("a field twice", "like: fusemax\ndram:\n  access_bits: 1\n  access_bits: 2\n",
     "4: field 'access_bits' is given twice in dram"),
    ("table with zero bits",
     "like: zcu102\nunits:\n  softmax:\n    fpga:\n      tables:\n"
     "      - {name: exp, entries: 65, bits: 0}\n",
     "6: table exp: bits must be a positive whole number (at most 2**50), not 0"),
    ("text where text goes", "like: fusemax\ntitle: 3\n", "2: title must be text, not 3"),
    ("no unit at all", _NO_UNITS + "units: {}\n",
     "19: architecture fusemax has no compute unit (units is empty)"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _n, t, e in BAD_ARCHITECTURES],
                         ids=[n for n, _t, _e in BAD_ARCHITECTURES])
def test_bad_architecture_file(text: str, expected: str, tmp_path: Path) -> None:
    path = _written(tmp_path, text)
    with pytest.raises(CascadeError) as caught:
        load_architecture(path)
    assert str(caught.value) == f"{path}:{expected}"
    with pytest.raises(CascadeError) as caught:  # the same through architecture()
        architecture(str(path))
    assert str(caught.value) == f"{path}:{expected}"


# ----- mapping files


def test_searched_mapping_round_trips_and_costs_the_same(tmp_path: Path) -> None:
    arch, cascade = architecture("fusemax"), load("fusemax")
    found = search(cascade, arch, SHAPES)
    text = mapping_yaml(found.mapping)
    assert text.startswith("# cascade mapping; load with --mapping FILE\n")
    again = load_mapping(_written(tmp_path, text, "mapping.yaml"))
    assert again == found.mapping
    assert evaluate_mapping(cascade, arch, again, SHAPES).report == found.report
    assert evaluate(cascade, arch, again, SHAPES) == found.report


def test_mapping_with_stages_round_trips(tmp_path: Path) -> None:
    text = ("name: staged\nbindings:\n  QK: {unit: array2d, spatial: [M, P], "
            "operands: register_file}\n  AV:\n    unit: array1d\n    spatial: [P]\n"
            "dram_loops: [P]\ntiles: {P: auto}\nplacement: {QK: dram}\nstages:\n"
            "- {einsums: [QK], dram_loops: [P, M], tiles: {P: auto, M: 64}}\n"
            "- {drain: QK}\n- [AV]\nmemory: per_stage\n")
    mapping = load_mapping(_written(tmp_path, text, "m.yaml"))
    assert mapping.stages[0].tiles == {"P": "auto", "M": 64}
    assert mapping.stages[1].drain == "QK"
    assert mapping.bindings["QK"].operands == "register_file"
    again = load_mapping(_written(tmp_path, mapping_yaml(mapping), "again.yaml"))
    assert again == mapping and isinstance(again, Mapping)


_MAPPING = "name: qk\nbindings:\n  QK: {unit: array2d, spatial: [M0, P]}\n"

BAD_MAPPINGS = [
    ("unknown top-level field", _MAPPING + "colour: red\n",
     "4: unknown field 'colour'; known: bindings, dram_loops, in_place, levels, memory, name, "
     "placement, stages, tiles"),
    ("in_place onto itself", _MAPPING + "in_place:\n  SN: SN\n",
     "5: mapping qk: in_place of SN must name another tensor it overwrites, like {SN: QK}, "
     "not 'SN'"),
    ("in_place as a list", _MAPPING + "in_place: [SN, QK]\n",
     "4: in_place must be a mapping like {SN: QK}, not a list"),
    ("unknown field in a binding",
     "name: qk\nbindings:\n  QK:\n    unit: array2d\n    spatial: [M0, P]\n    spacial: [P]\n",
     "6: unknown field 'spacial' in bindings.QK; known: dataflow, operands, spatial, unit"),
    ("placement wrong", _MAPPING + "placement:\n  Q: dram\n  K: disk\n",
     "6: mapping qk: placement of K must be one of dram, staged, spill, buffer, not 'disk'"),
    ("bad tile", _MAPPING + "tiles:\n  P: auto\n  M0: 0\n",
     "6: mapping qk: tile of M0 must be a positive whole number or 'auto', not 0"),
    ("a rank twice in dram_loops", _MAPPING + "dram_loops:\n- P\n- M1\n- P\n",
     "7: mapping qk: a rank appears twice in dram_loops"),
    ("bindings not a mapping", "name: qk\nbindings: [QK]\n",
     "2: bindings must be a mapping like {QK: {unit: array2d, spatial: [M0, P]}}, not a list"),
    ("binding without its unit", "name: qk\nbindings:\n  QK:\n    spatial: [M0, P]\n",
     "3: missing field 'unit' in bindings.QK"),
    ("spatial as text", "name: qk\nbindings:\n  QK: {unit: array2d, spatial: M0}\n",
     "3: bindings.QK.spatial must be a list like [M0, P], not 'M0'"),
    ("bad operands",
     "name: qk\nbindings:\n  QK: {unit: array2d, spatial: [M0, P], operands: magic}\n",
     "3: operands must be one of neighbours, register_file, not 'magic'"),
    ("drain stage with Einsums", _MAPPING + "stages:\n- [QK]\n- {drain: QK, einsums: [AV]}\n",
     "6: unknown field 'einsums' in stages[1]; known: drain"),
    ("bad tile of a stage", _MAPPING + "stages:\n- einsums: [QK]\n  tiles: {P: x}\n",
     "6: mapping qk: tile of P must be a positive whole number or 'auto', not 'x'"),
    ("memory wrong", _MAPPING + "memory: sometimes\n",
     "4: mapping qk: memory must be one of overlapped, per_stage, concurrent, not 'sometimes'"),
    ("no name", "# a mapping\nbindings: {}\n", "2: missing field 'name'"),
    ("top level not a mapping", "- QK\n",
     "1: a mapping file must be a mapping of fields (name, bindings, ...)"),
    ("YAML 1.1 ambiguity", _MAPPING + "tiles: {P: 0x10}\n",
     "4: ambiguous YAML value '0x10': YAML 1.1 reads it as a whole number, YAML 1.2 as text; "
     "quote it if it is text, or write the number in plain decimal"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _n, t, e in BAD_MAPPINGS],
                         ids=[n for n, _t, _e in BAD_MAPPINGS])
def test_bad_mapping_file(text: str, expected: str, tmp_path: Path) -> None:
    path = _written(tmp_path, text, "mapping.yaml")
    with pytest.raises(CascadeError) as caught:
        load_mapping(path)
    assert str(caught.value) == f"{path}:{expected}"


def test_mapping_data_obeys_the_same_rules_without_a_line() -> None:
    with pytest.raises(CascadeError) as caught:
        mapping_from_dict({"name": "qk", "bindings": {"QK": {"unit": "array2d",
                                                             "spatial": ["P"], "spacial": []}}})
    assert str(caught.value) == ("unknown field 'spacial' in bindings.QK; known: dataflow, "
                                 "operands, spatial, unit")
    with pytest.raises(CascadeError) as caught:
        mapping_from_dict({"name": "qk", "bindings": {}, "dram_loops": ["P", "P"]})
    assert str(caught.value) == "mapping qk: a rank appears twice in dram_loops"
