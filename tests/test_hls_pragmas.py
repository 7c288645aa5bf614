"""Pragma consistency of every emitted HLS kernel, read from its C++ as Vitis would read it:

* every loop Vitis unrolls (an explicit UNROLL, or any loop inside a pipelined loop) indexes
  a local array along that loop's variable only in a dimension partitioned (or reshaped)
  completely, or cyclically by at least the unroll factor: the lanes read in parallel;
* no pipelined loop contains a loop whose bound is not a compile-time constant (a loop Vitis
  cannot unroll serialises the pipeline: the defect the old SLNV loop had);
* every loop whose bound is not a constant carries a LOOP_TRIPCOUNT (else Vitis reports its
  latency as unknown);
* every DATAFLOW region is canonical: only stream declarations, STREAM pragmas and calls,
  each stream written by one call and read by one other;
* every PIPELINE and DEPENDENCE pragma sits in a loop, and a DEPENDENCE's variable is an
  array of that function.

The checker is tested on hand-written code breaking each rule, then run on every kernel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hls_templates import emit_hls
from sim import architecture

_PRAGMA = re.compile(r"PRAGMA_HLS\(HLS (\w+)([^)]*)\)")
_FOR = re.compile(r"\bfor\s*\(")
_CONST = re.compile(r"\bstatic const int ([^;]+);")
_FUNCTION = re.compile(r"^(?:static\s+|inline\s+)*(?:[\w:<>,]+\s+)+\**(\w+)\(", re.M)


def _match(text: str, start: int, open_: str, close: str) -> int:
    """Index just past the bracket matching the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_:
            depth += 1
        elif text[i] == close:
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError(f"unbalanced {open_} at {start}")


def _statement_end(text: str, start: int) -> int:
    """End of the statement starting at ``start`` (a block, a for, an if/else, or `...;`)."""
    i = start
    while text[i].isspace():
        i += 1
    if text[i] == "{":
        return _match(text, i, "{", "}")
    word = re.match(r"(for|if)\s*\(", text[i:])
    if word:
        head = _match(text, i + text[i:].index("("), "(", ")")
        end = _statement_end(text, head)
        if word.group(1) == "if":
            rest = re.match(r"\s*else\b", text[end:])
            if rest:
                end = _statement_end(text, end + rest.end())
        return end
    depth = 0
    while True:
        c = text[i]
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1


@dataclass
class _Loop:
    var: str
    bound: str
    body: str
    start: int
    end: int
    pragmas: list[tuple[str, str]] = field(default_factory=list)
    children: list[_Loop] = field(default_factory=list)

    def pragma(self, name: str) -> str | None:
        return next((args for kind, args in self.pragmas if kind == name), None)


def _loops(text: str, offset: int = 0) -> list[_Loop]:
    """The loops of ``text`` (outermost first), each with its nested loops."""
    found: list[_Loop] = []
    position = 0
    while (m := _FOR.search(text, position)) is not None:
        head_end = _match(text, m.end() - 1, "(", ")")
        header = text[m.end():head_end - 1]
        parts = header.split(";")
        var = re.match(r"\s*(?:int|unsigned)\s+(\w+)", parts[0])
        bound = re.match(r"\s*\w+\s*<\s*(.+)$", parts[1].strip()) if len(parts) > 1 else None
        end = _statement_end(text, head_end)
        body = text[head_end:end]
        loop = _Loop(var.group(1) if var else "?", bound.group(1).strip() if bound else "?",
                     body, offset + m.start(), offset + end)
        loop.children = _loops(body, offset + head_end)
        own = body
        for child in loop.children:  # pragmas of this loop only
            a, b = child.start - offset - head_end, child.end - offset - head_end
            own = own[:a] + " " * (b - a) + own[b:]
        loop.pragmas = [(k.upper(), a) for k, a in _PRAGMA.findall(own)]
        found.append(loop)
        position = end
    return found


def _walk(loops: list[_Loop]) -> list[_Loop]:
    return [x for loop in loops for x in (loop, *_walk(loop.children))]


def _constant(expression: str, constants: dict[str, int]) -> int | None:
    names = re.findall(r"[A-Za-z_]\w*", expression)
    if any(n not in constants for n in names) or not re.fullmatch(r"[\w\s+\-*/()]+",
                                                                    expression):
        return None
    return int(eval(expression, {"__builtins__": {}}, dict(constants)))


def _constants(sources: str) -> dict[str, int]:
    constants: dict[str, int] = {}
    for group in _CONST.findall(sources):
        for item in group.split(","):
            name, _, value = item.partition("=")
            number = _constant(value.strip(), constants)
            if number is not None:
                constants[name.strip()] = number
    return constants


