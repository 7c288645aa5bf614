"""Build cascades from text and from the YAML wrapper, and find library cascades.

The YAML wrapper holds ``name`` and ``cascade`` (the text form) and may hold ``title``,
``source``, ``description``, ``inputs``, ``outputs``, ``splits``, ``initial``, ``shapes``
and ``stream``; those fields mean the same as the matching lines of the text form.

>>> c = load("fusemax")
>>> c.stream, [str(s) for s in c.splits]
('M', ['M -> M1, M0'])

Every YAML file the project reads (wrappers, sweep specs, numerics files) goes through
:func:`yaml_fields`, which loads safely and within bounds: at most :data:`MAX_YAML_DEPTH`
levels of nesting, at most :data:`MAX_YAML_NODES` nodes with each alias counted as a copy
of what it names (so alias bombs stop early), no alias inside the node it names.

Plain (unquoted) scalars are read by one explicit rule, YAML 1.2's core schema in ASCII:
``~``/``null``/empty is null, ``true``/``false`` a bool, ``-12`` a whole number,
``1.5``, ``1e-300``, ``.inf`` and ``.nan`` numbers, anything else text. A plain scalar that
PyYAML's YAML 1.1 rules would read differently (``yes``, ``off``, ``017``, ``0x1F``,
``1_000``, ``1:30``, ``2001-12-14``, ``<<``) is refused as ambiguous rather than guessed;
so are numbers written with non-ASCII digits, longer than 100 characters, or beyond a
64-bit float.

>>> yaml_fields("a: 1e-300", ("a",), required=(), shape="")["a"].tag
'tag:yaml.org,2002:float'
"""

from __future__ import annotations

import os
import re
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ._errors import CascadeError, check_characters, read_text
from ._ir import Cascade, Initial, Next, Zero
from ._parser import MAX_NUMBER_CHARACTERS, Statements, _float, parse_statements
from ._validate import validate

__all__ = ["MAX_SHAPE", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "build_cascade", "check_shape",
           "library_names", "load", "load_file", "load_yaml_text", "node_line", "node_value",
           "parse_text", "yaml_fields"]

_FIELDS = ("name", "title", "source", "description", "inputs", "outputs", "splits",
           "initial", "shapes", "stream", "cascade")
_SAFE_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}
MAX_SHAPE = 2**40
MAX_YAML_DEPTH = 100
"""Deepest nesting of sequences and mappings in a YAML input."""
MAX_YAML_NODES = 100_000
"""Most nodes in a YAML input, each alias counted as a full copy of the node it names."""

_YAML = "tag:yaml.org,2002:"
_NULLS = ("", "~", "null", "Null", "NULL")
_BOOLS = ("true", "True", "TRUE", "false", "False", "FALSE")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_OCTAL_LOOKING = re.compile(r"[-+]?0[0-9]+\Z")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z")
_CHECKED_TAGS = {_YAML + t for t in ("int", "float", "bool", "null")}
_KINDS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "a boolean",
          "null": "null", "timestamp": "a date", "merge": "a merge key", "value": "a value key"}


def _check_initial_form(statements: Statements) -> None:
    defined = {e.name: e for e in statements.einsums}
    for ref, _value, line in statements.initial:
        e = defined.get(ref.tensor)
        if e is None:
            raise CascadeError(f"initial value given for {ref.tensor}, which no Einsum defines",
                               line=line)
        if not any(isinstance(i, Next) for i in e.output.indices):
            raise CascadeError(f"initial value given for {ref.tensor}, which is not an "
                               f"iterative tensor (its definition {e.output} has no var+1 "
                               "index)", line=line)
        want = tuple(Zero() if isinstance(i, Next) else i for i in e.output.indices)
        if ref.indices != want:
            shown = ",".join(str(i) for i in want)
            raise CascadeError(f"initial value {ref} does not match {e.output}; write "
                               f"{ref.tensor}[{shown}]", line=line)


