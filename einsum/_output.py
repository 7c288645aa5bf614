"""Output folders written all or nothing, and CSV tables.

Every folder cascade writes holds a marker file, ``.cascade-output``. ``--force`` replaces
only a folder that holds it: never a file, a symbolic link, a device or FIFO, the current
folder or one of its parents, nor a folder someone else wrote. A replacement is a swap of
renames (old output aside, new output in, old output deleted), so a kill at any moment
leaves the old or the new output complete; a run killed between the renames leaves the old
one in ``.NAME.cascade-old-PID-*``, and the next run on the same ``--out`` puts it back (or
deletes it once a new output is in place) and deletes dead runs' staging folders.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "report"
>>> with staged_folder(out, force=False) as staging:
...     write_csv(staging / "a.csv", [{"x": 1}, {"x": 2, "y": 3}])
>>> (out / "a.csv").read_text().splitlines()
['x,y', '1,', '2,3']
>>> sorted(p.name for p in out.iterdir())
['.cascade-output', 'a.csv']
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ._errors import CascadeError

__all__ = ["MARKER", "OutputError", "check_output_folder", "staged_folder", "write_csv",
           "write_file"]

MARKER = ".cascade-output"
"""The file inside every output folder that says cascade wrote it."""
_MARKER_TEXT = "cascade wrote this folder; `--force` may replace it as a whole\n"
_STAGING = ".cascade-staging-"
_ASIDE = ".cascade-old-"


class OutputError(CascadeError):
    """An ``--out`` that cascade refuses to write or replace."""


def _shown(path: Path) -> str:
    """The path as typed, quoted if it holds newlines or other unprintable characters so
    that an error stays one line.

    >>> _shown(Path("a b")), _shown(Path("a\\nb"))
    ('a b', "'a\\\\nb'")
    """
    text = str(path)
    return text if text.isprintable() else repr(text)


def _marked(folder: Path) -> bool:
    """Whether ``folder`` holds cascade's marker (a regular file, not a link to one)."""
    marker = folder / MARKER
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            return False
        with marker.open("rb") as f:
            return f.read(len(_MARKER_TEXT)) == _MARKER_TEXT.encode()
    except OSError:
        return False


def _target(out: Path) -> Path:
    """``out`` with its parent resolved; its last part is left alone (it may be a link)."""
    shown = _shown(out)
    if out.name in ("", ".", ".."):
        raise OutputError(f"{shown}: --out must end in a folder name of its own, not "
                          "'.', '..' or '/'")
    try:
        target = out.parent.resolve() / out.name
        cwd = Path.cwd()
    except (OSError, RuntimeError) as error:  # a loop of links; a deleted working folder
        raise OutputError(f"{shown}: {getattr(error, 'strerror', None) or error}") from None
    if target == cwd or target in cwd.parents:
        raise OutputError(f"{shown} is the current folder or one of its parents; cascade "
                          "never replaces those")
    return target


def _inspect(out: Path, *, force: bool) -> tuple[Path, bool]:
    """The resolved target and whether it holds an old output that the new one replaces;
    an :class:`OutputError` for every target cascade must not touch."""
    shown = _shown(out)
    target = _target(out)
    try:
        mode = os.lstat(target).st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(target) as entries:
                empty = next(entries, None) is None
    except FileNotFoundError:
        return target, False
    except OSError as error:
        raise OutputError(f"{shown}: {error.strerror}") from None
    if stat.S_ISLNK(mode):
        raise OutputError(f"{shown} is a symbolic link; --out must name a real folder or a "
                          "new one")
    if stat.S_ISREG(mode):
        raise OutputError(f"{shown} is a file, not a folder; --force replaces only folders "
                          "cascade wrote")
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{shown} is a device, FIFO or socket, not a folder")
    if empty:
        return target, False  # an empty folder is taken over by one atomic rename
    if not force:
        raise OutputError(f"{shown} exists and is not empty; pass --force to replace it")
    if not _marked(target):
        raise OutputError(f"{shown} was not written by cascade (it holds no {MARKER}); "
                          "--force replaces only cascade's own output folders")
    return target, True


