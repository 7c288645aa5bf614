"""The one exception type every bad cascade input raises."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CascadeError", "read_text"]


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
        where = self.file if self.file is not None else "<text>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


def read_text(path: str | Path, what: str) -> str:
    """A UTF-8 input file's text, or a one-line :class:`CascadeError` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise CascadeError(f"cannot read {what}: {reason}", file=str(path)) from None
