"""Fixed-point type bit-exact against Xilinx's ap_fixed headers (from the hls4ml wheel).

One C++ harness per half of the quantisation modes is compiled with g++ (in parallel,
cached by source hash); every (Q, O) combination runs five type triples, 4,000 random
input pairs each, and five operations per pair (two assignments from double, and the
product, sum and difference assigned to a third type): 100,000 operations per mode
combination, compared raw bit for raw bit.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sim import OVERFLOW, QUANTISATION, Fixed, FixedType, ap_types_include

TRIPLES = [
    ("ap_fixed<16,6>", "ap_fixed<12,3>", "ap_fixed<18,7>"),
    ("ap_fixed<32,10>", "ap_fixed<32,10>", "ap_fixed<32,10>"),    # Edge-MoE activations
    ("ap_ufixed<20,4>", "ap_fixed<64,20>", "ap_fixed<64,30>"),    # 64-bit, mixed sign
    ("ap_fixed<8,-2>", "ap_fixed<24,2>", "ap_fixed<12,4>"),       # negative integer bits
    ("ap_fixed<6,8>", "ap_fixed<16,8>", "ap_fixed<20,12>"),       # more integer than width
]
COMBINATIONS = list(itertools.product(QUANTISATION, OVERFLOW))
PAIRS = 4000
OPERATIONS = ("a = x", "b = y", "c = a * b", "c = a + b", "c = a - b")

_RUN = """\
template <class A, class B, class C> void run(const char* in, const char* out) {
  std::FILE* f = std::fopen(in, "rb");
  std::vector<double> v;
  double d;
  while (std::fread(&d, sizeof d, 1, f) == 1) v.push_back(d);
  std::fclose(f);
  std::FILE* g = std::fopen(out, "wb");
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    A a = v[i];
    B b = v[i + 1];
    C m = a * b;
    C s = a + b;
    C t = a - b;
    std::uint64_t r[5] = {a.range(A::width - 1, 0).to_uint64(),
                          b.range(B::width - 1, 0).to_uint64(),
                          m.range(C::width - 1, 0).to_uint64(),
                          s.range(C::width - 1, 0).to_uint64(),
                          t.range(C::width - 1, 0).to_uint64()};
    std::fwrite(r, sizeof r, 1, g);
  }
  std::fclose(g);
}
"""


def _typed(text: str, q: str, o: str) -> str:
    return f"{text[:-1]},AP_{q},AP_{o}>"


def _source(modes: list[str]) -> str:
    cases = []
    for q in modes:
        for o in OVERFLOW:
            for t, (a, b, c) in enumerate(TRIPLES):
                index = COMBINATIONS.index((q, o)) * len(TRIPLES) + t
                cases.append(f"    case {index}: run<{_typed(a, q, o)}, {_typed(b, q, o)}, "
                             f"{_typed(c, q, o)}>(argv[2], argv[3]); break;")
    return "\n".join([
        "#include <cstdint>", "#include <cstdio>", "#include <cstdlib>", "#include <vector>",
        '#include "ap_fixed.h"', _RUN, "int main(int argc, char** argv) {",
        "  if (argc != 4) return 2;", "  switch (std::atoi(argv[1])) {", *cases,
        "    default: return 3;", "  }", "  return 0;", "}", ""])


@pytest.fixture(scope="module")
def harnesses(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    cache = Path(os.environ.get("CASCADE_BUILD_CACHE",
                                Path.home() / ".cache" / "cascade" / "ap_fixed"))
    cache.mkdir(parents=True, exist_ok=True)
    halves = [QUANTISATION[:4], QUANTISATION[4:]]
    binaries, jobs = [], []
    for modes in halves:
        source = _source(list(modes))
        digest = hashlib.sha256(source.encode() + str(ap_types_include()).encode()).hexdigest()
        binary = cache / f"harness-{digest[:16]}"
        binaries.append(binary)
        if not binary.exists():
            cpp = cache / f"harness-{digest[:16]}.cpp"
            cpp.write_text(source)
            jobs.append(subprocess.Popen(
                ["g++", "-O1", "-std=c++14", "-w", f"-I{ap_types_include()}", str(cpp),
                 "-o", f"{binary}.tmp"], stderr=subprocess.PIPE, text=True))
    for job in jobs:
        _, err = job.communicate()
        assert job.returncode == 0, err
    for binary in binaries:
        if Path(f"{binary}.tmp").exists():
            Path(f"{binary}.tmp").rename(binary)
    return binaries


def _inputs(rng: np.random.Generator, t: FixedType, n: int) -> np.ndarray:
    """Values across scales, exact ties (half and quarter LSBs), large magnitudes, zero."""
    values = rng.normal(size=n) * 2.0 ** rng.integers(-12, max(t.integer, 1) + 3, n)
    k = n // 4
    span = 2 ** min(t.width, 50)
    values[:k] = (rng.integers(-span, span, k) + rng.choice([0, 0.5, 0.25], k)) * t.lsb / 2
    values[k: k + 8] = [0.0, -0.0, t.lsb, -t.lsb, t.max_raw * t.lsb, t.min_raw * t.lsb,
                        (t.max_raw + 1) * t.lsb, (t.min_raw - 1) * t.lsb]
    return values


@pytest.mark.parametrize(("q", "o"), COMBINATIONS, ids=[f"{q}-{o}" for q, o in COMBINATIONS])
def test_bit_exact_against_ap_fixed(q: str, o: str, harnesses: list[Path],
                                    tmp_path: Path) -> None:
    binary = harnesses[0 if q in QUANTISATION[:4] else 1]
    rng = np.random.default_rng(COMBINATIONS.index((q, o)))
    operations = 0
    for t, names in enumerate(TRIPLES):
        ta, tb, tc = (FixedType.parse(_typed(n, q, o)) for n in names)
        x, y = _inputs(rng, ta, PAIRS), _inputs(rng, tb, PAIRS)
        pairs = np.empty(2 * PAIRS)
        pairs[0::2], pairs[1::2] = x, y
        pairs.tofile(tmp_path / "in.bin")
        index = COMBINATIONS.index((q, o)) * len(TRIPLES) + t
        subprocess.run([str(binary), str(index), str(tmp_path / "in.bin"),
                        str(tmp_path / "out.bin")], check=True)
        theirs = np.fromfile(tmp_path / "out.bin", dtype=np.uint64).reshape(-1, 5)
        a, b = Fixed.from_float(x, ta), Fixed.from_float(y, tb)
        ours = [a, b, (a * b).cast(tc), (a + b).cast(tc), (a - b).cast(tc)]
        for column, (value, kind) in enumerate(zip(ours, [ta, tb, tc, tc, tc], strict=True)):
            mask = (1 << kind.width) - 1
            bits = np.array([int(r) & mask for r in value.raw], dtype=object)
            wrong = np.flatnonzero(bits != theirs[:, column].astype(object))
            assert not len(wrong), (
                f"{OPERATIONS[column]} with {ta}, {tb} -> {tc}: {len(wrong)} mismatches, "
                f"first x={x[wrong[0]]!r} y={y[wrong[0]]!r}: ours {bits[wrong[0]]:#x}, "
                f"ap_fixed {int(theirs[wrong[0], column]):#x}")
            operations += len(bits)
    assert operations >= 100_000


def test_type_parsing_and_errors() -> None:
    t = FixedType.parse("ap_ufixed<18, 8, AP_RND_CONV, AP_SAT>")
    assert (t.width, t.integer, t.signed, t.quantisation, t.overflow) == (18, 8, False,
                                                                          "RND_CONV", "SAT")
    assert t.c_type() == "ap_ufixed<18,8,AP_RND_CONV,AP_SAT>"
    with pytest.raises(ValueError, match=r"^not a fixed-point type: 'float'"):
        FixedType.parse("float")
    with pytest.raises(ValueError, match=r"^unknown quantisation mode 'RND_UP'"):
        FixedType(8, 3, quantisation="RND_UP")
    with pytest.raises(ValueError, match=r"^fixed-point width must be 1\.\.1024, not 0$"):
        FixedType(0, 0)
