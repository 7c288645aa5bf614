"""The analytical model's cycles for the units the RTL implements, so that RTL cycle counts
are compared with the same cost model that maps whole cascades (sim/_cost.py).

>>> streaming_cycles("Y[n] = exp(X[n])", 1000)
1000
"""

from __future__ import annotations

from einsum import op_counts, parse_text
from mapper import architecture
from sim._cost import einsum_compute

__all__ = ["streaming_cycles"]


def streaming_cycles(einsum_text: str, count: int, *, lanes: int = 1) -> int:
    """Cycles of a one-Einsum elementwise cascade over ``count`` points on a ``lanes``-wide
    unit of the Edge-MoE design whose ops cost one cycle each (its softmax/GELU lanes)."""
    cascade = parse_text(einsum_text, name="unit")
    e = cascade.einsums[0]
    rank = e.output.variables[0].upper()
    sizes = {rank: count}
    ops = {k: v for k, v in op_counts(cascade, sizes).items() if v}
    unit = "gelu" if "gelu" in ops else "softmax"
    arch = architecture("zcu102").with_units({unit: (lanes,)})
    return einsum_compute(e, ops, count, arch, unit, (rank,), sizes).cycles
