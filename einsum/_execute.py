"""Reference execution of any valid cascade in float64 numpy.

Every Einsum is evaluated over its iteration space (output ranks, then reduced ranks) by
gathering each operand onto those axes, applying the map operators with broadcasting and
reducing. Einsums that advance with an iterative rank run in a loop over it, one step at a
time; the rest run whole. Reading a split rank past its end (``m1*M0+m0 >= M`` when M0
does not divide M) yields *absent* elements, which map operators propagate and reductions
skip, as in EDGE's sparse semantics.

>>> import numpy as np
>>> from einsum import load
>>> rng = np.random.default_rng(0)
>>> q, k, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 10)), rng.normal(size=(4, 10))
>>> out = execute(load("fusemax"), {"Q": q, "K": k, "V": v}, shapes={"M0": 4})
>>> out["AV"].shape
(4, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ._errors import CascadeError
from ._ir import Bound, Cascade, Compose, Const, Einsum, Expr, Next, Op, Ref, Var, rank_of
from ._operators import MAP_OPERATORS, REDUCE_OPERATORS, UNION_OPERATORS
from ._predicate import evaluate as evaluate_condition
from ._predicate import sizes_of, variables_of
from ._shapes import resolve_shapes
from ._validate import Layout, Loop, validate

__all__ = ["MAX_ELEMENTS", "Numerics", "execute"]

MAX_ELEMENTS = 2**27
"""Largest iteration space or tensor one Einsum may touch (1 GiB of float64)."""


class Numerics(Protocol):
    """How values are represented: float64 by default, fixed point in ``sim.FixedNumerics``.

    ``store`` rounds a tensor's values to its type as they are written (inputs included);
    ``operator`` may replace a map operator (``exp``, ``/``, ``recip``) by a hardware unit.
    """

    def store(self, tensor: str, values: np.ndarray) -> np.ndarray: ...

    def operator(self, name: str) -> Callable[..., np.ndarray] | None: ...


@dataclass
class _Value:
    data: np.ndarray
    present: np.ndarray | None = None  # None: every element is present


@dataclass(frozen=True)
class _Step:
    rank: str
    position: int


class _Executor:
    def __init__(self, cascade: Cascade, layout: Layout, shapes: dict[str, int],
                 numerics: Numerics | None = None,
                 state: Mapping[str, np.ndarray] | None = None) -> None:
        self.numerics = numerics
        self.state = state or {}
        self.cascade = cascade
        self.layout = layout
        self.shapes = shapes
        self.values: dict[str, _Value] = {}

    # ----- storage

    def allocate(self, tensor: str) -> None:
        dims = [self.shapes[r] + (1 if self.layout.iterative.get(tensor) == r else 0)
                for r in self.layout.ranks[tensor]]
        _guard(int(np.prod(dims, dtype=object)), f"tensor {tensor}")
        data = np.zeros(dims)
        if tensor in self.layout.iterative:
            axis = self.layout.ranks[tensor].index(self.layout.iterative[tensor])
            index = [slice(None)] * len(dims)
            index[axis] = 0
            if tensor in self.state:  # carried over from the previous chunk of the stream
                data[tuple(index)] = self.state[tensor]
            else:
                initial = np.array([self.cascade.initial_values[tensor]])
                if self.numerics is not None:
                    initial = self.numerics.store(tensor, initial)
                data[tuple(index)] = initial[0]
        self.values[tensor] = _Value(data)

    # ----- gathering an operand onto the iteration axes

    def axis_positions(self, variable: str, axes: tuple[str, ...], step: _Step | None,
                       offset: int = 0) -> np.ndarray:
        shape = [1] * len(axes)
        rank = rank_of(variable)
        if step is not None and step.rank == rank:
            positions = np.array([step.position + offset])
        else:
            positions = np.arange(self.shapes[rank]) + offset
            shape[axes.index(variable)] = len(positions)
        return positions.reshape(shape)

    def gather(self, ref: Ref, axes: tuple[str, ...], step: _Step | None) -> _Value:
        value = self.values[ref.tensor]
        indexers: list[np.ndarray | int] = []
        absent: np.ndarray | None = None
        for index, rank in zip(ref.indices, self.layout.ranks[ref.tensor], strict=True):
            if isinstance(index, Var):
                indexers.append(self.axis_positions(index.name, axes, step))
            elif isinstance(index, Next):
                indexers.append(self.axis_positions(index.name, axes, step, offset=1))
            elif isinstance(index, Bound):
                indexers.append(self.shapes[rank])
            else:
                assert isinstance(index, Compose)
                outer = self.axis_positions(index.outer, axes, step)
                inner = self.axis_positions(index.inner, axes, step)
                flat = outer * self.shapes[index.tile] + inner
                beyond = flat >= self.shapes[rank]
                absent = beyond if absent is None else (absent | beyond)
                indexers.append(np.minimum(flat, self.shapes[rank] - 1))
        data = np.asarray(value.data[tuple(indexers)])
        present = None if value.present is None else np.asarray(value.present[tuple(indexers)])
        if absent is not None and absent.any():
            inside = np.broadcast_to(~absent, data.shape)
            present = inside if present is None else present & inside
        return _Value(data, present)

    # ----- evaluation

    def expression(self, expr: Expr, axes: tuple[str, ...], step: _Step | None) -> _Value:
        if isinstance(expr, Const):
            return _Value(np.float64(expr.value).reshape([1] * len(axes)))
        if isinstance(expr, Ref):
            return self.gather(expr, axes, step)
        assert isinstance(expr, Op)
        args = [self.expression(a, axes, step) for a in expr.args]
        apply = self.numerics.operator(expr.name) if self.numerics else None
        data = (apply or MAP_OPERATORS[expr.name].apply)(*(a.data for a in args))
        if expr.name in UNION_OPERATORS and any(a.present is not None for a in args):
            return _union(data, args[0], args[1])
        masks = [a.present for a in args if a.present is not None]
        present = None
        for mask in masks:
            present = mask if present is None else present & mask
        return _Value(data, present)

    def condition(self, e: Einsum, axes: tuple[str, ...], step: _Step | None) -> np.ndarray:
        """Where ``e``'s where condition holds, broadcastable over its iteration axes."""
        assert e.where is not None
        env: dict[str, object] = {v: self.axis_positions(v, axes, step)
                                  for v in variables_of(e.where)}
        env.update({name: self.shapes[name] for name in sizes_of(e.where)})
        return evaluate_condition(e.where, env)

    def evaluate(self, e: Einsum, step: _Step | None) -> None:
        axes = e.iteration_ranks
        sizes = [1 if step is not None and rank_of(v) == step.rank else self.shapes[rank_of(v)]
                 for v in axes]
        _guard(int(np.prod(sizes, dtype=object)), f"the iteration space of {e.name}")
        reduced = tuple(range(len(e.output.variables), len(axes)))
        result = None if e.where is not None else self.product_sum(e, axes, step, reduced)
        if result is None:
            value = self.expression(e.expr, axes, step)
            data = np.broadcast_to(value.data, sizes)
            present = None if value.present is None else np.broadcast_to(value.present, sizes)
            if e.where is not None:
                holds = np.broadcast_to(self.condition(e, axes, step), sizes)
                present = holds if present is None else present & holds
            result = _reduce(e, data, present, reduced)
        if self.numerics is not None:
            result = _Value(self.numerics.store(e.name, np.asarray(result.data)), result.present)
        self.store(e, result, step)

    def product_sum(self, e: Einsum, axes: tuple[str, ...], step: _Step | None,
                    reduced: tuple[int, ...]) -> _Value | None:
        """``A * B`` summed over shared ranks through ``np.einsum``, without materialising."""
        expr = e.expr
        if not (reduced and e.reduction == "+" and isinstance(expr, Op) and expr.name == "*"
                and all(isinstance(a, Ref) for a in expr.args)):
            return None
        a, b = (self.gather(r, axes, step) for r in expr.args)  # type: ignore[arg-type]
        present = None
        if a.present is not None or b.present is not None:
            mask_a = np.ones(a.data.shape, bool) if a.present is None else a.present
            mask_b = np.ones(b.data.shape, bool) if b.present is None else b.present
            both = mask_a & mask_b
            present = np.any(both, axis=reduced, keepdims=True)
            a = _Value(np.where(mask_a, a.data, 0.0))
            b = _Value(np.where(mask_b, b.data, 0.0))
        letters = list(range(len(axes)))
        keep = [i for i in letters if i not in reduced]
        data = np.einsum(a.data, letters, b.data, letters, keep)
        data = data.reshape([s if i in keep else 1 for i, s in enumerate(
            np.broadcast_shapes(a.data.shape, b.data.shape))])
        return _Value(_drop_reduced(data, reduced), None if present is None
                      else _drop_reduced(present, reduced))

    def store(self, e: Einsum, result: _Value, step: _Step | None) -> None:
        target = self.values[e.name]
        index: list[slice] = []
        for i in e.output.indices:
            assert isinstance(i, Var | Next)
            if step is not None and rank_of(i.name) == step.rank:
                at = step.position + (1 if isinstance(i, Next) else 0)
                index.append(slice(at, at + 1))
            elif isinstance(i, Next):
                index.append(slice(1, None))
            else:
                index.append(slice(None))
        nxt = next((n for n, i in enumerate(e.output.indices) if isinstance(i, Next)), None)
        if nxt is not None and step is not None and result.present is not None:
            # a recurrence whose update is absent (a masked key) keeps its previous state
            previous = list(index)
            at = index[nxt]
            previous[nxt] = slice(at.start - 1, at.stop - 1)
            old = target.data[tuple(previous)]
            has_old = np.ones(old.shape, bool) if target.present is None else \
                target.present[tuple(previous)]
            keep = ~np.broadcast_to(result.present, old.shape)
            result = _Value(np.where(keep, old, result.data), np.where(keep, has_old,
                                                                         result.present))
        target.data[tuple(index)] = result.data
        if result.present is not None and not result.present.all():
            if target.present is None:
                target.present = np.ones(target.data.shape, bool)
            target.present[tuple(index)] = result.present

    def run(self) -> None:
        for tensor in self.layout.ranks:
            if tensor not in self.values:
                self.allocate(tensor)
        for item in self.layout.order:
            if isinstance(item, Loop):
                for position in range(self.shapes[item.rank]):
                    step = _Step(item.rank, position)
                    for name in item.einsums:
                        self.evaluate(self.cascade.einsum(name), step)
            else:
                self.evaluate(self.cascade.einsum(item), None)


