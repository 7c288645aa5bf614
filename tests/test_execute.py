"""Reference execution in float64 against formulas written directly in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from einsum import (
    REFERENCES,
    CascadeError,
    check_attention,
    exact_attention,
    execute,
    library_names,
    load,
    parse_text,
)

# the cascades of softmax attention itself; the other algorithms have their own formulas
LIBRARY = tuple(n for n in library_names() if n not in REFERENCES)


@pytest.mark.parametrize("name", LIBRARY)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_library_equals_exact_attention(name: str, seed: int) -> None:
    results = check_attention(load(name), seed=seed)
    assert len(results) == 5
    for r in results:
        assert r.relative_error <= 1e-9, r


@pytest.mark.parametrize(("m", "tile"), [(37, 8), (100, 32), (5, 256), (64, 64), (65, 64)])
def test_fusemax_uneven_tiles(m: int, tile: int) -> None:
    rng = np.random.default_rng(m)
    q, k, v = rng.normal(size=(4, 3)) * 3, rng.normal(size=(4, m)) * 3, rng.normal(size=(5, m))
    out = execute(load("fusemax"), {"Q": q, "K": k, "V": v}, shapes={"M0": tile})["AV"]
    np.testing.assert_allclose(out, exact_attention(q, k, v), rtol=1e-12, atol=1e-12)


def test_exact_attention_is_softmax() -> None:
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(5, 4))
    scores = np.array([[sum(q[e, p] * k[e, m] for e in range(2)) for m in range(4)]
                       for p in range(3)])
    weights = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    want = np.array([[sum(weights[p, m] * v[f, m] for m in range(4)) for p in range(3)]
                     for f in range(5)])
    np.testing.assert_allclose(exact_attention(q, k, v), want, rtol=1e-13)


def test_intermediate_tensors_of_fusemax() -> None:
    rng = np.random.default_rng(4)
    q, k, v = rng.normal(size=(3, 2)), rng.normal(size=(3, 10)), rng.normal(size=(2, 10))
    t = execute(load("fusemax"), {"Q": q, "K": k, "V": v}, shapes={"M0": 4}, keep=True)
    scores = q.T @ k  # [p, m]
    assert t["RM"].shape == (4, 2)  # M1 + 1 steps
    assert np.all(t["RM"][0] == -np.inf)
    for m1 in range(3):
        np.testing.assert_allclose(t["RM"][m1 + 1], scores[:, : 4 * (m1 + 1)].max(axis=1))
    np.testing.assert_allclose(t["RD"][3], np.exp(scores - scores.max(1, keepdims=True)).sum(1))


def test_user_reductions_and_operators() -> None:
    c = parse_text(
        """
        LO[p] = X[m,p] reduce min over m
        HI[p] = X[m,p] reduce max over m
        S[p] = abs(X[m,p] - LO[p]) / (HI[p] - LO[p]) reduce + over m
        R[p] = sqrt(recip(S[p])) + log(min(HI[p], 2))
        """,
        name="user",
    )
    x = np.random.default_rng(5).normal(size=(7, 3))
    out = execute(c, {"X": x})
    lo, hi = x.min(0), x.max(0)
    s = (np.abs(x - lo) / (hi - lo)).sum(0)
    np.testing.assert_allclose(out["R"], np.sqrt(1 / s) + np.log(np.minimum(hi, 2)))


def test_recurrence_prefix_sum_and_previous_step_reads() -> None:
    c = parse_text(
        """
        S[0,p] = 0
        S[m+1,p] = S[m,p] + X[m,p]
        D[m,p] = S[m+1,p] - S[m,p]
        T[p] = S[M,p] * 2
        """,
        name="scan",
    )
    x = np.random.default_rng(6).normal(size=(9, 2))
    t = execute(c, {"X": x}, keep=True)
    np.testing.assert_allclose(t["S"][1:], np.cumsum(x, axis=0))
    np.testing.assert_allclose(t["D"], x)
    np.testing.assert_allclose(t["T"], 2 * x.sum(0))


def test_check_detects_a_wrong_cascade() -> None:
    unsafe_but_wrong = parse_text(
        """
        QK[m,p] = Q[e,p] * K[e,m]
        SN[m,p] = exp(QK[m,p])
        SD[p] = SN[m,p] reduce + over m
        AV[f,p] = SN[m,p] * V[f,m] / (SD[p] + 1)
        """,
        name="wrong",
    )
    results = check_attention(unsafe_but_wrong)
    assert not any(r.passed for r in results if r.shapes["M"] > 1)


def test_missing_and_misshaped_inputs() -> None:
    c = load("three_pass")
    q, k, v = np.zeros((4, 3)), np.zeros((4, 8)), np.zeros((2, 8))
    with pytest.raises(CascadeError, match=r"input V of three_pass is missing"):
        execute(c, {"Q": q, "K": k})
    with pytest.raises(CascadeError, match=r"rank M has two sizes: 8 from K, 9 from V"):
        execute(c, {"Q": q, "K": k, "V": np.zeros((2, 9))})
    with pytest.raises(CascadeError, match=r"input Q has ranks \[E,P\] but the array has 1"):
        execute(c, {"Q": np.zeros(4), "K": k, "V": v})
    with pytest.raises(CascadeError, match=r"three_pass has no input W"):
        execute(c, {"Q": q, "K": k, "V": v, "W": v})


def test_executor_refuses_huge_iteration_spaces() -> None:
    c = parse_text("Y[p] = X[m,p] reduce + over m", name="big")
    x = np.broadcast_to(np.float64(1), (1 << 14, 1 << 14))
    with pytest.raises(CascadeError, match="more than the reference executor's limit"):
        execute(c, {"X": x})
