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
from sim import architecture, compute_rows, workload

__all__ = ["array_cycles", "engine_cycles", "streaming_cycles"]

# the Edge-MoE unit whose op costs (one cycle each) the RTL lanes share
_UNIT_FOR = {"gelu": "gelu", "exp": "softmax", "div": "softmax", "mac": "linear",
             "max": "vector", "add": "vector", "mul": "vector"}


def array_cycles(einsum_text: str, sizes: dict[str, int], shape: tuple[int, ...],
                 spatial: tuple[str, ...]) -> int:
    """Cycles of a one-Einsum cascade with ``spatial`` ranks on a unit of ``shape``."""
    cascade = parse_text(einsum_text, name="unit")
    ops = {k: v for k, v in op_counts(cascade, sizes).items() if v}
    unit = _UNIT_FOR[next(iter(ops))]
    if unit == "linear" and len(spatial) == 1:
        unit = "vector"
    arch = architecture("zcu102").with_units({unit: shape})
    (facts,) = workload(cascade, sizes).facts.values()
    return int(compute_rows(facts, arch, unit, [spatial], sizes).cycles[0])


def streaming_cycles(einsum_text: str, count: int, *, lanes: int = 1) -> int:
    """Cycles of an elementwise one-Einsum cascade over ``count`` points on ``lanes`` lanes."""
    rank = parse_text(einsum_text, name="unit").einsums[0].output.variables[0].upper()
    return array_cycles(einsum_text, {rank: count}, (lanes,), (rank,))


def engine_cycles(sizes: dict[str, int]) -> tuple[int, int]:
    """(model, overhead) cycles of the attention engine after its inputs are loaded.

    ``model``: the analytical model's latency for the engine's binding under a pipelined
    schedule, that of its busiest unit: the one exp lane, which takes the P x M0 SLN and the
    P PRM exponentials of every tile (the QK and SLN V arrays take fewer cycles per tile at
    these sizes, and overlap with it). ``overhead``: what the engine adds around that, each
    term from its structure: the first tile's QK (E beats, the array's fill and drain, its
    read-out, the tile max) before the exp lane starts, the exp pipeline's fill and the last
    tile's statistics, the last tile's SLN V (its beats, fill, drain and read-out), and the
    reciprocals (P, plus their pipeline) and the P x F outputs.
    """
    p, m, m0, e, f = (sizes[k] for k in ("p", "m", "m0", "e", "f"))
    tiles = -(-m // m0)
    exps = sum(p * min(m0, m - t * m0) + p for t in range(tiles))
    model = streaming_cycles("Y[n] = exp(X[n])", exps)
    last = m - (tiles - 1) * m0
    overhead = (e + (p + m0 - 2) + p + 1) + (3 + 1) + (last + (p + f - 2) + p) \
        + (p + 3) + p * f
    return model, overhead
