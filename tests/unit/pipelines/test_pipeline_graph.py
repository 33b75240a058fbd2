"""The graph a pipeline function traces: references into outputs, order edges in every
shape, conditions, fan-out over another step's output, and who runs after whom."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.core import PipelineDefinitionError
from conveyor.pipelines import Condition, StepOutput, pipeline, step


@step
def load() -> dict[str, Any]:
    return {"rows": [1, 2], "meta": {"n": 2}}


@step
def clean(rows: list[int]) -> list[int]:
    return rows


@step
def train(rows: list[int], n: int = 0) -> dict[str, Any]:
    return {"ok": True}


@step
def report() -> str:
    return "done"


def test_references_pick_keys_and_attributes_out_of_an_output() -> None:
    @pipeline
    def p() -> None:
        data = load()
        train(data["rows"], n=data.meta["n"][0])

    node = pipeline_nodes(p)["train"]
    assert (node.refs["rows"].node, node.refs["rows"].path) == ("load", ("rows",))
    assert node.refs["n"].path == ("meta", "n", 0)
    # How a skipped step's reason names its condition.
    assert repr(node.refs["n"]) == "<output of load.meta.n[0]>"
    assert node.upstream == {"load"}


def test_a_list_of_outputs_can_come_before_or_after_one_step() -> None:
    @pipeline
    def p() -> None:
        a, b = load(), load()
        [a, b] >> report()
        report(name="first") >> [clean([1]), clean([2])]

    nodes = pipeline_nodes(p)
    assert nodes["report"].after == {"load", "load_2"}
    assert nodes["clean"].after == {"first"} and nodes["clean_2"].after == {"first"}
    graph = p.build()
    order = graph.order()
    assert order.index("first") < order.index("clean") and order.index("load_2") < order.index(
        "report"
    )


def test_an_order_edge_to_something_not_a_step_call_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match=r"'>>' needs a step call.*Got 3"):

        @pipeline
        def p() -> None:
            load() >> 3  # type: ignore[operator]


def test_a_doubly_negated_condition_is_the_condition() -> None:
    @pipeline
    def p() -> None:
        model = train(clean([1]))
        report(when=~~model.ok)
        report(when=~model.ok, name="alarm")

    nodes = pipeline_nodes(p)
    assert nodes["report"].when == Condition(nodes["report"].when.ref)  # type: ignore[union-attr]
    assert nodes["alarm"].when is not None and nodes["alarm"].when.negate
    assert nodes["report"].upstream == {"train"}


def test_a_condition_passed_as_an_argument_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="'rows' of step 'clean' is a condition"):

        @pipeline
        def p() -> None:
            clean(~load())


def test_a_map_over_another_steps_output_runs_after_it() -> None:
    @step
    def square(x: int, power: int = 2) -> int:
        return x**power

    @pipeline
    def p() -> None:
        squares = square.map(load()["rows"], power=3)
        train(squares)

    nodes = pipeline_nodes(p)
    arg, items = nodes["square"].map_over  # type: ignore[misc]
    assert arg == "x" and isinstance(items, StepOutput) and items.path == ("rows",)
    assert nodes["square"].constants == {"power": 3}
    assert nodes["square"].upstream == {"load"}
    assert p.build().downstream() == {"load": {"square"}, "square": {"train"}, "train": set()}


def test_map_items_given_directly_must_be_json() -> None:
    @step
    def square(x: int) -> int:
        return x * x

    with pytest.raises(PipelineDefinitionError, match="'x' of step 'square' is a list"):

        @pipeline
        def p() -> None:
            square.map([object()])


def test_a_step_without_parameters_cannot_be_mapped() -> None:
    with pytest.raises(PipelineDefinitionError, match="'report' takes no argument to map over"):

        @pipeline
        def p() -> None:
            report.map([1, 2])


def test_special_attributes_are_not_references() -> None:
    @pipeline
    def p() -> None:
        out = load()
        assert not hasattr(out, "__array__")  # numpy and friends probe these
        assert out.node == "load" and out.path == ()
        report()

    p.build()


def test_downstream_lists_every_kind_of_edge() -> None:
    @pipeline
    def p() -> None:
        data = load()
        model = train(clean(data["rows"]))
        report(when=model.ok)
        data >> report(name="after_load")

    assert p.build().downstream() == {
        "load": {"clean", "after_load"},
        "clean": {"train"},
        "train": {"report"},
        "report": set(),
        "after_load": set(),
    }


def pipeline_nodes(p: Any) -> dict[str, Any]:
    return dict(p.build().nodes)
