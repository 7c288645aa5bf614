"""Hostile inputs: file kinds, YAML bombs, deep nesting, huge and foreign numbers.

Each ends in one line naming the file (and line), exit status 2 on the command line and a
CascadeError in Python: never a traceback, a hang or unbounded memory.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade import main
from einsum import (
    CascadeError,
    load,
    load_file,
    load_yaml_text,
    model_from_config,
    node_value,
    parse_shape_text,
    parse_text,
    resolve_shapes,
    yaml_fields,
)
from einsum._errors import MAX_INPUT_BYTES
from einsum._parser import parse_statements
from hls_templates._numerics import load_numerics, load_numerics_text
from mapper import SweepError, parse_sweep

SHAPE = "E=2,F=2,M=4,P=4"
WRAPPER = "name: w\ncascade: |\n  AV[f,p] = V[f,p] * 2\n"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit status and stderr of one run that must print nothing on stdout."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert out == ""
    return status, err


def raises(message: str, call: object, *args: object, kind: type = CascadeError) -> None:
    """``call(*args)`` raises ``kind`` whose one line is exactly ``message``."""
    with pytest.raises(kind) as caught:
        call(*args)  # type: ignore[operator]
    assert str(caught.value) == message


def refused(capsys: pytest.CaptureFixture[str], path: Path | str, message: str) -> None:
    """``path`` is refused with ``message`` by load_file, load and ``cascade analyze``."""
    for loader in (load_file, load):
        with pytest.raises(CascadeError) as caught:
            loader(path)
        assert str(caught.value) == message
    assert cli(capsys, "analyze", str(path), "--shape", SHAPE) == \
        (2, f"cascade: error: {message}\n")


# ----- file kinds and sizes


def test_fifo_is_refused_without_opening_it(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    pipe = tmp_path / "pipe.cascade"
    os.mkfifo(pipe)  # no writer: opening it for reading would block forever
    refused(capsys, pipe, f"{pipe}: cannot read the file: it is a FIFO (named pipe), not a "
                          "regular file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_character_devices_are_refused(device: str, capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, device, f"{device}: cannot read the file: it is a character device, "
                            "not a regular file")


def test_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder.cascade"
    folder.mkdir()
    refused(capsys, folder, f"{folder}: cannot read the file: it is a directory, not a "
                            "regular file")


@pytest.mark.parametrize("name", ["missing.cascade", "missing.yaml", "sub/missing"])
def test_missing_file_is_named(name: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    refused(capsys, path, f"{path}: cannot read the file: No such file or directory")


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.cascade"
    with path.open("wb") as handle:  # sparse: no 16 MiB written to the disk
        handle.truncate(MAX_INPUT_BYTES + 1)
    assert MAX_INPUT_BYTES == 16 * 2**20
    refused(capsys, path, f"{path}: cannot read the file: it has 16,777,217 bytes, more "
                          "than the limit of 16 MiB")


def test_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.cascade"
    statement = b"AV[f,p] = V[f,p] * 2\n"
    path.write_bytes(statement + b" " * (MAX_INPUT_BYTES - len(statement) - 1) + b"\n")
    assert [e.name for e in load_file(path).einsums] == ["AV"]


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.cascade"
    path.write_bytes(b"AV[f,p] = V[f,p] * 2\n# caf\xe9\n")
    refused(capsys, path, f"{path}:2: cannot read the file: not UTF-8 text")


@pytest.mark.parametrize(("suffix", "text", "line", "code"), [
    (".cascade", "AV[f,p] = V[f,p] * 2\n\x00\n", 2, "0000"),
    (".cascade", "AV[f,p] = V[f,p]\x1b[31m * 2\n", 1, "001B"),
    (".yaml", "name: w\x00\ncascade: |\n  AV[f,p] = V[f,p] * 2\n", 1, "0000"),
    (".yaml", WRAPPER + "title: \x7f\n", 4, "007F"),
])
def test_control_characters_are_refused_with_their_line(
        suffix: str, text: str, line: int, code: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"ctl{suffix}"
    path.write_text(text, encoding="utf-8")
    refused(capsys, path, f"{path}:{line}: control character U+{code} is not allowed")


def test_control_characters_in_python_text() -> None:
    with pytest.raises(CascadeError) as caught:
        parse_text("AV[f,p] = V[f,p] * 2\nX\x00", file="a.cascade")
    assert str(caught.value) == "a.cascade:2: control character U+0000 is not allowed"
    with pytest.raises(CascadeError) as caught:
        load_yaml_text(WRAPPER + "\x0c", file="w.yaml")
    assert str(caught.value) == "w.yaml:4: control character U+000C is not allowed"


def test_other_inputs_check_their_file_kind(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    kind = "it is a FIFO (named pipe), not a regular file"
    raises(f"{pipe}: cannot read model config: {kind}", model_from_config, pipe)
    raises(f"{pipe}: cannot read numerics file: {kind}", load_numerics, pipe)
    assert cli(capsys, "analyze", "fusemax", "--model-config", "/dev/zero", "--seq", "8") == \
        (2, "cascade: error: /dev/zero: cannot read model config: it is a character device, "
            "not a regular file\n")
    out = tmp_path / "hls"
    assert cli(capsys, "emit-hls", "fusemax", "--arch", "zcu102", "--shape",
               "P=2,M=6,E=4,F=4", "--numerics", str(pipe), "--out", str(out)) == \
        (2, f"cascade: error: {pipe}: cannot read numerics file: {kind}\n")
    assert not out.exists()


def test_a_file_name_with_a_newline_stays_on_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two\nlines.cascade"
    shown = str(path).replace("\n", "\\n")
    refused(capsys, path, f"{shown}: cannot read the file: No such file or directory")


def test_a_bare_word_is_still_a_library_name(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = cli(capsys, "analyze", "fusemaxx", "--shape", SHAPE)
    assert status == 2 and err.startswith("cascade: error: no library cascade or file named "
                                          "'fusemaxx'; library: ")


# ----- YAML: aliases, nesting, scalars


def _bomb(levels: int = 9) -> str:
    """Billion laughs: each level lists the previous one nine times (9**9 leaves)."""
    lines = ['l0: &l0 "lol"']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMB_MESSAGE = ("the YAML has more than 100,000 nodes, counting each alias as a copy (an "
                "alias bomb?)")


def test_billion_laughs_is_refused_early(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb() + WRAPPER)
    refused(capsys, path, f"{path}:7: {BOMB_MESSAGE}")


def test_billion_laughs_in_every_yaml_input(tmp_path: Path) -> None:
    with pytest.raises(SweepError) as caught:
        parse_sweep(_bomb(), file="s.yaml")
    assert str(caught.value) == f"s.yaml:7: {BOMB_MESSAGE}"
    with pytest.raises(CascadeError) as caught:
        load_numerics_text(_bomb(), file="n.yaml")
    assert str(caught.value) == f"n.yaml:7: {BOMB_MESSAGE}"


def test_duplicate_anchors_and_unpaired_surrogates() -> None:
    with pytest.raises(CascadeError) as caught:
        load_yaml_text("name: &x a\ntitle: &x b\n", file="d.yaml")
    assert str(caught.value) == "d.yaml:2: YAML syntax error: found duplicate anchor 'x'"
    with pytest.raises(CascadeError) as caught:
        load_yaml_text("name: x\ntitle: \ud800\n", file="s.yaml")
    assert str(caught.value) == "s.yaml:2: character U+D800 is not allowed in YAML"


def test_aliases_within_the_bound_still_work() -> None:
    fields = yaml_fields("a: &x [1, 2]\nb: [*x, *x]\n", ("a", "b"), required=(), shape="")
    assert node_value(fields["b"]) == [[1, 2], [1, 2]]


@pytest.mark.parametrize(("text", "line", "anchor"), [
    ("name: &a [*a]\n", 1, "a"),
    ("name: w\ntitle: &t\n  x: {y: *t}\n", 3, "t"),
])
def test_recursive_aliases_are_refused(text: str, line: int, anchor: str) -> None:
    with pytest.raises(CascadeError) as caught:
        load_yaml_text(text + "cascade: x\n", file="r.yaml")
    assert str(caught.value) == (f"r.yaml:{line}: recursive YAML alias *{anchor} (inside the "
                                 "node it names)")


@pytest.mark.parametrize("text", ["name: " + "[" * 5000 + "]" * 5000,
                                  "name: " + "{a: " * 3000 + "1" + "}" * 3000,
                                  "name:\n" + "".join(" " * i + "- \n" for i in range(300))])
def test_deep_yaml_nesting_is_refused(text: str) -> None:
    with pytest.raises(CascadeError) as caught:
        load_yaml_text(text + "\ncascade: x\n", file="d.yaml")
    assert str(caught.value).startswith("d.yaml:")
    assert str(caught.value).endswith(": YAML nested more than 100 levels deep")


def test_yaml_nesting_at_the_bound_is_read() -> None:
    fields = yaml_fields("a: " + "[" * 99 + "]" * 99, ("a",), required=(), shape="")
    value = node_value(fields["a"])
    for _ in range(98):
        (value,) = value
    assert value == []


def _value(text: str) -> object:
    return node_value(yaml_fields(f"a: {text}\n", ("a",), required=(), shape="")["a"])


@pytest.mark.parametrize(("text", "value"), [
    ("1e-300", 1e-300), ("1e5", 100000.0), ("-.5", -0.5), ("1.5", 1.5), ("12", 12),
    ("-0", 0), ("true", True), ("FALSE", False), ("~", None), (".inf", float("inf")),
    ("'yes'", "yes"), ('"017"', "017"), ("ap_fixed<16,6>", "ap_fixed<16,6>"),
    ("M1", "M1"),
])
def test_yaml_scalars_follow_one_explicit_rule(text: str, value: object) -> None:
    got = _value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("text", "message"), [
    ("yes", "ambiguous YAML value 'yes': YAML 1.1 reads it as a boolean, YAML 1.2 as text; "
            "quote it if it is text, or write true or false"),
    ("Off", "ambiguous YAML value 'Off': YAML 1.1 reads it as a boolean, YAML 1.2 as text; "
            "quote it if it is text, or write true or false"),
    ("017", "ambiguous YAML value '017': YAML 1.1 reads a leading zero as octal, YAML 1.2 "
            "as decimal; drop the zero, or quote it if it is text"),
    ("0x1F", "ambiguous YAML value '0x1F': YAML 1.1 reads it as a whole number, YAML 1.2 as "
             "text; quote it if it is text, or write the number in plain decimal"),
    ("1_000", "ambiguous YAML value '1_000': YAML 1.1 reads it as a whole number, YAML 1.2 "
              "as text; quote it if it is text, or write the number in plain decimal"),
    ("1:30", "ambiguous YAML value '1:30': YAML 1.1 reads it as a whole number, YAML 1.2 as "
             "text; quote it if it is text, or write the number in plain decimal"),
    ("2001-12-14", "ambiguous YAML value '2001-12-14': YAML 1.1 reads it as a date, YAML 1.2 "
                   "as text; quote it if it is text"),
    ("{<<: {b: 1}}", "ambiguous YAML value '<<': YAML 1.1 reads it as a merge key, YAML 1.2 "
                     "as text; quote it if it is text"),
    ("1" * 5000, "a number of 5,000 characters is too long (the limit is 100)"),
    ("!!int " + "1" * 5000, "a number of 5,000 characters is too long (the limit is 100)"),
    ("1e400", "number 1e400 is too large for a 64-bit float"),
    ("-1e400", "number -1e400 is too large for a 64-bit float"),
    ("1e-400", "number 1e-400 is too small for a 64-bit float (it would be 0)"),
    ("\u0664\u0662", "YAML value '\u0664\u0662' has non-ASCII digits; write 42, or quote it "
                     "if it is text"),
    ("\uff14.5", "YAML value '\uff14.5' has non-ASCII digits; write 4.5, or quote it if it "
                 "is text"),
    ("!!int '\u0663'", "YAML value '\u0663' has non-ASCII digits; write 3, or quote it if it "
                       "is text"),
    ("!!int 12abc", "'12abc' is not a valid !!int"),
    ("!!bool maybe", "'maybe' is not a valid !!bool"),
    ("!!python/object:os.system x", "YAML tag !!python/object:os.system is not allowed "
                                    "(only plain data)"),
])
def test_yaml_scalars_that_would_be_guessed_are_refused(text: str, message: str) -> None:
    with pytest.raises(CascadeError) as caught:
        _value(text)
    assert str(caught.value) == f"<text>:1: {message}"


def test_shapes_in_a_wrapper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    for value, message in [
        ("1" * 5000, "a number of 5,000 characters is too long (the limit is 100)"),
        ("99999999999999999999", "shape P=99999999999999999999 is larger than the limit 2**40"),
        ("\u0664", "YAML value '\u0664' has non-ASCII digits; write 4, or quote it if it is "
                   "text"),
        ("'4'", "shape P must be a positive whole number, not '4'"),
    ]:
        path.write_text(WRAPPER + f"shapes: {{P: {value}}}\n")
        refused(capsys, path, f"{path}:4: {message}")


def test_check_shape_keeps_huge_numbers_off_the_line() -> None:
    fusemax = load("fusemax")
    with pytest.raises(CascadeError) as caught:
        resolve_shapes(fusemax, {"M": 10**1000})
    assert str(caught.value) == "shape M=<a number of 1,001 digits> is larger than the limit " \
                                "2**40"
    with pytest.raises(CascadeError) as caught:  # str() of it would raise ValueError
        resolve_shapes(fusemax, {"M": -(10**5000)})
    assert str(caught.value) == "shape M=<a huge number> must be a positive whole number"


# ----- config.json


@pytest.mark.parametrize(("text", "message"), [
    ('{"hidden_size": 8,\n "x": ' + "[" * 5000 + "]" * 5000 + "}",
     ":2: JSON nested more than 100 levels deep"),
    ('{"hidden_size": 8,\n "x": ' + "{\"a\": " * 200 + "1" + "}" * 200 + "}",
     ":2: JSON nested more than 100 levels deep"),
    ('{"_name_or_path": "NaN [[[",\n"hidden_size": ' + "1" * 5000 + "}",
     ":2: a number of 5,000 characters is too long (the limit is 100)"),
    ('{"hidden_size": 8,\n\n"num_attention_heads": NaN}', ":3: NaN is not a JSON number"),
    ('{"hidden_size": -Infinity}', ":1: -Infinity is not a JSON number"),
    ('{"hidden_size": 4398046511104, "num_attention_heads": 1, "num_hidden_layers": 1}',
     ": model bad: model_dim 4398046511104 is larger than the limit 2**40"),
    ('{"hidden_size": 8\u0664, "num_attention_heads": 1}', ":1: not valid JSON: Expecting ',' "
                                                           "delimiter"),
])
def test_hostile_config_json(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CascadeError) as caught:
        model_from_config(path)
    assert str(caught.value) == f"{path}{message}"


def test_config_json_with_odd_architectures_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text('{"hidden_size": 64, "num_attention_heads": 1, "num_hidden_layers": 2, '
                    '"architectures": {"a": 1}, "x": ' + "[" * 99 + "]" * 99 + "}")
    found = model_from_config(path)
    assert (found.title, found.head_dim, found.layers) == ("odd", 64, 2)


# ----- the text form


@pytest.mark.parametrize(("line", "message"), [
    ("AV[f,p] = " + "(" * 300 + "V[f,p]" + ")" * 300,
     "expression nested more than 100 levels deep"),
    ("AV[f,p] = " + "exp(" * 300 + "V[f,p]" + ")" * 300,
     "expression nested more than 100 levels deep"),
    ("AV[f,p] = " + "- " * 300 + "V[f,p]", "expression nested more than 100 levels deep"),
    ("AV[f,p] = " + " + ".join(["V[f,p]"] * 102),
     "expression is more than 100 operators deep; split it into several Einsums"),
    ("AV[f,p] = V[f,p] where " + "(" * 300 + "f < 1" + ")" * 300,
     "expression nested more than 100 levels deep"),
    ("AV[f,p] = V[f,p] where " + "not " * 300 + "f < 1",
     "expression nested more than 100 levels deep"),
    ("AV[f,p] = V[f,p] where " + " or ".join(["f < 1"] * 102),
     "expression is more than 100 operators deep; split it into several Einsums"),
    ("AV[f,p] = V[f,p] * " + "1" * 5000,
     "a number of 5,000 characters is too long (the limit is 100)"),
    ("P = " + "9" * 5000, "a number of 5,000 characters is too long (the limit is 100)"),
    ("AV[f,p] = V[f,p] * 1e400", "number 1e400 is too large for a 64-bit float"),
    ("AV[f,p] = V[f,p] * 1e-400", "number 1e-400 is too small for a 64-bit float (it would "
                                  "be 0)"),
    ("AV[f,p] = V[f,p] * \u0663", "non-ASCII character '\u0663'; write the ASCII form"),
    ("AV[f,p] = V[f,p] * \uff13", "non-ASCII character '\uff13'; write the ASCII form"),
    ("AV[f,p] = V[f,p] where f < \u0663", "non-ASCII character '\u0663'; write the ASCII "
                                           "form"),
    ("P = \u0664", "non-ASCII character '\u0664'; write the ASCII form"),
    ("P = 2000000000000", "shape P=2000000000000 is larger than the limit 2**40"),
])
def test_hostile_text_form(line: str, message: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.cascade"
    path.write_text("AV[f,p] = V[f,p] * 2\n" + line + "\n" if line.startswith("P") else
                    "# hostile\n" + line + "\n", encoding="utf-8")
    refused(capsys, path, f"{path}:2: {message}")


def test_nesting_within_the_bound_parses() -> None:
    cascade = parse_text("AV[f,p] = " + "(" * 99 + "V[f,p]" + ")" * 99 + " + "
                         + " + ".join(["V[f,p]"] * 99))
    assert cascade.einsums[0].name == "AV"


# ----- shapes on the command line


@pytest.mark.parametrize(("text", "message"), [
    ("M=\u0664", "shape M must be a positive whole number in ASCII digits, not '\u0664'"),
    ("M=\uff11\uff12", "shape M must be a positive whole number in ASCII digits, not "
                       "'\uff11\uff12'"),
    ("M=1_000", "shape M must be a positive whole number, not '1_000'"),
    ("M=+4", "shape M must be a positive whole number, not '+4'"),
    ("M=" + "1" * 5000, "shape M=<a number of 5,000 digits> is larger than the limit 2**40"),
    ("M=-" + "1" * 5000, "shape M=-<a number of 5,000 digits> must be a positive whole "
                         "number"),
    ("M=2199023255553", "shape M=2199023255553 is larger than the limit 2**40"),
])
def test_hostile_shape_text(text: str, message: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CascadeError) as caught:
        parse_shape_text(text)
    assert str(caught.value) == message
    assert cli(capsys, "analyze", "fusemax", "--shape", text) == \
        (2, f"cascade: error: {message}\n")


def test_shape_of_a_rank_the_cascade_lacks(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "chain.cascade"
    path.write_text("A[p] = X[p] * X[p]\nB[p] = A[p] + X[p]\n")
    message = f"{path}: shape given for rank Z, which chain does not use (ranks: P)"
    assert cli(capsys, "analyze", str(path), "--shape", "P=4,Z=4") == \
        (2, f"cascade: error: {message}\n")
    with pytest.raises(CascadeError) as caught:
        resolve_shapes(load_file(path), {"P": 4, "\uff30": 4})
    assert str(caught.value) == message.replace("rank Z", "rank \uff30")


def test_a_where_parameter_is_listed_among_the_known_names() -> None:
    cascade = parse_text("AV[f,p] = V[f,p] where f < W\n", name="win", file="w.cascade")
    with pytest.raises(CascadeError) as caught:
        resolve_shapes(cascade, {"F": 2, "P": 2, "W": 1, "Z": 1})
    assert str(caught.value) == ("w.cascade: shape given for rank Z, which win does not use "
                                 "(ranks: F, P; parameters: W)")


# ----- scale


def _chain(n: int) -> list[str]:
    return ["T0[p] = X[p] * X[p]"] + [f"T{i}[p] = T{i - 1}[p] + X[p]" for i in range(1, n)]


def test_a_16000_einsum_chain_is_parsed_whole() -> None:
    # Parsing and the YAML wrapper only: validation and analysis belong to other modules.
    lines = _chain(16_000)
    statements = parse_statements("\n".join(lines))
    assert len(statements.einsums) == 16_000
    assert statements.einsums[-1].line == 16_000
    text = "name: chain\ncascade: |\n" + "".join(f"  {line}\n" for line in lines)
    body = yaml_fields(text, ("name", "cascade"), required=(), shape="")["cascade"]
    assert node_value(body).count("\n") == 16_000


def test_a_16000_einsum_chain_loads_and_analyses(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # Validation is linear in the chain (no per-comparison scans, no quadratic cycle search).
    path = tmp_path / "chain.cascade"
    path.write_text("\n".join(_chain(16_000)) + "\n")
    assert main(["analyze", str(path), "--shape", "P=4", "--json"]) == 0
    assert '"T15999"' in capsys.readouterr().out


# ----- property: any bytes end in status 0 or one line and status 2

PIECES = st.sampled_from([
    "name: x\n", "cascade: |\n", "  AV[f,p] = V[f,p] * 2\n", "  QK[m,p] = Q[e,p] * K[e,m]\n",
    "shapes: {", "P: 4}", "&a ", "*a", "[", "]", "{", "}", ":", "- ", "  ", "\n", "!!int ",
    "!!python/name:os.system", "1e-300", "yes", "017", "\x00", "\u0663", "\uff14", "'", '"',
    "(", ")", "exp(", "where ", "m < 1", "reduce + over m", "# ", "\t", "1" * 120, "~",
    "inputs: [", "outputs: [AV[f,p]]", "stream M\n", "M -> M1, M0\n", "M0 = 2\n",
])
SOURCES = st.one_of(st.binary(max_size=300),
                    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
                    st.lists(PIECES, max_size=30).map(lambda p: "".join(p).encode()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=SOURCES, suffix=st.sampled_from([".cascade", ".yaml"]))
def test_any_file_exits_0_or_2_with_one_line(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["analyze", str(path), "--shape", SHAPE])
    assert status in (0, 2)
    if status == 2:
        assert out.getvalue() == ""
        assert err.getvalue().startswith("cascade: error: ")
        assert err.getvalue().count("\n") == 1 and err.getvalue().endswith("\n")
    else:
        assert err.getvalue() == ""


@pytest.mark.parametrize("value", ["1" * 5000, "\u0664", "1_0", "0x10", "", "8.0"])
def test_rtl_parameters_are_short_ascii_whole_numbers(value: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # found by benchmarks/bench_fuzz.py: 5,000 digits reached Python's digit limit
    assert main(["emit-rtl", "exp", "--param", f"width={value}", "--out",
                 str(tmp_path / "x")]) == 2
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    assert capsys.readouterr().err == (f"cascade: error: parameter width must be a whole "
                                       f"number, not {shown}\n")
    assert not (tmp_path / "x").exists()