def _arrays(body: str) -> dict[str, int]:
    """Local arrays of a function body: name -> dimensions."""
    arrays: dict[str, int] = {}
    for line in body.splitlines():
        line = line.split("//")[0].strip()
        m = re.match(r"(?:static\s+)?(?:const\s+)?[\w:]+(?:<[^;=]*?>)?\s+(.*?)(?:=.*)?;$", line)
        if not m or line.startswith(("return", "if", "for", "else")):
            continue
        for declarator in re.split(r",\s*(?=\w+\[)", m.group(1)):
            d = re.match(r"(\w+)((?:\[[^\]]+\])+)", declarator.strip())
            if d:
                arrays[d.group(1)] = d.group(2).count("[")
    return arrays


def _partitions(body: str, constants: dict[str, int]) -> dict[str, dict[int, int | None]]:
    """name -> dim -> partitioned lanes (None: complete); dim 0 means every dimension."""
    out: dict[str, dict[int, int | None]] = {}
    for kind, args in _PRAGMA.findall(body):
        if kind.upper() not in ("ARRAY_PARTITION", "ARRAY_RESHAPE"):
            continue
        fields = dict(re.findall(r"(\w+)=(\S+)", args))
        factor = None if fields.get("type", "complete") == "complete" else \
            _constant(fields.get("factor", "1"), constants)
        out.setdefault(fields["variable"], {})[int(fields.get("dim", "1"))] = factor
    return out


def _indices(body: str, name: str) -> list[list[str]]:
    """Index expressions of every access ``name[...]...`` in ``body`` (not ``x.name[``)."""
    found = []
    for m in re.finditer(rf"(?<![\w.]){name}\[", body):
        i, dims = m.end() - 1, []
        while i < len(body) and body[i] == "[":
            end = _match(body, i, "[", "]")
            dims.append(body[i + 1:end - 1])
            i = end
        found.append(dims)
    return found


def _functions(sources: str) -> dict[str, str]:
    bodies = {}
    for m in _FUNCTION.finditer(sources):
        start = _match(sources, m.end() - 1, "(", ")")
        rest = sources[start:start + 200].lstrip()
        if not rest.startswith("{"):
            continue
        brace = sources.index("{", start)
        bodies[m.group(1)] = sources[brace:_match(sources, brace, "{", "}")]
    return bodies


def check(sources: str) -> list[str]:
    """Every violation of the rules in the module docstring, one line each."""
    constants = _constants(sources)
    problems: list[str] = []
    for function, body in _functions(sources).items():
        arrays, parts = _arrays(body), _partitions(body, constants)
        loops = _loops(body)
        pipelined_inside: set[int] = set()
        for loop in _walk(loops):
            label = f"{function}: loop over {loop.var}"
            bound = _constant(loop.bound, constants)
            if loop.pragma("PIPELINE") is not None:
                for inner in _walk(loop.children):
                    pipelined_inside.add(id(inner))
                    if _constant(inner.bound, constants) is None:
                        problems.append(f"{label} is pipelined around a loop over {inner.var} "
                                        f"without a constant bound ({inner.bound})")
            if bound is None and id(loop) not in pipelined_inside \
                    and loop.pragma("LOOP_TRIPCOUNT") is None:
                problems.append(f"{label} has a variable bound ({loop.bound}) and no "
                                "LOOP_TRIPCOUNT")
            for kind, args in loop.pragmas:
                if kind == "DEPENDENCE":
                    variable = re.search(r"variable=(\w+)", args)
                    if not variable or variable.group(1) not in arrays:
                        problems.append(f"{label}: DEPENDENCE on {args.strip()} names no array "
                                        "of the function")
        for loop in _walk(loops):
            unrolled = id(loop) in pipelined_inside or loop.pragma("UNROLL") is not None
            if not unrolled:
                continue
            factor = _constant(loop.bound, constants)
            explicit = re.search(r"factor=(\w+)", loop.pragma("UNROLL") or "")
            if explicit:
                factor = _constant(explicit.group(1), constants)
            for name in arrays:
                for access in _indices(loop.body, name):
                    for dim, expression in enumerate(access, start=1):
                        if not re.search(rf"\b{loop.var}\b", expression):
                            continue
                        lanes = parts.get(name, {})
                        got = lanes.get(dim, lanes.get(0, "none"))
                        if got is None or (got != "none" and factor is not None
                                           and isinstance(got, int) and got >= factor):
                            continue
                        problems.append(f"{function}: {name} is read or written by the "
                                        f"unrolled loop over {loop.var} in dimension {dim} "
                                        f"({expression}), which is "
                                        + ("not partitioned" if got == "none"
                                           else f"partitioned by {got} only"))
        if re.search(r"PRAGMA_HLS\(HLS DATAFLOW\)", body):
            problems += _dataflow(function, body)
    return sorted(set(problems))


