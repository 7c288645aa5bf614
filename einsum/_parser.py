"""Parser of the cascade text form.

One statement per line, ``#`` starts a comment:

* an Einsum, ``SLD[m1,p] = SLN[m1,m0,p] reduce + over m0``;
* an initial value of an iterative tensor, ``RM[0,p] = -inf``;
* a rank split, ``M -> M1, M0`` (the word ``split`` may precede it);
* a default shape, ``M0 = 256``;
* declarations ``input Q[e,p], K[e,m]``, ``output AV[f,p]`` and ``stream M``.

Numbers are ASCII digits (at most 100 characters, finite as 64-bit floats); expressions and
where conditions nest at most :data:`MAX_NESTING` levels (parentheses, calls, signs, ``not``)
and are at most :data:`MAX_NESTING` operators deep, so that no later walk of the tree runs
out of stack.

>>> statements = parse_statements("GM[p] = QK[m,p] reduce max over m")
>>> str(statements.einsums[0].expr)
'QK[m,p]'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from ._errors import CascadeError, check_characters
from ._ir import (
    Bound,
    Compose,
    Const,
    Einsum,
    Expr,
    Index,
    Next,
    Op,
    Ref,
    Split,
    TensorDecl,
    Var,
    Zero,
)
from ._operators import MAP_OPERATORS, REDUCE_OPERATORS
from ._predicate import (
    Both,
    Compare,
    Cond,
    Either,
    IAbs,
    IExpr,
    ILog2,
    INum,
    IOp,
    IPow2,
    ISize,
    IVar,
    Negation,
)

__all__ = ["MAX_NESTING", "MAX_NUMBER_CHARACTERS", "Statements", "parse_statements"]

MAX_NESTING = 100
"""Deepest nesting of an expression or where condition, and most operators deep."""
MAX_NUMBER_CHARACTERS = 100
"""Longest number literal (Python's int() refuses more than 4300 digits, and is slow)."""

# re.ASCII: \d and \s must not match Arabic-Indic or fullwidth digits, nor Unicode spaces.
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>->|<=|>=|==|!=|//|[\[\](),=+\-*/<>%]))",
    re.ASCII,
)
_Node = TypeVar("_Node")
_WHOLE = re.compile(r"[0-9]+\Z")
_VARIABLE = re.compile(r"[a-z][a-z0-9]*\Z")
_RANK = re.compile(r"[A-Z][A-Z0-9]*\Z")
_KEYWORDS = ("input", "output", "stream", "split")


@dataclass
class _Token:
    kind: str
    text: str
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            bad = stripped[position:].lstrip()[:1]
            if not bad.isascii():
                raise CascadeError(f"non-ASCII character {bad!r}; write the ASCII form")
            raise CascadeError(f"unexpected character {bad!r}")
        kind = match.lastgroup or "punct"
        if kind == "number" and len(match.group(kind)) > MAX_NUMBER_CHARACTERS:
            raise CascadeError(f"a number of {len(match.group(kind)):,} characters is too "
                               f"long (the limit is {MAX_NUMBER_CHARACTERS})")
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return tokens


