"""Property tests: no input crashes the parser with anything but CascadeError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einsum import CascadeError, load_yaml_text, parse_text, to_text, to_yaml

FRAGMENTS = st.sampled_from([
    "QK", "Q", "K", "RM", "[", "]", "(", ")", ",", "=", "+", "-", "*", "/", "m", "m+1", "p",
    "e", "m1", "m0", "M", "M1", "M0", "0", "1", "2.5", "-inf", "inf", "exp", "max", "min",
    "tanh", "reduce", "over", "->", "input", "output", "stream", "split", "#", " ", "  ",
    "m1*M0+m0", "\t", "\u22c1", "\u00b7", ";", "\n", "[m,p]", "[e,p]", "[0,p]", "X", "_",
])
LINES = st.lists(FRAGMENTS, max_size=14).map("".join)
TEXTS = st.lists(LINES, min_size=1, max_size=6).map("\n".join)
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _one_line_error(error: CascadeError) -> None:
    assert "\n" not in str(error) and error.message


@SETTINGS
@given(TEXTS)
def test_random_text_raises_only_cascade_error(text: str) -> None:
    try:
        parse_text(text, name="random", file="random.cascade")
    except CascadeError as error:
        _one_line_error(error)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_unicode_raises_only_cascade_error(text: str) -> None:
    try:
        parse_text(text, name="random")
    except CascadeError as error:
        _one_line_error(error)


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS
    | st.sampled_from(["!!python/object:os.system", "-inf", "M -> M1, M0", "Q[e,p]"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["name", "title", "cascade", "inputs", "outputs", "splits",
                          "initial", "shapes", "stream", "bogus"])


@SETTINGS
@given(st.dictionaries(FIELDS, YAML_VALUES, max_size=6), st.booleans())
def test_random_yaml_raises_only_cascade_error(data: dict[str, object], tag: bool) -> None:
    text = yaml.safe_dump(data)
    if tag:
        text += "extra: !!python/object/apply:os.system ['true']\n"
    try:
        load_yaml_text(text, file="random.yaml")
    except CascadeError as error:
        _one_line_error(error)


@SETTINGS
@given(st.text(alphabet="{}[]:,-!&*|>'\"\n #abcM0", max_size=80))
def test_broken_yaml_syntax_raises_only_cascade_error(text: str) -> None:
    try:
        load_yaml_text(text, file="broken.yaml")
    except CascadeError as error:
        _one_line_error(error)


# ----- random valid cascades round-trip

RANKS = ["m", "p", "e"]


@st.composite
def cascades(draw: st.DrawFn) -> str:
    """A chain of Einsums over ranks m, p, e with random map and reduce operators."""
    lines = []
    available = [("X", ("m", "p", "e"))]
    for i in range(draw(st.integers(1, 5))):
        src, src_ranks = draw(st.sampled_from(available))
        other, other_ranks = draw(st.sampled_from(available))
        keep = tuple(r for r in src_ranks if draw(st.booleans())) or (src_ranks[0],)
        op = draw(st.sampled_from(["+", "-", "*", "/", "max", "min"]))
        a, b = f"{src}[{','.join(src_ranks)}]", f"{other}[{','.join(other_ranks)}]"
        expr = f"{op}({a}, {b})" if op in ("max", "min") else f"{a} {op} {b}"
        if draw(st.booleans()):
            expr = f"exp({expr})"
        reduced = [r for r in dict.fromkeys(src_ranks + other_ranks) if r not in keep]
        clause = ""
        if reduced and draw(st.booleans()):
            clause = f" reduce {draw(st.sampled_from(['+', 'max', 'min']))} over " \
                     f"{', '.join(reduced)}"
        name = f"T{i}"
        lines.append(f"{name}[{','.join(keep)}] = {expr}{clause}")
        available.append((name, keep))
    if draw(st.booleans()):
        lines.insert(0, "RS[0,p] = 0")
        lines.append("RS[m+1,p] = RS[m,p] + X[m,p,e] reduce + over e")
    return "\n".join(lines)


@SETTINGS
@given(cascades())
def test_valid_cascades_round_trip(text: str) -> None:
    c = parse_text(text, name="random")
    assert parse_text(to_text(c), name="random") == c
    assert load_yaml_text(to_yaml(c)) == c