def _dataflow(function: str, body: str) -> list[str]:
    problems = []
    inner = body[body.index("{") + 1:body.rindex("}")]
    statements = [s.strip() for s in re.split(r";|\n", inner) if s.strip()]
    calls: list[str] = []
    streams = []
    for s in statements:
        if s.startswith("PRAGMA_HLS(") or s.startswith("//"):
            continue
        declared = re.match(r"hls::stream<.+>\s+(\w+)\(\"\w+\"\)$", s)
        if declared:
            streams.append(declared.group(1))
        elif re.match(r"\w+\(.*\)$", s):
            calls.append(s)
        else:
            problems.append(f"{function}: DATAFLOW region holds `{s}`, not only streams and "
                            "calls")
    for stream in streams:
        users = [c for c in calls if re.search(rf"\b{stream}\b", c)]
        if len(users) != 2:
            problems.append(f"{function}: stream {stream} is used by {len(users)} calls, "
                            "not one producer and one consumer")
    return problems


# ----- the checker on code that breaks each rule

_HEADER = "static const int N = 8, L = 4;\n"


@pytest.mark.parametrize(("code", "message"), [
    ("""static void f(int x[N], int y[N]) {
    int a[N];
    for (int i = 0; i < N; i++) {
PRAGMA_HLS(HLS PIPELINE II=1)
        for (int l = 0; l < L; l++) a[i * L + l] = x[l];
    }
}""", "f: a is read or written by the unrolled loop over l in dimension 1 (i * L + l), "
       "which is not partitioned"),
    ("""static void f(int x[N]) {
    int a[N][L];
PRAGMA_HLS(HLS ARRAY_PARTITION variable=a type=cyclic factor=2 dim=2)
    for (int i = 0; i < N; i++) {
PRAGMA_HLS(HLS UNROLL)
        a[i][0] = x[i];
    }
}""", "f: a is read or written by the unrolled loop over i in dimension 1 (i), which is "
       "not partitioned"),
    ("""static void f(int x[N]) {
    int a[N][L];
PRAGMA_HLS(HLS ARRAY_PARTITION variable=a type=cyclic factor=2 dim=2)
    for (int i = 0; i < N; i++) {
PRAGMA_HLS(HLS PIPELINE II=1)
        for (int l = 0; l < L; l++) a[i][l] = x[l];
    }
}""", "f: a is read or written by the unrolled loop over l in dimension 2 (l), which is "
       "partitioned by 2 only"),
    ("""static void f(int n, int x[N]) {
    for (int i = 0; i < N; i++) {
PRAGMA_HLS(HLS PIPELINE II=1)
        for (int m = 0; m < n; m++) x[i] += m;
    }
}""", "f: loop over i is pipelined around a loop over m without a constant bound (n)"),
    ("""static void f(int n, int x[N]) {
    for (int i = 0; i < n; i++) {
PRAGMA_HLS(HLS PIPELINE II=1)
        x[0] += i;
    }
}""", "f: loop over i has a variable bound (n) and no LOOP_TRIPCOUNT"),
    ("""static void f(hls::stream<int> &a, hls::stream<int> &b) {
PRAGMA_HLS(HLS DATAFLOW)
    hls::stream<int> s("s");
    g(a, s);
    for (int i = 0; i < N; i++) h(s, b);
}""", "f: DATAFLOW region holds `for (int i = 0`, not only streams and calls"),
    ("""static void f(hls::stream<int> &a, hls::stream<int> &b) {
PRAGMA_HLS(HLS DATAFLOW)
    hls::stream<int> s("s");
    g(a, s);
    h(s, b);
    k(s, b);
}""", "f: stream s is used by 3 calls, not one producer and one consumer"),
    ("""static void f(int x[N]) {
    int total = 0;
    for (int i = 0; i < N; i++) {
PRAGMA_HLS(HLS PIPELINE II=1)
PRAGMA_HLS(HLS DEPENDENCE variable=total type=inter direction=RAW distance=4 true)
        total += x[i];
    }
}""", "f: loop over i: DEPENDENCE on variable=total type=inter direction=RAW distance=4 true "
       "names no array of the function"),
])
def test_the_checker_finds_each_defect(code: str, message: str) -> None:
    assert message in check(_HEADER + code), check(_HEADER + code)


def test_the_checker_passes_consistent_code() -> None:
    code = _HEADER + """static void f(int n, int x[N][L], hls::stream<int> &out) {
    int a[N][L];
PRAGMA_HLS(HLS ARRAY_PARTITION variable=a type=complete dim=2)
    int b[N * L];
PRAGMA_HLS(HLS ARRAY_PARTITION variable=b type=cyclic factor=L dim=1)
    for (int i = 0; i < n; i++) {
PRAGMA_HLS(HLS PIPELINE II=1)
PRAGMA_HLS(HLS LOOP_TRIPCOUNT min=1 max=8 avg=4)
PRAGMA_HLS(HLS DEPENDENCE variable=a type=inter direction=RAW distance=4 true)
        for (int l = 0; l < L; l++) {
            a[i][l] = x[i][l] + b[l];
            out.write(a[i][l]);
        }
    }
}"""
    assert check(code) == []


