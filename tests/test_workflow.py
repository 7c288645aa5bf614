"""The architect's workflow from the command line and from Python: own architectures and
mappings, saved designs, the Python API equal to the CLI, user references, help, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import cascade
from cascade import main
from einsum import CascadeError, library_names
from sim import architecture, architecture_yaml

BERT_1K = ["--model", "bert", "--seq", "1k"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def mapped(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    status, out, err = run(capsys, "map", *argv, "--json")
    assert (status, err) == (0, ""), err
    return json.loads(out)


def test_a_shown_preset_loads_back_and_costs_the_same(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, text, _ = run(capsys, "show", "arch", "fusemax")
    assert status == 0
    (tmp_path / "mine.yaml").write_text(text)
    ours = mapped(capsys, "fusemax", "--arch", str(tmp_path / "mine.yaml"), *BERT_1K)
    preset = mapped(capsys, "fusemax", "--arch", "fusemax", *BERT_1K)
    assert ours["report"] == preset["report"] and ours["mapping"] == preset["mapping"]


def test_a_128_copy_of_fusemax_costs_what_array_128_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # edited as an architect would: the text of `cascade show arch`, two shapes changed
    _, text, _ = run(capsys, "show", "arch", "fusemax")
    edited = text.replace("shape: [256, 256]", "shape: [128, 128]").replace(
        "shape: [256]", "shape: [128]")
    assert edited.count("128") >= 3
    (tmp_path / "my.yaml").write_text(edited)
    for workload in (BERT_1K, ["--model", "xlm", "--seq", "16k"]):
        for objective in ("latency", "energy"):
            ours = mapped(capsys, "fusemax", "--arch", str(tmp_path / "my.yaml"), *workload,
                          "--objective", objective)
            preset = mapped(capsys, "fusemax", "--arch", "fusemax", "--array", "128",
                            *workload, "--objective", objective)
            assert ours["report"] == preset["report"]
            assert ours["mapping"] == preset["mapping"]


def test_a_saved_design_re_evaluates_to_the_identical_cost(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "design"
    searched = mapped(capsys, "three_pass", "--arch", "flat", "--model", "xlm", "--seq", "4k",
                      "--buffer-mib", "1", "--out", str(out))
    assert {p.name for p in out.iterdir()} >= {"architecture.yaml", "design.html",
                                               "mapping.yaml", "report.json"}
    assert json.loads((out / "report.json").read_text()) == searched
    given = mapped(capsys, "three_pass", "--arch", str(out / "architecture.yaml"), "--model",
                   "xlm", "--seq", "4k", "--mapping", str(out / "mapping.yaml"))
    assert given["report"] == searched["report"]
    assert given["mapping"] == searched["mapping"] and given["search"] is None
    # text output says no search was made
    status, text, _ = run(capsys, "map", "three_pass", "--arch", str(out / "architecture.yaml"),
                          "--model", "xlm", "--seq", "4k", "--mapping",
                          str(out / "mapping.yaml"))
    assert status == 0 and "mapping given (no search)" in text


def test_a_hand_edited_mapping_is_costed_not_searched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    best = cascade.map("fusemax", arch="fusemax", model="bert", seq=4096, buffer_mib=0.25)
    document = best.mapping.to_dict()
    assert (document["dram_loops"], document["tiles"]) == (["P", "M1"], {"P": 512})
    document["tiles"] = {"P": 64}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(document))
    worse = mapped(capsys, "fusemax", "--arch", "fusemax", "--model", "bert", "--seq", "4096",
                   "--buffer-mib", "0.25", "--mapping", str(tmp_path / "m.yaml"))
    assert worse["mapping"]["tiles"] == {"P": 64}
    assert worse["report"]["cycles"] > best.cycles
    # K and V stream once per P tile: 8 times as many tiles
    by_tensor = worse["report"]["dram_bytes_by_tensor"]
    assert by_tensor["K"] == 8 * best.report.dram_bytes_by_tensor["K"]


def test_a_mapping_for_another_cascade_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cascade.map("fusemax", arch="fusemax", model="bert", seq=1024).write(tmp_path / "d")
    status, out, err = run(capsys, "map", "three_pass", "--arch", "fusemax", *BERT_1K,
                           "--mapping", str(tmp_path / "d" / "mapping.yaml"))
    assert (status, out) == (2, "")
    assert err == (f"cascade: error: {tmp_path / 'd' / 'mapping.yaml'}: mapping searched names "
                   "LM, RM, SLN, PRM, SPD, SLD, RD, SPNV, SLNV, RNV, which three_pass does not "
                   "have (a mapping of another cascade?)\n")
    text = (tmp_path / "d" / "mapping.yaml").read_text().replace("array1d", "array3d")
    (tmp_path / "d" / "mapping.yaml").write_text(text)
    status, _, err = run(capsys, "map", "fusemax", "--arch", "fusemax", *BERT_1K,
                         "--mapping", str(tmp_path / "d" / "mapping.yaml"))
    assert status == 2 and err == (f"cascade: error: {tmp_path / 'd' / 'mapping.yaml'}: mapping "
                                   "searched: fusemax has no unit 'array3d' (units: array2d, "
                                   "array1d)\n")


def test_the_python_api_equals_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    for algorithm, arch, extra in (("fusemax", "fusemax", {}),
                                   ("causal", "flat", {"objective": "energy"}),
                                   ("gqa", "fusemax", {"array": 64})):
        result = cascade.map(algorithm, arch=arch, model="llama-3-8b", seq="2k", **extra)
        flags = [f"--{k}={v}" for k, v in extra.items()]
        cli = mapped(capsys, algorithm, "--arch", arch, "--model", "llama-3-8b", "--seq",
                     "2k", *flags)
        document = result.to_dict()
        document["search"].pop("seconds")
        cli["search"].pop("seconds")
        assert json.loads(json.dumps(document)) == cli
        assert (result.cycles, result.dram_bytes) == (cli["report"]["cycles"],
                                                      cli["report"]["dram_bytes"])
    frame = result.einsums()
    assert list(frame["einsum"]) == [e["name"] for e in cli["report"]["einsums"]]


def test_batch_replaces_the_model_batch(capsys: pytest.CaptureFixture[str]) -> None:
    one = mapped(capsys, "fusemax", "--arch", "fusemax", *BERT_1K, "--batch", "1")
    full = mapped(capsys, "fusemax", "--arch", "fusemax", *BERT_1K)
    assert (one["workload"]["batch"], full["workload"]["batch"]) == (1, 64)
    assert one["report"]["instances"] * 64 == full["report"]["instances"]
    assert full["report"]["cycles"] > 32 * one["report"]["cycles"]


def test_fpga_designs_have_no_energy_in_python() -> None:
    result = cascade.map("fusemax", arch="zcu102", shape="E=64,F=64,M=197,P=197")
    assert result.energy_j is None and result.resources is not None
    network = cascade.map("vit-edge-moe", arch="zcu102")
    assert network.seconds > 0 and "expert" in " ".join(network.blocks()["name"])
    with pytest.raises(CascadeError, match="vit-edge-moe is a network with its own workload "
                                           "and mappings; seq do not apply to it"):
        cascade.map("vit-edge-moe", arch="zcu102", seq=4)


REFERENCE = '''
import numpy as np

def attention(x):
    s = x["Q"].T @ x["K"]
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True) @ x["V"].T).T

def wrong(x):
    return attention(x) * 1.01

def broken(x):
    raise ValueError("no such thing")

def shapeless(x):
    return {"AV": np.zeros(3)}
'''


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "ref.py"
    path.write_text(REFERENCE)
    return path


def test_check_with_a_user_reference(reference: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    shapes = ["--shape", "E=8,F=4,M=40,P=6,M0=16", "--shape", "E=3,F=2,M=1,P=1,M0=4"]
    status, out, err = run(capsys, "check", "fusemax", "--reference",
                           f"{reference}:attention", *shapes)
    assert (status, err) == (0, "") and out.count(" ok\n") == 2
    status, out, _ = run(capsys, "check", "fusemax", "--reference", f"{reference}:wrong",
                         *shapes, "--json")
    assert status == 1 and json.loads(out)["passed"] is False


@pytest.mark.parametrize(("function", "message"), [
    ("broken", "the reference raised ValueError: no such thing"),
    ("shapeless", "the reference's AV has shape (3,); fusemax gives (4, 6)"),
    ("missing", "reference module {ref} has no function missing"),
])
def test_a_bad_user_reference_is_one_line(reference: Path, function: str, message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", "fusemax", "--reference",
                           f"{reference}:{function}", "--shape", "E=8,F=4,M=40,P=6,M0=16")
    assert (status, out) == (2, "")
    assert err.startswith("cascade: error: ")
    assert message.format(ref=reference) in err and err.count("\n") == 1


def test_a_reference_needs_shapes(reference: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "check", "fusemax", "--reference", f"{reference}:attention")
    assert status == 2 and "give the sizes to check at with --shape" in err


def test_every_command_has_a_description_and_an_example() -> None:
    parser = sys.modules["cascade._cli"]._build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert len(commands) == 15
    for name, sub in commands.items():
        text = sub.format_help()
        assert sub.description, name
        assert f"example:\n  cascade {name}" in text, name


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"cascade {cascade.version()}\n"


def test_json_documents_carry_the_schema_and_errors_are_json(
        capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["list", "--json"], ["list", "architectures", "--json"],
                 ["analyze", "fusemax", *BERT_1K, "--json"], ["table", "--json"],
                 ["show", "arch", "flat", "--json"]):
        status, out, _ = run(capsys, *argv)
        assert status == 0 and json.loads(out)["schema"] == 1, argv
    status, out, err = run(capsys, "map", "fusemax", "--arch", "nope", *BERT_1K, "--json")
    assert (status, err) == (2, "")
    assert json.loads(out) == {"schema": 1, "error": "unknown architecture 'nope'; known: "
                                                     "edge-moe, flat, fusemax, tpu-v4i, u250, "
                                                     "u50, unfused, zcu102"}
    status, out, _ = run(capsys, "map", "--json")
    assert status == 2 and json.loads(out)["error"].startswith("the following arguments")


def test_emit_hls_of_a_cascade_says_so_plainly(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "emit-hls", "three_pass", "--arch", "zcu102", "--shape",
                         "P=8,M=8,E=8,F=8", "--out", str(tmp_path / "x"))
    assert status == 2 and err == (
        "cascade: error: emit-hls cannot emit the cascade three_pass: HLS templates exist only "
        "for the kernels fusemax, softmax, gelu, linear, linear_gelu, encoder (cost a cascade "
        "with cascade map; fusemax is the attention kernel)\n")
    assert not (tmp_path / "x").exists()


def test_sweep_specs_take_architecture_files(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(architecture_yaml(architecture("fusemax", array=64)))
    (tmp_path / "s.yaml").write_text("name: files\nalgorithms: [fusemax]\narchitectures:\n"
                                     "  - {preset: mine.yaml, buffer_mib: [4]}\n"
                                     "  - {preset: fusemax, array: [64, 32]}\n"
                                     "models: [bert]\nseq: [1024]\n")
    frame = cascade.sweep(tmp_path / "s.yaml", db=tmp_path / "r.sqlite", workers=1)
    assert list(frame["architecture"]) == ["mine", "fusemax", "fusemax"]
    assert list(frame["array"]) == [64, 64, 32] and list(frame["buffer_mib"]) == [4, 16, 16]
    direct = cascade.map("fusemax", arch=tmp_path / "mine.yaml", buffer_mib=4, model="bert",
                         seq=1024)
    assert frame["cycles"].iloc[0] == direct.cycles
    # the same design as a file and as a preset is one design: refused as a repeat
    (tmp_path / "twice.yaml").write_text("algorithms: [fusemax]\narchitectures:\n"
                                         "  - {preset: mine.yaml}\n"
                                         "  - {preset: fusemax, array: [64]}\n"
                                         "models: [bert]\nseq: [1024]\n")
    with pytest.raises(CascadeError, match=r"twice\.yaml:4: architectures list fusemax with "
                                           r"array 64, the same design as .*mine\.yaml with "
                                           r"its preset values at line 3"):
        cascade.sweep(tmp_path / "twice.yaml", db=tmp_path / "r.sqlite", workers=1)


def test_the_command_runs_from_a_shell(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cascade", "map", "fusemax", "--arch",
                           "fusemax", *BERT_1K], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""  # piped: no progress bar
    assert done.stdout.startswith("fusemax on fusemax: 1,699,572 cycles")


def test_the_library_is_checkable_through_the_api() -> None:
    assert all(r.passed for r in cascade.check("fusemax"))
    assert set(library_names()) >= {"fusemax", "three_pass"}


def test_emit_hls_takes_an_architecture_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, text, _ = run(capsys, "show", "arch", "zcu102")
    (tmp_path / "board.yaml").write_text(text)
    shape = ["--shape", "P=8,M=12,E=8,F=8,M0=4"]
    for arch, out in (("zcu102", "preset"), (str(tmp_path / "board.yaml"), "file")):
        status, _, err = run(capsys, "emit-hls", "fusemax", "--arch", arch, *shape, "--out",
                             str(tmp_path / out))
        assert (status, err) == (0, "")
    preset = sorted(p.relative_to(tmp_path / "preset") for p in (tmp_path / "preset").rglob("*"))
    assert preset == sorted(p.relative_to(tmp_path / "file")
                            for p in (tmp_path / "file").rglob("*"))
    for name in preset:
        if (tmp_path / "preset" / name).is_file():
            assert (tmp_path / "preset" / name).read_bytes() == \
                (tmp_path / "file" / name).read_bytes(), name


def test_network_flags_move_the_mixture_of_experts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def network(*flags: str) -> dict[str, object]:
        return mapped(capsys, "vit-edge-moe", "--arch", "edge-moe", *flags)

    top2, top1 = network(), network("--top-k", "1")
    assert top2["moe"]["top_k"] == 2 and top1["moe"]["top_k"] == 1
    assert top1["latency"]["cycles_per_image"] < top2["latency"]["cycles_per_image"]
    fewer = network("--expert-count", "8")
    assert fewer["dram_bytes_per_image"] < top2["dram_bytes_per_image"]  # fewer expert loads
    status, _, err = run(capsys, "map", "fusemax", "--arch", "fusemax", *BERT_1K,
                         "--top-k", "2")
    assert status == 2 and err == ("cascade: error: fusemax is not a network with a mixture of "
                                   "experts (vit-edge-moe); top_k do not apply to it\n")
    status, text, _ = run(capsys, "map", "vit-edge-moe", "--arch", "edge-moe", "--experts",
                          "skewed")
    assert status == 0 and "routing skewed" in text and "layer kind" in text


def test_dse_runs_an_exploration_spec(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.yaml").write_text(
        "name: tiny\nnetwork: vit-edge-moe\narchitecture: edge-moe\nplatforms: [{device: "
        "zcu102}]\nlinear: [8, 16]\nquery_group: [4]\nport_bits: [256]\nexperts: [16]\n"
        "top_k: [2]\n")
    status, out, _ = run(capsys, "dse", str(tmp_path / "x.yaml"), "--json")
    assert status == 0
    data = json.loads(out)
    assert data["schema"] == 1 and len(data["points"]) == 2
    front = data["pareto"]["zcu102"]["16 experts, top-2"]
    assert [p["linear"] for p in front] == [8, 16]
    status, text, _ = run(capsys, "dse", str(tmp_path / "x.yaml"))
    assert status == 0 and text.startswith("tiny: vit-edge-moe on edge-moe: 2 designs")
    status, _, err = run(capsys, "dse", str(tmp_path / "x.yaml"), "--arch", "zcu102")
    assert status == 2 and "--arch does not apply" in err


@pytest.mark.parametrize("sized", [True, False])
def test_progress_shows_on_a_terminal_only(tmp_path: Path, sized: bool) -> None:
    """A sweep long enough to pass the half-second delay draws a bar on a terminal (a
    pseudo-terminal of 100 columns, or one that reports no size at all, where tqdm alone
    would draw nothing) and nothing when piped."""
    import fcntl  # POSIX only, like the sweep's process handling
    import struct
    import termios

    (tmp_path / "s.yaml").write_text("name: p\nalgorithms: [fusemax, three_pass, causal]\n"
                                     "architectures: [{preset: fusemax, array: [16, 32, 64, "
                                     "128, 256], buffer_mib: [1, 4, 16]}]\nmodels: [bert, xlm]\n"
                                     "seq: [1024, 4096, 16384, 65536]\n"
                                     "objective: [latency, energy]\n")
    argv = [sys.executable, "-m", "cascade", "sweep", "s.yaml", "--db", "r.sqlite",
            "--workers", "1"]
    piped = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stderr == ""
    (tmp_path / "r.sqlite").unlink()
    main_fd, terminal = os.openpty()
    if sized:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=terminal, cwd=tmp_path) \
            as run_:
        os.close(terminal)
        shown = b""
        while True:
            try:
                data = os.read(main_fd, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            shown += data
        assert run_.wait(timeout=120) == 0
    os.close(main_fd)
    text = shown.decode(errors="replace")
    assert "p:" in text and "/720" in text and "%|" in text, text[-300:]
