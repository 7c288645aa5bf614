"""Numerical check of a cascade: against exact softmax attention (the cascades with inputs
Q[e,p], K[e,m], V[f,m] and output AV[f,p]), or against the direct numpy formula of its
algorithm (``einsum/_references.py``).

>>> from einsum import load
>>> all(r.passed for r in check_attention(load("one_pass")))
True
>>> all(r.passed for r in check_cascade(load("split_k")))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import CascadeError
from ._execute import execute
from ._ir import Cascade
from ._references import REFERENCES, Reference, softmax_attention
from ._validate import validate

__all__ = ["CHECK_SHAPES", "TOLERANCE", "CheckResult", "check_attention", "check_cascade",
           "exact_attention"]

TOLERANCE = 1e-9

# (E, F, M, P, tile): tiles that divide M, that do not, and one larger than M.
CHECK_SHAPES = (
    (8, 8, 64, 16, 16),
    (4, 6, 37, 5, 8),
    (16, 8, 100, 7, 32),
    (3, 2, 1, 1, 4),
    (6, 6, 9, 12, 9),
)

_SIGNATURE = {"Q": ("E", "P"), "K": ("E", "M"), "V": ("F", "M")}


def exact_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``softmax(Q^T K) V`` written directly: AV[f,p] from Q[e,p], K[e,m], V[f,m]."""
    return softmax_attention(q, k, v)


@dataclass(frozen=True)
class CheckResult:
    shapes: dict[str, int]
    relative_error: float

    @property
    def passed(self) -> bool:
        return self.relative_error <= TOLERANCE


def _require_attention(cascade: Cascade) -> None:
    layout = validate(cascade)
    found = {name: layout.ranks[name] for name in layout.inputs}
    outputs = {name: layout.ranks[name] for name in layout.outputs}
    if found != _SIGNATURE or outputs != {"AV": ("F", "P")}:
        raise CascadeError(f"check needs inputs Q[e,p], K[e,m], V[f,m] and output AV[f,p]; "
                           f"{cascade.name} has inputs {sorted(found)} and outputs "
                           f"{sorted(outputs)}", file=cascade.file)


def check_attention(cascade: Cascade, *, seed: int = 0,
                    shapes: tuple[tuple[int, int, int, int, int], ...] = CHECK_SHAPES,
                    ) -> list[CheckResult]:
    """Run ``cascade`` on random Q, K, V of each shape and compare with exact attention.

    Scores are scaled to span tens of units so that an unsafe softmax would overflow.
    """
    _require_attention(cascade)
    rng = np.random.default_rng(seed)
    results = []
    for e, f, m, p, tile in shapes:
        q = rng.normal(scale=2.0, size=(e, p))
        k = rng.normal(scale=2.0, size=(e, m))
        v = rng.normal(size=(f, m))
        extra = {split.inner: tile for split in cascade.splits}
        got = execute(cascade, {"Q": q, "K": k, "V": v}, shapes=extra)["AV"]
        want = exact_attention(q, k, v)
        results.append(CheckResult({"E": e, "F": f, "M": m, "P": p, **extra},
                                   _relative_error(got, want)))
    return results


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """Largest absolute difference over the largest reference value; a NaN, infinite or
    all-zero reference counts as infinitely wrong."""
    with np.errstate(divide="ignore", invalid="ignore"):
        error = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
    return error if np.isfinite(error) else float("inf")


def check_cascade(cascade: Cascade, *, seed: int = 0,
                  reference: Reference | None = None) -> list[CheckResult]:
    """Check a cascade against ``reference`` (a numpy formula of its inputs and the shapes
    to run it at), else a library algorithm against its own formula, else an attention
    cascade against exact attention. Inputs are random; Q and K are scaled so that an unsafe
    softmax would overflow."""
    if reference is None:
        reference = REFERENCES.get(cascade.name)
    if reference is None:
        return check_attention(cascade, seed=seed)
    layout = validate(cascade)
    rng = np.random.default_rng(seed)
    results = []
    for shapes in reference.shapes:
        missing = [r for t in layout.inputs for r in layout.ranks[t] if r not in shapes]
        if missing:
            raise CascadeError(f"the check shapes {_shown(shapes)} give no size to "
                               f"{', '.join(dict.fromkeys(missing))}", file=cascade.file)
        inputs = {t: rng.normal(scale=2.0 if t in ("Q", "K", "A") else 1.0,
                                size=tuple(shapes[r] for r in layout.ranks[t]))
                  for t in layout.inputs}
        fixed = {r for t in layout.inputs for r in layout.ranks[t]}
        got = execute(cascade, inputs, shapes={r: v for r, v in shapes.items()
                                               if r not in fixed})
        want = reference.formula(inputs)
        _check_answer(cascade, got, want)
        results.append(CheckResult(dict(shapes), max(_relative_error(got[o], want[o])
                                                     for o in want)))
    return results


def _check_answer(cascade: Cascade, got: dict[str, np.ndarray], want: Any) -> None:
    """A reference's answer names the cascade's outputs and has their shapes."""
    if not isinstance(want, dict) or set(want) != set(got):
        names = ", ".join(sorted(map(str, want))) if isinstance(want, dict) else \
            type(want).__name__
        raise CascadeError(f"the reference returned {names}; {cascade.name} outputs "
                           f"{', '.join(got)}", file=cascade.file)
    for name, value in want.items():
        shape = np.shape(value)
        if shape != got[name].shape:
            raise CascadeError(f"the reference's {name} has shape {shape}; {cascade.name} "
                               f"gives {got[name].shape}", file=cascade.file)


def _shown(shapes: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in shapes.items()) or "(none)"
