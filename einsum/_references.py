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
    scores = q.T @ k
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights @ v.T).T


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


@dataclass(frozen=True)
class Reference:
    formula: Callable[[Arrays], Arrays]
    shapes: tuple[dict[str, int], ...]
    """Rank sizes to check at (tiles that divide M, that do not, a single query, M = 1)."""


_ATTENTION = ({"E": 8, "F": 8, "M": 64, "P": 16}, {"E": 4, "F": 6, "M": 37, "P": 5},
              {"E": 3, "F": 2, "M": 1, "P": 1}, {"E": 6, "F": 6, "M": 9, "P": 12})

REFERENCES: dict[str, Reference] = {
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
                                  {"E": 3, "F": 2, "M": 1, "P": 1, "N": 4})),
    "linear_attention": Reference(_linear, _ATTENTION),
    "linear_attention_causal": Reference(_linear_causal, (
        {"E": 8, "F": 8, "M": 40}, {"E": 3, "F": 5, "M": 1})),
    "aaren": Reference(_aaren, ({"E": 8, "F": 4, "M": 20, "P": 3},
                                {"E": 3, "F": 2, "M": 1, "P": 1})),
    "agent_attention": Reference(_agent, ({"E": 8, "F": 8, "M": 50, "P": 7, "N": 4},
                                          {"E": 4, "F": 3, "M": 1, "P": 1, "N": 1})),
}
