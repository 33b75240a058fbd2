"""Definition-time validation: every wiring error is one clear message before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.core import PipelineDefinitionError
from conveyor.pipelines import Pipeline, pipeline, step


@step
def load(n: int = 3) -> list[int]:
    return list(range(n))


@step
def train(data: list[int], depth: int = 2) -> dict[str, Any]:
    return {"passed": sum(data) > 1, "depth": depth}


@step
def deploy(model: dict[str, Any]) -> str:
    return "ok"


class Opaque:
    pass


def test_a_valid_pipeline_builds_a_graph_with_data_order_and_condition_edges() -> None:
    @pipeline
    def p(depth: int = 3) -> None:
        data = load()
        model = train(data, depth=depth)
        done = deploy(model, when=model.passed)
        deploy(model, when=~model.passed, name="rollback")
        done >> load(name="refresh")

    graph = p.build({"depth": 5})
    assert graph.order().index("load") < graph.order().index("train")
    assert graph.nodes["train"].constants == {"depth": 5}
    assert graph.nodes["train"].refs["data"].node == "load"
    assert graph.nodes["rollback"].when is not None and graph.nodes["rollback"].when.negate
    assert graph.nodes["refresh"].after == {"deploy"}


def test_steps_called_outside_a_pipeline_run_plainly() -> None:
    assert train([1, 2]) == {"passed": True, "depth": 2}
    assert load.map([1, 2]) == [[0], [0, 1]]


def test_cycle_through_order_edges_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="cycle"):

        @pipeline
        def p() -> None:
            a = load()
            b = train(a)
            b >> a


def test_missing_input_names_the_step_and_the_input() -> None:
    with pytest.raises(PipelineDefinitionError) as info:

        @pipeline
        def p() -> None:
            train()

    assert "'train'" in str(info.value) and "missing input 'data'" in str(info.value)
    assert "train(data" in str(info.value)  # the hint shows the signature


def test_unstorable_return_type_is_refused_when_the_step_is_defined() -> None:
    with pytest.raises(PipelineDefinitionError) as info:

        @step
        def bad() -> Opaque:
            return Opaque()

    assert "'bad'" in str(info.value) and "Opaque" in str(info.value)
    assert "register a materializer" in str(info.value)


def test_non_json_constant_argument_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="'depth' of step 'train' is a Opaque"):

        @pipeline
        def p() -> None:
            train(load(), depth=Opaque())


@pytest.mark.parametrize("when", [True, "yes", 1])
def test_condition_on_something_not_a_step_output_is_refused(when: object) -> None:
    with pytest.raises(
        PipelineDefinitionError, match="when= of step 'deploy' must be a step output"
    ):

        @pipeline
        def p() -> None:
            deploy(train(load()), when=when)


def test_using_an_output_in_python_control_flow_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="when=ev.passed"):

        @pipeline
        def p() -> None:
            model = train(load())
            if model.passed:
                deploy(model)


def test_iterating_an_output_suggests_map() -> None:
    with pytest.raises(PipelineDefinitionError, match=r"\.map"):

        @pipeline
        def p() -> None:
            for x in load():
                deploy(x)


def test_outputs_of_another_pipeline_are_refused() -> None:
    leaked: dict[str, Any] = {}

    @pipeline
    def first() -> None:
        leaked["out"] = load()

    with pytest.raises(PipelineDefinitionError, match="not part of pipeline 'second'"):

        @pipeline
        def second() -> None:
            train(leaked["out"])


def test_empty_pipeline_and_duplicate_names() -> None:
    with pytest.raises(PipelineDefinitionError, match="calls no step"):

        @pipeline
        def empty() -> None:
            pass

    with pytest.raises(PipelineDefinitionError, match="already has a step named 'x'"):

        @pipeline
        def dup() -> None:
            load(name="x")
            load(name="x")


def test_repeated_calls_get_numbered_names() -> None:
    @pipeline
    def p() -> None:
        load()
        load()
        load()

    assert list(p.build().nodes) == ["load", "load_2", "load_3"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            {"timeout": "30 minutes"},
            "The 'timeout' option of step 'f' must be a duration such as '30m'",
        ),
        ({"timeout": "30 minutes"}, "Got '30 minutes'."),
        ({"retries": -1}, "'retries' option of step 'f' must be a whole number"),
        ({"retry_delay": "soon"}, "'retry_delay' option of step 'f'"),
        ({"mode": "fork"}, "'mode' option of step 'f' must be 'thread' or 'process'"),
    ],
)
def test_bad_step_options(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PipelineDefinitionError) as info:

        @step(**options)
        def f() -> None:
            return None

    assert fragment in str(info.value)


def _params_pipeline() -> Pipeline:
    @pipeline
    def p(
        depth: int = 3,
        rate: float = 0.1,
        tag: str = "x",
        on: bool = False,
        cols: list[str] | None = None,
    ) -> None:
        train(load(), depth=depth)

    return p  # type: ignore[no-any-return]


def test_params_from_text_are_coerced_and_checked() -> None:
    p = _params_pipeline()
    assert p.resolve_params({"depth": "7", "rate": "1", "on": "true"}, from_text=True) == {
        "depth": 7,
        "rate": 1.0,
        "tag": "x",
        "on": True,
        "cols": None,
    }
    with pytest.raises(PipelineDefinitionError) as info:
        p.resolve_params({"depth": "deep"}, from_text=True)
    assert "'depth'" in str(info.value) and "type int" in str(info.value)
    assert "--param depth=3" in str(info.value)
    with pytest.raises(PipelineDefinitionError, match="Did you mean 'depth'"):
        p.resolve_params({"dept": "3"}, from_text=True)
    with pytest.raises(PipelineDefinitionError, match="type int"):
        p.resolve_params({"depth": True})
    assert p.resolve_params({"rate": 2})["rate"] == 2  # an int is a safe float


def test_required_param_must_be_given() -> None:
    @pipeline
    def needs(n: int) -> None:
        load(n)

    with pytest.raises(PipelineDefinitionError, match="needs parameter 'n'"):
        needs.resolve_params({})
    assert needs.build({"n": 2}).nodes["load"].constants == {"n": 2}


# -- call options (when=, name=) never swallow a step's own parameters ---------------------


@step
def greet(name: str, when: str = "today") -> str:
    return f"hello {name} {when}"


@step
def anything(data: list[int], **extra: Any) -> int:
    return len(data)


def test_a_parameter_called_name_or_when_receives_the_value_inside_a_pipeline() -> None:
    @pipeline
    def p() -> None:
        greet(name="ada", when="now")

    node = p.build().nodes["greet"]
    assert node.constants == {"name": "ada", "when": "now"}
    assert node.when is None


def test_a_parameter_called_name_or_when_receives_the_value_outside_a_pipeline() -> None:
    assert greet(name="ada", when="now") == "hello ada now"
    assert greet.with_options()(name="ada") == "hello ada today"


def test_with_options_sets_the_options_of_a_step_whose_parameters_share_their_names() -> None:
    @pipeline
    def p() -> None:
        model = train(load())
        greet.with_options(when=model.passed, name="greet_ada")(name="ada", when="now")

    graph = p.build()
    node = graph.nodes["greet_ada"]
    assert node.constants == {"name": "ada", "when": "now"}
    assert node.when is not None and node.when.ref.node == "train"
    assert "train" in node.upstream


def test_options_still_work_on_a_step_without_such_parameters() -> None:
    @pipeline
    def p() -> None:
        model = train(load())
        deploy(model, when=~model.passed, name="rollback")
        deploy.with_options(when=model.passed)(model)

    nodes = p.build().nodes
    assert set(nodes) == {"load", "train", "rollback", "deploy"}
    assert nodes["rollback"].when is not None and nodes["rollback"].when.negate
    assert nodes["deploy"].when is not None and not nodes["deploy"].when.negate


def test_a_step_taking_kwargs_makes_a_bare_option_ambiguous() -> None:
    with pytest.raises(PipelineDefinitionError, match=r"takes \*\*kwargs.*anything.with_options"):

        @pipeline
        def p() -> None:
            anything(load(), when=train(load()).passed)

    @pipeline
    def q() -> None:
        data = load()
        anything.with_options(when=train(data).passed)(data, name="kept")

    node = q.build().nodes["anything"]
    assert node.constants == {"name": "kept"}
    assert node.when is not None


def test_map_passes_a_parameter_called_when_and_takes_options_from_with_options() -> None:
    @step
    def score(x: int, when: str) -> int:
        return x

    @pipeline
    def p() -> None:
        model = train(load())
        score.map([1, 2], when="later")
        score.with_options(when=model.passed, name="gated").map([3], when="soon")

    nodes = p.build().nodes
    assert nodes["score"].constants == {"when": "later"}
    assert nodes["score"].when is None
    assert nodes["gated"].constants == {"when": "soon"}
    assert nodes["gated"].map_over == ("x", [3])
    assert nodes["gated"].when is not None


def test_map_takes_items_positionally_so_a_parameter_called_items_is_free() -> None:
    @step
    def pair(x: int, items: int) -> int:
        return x + items

    assert pair.map([1, 2], items=10) == [11, 12]


def test_options_outside_a_pipeline_are_refused_with_the_step_name() -> None:
    with pytest.raises(PipelineDefinitionError, match="options only apply when step 'deploy'"):
        deploy({}, name="x")
    with pytest.raises(PipelineDefinitionError, match="options only apply when step 'greet'"):
        greet.with_options(name="x")(name="ada")


def test_repeated_calls_of_one_step_are_numbered_in_order() -> None:
    @step
    def link(prev: int = 0) -> int:
        return prev

    @pipeline
    def chain(n: int = 300) -> None:
        prev = link()
        prev = link.with_options(name="link_3")(prev)  # an explicit name takes its slot
        for _ in range(n - 2):
            prev = link(prev)

    names = list(chain.build().nodes)
    assert names[:4] == ["link", "link_3", "link_2", "link_4"]
    assert len(set(names)) == 300 and names[-1] == "link_300"