def build_cascade(statements: Statements, *, name: str, file: str | None = None,
                  title: str = "", source: str = "", description: str = "") -> Cascade:
    """Join parsed statements into a validated :class:`Cascade`."""
    try:
        _check_initial_form(statements)
        shapes: dict[str, int] = {}
        for rank, value, line in statements.shapes:
            if rank in shapes:
                raise CascadeError(f"default shape {rank} is given twice", line=line)
            check_shape(rank, value, line=line)
            shapes[rank] = value
        if len(statements.streams) > 1:
            raise CascadeError("stream is declared twice", line=statements.streams[1][1])
        cascade = Cascade(
            name=name,
            einsums=tuple(statements.einsums),
            inputs=tuple(statements.inputs),
            outputs=tuple(statements.outputs),
            initial=tuple(Initial(r.tensor, v, line) for r, v, line in statements.initial),
            splits=tuple(statements.splits),
            shapes=tuple(shapes.items()),
            stream=statements.streams[0][0] if statements.streams else "M",
            title=title,
            source=source,
            description=description,
            file=file,
        )
    except CascadeError as error:
        raise error.located(file=file) from None
    validate(cascade)
    return cascade


def check_shape(rank: str, value: object, *, line: int | None = None) -> int:
    """A shape is a whole number from 1 to 2**40."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CascadeError(f"shape {rank} must be a positive whole number, not {value!r}",
                           line=line)
    if value < 1:
        raise CascadeError(f"shape {rank}={_shown(value)} must be a positive whole number",
                           line=line)
    if value > MAX_SHAPE:
        raise CascadeError(f"shape {rank}={_shown(value)} is larger than the limit 2**40",
                           line=line)
    return value


def _shown(value: int) -> str:
    """An integer as written, or its digit count when printing it would flood the line."""
    if -(10**30) < value < 10**30:
        return str(value)
    digits = len(str(abs(value))) if abs(value).bit_length() < 10_000 else None
    return f"<a number of {digits:,} digits>" if digits else "<a huge number>"


# ----- YAML wrapper


def node_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _core_tag(value: str) -> str:
    """The YAML 1.2 core-schema tag of a plain scalar, in ASCII; refuses unreadable numbers."""
    if value in _NULLS:
        return _YAML + "null"
    if value in _BOOLS:
        return _YAML + "bool"
    if _DECIMAL.match(value):
        if len(value) > MAX_NUMBER_CHARACTERS:
            raise CascadeError(f"a number of {len(value):,} characters is too long (the limit "
                               f"is {MAX_NUMBER_CHARACTERS})")
        if _OCTAL_LOOKING.match(value):
            raise CascadeError(f"ambiguous YAML value {value!r}: YAML 1.1 reads a leading "
                               "zero as octal, YAML 1.2 as decimal; drop the zero, or quote "
                               "it if it is text")
        if _INT.match(value):
            return _YAML + "int"
        _float(value)  # refuses what overflows to inf or underflows to 0
        return _YAML + "float"
    if _SPECIAL_FLOAT.match(value):
        return _YAML + "float"
    if any(c.isdecimal() and not c.isascii() for c in value):
        ascii_form = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c
                             for c in value)
        if _DECIMAL.match(ascii_form):
            raise CascadeError(f"YAML value {value!r} has non-ASCII digits; write "
                               f"{ascii_form}, or quote it if it is text")
    return _YAML + "str"


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded (depth, nodes with aliases expanded, no recursive
    alias), allowing only plain data tags, and reading plain scalars by :func:`_core_tag`."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.expanded = 0
        self.depth = 0
        self.open_anchors: set[str] = set()
        self.anchor_sizes: dict[str, int] = {}

    def count(self, nodes: int, line: int) -> None:
        self.expanded += nodes
        if self.expanded > MAX_YAML_NODES:
            raise CascadeError(f"the YAML has more than {MAX_YAML_NODES:,} nodes, counting "
                               "each alias as a copy (an alias bomb?)", line=line)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                raise CascadeError(f"recursive YAML alias *{event.anchor} (inside the node "
                                   "it names)", line=line)
            self.count(self.anchor_sizes.get(event.anchor, 0), line)
            return super().compose_node(parent, index)
        if self.depth >= MAX_YAML_DEPTH:
            raise CascadeError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep",
                               line=line)
        before = self.expanded
        self.count(1, line)
        anchor = event.anchor
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.discard(anchor)
        if anchor is not None:
            self.anchor_sizes[anchor] = self.expanded - before
        if node.tag not in _SAFE_TAGS:
            tag = node.tag.replace(_YAML, "!!")
            raise CascadeError(f"YAML tag {tag} is not allowed (only plain data)", line=line)
        return node

    def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:
        event = self.peek_event()
        try:
            node = super().compose_scalar_node(anchor)
            # An explicit !!int, !!float, !!bool or !!null obeys the same rule as plain text.
            if event.tag not in (None, "!") and node.tag in _CHECKED_TAGS:
                found = _core_tag(node.value)
                if found != node.tag and {found, node.tag} != {_YAML + "int", _YAML + "float"}:
                    tag = node.tag.replace(_YAML, "!!")
                    raise CascadeError(f"{node.value!r} is not a valid {tag}")
        except CascadeError as error:
            raise error.located(line=event.start_mark.line + 1) from None
        return node

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)
        core = _core_tag(value)
        old = super().resolve(kind, value, implicit)  # what YAML 1.1 (PyYAML) would read
        # 1e-300 is text to YAML 1.1 but a number to YAML 1.2 and to every reader: a number.
        if old != core and not (old == _YAML + "str" and core in (_YAML + "int",
                                                                  _YAML + "float")):
            then, now = (_KINDS.get(t.replace(_YAML, ""), t) for t in (old, core))
            hint = {"bool": ", or write true or false", "int": ", or write the number in "
                    "plain decimal", "float": ", or write the number in plain decimal"}
            raise CascadeError(f"ambiguous YAML value {value!r}: YAML 1.1 reads it as {then}, "
                               f"YAML 1.2 as {now}; quote it if it is text"
                               f"{hint.get(old.replace(_YAML, ''), '')}")
        return core


def _compose(text: str) -> yaml.Node:
    check_characters(text)
    loader = None
    try:
        loader = _GuardedLoader(text)  # its reader refuses what YAML cannot print
        node = loader.get_single_node()
        if node is None:
            raise CascadeError("the YAML file is empty", line=1)
        return node
    except yaml.reader.ReaderError as error:  # a lone surrogate, U+FFFE, U+FFFF
        raise CascadeError(f"character U+{error.character:04X} is not allowed in YAML",
                           line=text.count("\n", 0, error.position) + 1) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "malformed YAML"
        if error.context and problem == "second occurrence":  # of an anchor
            problem = error.context.partition(";")[0]
        raise CascadeError(f"YAML syntax error: {problem}",
                           line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise CascadeError(f"YAML error: {error}") from None
    finally:
        if loader is not None:
            loader.dispose()


def yaml_fields(text: str, known: tuple[str, ...], *, required: tuple[str, ...],
                shape: str) -> dict[str, yaml.Node]:
    """The top-level fields of a YAML mapping as nodes (which keep their line numbers),
    each known, none twice, the required ones present; ``shape`` is the error for a
    document that is not a mapping."""
    root = _compose(text)
    if not isinstance(root, yaml.MappingNode):
        raise CascadeError(shape, line=node_line(root))
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in root.value:
        key = node_value(key_node)
        if key not in known:
            raise CascadeError(f"unknown field {key!r}; known: {', '.join(known)}",
                               line=node_line(key_node))
        if key in fields:
            raise CascadeError(f"field {key!r} is given twice", line=node_line(key_node))
        fields[key] = value_node
    for name in required:
        if name not in fields:
            raise CascadeError(f"missing field {name!r}", line=node_line(root))
    return fields


def node_value(node: yaml.Node) -> Any:
    """The Python value of a node that :func:`yaml_fields` composed."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as error:
        # Bounded by the composer already; this keeps any surprise to one line.
        raise CascadeError(f"bad YAML value: {error}", line=node_line(node)) from None
    finally:
        loader.dispose()


