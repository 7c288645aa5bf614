"""Direct numpy formulas of the library's attention algorithms (not cascades), and the shapes
each is checked at: ``cascade check`` runs a cascade on random inputs and compares every
output with its formula.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> q, k, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 5)), rng.normal(size=(2, 5))
>>> out = REFERENCES["linear_attention"].formula({"Q": q, "K": k, "V": v})["O"]
>>> out.shape
(2, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["REFERENCES", "Reference", "softmax_attention"]

Arrays = dict[str, np.ndarray]


def softmax_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``softmax(Q^T K) V``: AV[f,p] from Q[e,p], K[e,m], V[f,m]."""
    return masked_attention(q, k, v, np.True_)


def _elu1(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def _exact(x: Arrays) -> Arrays:
    return {"AV": softmax_attention(x["Q"], x["K"], x["V"])}


def _gqa(x: Arrays) -> Arrays:
    q, k, v = x["Q"], x["K"], x["V"]  # Q[e,p,r,g], K[e,m,g], V[f,m,g]
    out = np.empty((v.shape[0], q.shape[1], q.shape[2], q.shape[3]))
    for g in range(q.shape[3]):
        for r in range(q.shape[2]):
            out[:, :, r, g] = softmax_attention(q[:, :, r, g], k[:, :, g], v[:, :, g])
    return {"AV": out}


def _mla(x: Arrays) -> Arrays:
    k = x["WK"].T @ x["C"]  # K[e,m] = sum_l WK[l,e] C[l,m]
    v = x["WV"].T @ x["C"]
    return {"AV": softmax_attention(x["Q"], k, v)}


def _linear(x: Arrays) -> Arrays:
    fq, fk = _elu1(x["Q"]), _elu1(x["K"])
    kv = fk @ x["V"].T                       # [e, f]
    return {"O": (fq.T @ kv / (fq.T @ fk.sum(axis=1))[:, None]).T}


def _linear_causal(x: Arrays) -> Arrays:
    fq, fk, v = _elu1(x["Q"]), _elu1(x["K"]), x["V"]
    m = v.shape[1]
    out = np.empty_like(v)
    for i in range(m):  # query i sees keys 0..i
        kv = fk[:, : i + 1] @ v[:, : i + 1].T
        out[:, i] = fq[:, i] @ kv / (fq[:, i] @ fk[:, : i + 1].sum(axis=1))
    return {"O": out}


def _aaren(x: Arrays) -> Arrays:
    q, k, v = x["Q"], x["K"], x["V"]
    m = k.shape[1]
    out = np.empty((v.shape[0], m, q.shape[1]))
    for i in range(m):  # the attention of every prefix of the keys
        out[:, i, :] = softmax_attention(q, k[:, : i + 1], v[:, : i + 1])
    return {"O": out}


def _agent(x: Arrays) -> Arrays:
    agents = softmax_attention(x["A"], x["K"], x["V"])        # VA[f,n]
    return {"O": softmax_attention(x["Q"], x["A"], agents)}


def masked_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray
                     ) -> np.ndarray:
    """Softmax attention over the keys where ``mask[p, m]`` holds: AV[f,p]."""
    scores = np.where(mask, q.T @ k, -np.inf)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights @ v.T).T


