"""A pipeline function's own errors, and parameters given as text (``--param k=v``)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import pipeline, step
from conveyor.core import PipelineDefinitionError


@step
def use(x: int) -> int:
    return x


@pipeline
def choosy(n: int = 1, mode: str = "fast"):  # type: ignore[no-untyped-def]
    if mode not in ("fast", "slow"):
        raise KeyError(mode)
    use(n)


@pipeline
def typed(  # type: ignore[no-untyped-def]
    depth: int = 3,
    rate: float = 0.1,
    on: bool = False,
    name: str = "x",
    layers: list = [1],  # noqa: B006 - a pipeline default is only read
    extra: dict = {},  # noqa: B006
):
    use(depth)


def test_an_exception_in_the_pipeline_function_is_a_definition_error() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        choosy.build({"mode": "turbo"})
    message = info.value.message
    assert message.startswith("Pipeline 'choosy' raised KeyError: 'turbo' while building")
    assert "{'n': 1, 'mode': 'turbo'}" in message and "nothing ran" in message
    assert isinstance(info.value.__cause__, KeyError)  # the user's exception, kept
    assert info.value.hint is not None and "before any step" in info.value.hint
    assert choosy.build({"mode": "slow"}).nodes  # the same function builds with good params


def test_conveyors_own_definition_errors_pass_through_unwrapped() -> None:
    @pipeline
    def empty(n: int):  # type: ignore[no-untyped-def]
        if n > 1:
            use(n)

    with pytest.raises(PipelineDefinitionError) as info:
        empty.build({"n": 1})
    assert info.value.message == "Pipeline 'empty' calls no step."
    assert info.value.__cause__ is None
    assert info.value.hint == "Call @step functions inside it, e.g. train(load())."


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("depth", "7", 7),
        ("rate", "2", 2.0),
        ("rate", "1e-3", 0.001),
        ("on", "yes", True),
        ("on", " FALSE ", False),
        ("on", "0", False),
        ("name", "7", "7"),
        ("layers", "[64, 32]", [64, 32]),
        ("extra", '{"a": 1}', {"a": 1}),
    ],
)
def test_text_is_coerced_to_the_annotated_type(name: str, text: str, value: Any) -> None:
    assert typed.coerce_param(name, text) == value
    assert typed.resolve_params({name: text}, from_text=True)[name] == value


@pytest.mark.parametrize(
    ("name", "text", "example"),
    [
        ("depth", "3.5", "--param depth=3"),
        ("rate", "fast", "--param rate=0.5"),
        ("on", "maybe", "--param on=true"),
        ("layers", "[1,", "--param layers=[1,2]"),
        ("extra", "a=1", '--param extra={"a":1}'),
    ],
)
def test_text_that_does_not_parse_names_the_type_and_an_example(
    name: str, text: str, example: str
) -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        typed.coerce_param(name, text)
    assert f"Parameter {name!r} of pipeline 'typed' must be of type" in info.value.message
    assert f"Got {text!r}." in info.value.message
    assert info.value.hint == f"For example: {example}"


def test_values_that_are_not_text_and_unknown_names_are_left_to_resolve() -> None:
    assert typed.coerce_param("depth", 4) == 4
    assert typed.coerce_param("nope", "4") == "4"
    with pytest.raises(PipelineDefinitionError, match="has no parameter 'nope'"):
        typed.resolve_params({"nope": "4"}, from_text=True)


def test_a_json_list_is_not_accepted_where_a_dict_is_expected() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        typed.resolve_params({"extra": "[1, 2]"}, from_text=True)
    assert "must be of type dict. Got [1, 2] (list)." in info.value.message
