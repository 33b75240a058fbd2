"""The graph a pipeline function builds: nodes, data edges, order edges and conditions.

Calling a step inside a ``@pipeline`` function does not run it: it adds a :class:`Node` and
returns a :class:`StepOutput` reference. Passing a reference to another step is a data edge;
``a >> b`` is an order edge; ``when=ref`` (or ``when=~ref``) makes a node conditional.
"""

from __future__ import annotations

import graphlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import PipelineDefinitionError

if TYPE_CHECKING:
    from ._step import Step


class StepOutput:
    """A reference to a step's output (or to an attribute/key of it) inside a pipeline."""

    __slots__ = ("_graph", "_node", "_path")

    def __init__(self, graph: Graph, node: str, path: tuple[str | int, ...] = ()) -> None:
        self._graph = graph
        self._node = node
        self._path = path

    @property
    def node(self) -> str:
        return self._node

    @property
    def path(self) -> tuple[str | int, ...]:
        return self._path

    def __getattr__(self, name: str) -> StepOutput:
        if name.startswith("__"):
            raise AttributeError(name)
        return StepOutput(self._graph, self._node, (*self._path, name))

    def __getitem__(self, key: str | int) -> StepOutput:
        return StepOutput(self._graph, self._node, (*self._path, key))

    def __invert__(self) -> Condition:
        return Condition(self, negate=True)

    def __rshift__(self, other: StepOutput | list[StepOutput]) -> StepOutput | list[StepOutput]:
        """``a >> b``: b runs after a, even though no data flows between them."""
        for target in other if isinstance(other, list) else [other]:
            if not isinstance(target, StepOutput):
                raise PipelineDefinitionError(
                    "'>>' needs a step call on its right, e.g. prepare() >> train(). "
                    f"Got {target!r}."
                )
            self._graph.nodes[target.node].after.add(self._node)
        return other

    def __rrshift__(self, other: list[StepOutput]) -> StepOutput:
        for source in other:
            source >> self
        return self

    def __bool__(self) -> bool:
        raise PipelineDefinitionError(
            f"The output of step {self._node!r} is not known while the pipeline is being "
            "defined, so it cannot be used in 'if', 'and', 'or' or 'not'.",
            hint="Make the step conditional instead: deploy(model, when=ev.passed) or "
            "alert(ev, when=~ev.passed).",
        )

    def __iter__(self) -> Iterator[Any]:
        raise PipelineDefinitionError(
            f"The output of step {self._node!r} cannot be iterated while the pipeline is "
            "being defined.",
            hint=f"Fan out over it at run time with: other_step.map({self._node}_output).",
        )

    def __repr__(self) -> str:
        suffix = "".join(f".{p}" if isinstance(p, str) else f"[{p!r}]" for p in self._path)
        return f"<output of {self._node}{suffix}>"


@dataclass(frozen=True)
class Condition:
    """``when=ref`` runs a node if the referenced value is truthy; ``~ref`` if falsy."""

    ref: StepOutput
    negate: bool = False

    def __invert__(self) -> Condition:
        return Condition(self.ref, not self.negate)


@dataclass
class Node:
    """One step call in a pipeline.

    Attributes:
        name: Unique in the pipeline: the step's name, suffixed ``_2``, ``_3`` on reuse.
        constants: Arguments known at definition time (JSON values).
        refs: Arguments that are outputs of other nodes.
        map_over: For ``step.map(...)``: the argument fanned out over, with its items
            (a list constant, or a reference resolved at run time).
    """

    name: str
    step: Step[..., Any]
    constants: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, StepOutput] = field(default_factory=dict)
    after: set[str] = field(default_factory=set)
    when: Condition | None = None
    map_over: tuple[str, list[Any] | StepOutput] | None = None

    @property
    def upstream(self) -> set[str]:
        deps = {r.node for r in self.refs.values()} | set(self.after)
        if self.when is not None:
            deps.add(self.when.ref.node)
        if self.map_over is not None and isinstance(self.map_over[1], StepOutput):
            deps.add(self.map_over[1].node)
        return deps


