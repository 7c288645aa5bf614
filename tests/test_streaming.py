"""Streaming execution: chunk by chunk over the stream rank, the same numbers as whole
execution (peak memory is measured in benchmarks/bench_streaming.py)."""

from __future__ import annotations

import numpy as np
import pytest

from einsum import CascadeError, execute, execute_streaming, load


def _split(arrays: dict[str, np.ndarray], size: int, chunk: int) -> list[dict[str, np.ndarray]]:
    return [{name: a[..., :, start:start + chunk] if a.ndim == 2 else a
             for name, a in arrays.items()} for start in range(0, size, chunk)]


@pytest.mark.parametrize(("name", "chunk", "shapes"), [
    ("fusemax", 32, {"M0": 16}),      # whole tiles, the last chunk ragged
    ("fusemax", 48, {"M0": 16}),
    ("one_pass", 7, {}),
    ("aaren", 9, {}),                 # an output indexed by the stream rank
])
def test_streaming_equals_whole(name: str, chunk: int, shapes: dict[str, int]) -> None:
    rng = np.random.default_rng(4)
    q, k = rng.normal(scale=2.0, size=(8, 5)), rng.normal(scale=2.0, size=(8, 101))
    v = rng.normal(size=(6, 101))
    cascade = load(name)
    whole = execute(cascade, {"Q": q, "K": k, "V": v}, shapes=shapes)
    streamed = execute_streaming(cascade, {"Q": q}, _split({"K": k, "V": v}, 101, chunk),
                                 shapes=shapes)
    for output, value in whole.items():
        assert streamed[output].shape == value.shape
        assert np.max(np.abs(streamed[output] - value)) <= 1e-12 * np.max(np.abs(value))


def test_streaming_with_every_input_on_the_stream() -> None:
    rng = np.random.default_rng(5)
    arrays = {"Q": rng.normal(size=(4, 50)), "K": rng.normal(size=(4, 50)),
              "V": rng.normal(size=(3, 50))}
    cascade = load("linear_attention_causal")
    whole = execute(cascade, arrays)["O"]
    streamed = execute_streaming(cascade, {}, _split(arrays, 50, 16))["O"]
    assert np.allclose(streamed, whole, rtol=1e-12, atol=0)


def test_streaming_needs_one_pass() -> None:
    with pytest.raises(CascadeError, match=r"three_pass\.yaml: three_pass takes 3 passes; "
                                           r"streaming execution needs a 1-pass cascade"):
        execute_streaming(load("three_pass"), {}, [])
