"""HLS projects: bit-exact C simulation of every kernel (random and edge vectors), warning-free
and deterministic emission, pragmas that follow the mapping, and refused bad input."""

from __future__ import annotations

import filecmp
import json
import py_compile
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cascade import main
from hls_templates import CsimResult, HlsError, csim, emit_hls, load_numerics
from sim import architecture

GOLDEN = Path(__file__).parent / "golden" / "hls"

PROJECTS = {
    # not divisible by the tile, several query blocks
    "fusemax_ragged": ("fusemax", {"P": 5, "M": 10, "E": 8, "F": 8, "M0": 4}),
    "fusemax_single_key": ("fusemax", {"P": 3, "M": 1, "E": 8, "F": 4, "M0": 4}),
    "fusemax_single_query": ("fusemax", {"P": 1, "M": 7, "E": 4, "F": 4, "M0": 8}),
    "softmax": ("softmax", {"P": 3, "M": 20}),
    "softmax_single_key": ("softmax", {"P": 2, "M": 1}),
    "gelu": ("gelu", {"N": 64}),
    "softmax_two_groups": ("softmax", {"P": 70, "M": 3}),
    "linear": ("linear", {"T": 3, "K": 20, "N": 24}),
    # more tokens than a tile: the weights are read once into the on-chip buffer
    "linear_resident": ("linear", {"T": 20, "K": 20, "N": 24}),
    "linear_gelu": ("linear_gelu", {"T": 2, "K": 8, "N": 16}),
    "encoder": ("encoder", {"T": 6, "D": 8, "H": 2, "FF": 16, "M0": 4}),
}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CsimResult]:
    root = tmp_path_factory.mktemp("hls")
    arch = architecture("zcu102")
    for name, (kernel, sizes) in PROJECTS.items():
        emit_hls(kernel, arch, sizes, out=root / name, project=name)
    with ThreadPoolExecutor(2) as pool:  # g++ runs outside the GIL
        results = dict(zip(PROJECTS, pool.map(lambda n: csim(root / n), PROJECTS),
                           strict=True))
    return results


@pytest.mark.parametrize("name", list(PROJECTS))
def test_csim_bit_exact_and_warning_free(simulated: dict[str, CsimResult], name: str) -> None:
    result = simulated[name]
    assert result.warnings == []
    assert result.mismatches == []
    assert result.compared > 0 and result.passed


def test_emitted_scripts_are_well_formed(simulated: dict[str, CsimResult]) -> None:
    """The cocotb test (run only where Vitis exports RTL) and the TCL refer to real files."""
    for result in simulated.values():
        folder = result.folder
        test = folder / "cocotb" / "test_kernel.py"
        py_compile.compile(str(test), doraise=True)
        lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
                               "--select", "E,F,W,B", "--line-length", "100", str(test)],
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
        tcl = (folder / "run_hls.tcl").read_text()
        for name in re.findall(r"add_files (?:-tb )?(\S+)", tcl):
            assert (folder / name).exists(), f"{folder.name}: run_hls.tcl adds missing {name}"
        assert "set_part xczu9eg-ffvb1156-2-e" in tcl and "create_clock -period 3.333" in tcl


def test_edge_cases_are_in_the_vectors(simulated: dict[str, CsimResult]) -> None:
    meta = json.loads((simulated["fusemax_ragged"].folder / "cascade.json").read_text())
    assert meta["cases"] == ["random", "large_scores", "very_negative", "all_equal"]
    meta = json.loads((simulated["gelu"].folder / "cascade.json").read_text())
    assert meta["cases"] == ["random", "edges"]