def _grid(p: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(p)[:, None], np.arange(m)[None, :]


def _causal(x: Arrays) -> Arrays:
    p, m = _grid(x["Q"].shape[1], x["K"].shape[1])
    return {"AV": masked_attention(x["Q"], x["K"], x["V"], m <= p)}


def _decode(x: Arrays) -> Arrays:
    queries, keys = x["Q"].shape[1], x["K"].shape[1]
    p, m = _grid(queries, keys)
    return {"AV": masked_attention(x["Q"], x["K"], x["V"], m <= keys - queries + p)}


def _window(x: Arrays, w: int, d: int) -> Arrays:
    p, m = _grid(x["Q"].shape[1], x["K"].shape[1])
    mask = (m <= p) & (p - m < w * d) & ((p - m) % d == 0)
    return {"AV": masked_attention(x["Q"], x["K"], x["V"], mask)}


def _sinks(x: Arrays, s: int, w: int) -> Arrays:
    p, m = _grid(x["Q"].shape[1], x["K"].shape[1])
    mask = (m <= p) & ((m < s) | (p - m < w))
    return {"AV": masked_attention(x["Q"], x["K"], x["V"], mask)}


def _blocks(x: Arrays, b: int) -> Arrays:
    p, m = _grid(x["Q"].shape[1], x["K"].shape[1])
    mask = (m // b == p // b) | (m // b == 0)
    return {"AV": masked_attention(x["Q"], x["K"], x["V"], mask)}


def _neighborhood(x: Arrays, w: int, d: int) -> Arrays:
    q, k, v = x["Q"], x["K"], x["V"]  # Q[e,py,px], K[e,my,mx], V[f,my,mx]
    (e, y, xx), (f, ym, xm) = q.shape, v.shape
    py, px = np.divmod(np.arange(y * xx), xx)
    my, mx = np.divmod(np.arange(ym * xm), xm)
    dy, dx = py[:, None] - my[None, :], px[:, None] - mx[None, :]
    mask = (abs(dy) <= w * d) & (abs(dx) <= w * d) & (dy % d == 0) & (dx % d == 0)
    out = masked_attention(q.reshape(e, -1), k.reshape(e, -1), v.reshape(f, -1), mask)
    return {"AV": out.reshape(f, y, xx)}


def _radial(x: Arrays) -> Arrays:
    q, k, v = x["Q"], x["K"], x["V"]  # Q[e,sq,tq], K[e,sk,tk], V[f,sk,tk]
    (e, s, t), (f, sk, tk) = q.shape, v.shape
    sq_, tq_ = np.divmod(np.arange(s * t), t)
    sk_, tk_ = np.divmod(np.arange(sk * tk), tk)
    d = np.abs(tq_[:, None] - tk_[None, :])
    level = np.where(d > 0, np.floor(np.log2(np.maximum(d, 1))), 0).astype(np.int64)
    mask = (d <= 1) | (np.abs(sq_[:, None] - sk_[None, :]) * (1 << level) < s)
    out = masked_attention(q.reshape(e, -1), k.reshape(e, -1), v.reshape(f, -1), mask)
    return {"AV": out.reshape(f, s, t)}


def _per_head(x: Arrays, mask_of: Callable[[int, np.ndarray, np.ndarray], np.ndarray]
              ) -> Arrays:
    q, k, v = x["Q"], x["K"], x["V"]  # Q[e,p,h], K[e,m,h], V[f,m,h]
    out = np.empty((v.shape[0], q.shape[1], q.shape[2]))
    p, m = _grid(q.shape[1], k.shape[1])
    for h in range(q.shape[2]):
        out[:, :, h] = masked_attention(q[:, :, h], k[:, :, h], v[:, :, h], mask_of(h, p, m))
    return {"AV": out}


def _duo(x: Arrays, r: int, s: int, w: int) -> Arrays:
    return _per_head(x, lambda h, p, m: (m <= p) & ((h < r) | (m < s) | (p - m < w)))


def _s2(x: Arrays, w: int) -> Arrays:
    heads = x["Q"].shape[2]
    return _per_head(x, lambda h, p, m: (m <= p) & ((m % heads == h) | (p - m < w)))


def _medusa(x: Arrays, c: int, t: int) -> Arrays:
    candidates, keys = x["Q"].shape[1], x["K"].shape[1]
    mask = np.zeros((candidates, keys), bool)
    mask[:, :c] = True
    for node in range(candidates):
        ancestor = node
        while True:  # itself, then its parents up to the root
            if c + ancestor < keys:
                mask[node, c + ancestor] = True
            if ancestor == 0:
                break
            ancestor = (ancestor - 1) // t
    return {"AV": masked_attention(x["Q"], x["K"], x["V"], mask)}


@dataclass(frozen=True)
class Reference:
    formula: Callable[[Arrays], Arrays]
    shapes: tuple[dict[str, int], ...]
    """Rank sizes to check at (tiles that divide M, that do not, a single query, M = 1)."""
    sequence: tuple[str, ...] = ("M", "P", "N")
    """Ranks that grow with the sequence (for the asymptotic op count)."""
    table: dict[str, int] | None = None
    """Sizes for the documentation table, if not E = F = 64 and a 4,096-long sequence."""


_ATTENTION = ({"E": 8, "F": 8, "M": 64, "P": 16}, {"E": 4, "F": 6, "M": 37, "P": 5},
              {"E": 3, "F": 2, "M": 1, "P": 1}, {"E": 6, "F": 6, "M": 9, "P": 12})

REFERENCES: dict[str, Reference] = {
    "causal": Reference(_causal, ({"E": 8, "F": 8, "M": 40, "P": 40},
                                  {"E": 4, "F": 3, "M": 23, "P": 9},    # a prefix of queries
                                  {"E": 3, "F": 2, "M": 1, "P": 1})),
    "causal_fusemax": Reference(_causal, ({"E": 8, "F": 8, "M": 40, "P": 40, "M0": 8},
                                          {"E": 4, "F": 3, "M": 37, "P": 37, "M0": 16},
                                          {"E": 3, "F": 2, "M": 1, "P": 1, "M0": 4})),
    "decode": Reference(_decode, ({"E": 8, "F": 8, "M": 50, "P": 1},
                                  {"E": 4, "F": 3, "M": 37, "P": 4},    # a speculative step
                                  {"E": 3, "F": 2, "M": 1, "P": 1}), sequence=("M",)),
    "sliding_window": Reference(lambda x: _window(x, 5, 1), (
        {"E": 8, "F": 8, "M": 40, "P": 40, "W": 5, "D": 1},
        {"E": 4, "F": 3, "M": 3, "P": 3, "W": 5, "D": 1},               # window > sequence
        {"E": 3, "F": 2, "M": 1, "P": 1, "W": 5, "D": 1})),
    "sinks": Reference(lambda x: _sinks(x, 2, 4), (
        {"E": 8, "F": 8, "M": 40, "P": 40, "S": 2, "W": 4},
        {"E": 3, "F": 2, "M": 1, "P": 1, "S": 2, "W": 4})),
    "block_sparse": Reference(lambda x: _blocks(x, 4), (
        {"E": 8, "F": 8, "M": 30, "P": 30, "B": 4},                     # ragged last block
        {"E": 3, "F": 2, "M": 1, "P": 1, "B": 4})),
    "neighborhood_2d": Reference(lambda x: _neighborhood(x, 1, 1), (
        {"E": 4, "F": 3, "PY": 5, "PX": 6, "MY": 5, "MX": 6, "W": 1, "D": 1},
        {"E": 3, "F": 2, "PY": 1, "PX": 1, "MY": 1, "MX": 1, "W": 1, "D": 1}),
        sequence=("PY", "MY"), table={"E": 64, "F": 64, "PY": 64, "PX": 64, "MY": 64,
                                      "MX": 64, "W": 3, "D": 1}),
    "radial": Reference(_radial, ({"E": 4, "F": 3, "SQ": 8, "TQ": 6, "SK": 8, "TK": 6},
                                  {"E": 3, "F": 2, "SQ": 1, "TQ": 1, "SK": 1, "TK": 1}),
                        sequence=("TQ", "TK"), table={"E": 64, "F": 64, "SQ": 256, "TQ": 16,
                                                      "SK": 256, "TK": 16}),
    "duo_attention": Reference(lambda x: _duo(x, 1, 2, 4), (
        {"E": 8, "F": 4, "M": 30, "P": 30, "H": 3, "R": 1, "S": 2, "W": 4},
        {"E": 3, "F": 2, "M": 1, "P": 1, "H": 2, "R": 1, "S": 2, "W": 4})),
    "s2_attention": Reference(lambda x: _s2(x, 3), (
        {"E": 8, "F": 4, "M": 30, "P": 30, "H": 4, "W": 3},
        {"E": 3, "F": 2, "M": 1, "P": 1, "H": 2, "W": 3})),
    "medusa_tree": Reference(lambda x: _medusa(x, 5, 2), (
        {"E": 8, "F": 4, "M": 12, "P": 7, "C": 5, "T": 2},              # 5 context, 7 candidates
        {"E": 3, "F": 2, "M": 6, "P": 1, "C": 5, "T": 2}),
        sequence=("M", "C"), table={"E": 64, "F": 64, "M": 4096 + 7, "P": 7, "C": 4096,
                                    "T": 2}),
    "gqa": Reference(_gqa, ({"E": 8, "F": 8, "M": 40, "P": 6, "R": 4, "G": 2},
                            {"E": 4, "F": 3, "M": 17, "P": 1, "R": 8, "G": 1},   # MQA decode
                            {"E": 3, "F": 2, "M": 1, "P": 3, "R": 1, "G": 3})),
    "mla": Reference(_mla, ({"E": 8, "F": 8, "M": 33, "P": 5, "L": 4},
                            {"E": 6, "F": 4, "M": 1, "P": 1, "L": 2})),
    "mla_absorbed": Reference(_mla, ({"E": 8, "F": 8, "M": 33, "P": 5, "L": 4},
                                     {"E": 6, "F": 4, "M": 1, "P": 1, "L": 2})),
    "split_k": Reference(_exact, ({"E": 8, "F": 8, "M": 64, "P": 1, "N": 16},
                                  {"E": 4, "F": 6, "M": 37, "P": 2, "N": 8},
                                  {"E": 4, "F": 6, "M": 37, "P": 2, "N": 64},  # one worker
                                  {"E": 3, "F": 2, "M": 1, "P": 1, "N": 4}),
                         sequence=("M", "P")),                   # N: keys per worker
    "linear_attention": Reference(_linear, _ATTENTION),
    "linear_attention_causal": Reference(_linear_causal, (
        {"E": 8, "F": 8, "M": 40}, {"E": 3, "F": 5, "M": 1})),
    "lightning_attention2": Reference(_linear_causal, (
        {"E": 8, "F": 8, "M": 40, "N": 40, "J": 8},
        {"E": 4, "F": 3, "M": 37, "N": 37, "J": 16},                  # a ragged last block
        {"E": 3, "F": 2, "M": 1, "N": 1, "J": 4})),
    "aaren": Reference(_aaren, ({"E": 8, "F": 4, "M": 20, "P": 3},
                                {"E": 3, "F": 2, "M": 1, "P": 1}), sequence=("M",)),
    "agent_attention": Reference(_agent, ({"E": 8, "F": 8, "M": 50, "P": 7, "N": 4},
                                          {"E": 4, "F": 3, "M": 1, "P": 1, "N": 1}),
                                 sequence=("M", "P")),           # N: agent tokens
}