def _union(data: np.ndarray, a: _Value, b: _Value) -> _Value:
    """``+``, ``max`` and ``min`` merge sparse operands (EDGE's union): where one operand is
    absent the result is the other, so a recurrence keeps its state over masked points."""
    shape = np.broadcast_shapes(a.data.shape, b.data.shape)
    has_a = np.ones(shape, bool) if a.present is None else np.broadcast_to(a.present, shape)
    has_b = np.ones(shape, bool) if b.present is None else np.broadcast_to(b.present, shape)
    merged = np.where(has_a & has_b, np.broadcast_to(data, shape),
                      np.where(has_a, np.broadcast_to(a.data, shape),
                               np.broadcast_to(b.data, shape)))
    present = has_a | has_b
    return _Value(merged, None if present.all() else present)


def _drop_reduced(array: np.ndarray, reduced: tuple[int, ...]) -> np.ndarray:
    return array.reshape([s for i, s in enumerate(array.shape) if i not in reduced])


def _reduce(e: Einsum, data: np.ndarray, present: np.ndarray | None,
            reduced: tuple[int, ...]) -> _Value:
    if not reduced:
        return _Value(np.array(data), None if present is None else np.array(present))
    op = REDUCE_OPERATORS[e.reduction]
    if present is not None:
        data = np.where(present, data, op.identity)
        present = np.any(present, axis=reduced)
    return _Value(op.apply(data, axis=reduced), present)