def test_a_changed_expectation_is_reported(simulated: dict[str, CsimResult],
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "gelu"
    emit_hls("gelu", architecture("zcu102"), {"N": 8}, out=project)
    expected = project / "tb" / "vectors" / "edges" / "y.txt"
    words = expected.read_text().split()
    words[3] = str(int(words[3]) + 1)
    expected.write_text("\n".join(words) + "\n")
    assert main(["csim", str(project)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH edges: y[3] = 0.0 (raw 0), expected 2.384185791015625e-07 (raw 1)" in out
    assert out.endswith("16 output words compared with the Python model: 1 mismatch\n")


def test_csim_compiles_once_and_again_after_an_edit(tmp_path: Path) -> None:
    project = tmp_path / "gelu"
    emit_hls("gelu", architecture("zcu102"), {"N": 8}, out=project)
    assert csim(project).passed
    built = (project / "build" / "csim").stat().st_mtime_ns
    assert csim(project).passed  # the build is up to date: reused
    assert (project / "build" / "csim").stat().st_mtime_ns == built
    kernel = project / "src" / "gelu.cpp"
    kernel.write_text(kernel.read_text().replace("out.write(result);", "out.write(result)"))
    with pytest.raises(HlsError, match=r"g\+\+ failed on .*gelu\.cpp:\d+:\d+: error: "):
        csim(project)


def test_emission_is_deterministic(tmp_path: Path) -> None:
    arch = architecture("zcu102")
    sizes = {"P": 3, "M": 10, "E": 8, "F": 8, "M0": 4}
    emit_hls("fusemax", arch, sizes, out=tmp_path / "a")
    emit_hls("fusemax", arch, sizes, out=tmp_path / "b")
    files = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files,
                                               shallow=False)
    assert (mismatch, errors) == ([], []) and len(match) == len(files) > 20


def _structure(src: Path) -> str:
    """The structure of every source file: its constants (lanes, blocks, words) and its
    pragmas (interfaces left out), file by file."""
    return "".join(f"// {path.name}\n" + "".join(
        line for line in path.read_text().splitlines(keepends=True)
        if (line.startswith("PRAGMA_HLS(") and "INTERFACE" not in line)
        or line.startswith("static const int "))
        for path in sorted(src.iterdir()))


@pytest.mark.parametrize(("kernel", "sizes", "lanes"), [
    ("fusemax", {"P": 8, "M": 64, "E": 16, "F": 16, "M0": 16}, ("ATT_PQ", "ATT_L")),
    ("linear", {"T": 4, "K": 32, "N": 32}, ("LIN_R", "LIN_C")),
])
def test_structure_follows_the_architecture(tmp_path: Path, kernel: str, sizes: dict[str, int],
                                            lanes: tuple[str, str]) -> None:
    """The arrays take the architecture's unit shapes (--array 16: 16 x 16 units, of which
    attention uses the 8 queries there are x 16 lanes; --array 8: 8 x 8); the emitted
    constants and pragmas are pinned."""
    texts = {}
    for array in (16, 8):
        out = tmp_path / f"{kernel}{array}"
        emit_hls(kernel, architecture("zcu102", array=array), sizes, out=out)
        texts[array] = _structure(out / "src")
        golden = GOLDEN / f"{kernel}_array{array}.pragmas"
        assert texts[array] == golden.read_text(), f"{golden} differs"
    value = {a: {name: int(v) for name, v in re.findall(r"\b(\w+) = (\d+)", t)}
             for a, t in texts.items()}
    shapes = {16: (8, 16) if kernel == "fusemax" else (16, 16), 8: (8, 8)}
    for array, shape in shapes.items():
        assert (value[array][lanes[0]], value[array][lanes[1]]) == shape


@pytest.mark.parametrize(("call", "message"), [
    (lambda out: emit_hls("fusemax", architecture("fusemax"), {"P": 2, "M": 4, "E": 4, "F": 4},
                          out=out),
     "architecture fusemax is not an FPGA design; emit-hls needs one (zcu102, u50, u250)"),
    (lambda out: emit_hls("linear", architecture("zcu102"), {"T": 64, "K": 1 << 20, "N": 16},
                          out=out),
     "the linear kernel does not fit zcu102: bram36 8,192 > 912 (most: x_tile, bram36 8,192)"),
    (lambda out: emit_hls("gelu", architecture("zcu102"), {"N": 4}, out=out, project="2fast"),
     "project name '2fast' is not a legal C++ identifier"),
    (lambda out: emit_hls("gelu", architecture("zcu102"), {"N": 4}, out=out, project="class"),
     "project name 'class' is not a legal C++ identifier"),
    (lambda out: emit_hls("conv", architecture("zcu102"), {"N": 4}, out=out),
     "unknown HLS kernel 'conv'; known: fusemax, softmax, gelu, linear, linear_gelu, "
     "encoder"),
    (lambda out: emit_hls("linear", architecture("zcu102"), {"T": 4}, out=out),
     "kernel linear needs sizes T, K, N; missing K, N"),
])
def test_bad_emission_writes_nothing(tmp_path: Path, call: object, message: str) -> None:
    out = tmp_path / "project"
    with pytest.raises(HlsError if "kernel" not in message else Exception) as caught:
        call(out)  # type: ignore[operator]
    assert str(caught.value) == message
    assert not out.exists()


def test_existing_folder_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    args = ["emit-hls", "gelu", "--arch", "zcu102", "--shape", "N=4", "--out", str(out)]
    assert main(args) == 2
    assert capsys.readouterr().err == (f"cascade: error: {out} exists and is not empty; pass "
                                       "--force to replace it\n")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert main([*args, "--force"]) == 2  # --force replaces only a folder cascade wrote
    assert capsys.readouterr().err == (f"cascade: error: {out} was not written by cascade (it "
                                       "holds no .cascade-output); --force replaces only "
                                       "cascade's own output folders\n")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    (out / "mine.txt").unlink()
    assert main(args) == 0 and main([*args, "--force"]) == 0
    assert (out / "src" / "gelu.cpp").is_file()


def test_cli_refuses_an_illegal_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emit-hls", "gelu", "--arch", "zcu102", "--shape", "N=4", "--name", "my-gelu",
                 "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err == ("cascade: error: project name 'my-gelu' is not a legal "
                                       "C++ identifier\n")
    assert not (tmp_path / "p").exists()


def test_numerics_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "n.yaml"
    good.write_text("io: ap_fixed<12,5>\nscore: ap_fixed<24,12>\ntable_bits: 5\n")
    numerics = load_numerics(good)
    assert (numerics.io.width, numerics.score.integer, numerics.table_bits) == (12, 12, 5)
    out = tmp_path / "p"
    assert main(["emit-hls", "fusemax", "--arch", "zcu102", "--shape", "P=2,M=6,E=4,F=4,M0=4",
                 "--numerics", str(good), "--out", str(out)]) == 0
    header = (out / "src" / "kernel.h").read_text()
    assert "typedef ap_fixed<12,5,AP_TRN,AP_WRAP> io_t;" in header
    assert "typedef ap_uint<64> act_t;" in header  # 4 lanes of a 16-bit container
    assert main(["csim", str(out)]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.yaml"
    bad.write_text("io: ap_fixed<12,5>\nscore: float\n")
    assert main(["emit-hls", "fusemax", "--arch", "zcu102", "--shape", "P=2,M=6,E=4,F=4",
                 "--numerics", str(bad), "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cascade: error: {bad}:2: score: ") and err.count("\n") == 1
    assert not (tmp_path / "q").exists()
