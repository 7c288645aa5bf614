"""The corpus of malformed cascades: one-line errors with file and line, exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cascade import main
from einsum import CascadeError, load_file

CORPUS = sorted((Path(__file__).parent / "bad_input").iterdir())
_EXPECT = re.compile(r"# expect: (\d+): (.+)")


def expected(path: Path) -> tuple[int, str]:
    match = _EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name} must start with '# expect: LINE: fragment'"
    return int(match.group(1)), match.group(2)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_python_error(path: Path) -> None:
    line, fragment = expected(path)
    with pytest.raises(CascadeError) as caught:
        load_file(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}:{line}: ")
    assert fragment in text
    assert (caught.value.file, caught.value.line) == (str(path), line)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_command_line_error(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line, fragment = expected(path)
    status = main(["analyze", str(path), "--shape", "E=4,F=4,M=8,P=2"])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err.startswith(f"cascade: error: {path}:{line}: ") and fragment in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", ["yaml_python_object.yaml", "syntax_unicode_reduce.cascade",
                                  "cycle_two_einsums.cascade"])
def test_real_process_prints_no_traceback(name: str) -> None:
    path = Path(__file__).parent / "bad_input" / name
    done = subprocess.run([sys.executable, "-m", "cascade", "check", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
