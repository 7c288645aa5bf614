"""The analytical model's cycles for the units the RTL implements, so that RTL cycle counts
are compared with the same cost model that maps whole cascades (sim/_cost.py): the Einsum a
unit computes, bound to a unit of the Edge-MoE design reshaped to the RTL's lanes.

>>> streaming_cycles("Y[n] = exp(X[n])", 1000)
1000
>>> array_cycles("C[r,c] = A[r,k] * B[k,c]", {"R": 4, "C": 4, "K": 256}, (4, 4), ("R", "C"))
256
"""

from __future__ import annotations

from dataclasses import dataclass

from einsum import op_counts, parse_text
from sim import architecture, compute_rows, workload

__all__ = ["ENGINE_LATENCY", "EngineSchedule", "array_cycles", "engine_cycles", "engine_schedule",
           "engine_stage_cycles", "streaming_cycles"]

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


ENGINE_LATENCY = {"exp": 3, "recip": 3, "raw": 3, "out": 4}
"""The engine's pipeline depths, from its RTL: exp and reciprocal units (3 stages each); a V
beat's RNV write lands 3 cycles after it is read (the next tile may read that word no
sooner); a last-tile V beat leaves as an output beat 4 cycles after it is taken (products,
sums, AV, output FIFO)."""


@dataclass(frozen=True)
class EngineSchedule:
    """The model's schedule of the streaming engine over back-to-back runs."""

    cycles: int
    """From the first input beat to the last output beat, both included."""
    k_tile: int
    """Cycles per tile of each stage, from the analytical model: QK on the P x M0 array
    (one K beat per cycle), the exps on P lanes, SLN V on the P x M0 array (one V beat per
    cycle), the reciprocals on one lane."""
    exp_tile: int
    v_tile: int
    recip: int
    bottleneck: str

    def to_json(self) -> dict[str, object]:
        return dict(vars(self))


def engine_stage_cycles(sizes: dict[str, int]) -> dict[str, int]:
    """Per tile, the analytical model's cycles of each stage of the engine's mapping."""
    p, m0, e, f = (sizes[k] for k in ("p", "m0", "e", "f"))
    qk = array_cycles("QK[p,m] = Q[p,e] * K[m,e]", {"P": p, "M": m0, "E": e}, (p, m0),
                      ("P", "M"))
    nv = array_cycles("SNV[p,f] = S[p,m] * V[m,f]", {"P": p, "M": m0, "F": f}, (p, m0),
                      ("P", "M"))
    # each lane takes the M0 SLN and the one PRM exponential of its query per tile
    exps = streaming_cycles("Y[n] = exp(X[n])", p * (m0 + 1), lanes=p)
    recip = streaming_cycles("Y[n] = recip(X[n])", p)
    # the streams bring a K tile in E beats and a V tile in F beats (M0 lanes a beat)
    return {"k": max(qk, e), "exp": exps, "v": max(nv, f), "recip": recip}


def engine_schedule(sizes: dict[str, int], *, runs: int = 1, rate: float = 1.0
                    ) -> EngineSchedule:
    """The engine's cycles for ``runs`` back-to-back runs when every stream moves a beat
    ``rate`` of the cycles (1: every input offered and every output taken at once): the
    stages of the mapping (QK as K streams in, the exps, SLN V as V streams in, the
    reciprocals after a run's last tile) overlapped across tiles as its buffers allow (one
    accumulator set, one score bank, two SLN banks, the Q block freed by a run's last K
    beat), each tile's stages chained by the pipeline depths of ``ENGINE_LATENCY``. At a
    rate below 1 the beats are spread evenly: an estimate of random stalls' mean effect.

    >>> engine_schedule({"p": 4, "m0": 16, "e": 64, "f": 64, "m": 256}).bottleneck
    'K stream'
    """
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], not {rate}")
    d = engine_stage_cycles(sizes)
    lat = ENGINE_LATENCY
    beat = 1 / rate
    tiles = -(-sizes["m"] // sizes["m0"])
    never = -1e9
    k_end = adv_end = dump = x_prm = s_recip = v0 = never
    v_ends = [never, never]     # the last V beats of the previous two tiles
    out_last = 0.0
    q0 = 0.0                    # the run's first Q beat
    for _run in range(runs):
        for t in range(tiles):
            first, last = t == 0, t == tiles - 1
            # K beats: one a cycle, each as stage 1 frees; the tile's first waits for the
            # accumulators to be dumped; in a run's first tile beat i waits for Q beat i
            k = max(adv_end, (q0 + 1) if first else never, k_end + beat)
            adv = max(k + 1, dump)
            for i in range(1, d["k"]):
                k = max(adv, (q0 + i * beat + 1) if first else never, k + beat)
                adv = k + 1
            k_end, adv_end = k, adv
            dump = max(adv_end + 1, x_prm)
            x0 = max(dump + 1, v_ends[0] + 1)
            x_prm = x0 + d["exp"] - 1
            if last:
                s_recip = max(x_prm + lat["exp"] + 1, s_recip + d["recip"] + 1)
                full = s_recip + d["recip"] + lat["recip"] + 1
            else:
                full = x_prm + lat["exp"] + 1
            v0 = max(full, v_ends[1] + beat, v0 + lat["raw"])
            v_ends = [v_ends[1], v0 + (d["v"] - 1) * beat]
            if last:
                out_last = v_ends[1] + lat["out"] + (beat - 1)
        q0 = k_end + beat
    per_tile = {"K stream": d["k"] * beat, "V stream": max(d["v"] * beat, lat["raw"]),
                "exp lanes": d["exp"]}
    return EngineSchedule(cycles=round(out_last) + 1, k_tile=d["k"], exp_tile=d["exp"],
                          v_tile=d["v"], recip=d["recip"],
                          bottleneck=max(per_tile, key=lambda key: per_tile[key]))


def engine_cycles(sizes: dict[str, int], *, runs: int = 1, rate: float = 1.0) -> int:
    """The model's cycles from the first input beat to the last output beat of ``runs``
    back-to-back runs (see :func:`engine_schedule`)."""
    return engine_schedule(sizes, runs=runs, rate=rate).cycles