class _Line:
    """Recursive-descent reader over the tokens of one line."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.nesting = 0
        # id -> (node, operators deep); the node is held so that its id is not reused.
        self.depths: dict[int, tuple[object, int]] = {}

    @contextmanager
    def nested(self) -> Iterator[None]:
        """One level deeper in the recursive descent; refused past MAX_NESTING."""
        self.nesting += 1
        try:
            if self.nesting > MAX_NESTING:
                raise CascadeError(f"expression nested more than {MAX_NESTING} levels deep")
            yield
        finally:
            self.nesting -= 1

    def made(self, node: _Node, *parts: object) -> _Node:
        """``node``, built over ``parts``; refused if it is more than MAX_NESTING deep."""
        depth = 1 + max((self.depths.get(id(p), (p, 0))[1] for p in parts), default=0)
        if depth > MAX_NESTING:
            raise CascadeError(f"expression is more than {MAX_NESTING} operators deep; "
                               "split it into several Einsums")
        self.depths[id(node)] = (node, depth)
        return node

    def peek(self, offset: int = 0) -> _Token | None:
        at = self.position + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise CascadeError("unexpected end of line")
        self.position += 1
        return token

    def expect(self, text: str, what: str) -> _Token:
        token = self.peek()
        if token is None or token.text != text:
            found = "end of line" if token is None else repr(token.text)
            raise CascadeError(f"expected {what} but found {found}")
        return self.take()

    def done(self) -> bool:
        return self.position >= len(self.tokens)

    def finish(self) -> None:
        if not self.done():
            raise CascadeError(f"unexpected {self.take().text!r} after the end of the statement")

    # ----- indices and references

    def variable(self) -> str:
        token = self.take()
        if token.kind != "name" or not _VARIABLE.match(token.text):
            raise CascadeError(
                f"expected a rank variable (lower case, like m1) but found {token.text!r}"
            )
        return token.text

    def rank(self) -> str:
        token = self.take()
        if token.kind != "name" or not _RANK.match(token.text):
            raise CascadeError(
                f"expected a rank name (upper case, like M1) but found {token.text!r}"
            )
        return token.text

    def index(self) -> Index:
        token = self.peek()
        if token is None:
            raise CascadeError("unexpected end of line inside '[ ]'")
        if token.kind == "number":
            self.take()
            if token.text != "0":
                raise CascadeError(f"index {token.text} is not allowed; only 0 (initial value)")
            return Zero()
        if token.kind == "name" and _RANK.match(token.text):
            return Bound(self.rank())
        name = self.variable()
        if self.at("+"):
            self.take()
            step = self.take()
            if step.text != "1":
                raise CascadeError(f"an iterative index steps by 1, not by {step.text!r}")
            return Next(name)
        if self.at("*"):
            self.take()
            tile = self.rank()
            self.expect("+", "'+' in a split index like m1*M0+m0")
            return Compose(name, tile, self.variable())
        return Var(name)

    def reference(self, name: str) -> Ref:
        self.expect("[", "'['")
        indices: list[Index] = []
        if not self.at("]"):
            indices.append(self.index())
            while self.at(","):
                self.take()
                indices.append(self.index())
        self.expect("]", "',' or ']' in an index list")
        return Ref(name, tuple(indices))

    def tensor_name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise CascadeError(f"expected a tensor name but found {token.text!r}")
        return token.text

    # ----- expressions: + - < * / < unary - < primary

    def expression(self) -> Expr:
        left = self.term()
        while self.at("+") or self.at("-"):
            op = self.take().text
            right = self.term()
            left = self.made(Op(op, (left, right)), left, right)
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.at("*") or self.at("/"):
            op = self.take().text
            right = self.unary()
            left = self.made(Op(op, (left, right)), left, right)
        return left

    def unary(self) -> Expr:
        if self.at("-"):
            self.take()
            with self.nested():
                operand = self.unary()
            if isinstance(operand, Const):
                return Const(-operand.value)
            return self.made(Op("neg", (operand,)), operand)
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek()
        if token is None:
            raise CascadeError("expected an operand but found end of line")
        if token.kind == "number":
            self.take()
            return Const(_float(token.text))
        if token.text == "(":
            self.take()
            with self.nested():
                inner = self.expression()
            self.expect(")", "')'")
            return inner
        if token.kind != "name":
            raise CascadeError(f"expected an operand but found {token.text!r}")
        self.take()
        if token.text == "inf" and not self.at("[") and not self.at("("):
            return Const(math.inf)
        if self.at("("):
            with self.nested():
                return self.call(token.text)
        if self.at("["):
            return self.reference(token.text)
        raise CascadeError(f"{token.text!r} needs an index list like {token.text}[m,p]")

    def call(self, name: str) -> Op:
        operator = MAP_OPERATORS.get(name)
        if operator is None or operator.infix:
            raise CascadeError(f"unknown operator {name!r}; known: {_known_functions()}")
        self.expect("(", "'('")
        args = [self.expression()]
        while self.at(","):
            self.take()
            args.append(self.expression())
        self.expect(")", "',' or ')' after an argument")
        if len(args) != operator.arity:
            raise CascadeError(
                f"operator {name!r} takes {operator.arity} argument(s), got {len(args)}"
            )
        return self.made(Op(name, tuple(args)), *args)

    # ----- where conditions

    def condition(self) -> Cond:
        left = self.conjunction()
        while self.at("or"):
            self.take()
            right = self.conjunction()
            left = self.made(Either(left, right), left, right)
        return left

    def conjunction(self) -> Cond:
        left = self.negation()
        while self.at("and"):
            self.take()
            right = self.negation()
            left = self.made(Both(left, right), left, right)
        return left

    def negation(self) -> Cond:
        if self.at("not"):
            self.take()
            with self.nested():
                inner = self.negation()
            return self.made(Negation(inner), inner)
        if self.at("("):
            start = self.position
            try:
                self.take()
                with self.nested():
                    inner = self.condition()
                self.expect(")", "')'")
                return inner
            except CascadeError:
                self.position = start  # a parenthesised integer expression instead
        left = self.integer()
        token = self.peek()
        if token is None or token.text not in ("<", "<=", ">", ">=", "==", "!="):
            found = "end of line" if token is None else repr(token.text)
            raise CascadeError(f"expected a comparison (< <= > >= == !=) in the where "
                               f"condition but found {found}")
        self.take()
        right = self.integer()
        return self.made(Compare(token.text, left, right), left, right)

    def integer(self) -> IExpr:
        left = self.integer_term()
        while self.at("+") or self.at("-"):
            op = self.take().text
            right = self.integer_term()
            left = self.made(IOp(op, left, right), left, right)
        return left

    def integer_term(self) -> IExpr:
        left = self.integer_factor()
        while self.at("*") or self.at("//") or self.at("%"):
            op = self.take().text
            right = self.integer_factor()
            left = self.made(IOp(op, left, right), left, right)
        return left

    def integer_factor(self) -> IExpr:
        token = self.take()
        if token.text == "-":
            with self.nested():
                inner = self.integer_factor()
            return self.made(IOp("-", INum(0), inner), inner)
        if token.text == "(":
            with self.nested():
                inner = self.integer()
            self.expect(")", "')'")
            return inner
        if token.kind == "number":
            if not _WHOLE.match(token.text):
                raise CascadeError(f"where conditions use whole numbers, not {token.text}")
            return INum(int(token.text))
        if token.text in ("abs", "log2", "pow2") and self.at("("):
            self.take()
            with self.nested():
                inner = self.integer()
            self.expect(")", "')'")
            made = {"abs": IAbs, "log2": ILog2, "pow2": IPow2}[token.text](inner)
            return self.made(made, inner)
        if token.kind == "name" and _VARIABLE.match(token.text):
            return IVar(token.text)
        if token.kind == "name" and _RANK.match(token.text):
            return ISize(token.text)
        raise CascadeError(f"unexpected {token.text!r} in the where condition")

    def reduce_clause(self) -> tuple[str, tuple[str, ...]]:
        self.take()  # 'reduce'
        token = self.take()
        if token.text not in REDUCE_OPERATORS:
            raise CascadeError(
                f"unknown reduction operator {token.text!r}; known: {', '.join(REDUCE_OPERATORS)}"
            )
        over = self.take()
        if over.text != "over":
            raise CascadeError(f"expected 'over' after 'reduce {token.text}'")
        ranks = [self.variable()]
        while self.at(","):
            self.take()
            ranks.append(self.variable())
        return token.text, tuple(ranks)


def _float(text: str) -> float:
    """A number literal's value; refused when a 64-bit float cannot hold it."""
    value = float(text)
    if math.isinf(value):
        raise CascadeError(f"number {text} is too large for a 64-bit float")
    if value == 0 and any(c in "123456789" for c in text.lower().partition("e")[0]):
        raise CascadeError(f"number {text} is too small for a 64-bit float (it would be 0)")
    return value