def _text_of(node: yaml.Node, key: str) -> str:
    value = node_value(node)
    if not isinstance(value, str):
        raise CascadeError(f"{key} must be text", line=node_line(node))
    return value


def _declaration_lines(node: yaml.Node, key: str, keyword: str, into: Statements,
                       file: str | None) -> None:
    if not isinstance(node, yaml.SequenceNode):
        raise CascadeError(f"{key} must be a list like [\"Q[e,p]\", \"K[e,m]\"]",
                           line=node_line(node))
    for item in node.value:
        text = _text_of(item, key)
        if "\n" in text:
            raise CascadeError(f"each entry of {key} is one line", line=node_line(item))
        parsed = parse_statements(f"{keyword} {text}", file=file, first_line=node_line(item))
        for target, source in ((into.inputs, parsed.inputs), (into.outputs, parsed.outputs),
                               (into.splits, parsed.splits)):
            target.extend(source)


def _number(value: Any, key: str, line: int) -> float:
    if isinstance(value, bool):
        raise CascadeError(f"{key} must be a number, not {value!r}", line=line)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip() in ("inf", "-inf", "+inf"):
        return float(value.strip())
    raise CascadeError(f"{key} must be a number or -inf, not {value!r}", line=line)


def load_yaml_text(text: str, *, file: str | None = None) -> Cascade:
    """Load a cascade from the text of its YAML wrapper."""
    try:
        return _load_yaml(text, file)
    except CascadeError as error:
        raise error.located(file=file) from None


