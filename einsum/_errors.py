"""The one exception type every bad cascade input raises, and the guarded input reader."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

__all__ = ["MAX_INPUT_BYTES", "CascadeError", "check_characters", "read_text"]

MAX_INPUT_BYTES = 16 * 2**20
"""Input files (cascades, YAML wrappers, sweep specs, numerics files, model configs) are
regular files of at most 16 MiB; anything larger is refused before it is read."""

# Tab, line feed and carriage return are the only control characters text may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class CascadeError(ValueError):
    """A malformed or inconsistent cascade, shape or preset.

    ``str(error)`` is one line naming the file, the line and the problem:

    >>> str(CascadeError("unknown operator 'tanh'", file="a.cascade", line=3))
    "a.cascade:3: unknown operator 'tanh'"
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = " ".join(str(message).split())
        self.file = file
        self.line = line
        super().__init__(self.__str__())

    def located(self, *, file: str | None = None, line: int | None = None) -> CascadeError:
        """Return a copy that fills in whatever location is still unknown."""
        return CascadeError(
            self.message,
            file=self.file if self.file is not None else file,
            line=self.line if self.line is not None else line,
        )

    def __str__(self) -> str:
        if self.file is None and self.line is None:
            return self.message
        where = "<text>" if self.file is None else self.file if self.file.isprintable() \
            else self.file.encode("unicode_escape").decode("ascii")  # a newline in a name
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


def check_characters(text: str, *, file: str | None = None, first_line: int = 1) -> None:
    """Refuse control characters (NUL and the like; tab, LF and CR are fine) with their line.

    >>> check_characters("a: 1\\nb: \\x00\\n", file="x.yaml")
    Traceback (most recent call last):
    ...
    einsum._errors.CascadeError: x.yaml:2: control character U+0000 is not allowed
    """
    found = _CONTROL.search(text)
    if found is not None:
        # Count lines as str.splitlines and YAML do (a lone CR or U+2028 ends one too).
        line = first_line - 1 + len((text[: found.start()] + "x").splitlines())
        raise CascadeError(f"control character U+{ord(found.group()):04X} is not allowed",
                           file=file, line=line)


def _kind(mode: int) -> str | None:
    """What a file is when it is not a regular file, else None."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_text(path: str | Path, what: str) -> str:
    """A UTF-8 input file's text, or a one-line :class:`CascadeError` naming it.

    The file must be a regular file of at most :data:`MAX_INPUT_BYTES` and hold no control
    characters. Its kind is checked with ``os.stat`` before it is opened, so a FIFO or a
    device is never opened (a FIFO would block, ``/dev/zero`` never ends); the open file is
    checked again, non-blocking, in case the path was swapped in between.
    """
    name = str(path)

    def fail(reason: str, line: int | None = None) -> CascadeError:
        return CascadeError(f"cannot read {what}: {reason}", file=name, line=line)

    try:
        kind = _kind(os.stat(path).st_mode)
        if kind is not None:
            raise fail(f"it is {kind}, not a regular file")
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            kind = _kind(status.st_mode)
            if kind is not None:
                raise fail(f"it is {kind}, not a regular file")
            if status.st_size > MAX_INPUT_BYTES:
                raise fail(f"it has {status.st_size:,} bytes, more than the limit of 16 MiB")
            # Read one byte past the limit: a file that grew after fstat is still caught.
            data = handle.read(MAX_INPUT_BYTES + 1)
    except CascadeError:
        raise
    except OSError as error:
        raise fail(error.strerror or type(error).__name__) from None
    except ValueError:  # a NUL byte in the path itself
        raise fail("the path holds a NUL character") from None
    if len(data) > MAX_INPUT_BYTES:
        raise fail("it has more than the limit of 16 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail("not UTF-8 text", line=data.count(b"\n", 0, error.start) + 1) from None
    check_characters(text, file=name)
    return text
