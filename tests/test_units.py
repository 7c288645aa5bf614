"""The numeric units against float64: GELU's published error, exp, recip, softmax, LayerNorm."""

from __future__ import annotations

import numpy as np
import pytest

from einsum import CascadeError
from sim import (
    ExpUnit,
    Fixed,
    FixedType,
    GeluUnit,
    LayerNormUnit,
    OnlineSoftmax,
    ReciprocalUnit,
    gelu_erf,
    gelu_tanh,
)


def test_gelu_reproduces_edge_moe_error() -> None:
    unit = GeluUnit()
    x = np.arange(-8 * 2**14, 8 * 2**14) / 2**14
    fx = Fixed.from_float(x, unit.io_type)
    error = np.abs(unit(fx).to_float() - gelu_erf(fx.to_float()))
    assert error.max() == pytest.approx(9.755e-5, rel=0.01)
    assert np.abs(gelu_tanh(x) - gelu_erf(x)).max() == pytest.approx(4.73e-4, rel=0.01)


def test_gelu_table_and_saturation() -> None:
    unit = GeluUnit()
    assert len(unit.table) == 177
    table = unit.table.to_float()
    assert table[0] == 0 and table[-1] == pytest.approx(5.5 * 1.9e-8, abs=2.0**-22)
    big = Fixed.from_float([-6.0, 6.0, 100.0], unit.io_type)
    assert unit(big).to_float().tolist() == [0.0, 6.0, 100.0]


def test_gelu_error_moves_with_the_table_step() -> None:
    coarse, fine = GeluUnit(step_bits=4), GeluUnit(step_bits=6)
    x = np.arange(-4 * 2**12, 4 * 2**12) / 2**12

    def worst(unit: GeluUnit) -> float:
        fx = Fixed.from_float(x, unit.io_type)
        return float(np.abs(unit(fx).to_float() - gelu_erf(fx.to_float())).max())

    assert worst(coarse) > 3.5 * worst(GeluUnit()) > 3.5 * 3.5 * worst(fine) / 3.5


@pytest.mark.parametrize("table_bits", [4, 6, 8])
def test_exp_within_its_bound(table_bits: int) -> None:
    unit = ExpUnit(table_bits=table_bits)
    x = -np.arange(0, 30 * 2**10) / 2**10
    error = np.abs(unit(Fixed.from_float(x, unit.in_type)).to_float() - np.exp(x))
    assert error.max() <= unit.max_error()
    assert error.max() > unit.max_error() / 4  # the bound is not vacuous


def test_reciprocal_within_its_bound() -> None:
    unit = ReciprocalUnit()
    s = np.linspace(1, 8192, 100_001)
    fs = Fixed.from_float(s, unit.in_type)
    got = unit(fs).to_float() * fs.to_float()
    assert np.abs(got - 1).max() <= unit.max_relative_error() + 8192 * unit.out_type.lsb


@pytest.mark.parametrize(("keys", "scale"), [(1, 1.0), (7, 3.0), (256, 4.0), (4096, 8.0),
                                             (4096, 0.25)])
def test_online_softmax_within_the_error_its_types_imply(keys: int, scale: float) -> None:
    unit = OnlineSoftmax()
    rng = np.random.default_rng(keys)
    fs = Fixed.from_float(rng.normal(size=(4, keys)) * scale, unit.score_type)
    s = fs.to_float()
    weights = np.exp(s - s.max(axis=1, keepdims=True))
    exact = weights / weights.sum(axis=1, keepdims=True)
    error = np.abs(unit.probabilities(fs).to_float() - exact).max(axis=1)
    assert np.all(error <= unit.error_bound(weights.sum(axis=1), keys))


def test_online_softmax_edge_cases() -> None:
    unit = OnlineSoftmax()
    equal = unit.probabilities(Fixed.from_float(np.full((1, 64), 3.5), unit.score_type))
    assert np.allclose(equal.to_float(), 1 / 64, atol=1e-5)
    extreme = unit.probabilities(Fixed.from_float([[500.0, -500.0, 499.0]], unit.score_type))
    assert extreme.to_float()[0].tolist() == pytest.approx([0.7311, 0.0, 0.2689], abs=1e-4)


def test_layernorm_against_float() -> None:
    unit = LayerNormUnit()
    rng = np.random.default_rng(2)
    x = Fixed.from_float(rng.normal(size=(8, 192)) * 3 + 1, unit.io_type)
    g = Fixed.from_float(rng.normal(size=192), unit.io_type)
    b = Fixed.from_float(rng.normal(size=192), unit.io_type)
    xv = x.to_float()
    want = ((xv - xv.mean(1, keepdims=True)) / np.sqrt(xv.var(1, keepdims=True) + 1e-5)
            * g.to_float() + b.to_float())
    assert np.abs(unit(x, g, b).to_float() - want).max() < 2e-4


def test_unit_validation() -> None:
    with pytest.raises(CascadeError, match=r"^step_bits must be a whole number 0\.\.12, "
                                           r"not 20$"):
        GeluUnit(step_bits=20)
    with pytest.raises(CascadeError, match=r"^the exp output type must be unsigned"):
        ExpUnit(out_type=FixedType(16, 1))
    with pytest.raises(CascadeError, match=r"^the reciprocal's input type"):
        OnlineSoftmax(sum_type=FixedType(24, 12, signed=False))
