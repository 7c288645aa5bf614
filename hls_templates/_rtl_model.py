"""The analytical model's cycles for the units the RTL implements, so that RTL cycle counts
are compared with the same cost model that maps whole cascades (sim/_cost.py): the Einsum a
unit computes, bound to a unit of the Edge-MoE design reshaped to the RTL's lanes.

>>> streaming_cycles("Y[n] = exp(X[n])", 1000)
1000
>>> array_cycles("C[r,c] = A[r,k] * B[k,c]", {"R": 4, "C": 4, "K": 256}, (4, 4), ("R", "C"))
256
"""

from __future__ import annotations

from einsum import op_counts, parse_text
from mapper import architecture
from sim._cost import einsum_compute

__all__ = ["array_cycles", "streaming_cycles"]

# the Edge-MoE unit whose op costs (one cycle each) the RTL lanes share
_UNIT_FOR = {"gelu": "gelu", "exp": "softmax", "div": "softmax", "mac": "linear",
             "max": "vector", "add": "vector", "mul": "vector"}


def array_cycles(einsum_text: str, sizes: dict[str, int], shape: tuple[int, ...],
                 spatial: tuple[str, ...]) -> int:
    """Cycles of a one-Einsum cascade with ``spatial`` ranks on a unit of ``shape``."""
    cascade = parse_text(einsum_text, name="unit")
    e = cascade.einsums[0]
    ops = {k: v for k, v in op_counts(cascade, sizes).items() if v}
    unit = _UNIT_FOR[next(iter(ops))]
    if unit == "linear" and len(spatial) == 1:
        unit = "vector"
    arch = architecture("zcu102").with_units({unit: shape})
    points = 1
    for r in {v.upper() for v in e.iteration_ranks}:
        points *= sizes[r]
    return einsum_compute(e, ops, points, arch, unit, spatial, sizes).cycles


def streaming_cycles(einsum_text: str, count: int, *, lanes: int = 1) -> int:
    """Cycles of an elementwise one-Einsum cascade over ``count`` points on ``lanes`` lanes."""
    rank = parse_text(einsum_text, name="unit").einsums[0].output.variables[0].upper()
    return array_cycles(einsum_text, {rank: count}, (lanes,), (rank,))


def engine_cycles(sizes: dict[str, int]) -> tuple[int, int]:
    """(model, overhead) cycles of the attention engine after its inputs are loaded.

    ``model``: the analytical model's cycles of each Einsum of the FuseMax cascade in the
    engine's binding, run one after another as the engine runs them (QK and SLNV on the
    P x M0 and P x F arrays, SLN and PRM on the one exp lane, RD and 1/RD on the P lanes, AV
    read out one word per cycle). ``overhead``: what the engine adds per tile, each term
    derived from its structure: the arrays' fill, drain and read-out (their clearing hides
    behind other phases), the exp and reciprocal pipelines' fill, and one cycle each for the
    tile max and the statistics.
    """
    p, m, m0, e, f = (sizes[k] for k in ("p", "m", "m0", "e", "f"))
    model = overhead = 0
    for start in range(0, m, m0):
        valid = min(m0, m - start)
        qk = array_cycles("C[p,j] = A[p,k] * B[k,j]", {"P": p, "J": m0, "K": e}, (p, m0),
                          ("P", "J"))
        exps = streaming_cycles("Y[n] = exp(X[n])", p * valid + p)
        slnv = array_cycles("C[p,j] = A[p,k] * B[k,j]", {"P": p, "J": f, "K": valid},
                            (p, f), ("P", "J"))
        model += qk + exps + slnv
        overhead += (p + m0 - 2) + p          # QK array: fill/drain, read-out
        overhead += 1 + 3 + 1                 # tile max, exp pipeline fill, statistics
        overhead += (p + f - 2) + p           # SLNV array: fill/drain, read-out
    model += streaming_cycles("Y[n] = recip(X[n])", p) + p * f
    overhead += 3                             # reciprocal pipeline fill
    return model, overhead
