"""The README's Python examples run as written."""

from __future__ import annotations

import doctest
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples() -> None:
    failed, tried = doctest.testfile(str(README), module_relative=False,
                                     optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 8 and failed == 0
