"""Parser of the cascade text form.

One statement per line, ``#`` starts a comment:

* an Einsum, ``SLD[m1,p] = SLN[m1,m0,p] reduce + over m0``;
* an initial value of an iterative tensor, ``RM[0,p] = -inf``;
* a rank split, ``M -> M1, M0`` (the word ``split`` may precede it);
* a default shape, ``M0 = 256``;
* declarations ``input Q[e,p], K[e,m]``, ``output AV[f,p]`` and ``stream M``.

>>> statements = parse_statements("GM[p] = QK[m,p] reduce max over m")
>>> str(statements.einsums[0].expr)
'QK[m,p]'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ._errors import CascadeError
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

__all__ = ["Statements", "parse_statements"]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>->|<=|>=|==|!=|//|[\[\](),=+\-*/<>%]))"
)
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
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return tokens


class _Line:
    """Recursive-descent reader over the tokens of one line."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

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
            left = Op(op, (left, self.term()))
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.at("*") or self.at("/"):
            op = self.take().text
            left = Op(op, (left, self.unary()))
        return left

    def unary(self) -> Expr:
        if self.at("-"):
            self.take()
            operand = self.unary()
            if isinstance(operand, Const):
                return Const(-operand.value)
            return Op("neg", (operand,))
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek()
        if token is None:
            raise CascadeError("expected an operand but found end of line")
        if token.kind == "number":
            self.take()
            return Const(float(token.text))
        if token.text == "(":
            self.take()
            inner = self.expression()
            self.expect(")", "')'")
            return inner
        if token.kind != "name":
            raise CascadeError(f"expected an operand but found {token.text!r}")
        self.take()
        if token.text == "inf" and not self.at("[") and not self.at("("):
            return Const(math.inf)
        if self.at("("):
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
        return Op(name, tuple(args))

    # ----- where conditions

    def condition(self) -> Cond:
        left = self.conjunction()
        while self.at("or"):
            self.take()
            left = Either(left, self.conjunction())
        return left

    def conjunction(self) -> Cond:
        left = self.negation()
        while self.at("and"):
            self.take()
            left = Both(left, self.negation())
        return left

    def negation(self) -> Cond:
        if self.at("not"):
            self.take()
            return Negation(self.negation())
        if self.at("("):
            start = self.position
            try:
                self.take()
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
        return Compare(token.text, left, self.integer())

    def integer(self) -> IExpr:
        left = self.integer_term()
        while self.at("+") or self.at("-"):
            op = self.take().text
            left = IOp(op, left, self.integer_term())
        return left

    def integer_term(self) -> IExpr:
        left = self.integer_factor()
        while self.at("*") or self.at("//") or self.at("%"):
            op = self.take().text
            left = IOp(op, left, self.integer_factor())
        return left

    def integer_factor(self) -> IExpr:
        token = self.take()
        if token.text == "-":
            return IOp("-", INum(0), self.integer_factor())
        if token.text == "(":
            inner = self.integer()
            self.expect(")", "')'")
            return inner
        if token.kind == "number":
            if not token.text.isdigit():
                raise CascadeError(f"where conditions use whole numbers, not {token.text}")
            return INum(int(token.text))
        if token.text in ("abs", "log2", "pow2") and self.at("("):
            self.take()
            inner = self.integer()
            self.expect(")", "')'")
            return {"abs": IAbs, "log2": ILog2, "pow2": IPow2}[token.text](inner)
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
        if value.kind != "number" or not value.text.isdigit():
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