@dataclass
class Graph:
    pipeline: str
    nodes: dict[str, Node] = field(default_factory=dict)
    # The next suffix to try for each step name called more than once (train, train_2, ...):
    # probing from 2 on every call would make a long chain of one step quadratic to build.
    _next_suffix: dict[str, int] = field(default_factory=dict, repr=False)

    def add(
        self,
        step: Step[..., Any],
        bound: dict[str, Any],
        *,
        when: Any = None,
        name: str | None = None,
        map_over: tuple[str, Any] | None = None,
    ) -> StepOutput:
        node_name = name or step.name
        if name is None:
            n = self._next_suffix.get(step.name, 2)
            while node_name in self.nodes:
                node_name = f"{step.name}_{n}"
                n += 1
            if node_name != step.name:
                self._next_suffix[step.name] = n
        elif node_name in self.nodes:
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r} already has a step named {node_name!r}.",
                hint="Give each call a distinct name= (or step.with_options(name=...)(...) for "
                "a step that has a parameter called name).",
            )
        node = Node(name=node_name, step=step)
        for arg, value in bound.items():
            if isinstance(value, StepOutput):
                self._check_ref(value, node_name, arg)
                node.refs[arg] = value
            elif isinstance(value, Condition):
                raise PipelineDefinitionError(
                    f"Argument {arg!r} of step {node_name!r} is a condition (~output); "
                    "conditions go in when=.",
                )
            else:
                node.constants[arg] = _check_constant(value, node_name, arg)
        if when is not None:
            node.when = _as_condition(when, node_name)
            self._check_ref(node.when.ref, node_name, "when")
        if map_over is not None:
            arg, items = map_over
            if isinstance(items, StepOutput):
                self._check_ref(items, node_name, arg)
            else:
                items = _check_constant(list(items), node_name, arg)
            node.map_over = (arg, items)
        self.nodes[node_name] = node
        return StepOutput(self, node_name)

    def _check_ref(self, ref: StepOutput, node: str, arg: str) -> None:
        if ref._graph is not self or ref.node not in self.nodes:
            raise PipelineDefinitionError(
                f"Argument {arg!r} of step {node!r} refers to step {ref.node!r}, which is not "
                f"part of pipeline {self.pipeline!r}.",
                hint="Pass outputs of steps called inside the same @pipeline function.",
            )

    def order(self) -> list[str]:
        """Node names in a topological order; raises on a cycle."""
        sorter = graphlib.TopologicalSorter({n: node.upstream for n, node in self.nodes.items()})
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = " -> ".join(exc.args[1])
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r} has a cycle: {cycle}.",
                hint="Remove one of the '>>' order edges that closes the loop.",
            ) from None

    def downstream(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {n: set() for n in self.nodes}
        for name, node in self.nodes.items():
            for up in node.upstream:
                out[up].add(name)
        return out


def _as_condition(value: Any, node: str) -> Condition:
    if isinstance(value, Condition):
        return value
    if isinstance(value, StepOutput):
        return Condition(value)
    raise PipelineDefinitionError(
        f"when= of step {node!r} must be a step output (when=ev.passed or when=~ev.passed). "
        f"Got {value!r}, which is known before the pipeline runs.",
        hint="Use a plain Python 'if' around the call for values known up front.",
    )


def _check_constant(value: Any, node: str, arg: str) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise PipelineDefinitionError(
            f"Argument {arg!r} of step {node!r} is a {type(value).__name__}; arguments given "
            "directly must be JSON values (numbers, strings, lists, dicts) so runs can be cached "
            "and resumed.",
            hint="Produce it in a step and pass that step's output instead.",
        ) from None
    return value


_BUILDING: ContextVar[Graph | None] = ContextVar("conveyor_building_graph", default=None)


def current_graph() -> Graph | None:
    return _BUILDING.get()


def building(graph: Graph) -> Any:
    return _BUILDING.set(graph)


def done_building(token: Any) -> None:
    _BUILDING.reset(token)