def _known_functions() -> str:
    return ", ".join(name for name, op in MAP_OPERATORS.items() if not op.infix)


@dataclass
class Statements:
    """What the lines of a cascade text declare, before they are joined into a Cascade."""

    einsums: list[Einsum]
    inputs: list[TensorDecl]
    outputs: list[TensorDecl]
    initial: list[tuple[Ref, float, int]]
    splits: list[Split]
    shapes: list[tuple[str, int, int]]
    streams: list[tuple[str, int]]


def _declarations(line: _Line, number: int) -> list[TensorDecl]:
    decls = []
    while True:
        name = line.tensor_name()
        ref = line.reference(name)
        ranks = []
        for index in ref.indices:
            if not isinstance(index, Var):
                raise CascadeError(f"a declaration lists plain rank variables, not {index}")
            ranks.append(index.name.upper())
        decls.append(TensorDecl(name, tuple(ranks), line=number))
        if line.done():
            return decls
        line.expect(",", "',' between declarations")


def _statement(line: _Line, number: int, into: Statements) -> None:
    first, second = line.peek(), line.peek(1)
    assert first is not None
    if first.text in _KEYWORDS and second is not None and second.kind == "name":
        line.take()
        if first.text == "input":
            into.inputs.extend(_declarations(line, number))
        elif first.text == "output":
            into.outputs.extend(_declarations(line, number))
        elif first.text == "stream":
            into.streams.append((line.rank(), number))
            line.finish()
        else:
            _split(line, number, into)
        return
    if second is not None and second.text == "->":
        _split(line, number, into)
        return
    if first.kind == "name" and second is not None and second.text == "=":
        if not _RANK.match(first.text):
            raise CascadeError(f"a default shape names a rank in upper case, not {first.text!r}")
        line.take()
        line.take()
        value = line.take()
        if value.text == "-":
            raise CascadeError(f"shape {first.text} must be a positive whole number")
        if value.kind != "number" or not _WHOLE.match(value.text):
            raise CascadeError(
                f"expected {first.text}[...] with an index list, or a default shape"
                f" {first.text} = <whole number>"
            )
        line.finish()
        into.shapes.append((first.text, int(value.text), number))
        return
    output = line.reference(line.tensor_name())
    line.expect("=", "'=' after the output")
    expr = line.expression()
    if any(isinstance(i, Zero) for i in output.indices):
        if not isinstance(expr, Const) or not line.done():
            raise CascadeError(f"initial value of {output.tensor} must be a constant")
        into.initial.append((output, expr.value, number))
        return
    reduce_op, reduce_ranks = None, ()
    if not line.done() and not line.at("where"):
        token = line.peek()
        assert token is not None
        if token.text != "reduce":
            raise CascadeError(f"unexpected {token.text!r}; expected an operator, 'reduce' "
                               "or 'where'")
        reduce_op, reduce_ranks = line.reduce_clause()
    where = None
    if line.at("where"):
        line.take()
        where = line.condition()
    line.finish()
    into.einsums.append(Einsum(output, expr, reduce_op, reduce_ranks, where=where,
                               line=number))


def _split(line: _Line, number: int, into: Statements) -> None:
    whole = line.rank()
    line.expect("->", "'->' in a split like M -> M1, M0")
    outer = line.rank()
    line.expect(",", "',' between the parts of a split")
    inner = line.rank()
    line.finish()
    into.splits.append(Split(whole, outer, inner, line=number))


def parse_statements(text: str, *, file: str | None = None, first_line: int = 1) -> Statements:
    """Parse every line of ``text``; errors carry ``file`` and the line number."""
    check_characters(text, file=file, first_line=first_line)
    into = Statements([], [], [], [], [], [], [])
    for offset, raw in enumerate(text.splitlines()):
        number = first_line + offset
        content = raw.split("#", 1)[0]
        if not content.strip():
            continue
        try:
            _statement(_Line(_tokenize(content)), number, into)
        except CascadeError as error:
            raise error.located(file=file, line=number) from None
    return into