def _guard(elements: int, what: str) -> None:
    if elements > MAX_ELEMENTS:
        raise CascadeError(f"{what} has {elements} elements, more than the reference "
                           f"executor's limit of {MAX_ELEMENTS}; use smaller shapes")


def _input_shapes(cascade: Cascade, layout: Layout,
                  inputs: Mapping[str, np.ndarray]) -> dict[str, int]:
    shapes: dict[str, int] = {}
    origin: dict[str, str] = {}
    for name in layout.inputs:
        if name not in inputs:
            raise CascadeError(f"input {name} of {cascade.name} is missing", file=cascade.file)
        array = np.asarray(inputs[name])
        ranks = layout.ranks[name]
        if array.ndim != len(ranks):
            raise CascadeError(f"input {name} has ranks [{','.join(ranks)}] but the array has "
                               f"{array.ndim} dimension(s)", file=cascade.file)
        for rank, size in zip(ranks, array.shape, strict=True):
            if rank in shapes and shapes[rank] != size:
                raise CascadeError(f"rank {rank} has two sizes: {shapes[rank]} from "
                                   f"{origin[rank]}, {size} from {name}", file=cascade.file)
            shapes[rank], origin[rank] = size, name
    extra = sorted(set(inputs) - set(layout.inputs))
    if extra:
        raise CascadeError(f"{cascade.name} has no input {extra[0]}", file=cascade.file)
    return shapes


def execute(cascade: Cascade, inputs: Mapping[str, np.ndarray], *,
            shapes: Mapping[str, int] | None = None, keep: bool = False,
            numerics: Numerics | None = None,
            state: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Run ``cascade`` on ``inputs`` (arrays in the declared rank order).

    Returns the outputs, or every tensor when ``keep`` is true. ``shapes`` gives the sizes
    that the inputs do not fix (the tile of a split, for example); ``state`` the starting
    values of recurrences in place of their declared initial values.
    """
    layout = validate(cascade)
    sizes = _input_shapes(cascade, layout, inputs)
    for rank, size in (shapes or {}).items():
        if rank in sizes and sizes[rank] != size:
            raise CascadeError(f"rank {rank} has two sizes: {size} given, {sizes[rank]} "
                               "from the inputs", file=cascade.file)
        sizes[rank] = size
    executor = _Executor(cascade, layout, resolve_shapes(cascade, sizes), numerics, state)
    for name in layout.inputs:
        data = np.asarray(inputs[name], dtype=np.float64)
        executor.values[name] = _Value(numerics.store(name, data) if numerics else data)
    with np.errstate(all="ignore"):
        executor.run()
    wanted = layout.ranks if keep else layout.outputs
    result = {}
    for name in wanted:
        value = executor.values[name]
        if name in layout.outputs and value.present is not None and not value.present.all():
            raise CascadeError(f"output {name} has absent elements", file=cascade.file)
        result[name] = value.data
    return result