# ----- every kernel as emitted

CONFIGURATIONS = {
    "fusemax": ("fusemax", {"P": 9, "M": 40, "E": 20, "F": 36, "M0": 16}, {}),
    "fusemax_array8": ("fusemax", {"P": 8, "M": 64, "E": 64, "F": 64, "M0": 16}, {"array": 8}),
    "softmax": ("softmax", {"P": 70, "M": 9}, {}),
    "gelu": ("gelu", {"N": 40}, {}),
    "linear_streamed": ("linear", {"T": 3, "K": 20, "N": 24}, {}),
    "linear_resident": ("linear", {"T": 20, "K": 20, "N": 24}, {}),
    "linear_gelu": ("linear_gelu", {"T": 2, "K": 8, "N": 16}, {}),
    "encoder": ("encoder", {"T": 6, "D": 8, "H": 2, "FF": 16, "M0": 4}, {}),
    "encoder_bert_shape": ("encoder", {"T": 8, "D": 768, "H": 12, "FF": 3072}, {}),
}


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from hls_templates import build_kernel
    from hls_templates import emit_hls as emit

    root = tmp_path_factory.mktemp("pragmas")
    sources = {}
    for name, (kernel, sizes, changes) in CONFIGURATIONS.items():
        arch = architecture("zcu102", **changes)
        if name == "encoder_bert_shape":  # its C++ without its 64 MB of vectors
            from hls_templates import render_sources
            files = render_sources(build_kernel(kernel, arch, sizes), arch, name)
            sources[name] = "".join(text for path, text in sorted(files.items())
                                    if path.startswith("src/"))
            continue
        emit(kernel, arch, sizes, out=root / name, project=name)
        sources[name] = "".join(p.read_text() for p in sorted((root / name / "src").iterdir()))
    return sources


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_every_kernel_is_consistent(emitted: dict[str, str], name: str) -> None:
    assert check(emitted[name]) == []


def test_the_checker_sees_the_kernels_loops(emitted: dict[str, str]) -> None:
    """Not vacuous: the kernels have pipelined loops with unrolled lanes over partitioned
    arrays, variable-bound loops with trip counts and DATAFLOW regions."""
    for name, sources in emitted.items():
        bodies = _functions(sources)
        loops = [loop for body in bodies.values() for loop in _walk(_loops(body))]
        pipelined = [x for x in loops if x.pragma("PIPELINE") is not None]
        assert pipelined and any(x.children for x in pipelined), name
        assert any(x.pragma("LOOP_TRIPCOUNT") is not None for x in loops) or \
            name in ("gelu", "softmax"), name
        assert any("DATAFLOW" in body for body in bodies.values()), name
        assert any(_partitions(body, _constants(sources)) for body in bodies.values()), name


def test_emit_hls_is_the_renderer(tmp_path: Path) -> None:
    """The sources checked above for BERT's shape are the files emit-hls writes."""
    from hls_templates import build_kernel, render_sources

    arch = architecture("zcu102")
    sizes = {"T": 6, "D": 8, "H": 2, "FF": 16, "M0": 4}
    emit_hls("encoder", arch, sizes, out=tmp_path / "e", project="e")
    files = render_sources(build_kernel("encoder", arch, sizes), arch, "e")
    for path, text in files.items():
        if path.startswith("src/"):
            assert (tmp_path / "e" / path).read_text() == text, path


def test_the_checker_catches_defects_in_a_real_kernel() -> None:
    from hls_templates import build_kernel, render_sources

    arch = architecture("zcu102")
    files = render_sources(build_kernel("fusemax", arch, {"P": 9, "M": 40, "E": 20, "F": 36,
                                                          "M0": 16}), arch, "f")
    sources = "".join(text for path, text in sorted(files.items()) if path.startswith("src/"))
    assert check(sources) == []
    broken = sources.replace(
        "PRAGMA_HLS(HLS ARRAY_PARTITION variable=exp_table type=complete dim=1)\n", "").replace(
        "for (int l = 0; l < ATT_L; l++) partial", "for (int l = 0; l < keys; l++) partial")
    assert check(broken) == [
        "att_scores: loop over i is pipelined around a loop over l without a constant bound "
        "(keys)",
        "att_softmax_av: exp_table is read or written by the unrolled loop over b in "
        "dimension 1 (b), which is not partitioned"]
