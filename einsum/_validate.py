"""Validation of a cascade, and the facts about it that analysis and execution share.

:func:`validate` checks a :class:`Cascade` and returns its :class:`Layout`: the ranks of
every tensor, which tensors iterate over which rank, the dependency graph within one step
of an iterative rank, and an execution order in which the Einsums that advance with an
iterative rank are grouped into one loop over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import networkx as nx

from ._errors import CascadeError
from ._ir import Bound, Cascade, Compose, Einsum, Next, Ref, Var, Zero, rank_of
from ._predicate import sizes_of, variables_of

__all__ = ["Layout", "Loop", "validate"]


@dataclass(frozen=True)
class Loop:
    """Einsums evaluated step by step over the iterative rank ``rank``, in this order."""

    rank: str
    einsums: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    ranks: dict[str, tuple[str, ...]]
    """Rank names of every input and defined tensor, in order."""
    iterative: dict[str, str]
    """Tensor -> the rank it iterates over (it has one more element along that rank)."""
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    graph: nx.DiGraph
    """Edge ``A -> B`` when B reads a value of A computed in the same step."""
    order: tuple[str | Loop, ...]
    """Einsum names and loops in an order that respects every dependency."""
    splits: dict[str, tuple[str, str]]
    """Split rank -> (outer, inner)."""
    parameters: tuple[str, ...] = ()
    """Sizes that where conditions read and that are not ranks (a window W, say)."""

    def all_ranks(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for ranks in self.ranks.values():
            for r in ranks:
                seen.setdefault(r, None)
        for whole, (outer, inner) in self.splits.items():
            for r in (whole, outer, inner):
                seen.setdefault(r, None)
        for name in self.parameters:
            seen.setdefault(name, None)
        return tuple(seen)

    def walked_ranks(self, stream: str) -> frozenset[str]:
        """Ranks of ``stream`` walked in sequence: all but the tiles of its splits.

        With ``M -> M1, M0`` the tiles m1 follow one another while the keys m0 of one
        tile are resident together, so a reduction over m0 waits for no later data.
        """
        ranks = self.stream_ranks(stream)
        return ranks - {inner for whole, (_outer, inner) in self.splits.items()
                        if whole in ranks}

    def stream_ranks(self, stream: str) -> frozenset[str]:
        """``stream`` and every rank it splits into, transitively."""
        found, todo = set(), [stream]
        while todo:
            rank = todo.pop()
            if rank in found:
                continue
            found.add(rank)
            todo.extend(self.splits.get(rank, ()))
        return frozenset(found)


def _fail(message: str, line: int | None) -> CascadeError:
    return CascadeError(message, line=line)


def _output_ranks(e: Einsum) -> tuple[tuple[str, ...], str | None]:
    ranks, iterative, seen = [], None, set()
    for index in e.output.indices:
        if not isinstance(index, Var | Next):
            raise _fail(
                f"output {e.output} may be indexed only by rank variables and var+1, not {index}",
                e.line,
            )
        if index.name in seen:
            raise _fail(f"output {e.output} uses rank variable {index.name} twice", e.line)
        seen.add(index.name)
        ranks.append(rank_of(index.name))
        if isinstance(index, Next):
            if iterative is not None:
                raise _fail(f"output {e.output} iterates over two ranks", e.line)
            iterative = rank_of(index.name)
    return tuple(ranks), iterative


def _check_read(ref: Ref, ranks: tuple[str, ...], layout_iter: dict[str, str],
                splits: dict[str, tuple[str, str]], line: int | None) -> None:
    if len(ref.indices) != len(ranks):
        shown = ",".join(ranks)
        raise _fail(
            f"{ref.tensor} has {len(ranks)} rank(s) [{shown}] but is read as {ref}", line
        )
    for position, (index, rank) in enumerate(zip(ref.indices, ranks, strict=True), start=1):
        iterates = layout_iter.get(ref.tensor) == rank
        if isinstance(index, Var):
            if rank_of(index.name) != rank:
                raise _fail(
                    f"rank {position} of {ref.tensor} is {rank} but {ref} reads it with "
                    f"{index.name} (rank {rank_of(index.name)}): one rank used with two sizes",
                    line,
                )
        elif isinstance(index, Next):
            if not iterates or rank_of(index.name) != rank:
                raise _fail(f"{ref} reads {index} but {ref.tensor} does not iterate over "
                            f"{rank_of(index.name)}", line)
        elif isinstance(index, Bound):
            if not iterates or index.rank != rank:
                raise _fail(f"{ref} reads the upper bound {index.rank} but {ref.tensor} does "
                            f"not iterate over {index.rank}", line)
        elif isinstance(index, Zero):
            raise _fail(f"{ref}: index 0 may only declare an initial value", line)
        else:
            parts = splits.get(rank)
            want = (rank_of(index.outer), rank_of(index.inner))
            if parts != want or index.tile != want[1]:
                raise _fail(f"{ref} reads rank {rank} as {index} but no split "
                            f"{rank} -> {want[0]}, {want[1]} is declared", line)


def _input_ranks_from_read(ref: Ref, splits_by_parts: dict[tuple[str, str], str],
                           line: int | None) -> tuple[str, ...]:
    ranks = []
    for index in ref.indices:
        if isinstance(index, Var):
            ranks.append(rank_of(index.name))
        elif isinstance(index, Compose):
            whole = splits_by_parts.get((rank_of(index.outer), rank_of(index.inner)))
            if whole is None or index.tile != rank_of(index.inner):
                raise _fail(f"{ref} reads through {index} but no matching split is declared",
                            line)
            ranks.append(whole)
        else:
            raise _fail(f"{ref}: {ref.tensor} is not defined by any Einsum", line)
    return tuple(ranks)


def _check_reduction(e: Einsum) -> None:
    out = set(e.output.variables)
    reduced = e.reduced_ranks
    for name in e.reduce_ranks:
        if name in out:
            raise _fail(f"{e.name} cannot reduce over {name}: it is a rank of the output", e.line)
        if name not in reduced:
            raise _fail(f"{e.name} reduces over {name}, which no operand has", e.line)
    if e.reduce_op is not None:
        missing = [r for r in reduced if r not in e.reduce_ranks]
        if missing:
            raise _fail(f"{e.name} also reduces over {', '.join(missing)}; name every reduced "
                        "rank in the reduce clause", e.line)
    read = {v for ref in e.refs for v in ref.variables}
    if e.where is not None:  # a where condition binds the variables it reads
        read |= set(variables_of(e.where))
    for name in e.output.variables:
        if name not in read:
            raise _fail(f"rank variable {name} of {e.output} appears in no operand", e.line)


def _is_previous_step(ref: Ref, iterative: dict[str, str]) -> bool:
    """``RD[m1,p]`` of a tensor iterating over M1 reads the value of the previous step."""
    rank = iterative.get(ref.tensor)
    return rank is not None and any(
        isinstance(i, Var) and rank_of(i.name) == rank for i in ref.indices
    )


def _cycle(graph: nx.DiGraph) -> list[tuple[str, str]] | None:
    """A cycle of ``graph``, or None. The linear acyclicity test goes first: networkx's
    ``find_cycle`` walks a long acyclic chain in quadratic time."""
    if nx.is_directed_acyclic_graph(graph):
        return None
    return list(nx.find_cycle(graph))


def validate(cascade: Cascade) -> Layout:
    """Check every rule of the notation; raise :class:`CascadeError` naming file and line.

    Valid cascades are remembered (a cascade is immutable), so analysis and search can ask
    again for free; the returned layout must not be modified.
    """
    try:
        return _validated(cascade)
    except CascadeError as error:
        raise error.located(file=cascade.file) from None


@lru_cache(maxsize=256)
def _validated(cascade: Cascade) -> Layout:
    return _validate(cascade)


def _validate(cascade: Cascade) -> Layout:
    splits: dict[str, tuple[str, str]] = {}
    for split in cascade.splits:
        if split.whole in splits:
            raise _fail(f"rank {split.whole} is split twice", split.line)
        if len({split.whole, split.outer, split.inner}) != 3:
            raise _fail(f"split {split} must name three different ranks", split.line)
        splits[split.whole] = (split.outer, split.inner)
    by_parts = {parts: whole for whole, parts in splits.items()}

    ranks: dict[str, tuple[str, ...]] = {}
    iterative: dict[str, str] = {}
    defined_line: dict[str, int | None] = {}
    for decl in cascade.inputs:
        if decl.name in ranks:
            raise _fail(f"input {decl.name} is declared twice", decl.line)
        ranks[decl.name] = decl.ranks
    declared_inputs = set(ranks)
    for e in cascade.einsums:
        if e.name in declared_inputs:
            raise _fail(f"{e.name} is an input and cannot also be defined", e.line)
        if e.name in defined_line:
            raise _fail(f"{e.name} is defined twice (first on line {defined_line[e.name]})",
                        e.line)
        defined_line[e.name] = e.line
        ranks[e.name], rank = _output_ranks(e)
        if rank is not None:
            iterative[e.name] = rank
    if not cascade.einsums:
        raise _fail("the cascade has no Einsum", None)

    inferred: list[str] = []
    for e in cascade.einsums:
        for ref in e.refs:
            if ref.tensor in ranks:
                continue
            if cascade.inputs:
                raise _fail(f"unknown tensor {ref.tensor}: neither an input nor defined", e.line)
            ranks[ref.tensor] = _input_ranks_from_read(ref, by_parts, e.line)
            inferred.append(ref.tensor)
    inputs = tuple(d.name for d in cascade.inputs) or tuple(inferred)

    for e in cascade.einsums:
        for ref in e.refs:
            _check_read(ref, ranks[ref.tensor], iterative, splits, e.line)
            if ref.tensor == e.name and not _is_previous_step(ref, iterative):
                if e.name not in iterative:
                    raise _fail(f"{e.name} reads itself but has no iterative rank; a "
                                f"recurrence is written like {e.name}[m+1,...] = "
                                f"f({e.name}[m,...])", e.line)
                previous = ",".join(i.name if isinstance(i, Var | Next) else str(i)
                                    for i in e.output.indices)
                raise _fail(f"{e.name} reads itself at {ref}; only the previous step "
                            f"{e.name}[{previous}] may be read", e.line)
        _check_reduction(e)

    initial = {}
    for init in cascade.initial:
        if init.tensor in initial:
            raise _fail(f"initial value of {init.tensor} is declared twice", init.line)
        if init.tensor not in iterative:
            raise _fail(f"initial value given for {init.tensor}, which is not an iterative "
                        "tensor", init.line)
        initial[init.tensor] = init.value
    for tensor, rank in iterative.items():
        if tensor not in initial:
            zero_form = ",".join("0" if r == rank else r.lower() for r in ranks[tensor])
            raise _fail(f"iterative tensor {tensor} (over {rank}) has no initial value; "
                        f"declare {tensor}[{zero_form}] = ...", defined_line[tensor])

    outputs = cascade.output_names
    for decl in cascade.outputs:
        if decl.name not in defined_line:
            raise _fail(f"output {decl.name} is not defined by any Einsum", decl.line)
        if ranks[decl.name] != decl.ranks:
            raise _fail(f"output {decl} does not match its definition "
                        f"{decl.name}[{','.join(r.lower() for r in ranks[decl.name])}]",
                        decl.line)
    if not outputs:
        read = {ref.tensor for e in cascade.einsums for ref in e.refs if ref.tensor != e.name}
        outputs = tuple(e.name for e in cascade.einsums if e.name not in read)

    used = set()
    for tensor_ranks in ranks.values():
        used.update(tensor_ranks)
    if cascade.stream != "M" and cascade.stream not in used | set(splits):
        raise _fail(f"stream rank {cascade.stream} is not a rank of the cascade", None)

    graph = nx.DiGraph()
    graph.add_nodes_from(e.name for e in cascade.einsums)
    for e in cascade.einsums:
        for ref in e.refs:
            if ref.tensor in defined_line and not _is_previous_step(ref, iterative):
                graph.add_edge(ref.tensor, e.name)
    cycle = _cycle(graph)
    if cycle:
        path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        raise _fail(f"cycle in the dependency graph: {path}", defined_line[cycle[0][1]])

    layout = Layout(ranks, iterative, inputs, outputs, graph, (), splits)
    order = _execution_order(cascade, layout)
    parameters = _where_parameters(cascade, ranks, splits)
    return Layout(ranks, iterative, inputs, outputs, graph, order, splits, parameters)


def _where_parameters(cascade: Cascade, ranks: dict[str, tuple[str, ...]],
                      splits: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    """Check every where condition reads only the Einsum's own variables; return the sizes
    it reads that are not ranks (parameters such as a window)."""
    known = {r for rs in ranks.values() for r in rs} | {r for w, parts in splits.items()
                                                       for r in (w, *parts)}
    parameters: dict[str, None] = {}
    for e in cascade.einsums:
        if e.where is None:
            continue
        own = set(e.iteration_ranks)
        for name in variables_of(e.where):
            if name not in own:
                raise _fail(f"the where condition of {e.name} reads {name}, which is not "
                            f"one of its rank variables ({', '.join(e.iteration_ranks)})",
                            e.line)
        for name in sizes_of(e.where):
            if name not in known:
                parameters.setdefault(name, None)
    return tuple(parameters)


def _stepwise_rank(cascade: Cascade, layout: Layout) -> dict[str, str]:
    """Einsums that must advance with an iterative rank, and that rank.

    An Einsum is stepwise over R when it iterates over R itself, or when its output carries
    R and it reads, at the current step, an iterative tensor or another stepwise Einsum.
    """
    stepwise: dict[str, str] = dict(layout.iterative)
    for name in nx.topological_sort(layout.graph):
        e = cascade.einsum(name)
        if name in stepwise:
            continue
        out_ranks = set(layout.ranks[name])
        for ref in e.refs:
            rank = stepwise.get(ref.tensor)
            if rank is None or rank not in out_ranks:
                continue
            if any(isinstance(i, Bound) for i in ref.indices):
                continue
            if name in stepwise and stepwise[name] != rank:
                raise _fail(f"{name} would advance with two iterative ranks, "
                            f"{stepwise[name]} and {rank}", e.line)
            stepwise[name] = rank
    return stepwise


def _execution_order(cascade: Cascade, layout: Layout) -> tuple[str | Loop, ...]:
    stepwise = _stepwise_rank(cascade, layout)
    groups = nx.DiGraph()
    node_of = {e.name: (f"loop:{stepwise[e.name]}" if e.name in stepwise else e.name)
               for e in cascade.einsums}
    groups.add_nodes_from(set(node_of.values()))
    for src, dst in layout.graph.edges:
        if node_of[src] != node_of[dst]:
            groups.add_edge(node_of[src], node_of[dst])
    # Reads of the whole history of a recurrence wait for its loop too.
    for e in cascade.einsums:
        for ref in e.refs:
            rank = stepwise.get(ref.tensor)
            if rank is not None and node_of[e.name] != node_of[ref.tensor]:
                groups.add_edge(node_of[ref.tensor], node_of[e.name])
    cycle = _cycle(groups)
    if cycle:
        names = [n for n, _ in cycle if not n.startswith("loop:")]
        first = cascade.einsum(names[0]) if names else cascade.einsums[0]
        raise _fail(f"{first.name} is needed inside the loop over "
                    f"{next(n for n, _ in cycle if n.startswith('loop:'))[5:]} but also waits "
                    "for the loop to finish", first.line)
    # Each group sorts by the position of its first Einsum, found in one pass (a lookup per
    # comparison made long chains quadratic).
    first: dict[str, int] = {}
    for i, e in enumerate(cascade.einsums):
        first.setdefault(node_of[e.name], i)
    members: dict[str, list[str]] = {}
    for n in nx.topological_sort(layout.graph):
        if node_of[n] != n:
            members.setdefault(node_of[n], []).append(n)
    order: list[str | Loop] = []
    for node in nx.lexicographical_topological_sort(groups, key=lambda n: f"{first[n]:09d}"):
        if node.startswith("loop:"):
            order.append(Loop(node[5:], tuple(members.get(node, ()))))
        else:
            order.append(node)
    return tuple(order)