def _load_yaml(text: str, file: str | None) -> Cascade:
    fields = yaml_fields(text, _FIELDS, required=("name", "cascade"),
                         shape="a cascade YAML file is a mapping with name and cascade")

    body = fields["cascade"]
    text_body = _text_of(body, "cascade")
    style = body.style if isinstance(body, yaml.ScalarNode) else None
    if style == ">":
        raise CascadeError("the cascade must be a literal block ('cascade: |'), not folded "
                           "('>'), so that each Einsum keeps its own line", line=node_line(body))
    first = body.start_mark.line + (2 if style == "|" else 1)
    statements = parse_statements(text_body, file=file, first_line=first)

    for key, keyword in (("inputs", "input"), ("outputs", "output"), ("splits", "split")):
        if key in fields:
            _declaration_lines(fields[key], key, keyword, statements, file)
    if "initial" in fields:
        _initial_values(fields["initial"], statements)
    if "shapes" in fields:
        node = fields["shapes"]
        if not isinstance(node, yaml.MappingNode):
            raise CascadeError("shapes must be a mapping like {M0: 256}", line=node_line(node))
        for key_node, value_node in node.value:
            rank = str(node_value(key_node))
            value = check_shape(rank, node_value(value_node), line=node_line(value_node))
            statements.shapes.append((rank, value, node_line(value_node)))
    if "stream" in fields:
        node = fields["stream"]
        statements.streams.append((_text_of(node, "stream"), node_line(node)))

    name = _text_of(fields["name"], "name")
    meta = {k: _text_of(fields[k], k) if k in fields else "" for k in ("title", "source",
                                                                       "description")}
    return build_cascade(statements, name=name, file=file, **meta)


def _initial_values(node: yaml.Node, statements: Statements) -> None:
    if not isinstance(node, yaml.MappingNode):
        raise CascadeError("initial must be a mapping like {RM: -inf}", line=node_line(node))
    defined = {e.name: e for e in statements.einsums}
    for key_node, value_node in node.value:
        tensor = str(node_value(key_node))
        line = node_line(value_node)
        value = _number(node_value(value_node), f"initial value of {tensor}", line)
        e = defined.get(tensor)
        if e is None:
            raise CascadeError(f"initial value given for {tensor}, which no Einsum defines",
                               line=line)
        ref = type(e.output)(tensor, tuple(Zero() if isinstance(i, Next) else i
                                           for i in e.output.indices))
        statements.initial.append((ref, value, line))


# ----- files and the library


def library_names() -> tuple[str, ...]:
    """Names of the cascades shipped in ``einsum/library``."""
    folder = resources.files("einsum").joinpath("library")
    return tuple(sorted(p.name[: -len(".yaml")] for p in folder.iterdir()
                        if p.name.endswith(".yaml")))


def parse_text(text: str, *, name: str = "cascade", file: str | None = None) -> Cascade:
    """Parse and validate a cascade written in the text form."""
    return build_cascade(parse_statements(text, file=file), name=name, file=file)


def load_file(path: str | Path) -> Cascade:
    """Load a ``.yaml``/``.yml`` wrapper or a text-form cascade file."""
    path = Path(path)
    text = read_text(path, "the file")
    if path.suffix in (".yaml", ".yml"):
        return load_yaml_text(text, file=str(path))
    return parse_text(text, name=path.stem, file=str(path))


def load(name_or_path: str | Path) -> Cascade:
    """A library cascade by name, or a cascade file by path."""
    name = str(name_or_path)
    if name in library_names():
        resource = resources.files("einsum").joinpath("library", f"{name}.yaml")
        return load_yaml_text(resource.read_text(encoding="utf-8"),
                              file=f"einsum/library/{name}.yaml")
    path = Path(name)
    # Something that exists, or is spelt like a file, is read as one (and a missing one,
    # a FIFO or a device is refused naming it); a bare word is a mistyped library name.
    if os.path.lexists(name) or path.suffix or "/" in name or os.sep in name:
        return load_file(path)
    raise CascadeError(f"no library cascade or file named {name!r}; library: "
                       f"{', '.join(library_names())}")