def check_output_folder(out: Path, *, force: bool) -> None:
    """Raise :class:`OutputError` unless :func:`staged_folder` may write ``out``; for
    commands that check before long work. Nothing is changed.

    >>> try:
    ...     check_output_folder(Path("x/.."), force=True)
    ... except OutputError as error:
    ...     print(error)
    x/..: --out must end in a folder name of its own, not '.', '..' or '/'
    """
    _inspect(out, force=force)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _leftovers(parent: Path, name: str, kind: str) -> list[Path]:
    """Staging or aside folders of ``name`` whose run has died, by name order."""
    prefix = f".{name}{kind}"
    found = []
    with suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            pid, sep, _ = entry.name[len(prefix):].partition("-")
            if (entry.name.startswith(prefix) and sep and pid.isdigit()
                    and entry.is_dir(follow_symlinks=False) and not _alive(int(pid))):
                found.append(Path(entry.path))
    return sorted(found)


def _recover(parent: Path, name: str) -> None:
    """Finish what a killed run left: put an old output back if the run died between its
    renames, and delete dead runs' staging and aside folders."""
    for staging in _leftovers(parent, name, _STAGING):
        shutil.rmtree(staging, ignore_errors=True)
    target = parent / name
    for aside in _leftovers(parent, name, _ASIDE):
        if os.path.lexists(target):
            shutil.rmtree(aside, ignore_errors=True)  # the new output made it in
        elif _marked(aside):
            with suppress(OSError):  # if it cannot go back, it stays, recognisably named
                os.rename(aside, target)
        else:
            shutil.rmtree(aside, ignore_errors=True)  # killed before the old output moved


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        _remove_empty(missing)
        raise
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove those of ``folders`` (deepest first) that exist and are empty."""
    for folder in folders:
        with suppress(OSError):
            os.rmdir(folder)


def _swap_in(staging: Path, out: Path, *, force: bool) -> None:
    """Move the finished ``staging`` folder to ``out`` by renames only."""
    target, old = _inspect(out, force=force)  # again: the target may have changed meanwhile
    if not old:
        # onto nothing or an empty folder: one atomic step, which fails rather than
        # replacing a file or a folder that was filled in the meantime
        os.rename(staging, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{_ASIDE}{os.getpid()}-",
                                  dir=target.parent))
    os.rename(target, aside)  # onto the empty aside folder: atomic
    try:
        os.rename(staging, target)
    except BaseException:
        try:
            os.rename(aside, target)  # the old output back where it was
        except OSError:
            raise OutputError(f"{_shown(out)}: the old output could not be put back; it is "
                              f"in {_shown(aside)}") from None
        raise
    shutil.rmtree(aside, ignore_errors=True)  # a remnant is deleted by the next run


@contextmanager
def staged_folder(out: Path, *, force: bool) -> Iterator[Path]:
    """A fresh folder beside ``out`` that replaces it only if the block succeeds, so a
    failure never leaves a half-written ``out``; see the module for what ``force`` may
    replace. Errors are :class:`OutputError`, one line each."""
    out = Path(out)
    target = _target(out)
    if target.parent.is_dir():
        _recover(target.parent, target.name)
    _inspect(out, force=force)
    try:
        made = _make_parents(target.parent)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_STAGING}{os.getpid()}-",
                                        dir=target.parent))
    except OSError as error:
        raise OutputError(f"{_shown(out)}: {error.strerror}") from None
    done = False
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide a report from a web server
        (staging / MARKER).write_text(_MARKER_TEXT)
        yield staging
        _swap_in(staging, out, force=force)
        done = True
    except OSError as error:
        raise OutputError(f"{_shown(out)}: writing the output failed: "
                          f"{error.strerror or error}") from None
    finally:
        if not done:
            shutil.rmtree(staging, ignore_errors=True)
            _remove_empty(made)  # only the parents this call created


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV; the columns are every key seen, in order of first appearance."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(keys))
        writer.writeheader()
        writer.writerows(rows)


def write_file(path: Path, text: str) -> None:
    """Write one output file all or nothing: a new file, or a regular file replaced by an
    atomic rename; never a folder, a link, a device or FIFO.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_file(folder / "table.md", "| a |\\n")
    >>> (folder / "table.md").read_text()
    '| a |\\n'
    >>> try:
    ...     write_file(folder, "x")
    ... except OutputError as error:
    ...     print(str(error).endswith("is a folder; --out names the file to write"))
    True
    """
    shown = _shown(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise OutputError(f"{shown}: {error.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{shown} is a folder; --out names the file to write")
    if mode is not None and stat.S_ISLNK(mode):
        raise OutputError(f"{shown} is a symbolic link; --out must name a regular file")
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(f"{shown} is a device, FIFO or socket, not a file")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as error:
        raise OutputError(f"{shown}: cannot write there: {error.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError as error:
        with suppress(OSError):
            os.unlink(temporary)
        raise OutputError(f"{shown}: writing the output failed: {error.strerror}") from None
