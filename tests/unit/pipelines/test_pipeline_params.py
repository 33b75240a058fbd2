"""A pipeline's params as users pass them (``--param k=v`` text, or Python values): coerced to
the annotation, optional ones included, checked, JSON only; and what the definition shows."""

from __future__ import annotations

import inspect
import math
from typing import Any, Optional

import pytest

from conveyor.core import InvalidNameError, PipelineDefinitionError
from conveyor.pipelines import Pipeline, pipeline, step


@step
def use(value: Any = None) -> int:
    return 1


@pipeline
def tuned(
    cols: list[str] | None = None,
    depth: Optional[int] = None,  # noqa: UP045 -- the older spelling users still write
    limits: dict[str, int] | None = None,
    weights: list[float] | None = None,
    early_stop: bool = True,
    label=None,  # no annotation: any JSON value
) -> None:
    """Tune a model.

    The second paragraph is kept too.
    """
    use(cols)


def test_optional_params_take_a_value_or_none() -> None:
    assert tuned.resolve_params({"cols": ["a", "b"], "depth": 4}) == {
        "cols": ["a", "b"],
        "depth": 4,
        "limits": None,
        "weights": None,
        "early_stop": True,
        "label": None,
    }
    assert tuned.resolve_params({"cols": None, "depth": None})["cols"] is None


def test_optional_params_from_text_are_coerced_to_their_type() -> None:
    values = tuned.resolve_params(
        {"cols": '["a"]', "depth": "7", "limits": '{"rows": 10}', "weights": "[0.5, 1]"},
        from_text=True,
    )
    assert (values["cols"], values["depth"], values["limits"], values["weights"]) == (
        ["a"],
        7,
        {"rows": 10},
        [0.5, 1],
    )


def test_an_optional_param_of_the_wrong_type_names_its_type() -> None:
    with pytest.raises(
        PipelineDefinitionError, match="'depth' of pipeline 'tuned' must be of type int"
    ):
        tuned.resolve_params({"depth": "deep"}, from_text=True)
    with pytest.raises(PipelineDefinitionError, match=r"must be of type list\. Got 'a,b' \(str\)"):
        tuned.resolve_params({"cols": "a,b"})


@pytest.mark.parametrize("text", ["[1, 2", "{rows: 10}"])
def test_a_list_or_dict_param_must_be_json_text(text: str) -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        tuned.resolve_params({"limits": text, "weights": text}, from_text=True)
    assert "must be of type" in str(info.value) and "--param" in str(info.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("yes", True), ("1", True), (" TRUE ", True), ("no", False), ("0", False), ("False", False)],
)
def test_boolean_words(text: str, value: bool) -> None:
    assert tuned.resolve_params({"early_stop": text}, from_text=True)["early_stop"] is value


def test_a_boolean_that_is_not_a_boolean_word_is_refused() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        tuned.resolve_params({"early_stop": "maybe"}, from_text=True)
    assert "type bool. Got 'maybe'" in str(info.value)
    assert "--param early_stop=true" in str(info.value)


def test_an_unannotated_param_takes_text_as_it_is() -> None:
    assert tuned.resolve_params({"label": "007"}, from_text=True)["label"] == "007"
    assert tuned.resolve_params({"label": {"any": [1]}})["label"] == {"any": [1]}


@pytest.mark.parametrize("bad", [math.nan, math.inf, {1, 2}])
def test_params_must_be_json_values(bad: object) -> None:
    with pytest.raises(PipelineDefinitionError, match="must be JSON values"):
        tuned.resolve_params({"label": bad})


def test_a_pipeline_without_params_names_none_in_the_hint() -> None:
    @pipeline
    def plain() -> None:
        use()

    with pytest.raises(PipelineDefinitionError) as info:
        plain.resolve_params({"x": 1})
    assert info.value.hint == "Its parameters: none."


def test_the_definition_shows_params_description_and_name() -> None:
    assert tuned.params["early_stop"] is True
    assert tuned.description == "Tune a model.\n\nThe second paragraph is kept too."
    assert repr(tuned) == "<pipeline tuned>"
    named = pipeline(name="tune-v2")(tuned.fn)
    assert named.name == "tune-v2" and repr(named) == "<pipeline tune-v2>"


def test_a_bad_pipeline_name_is_refused() -> None:
    with pytest.raises(InvalidNameError, match="pipeline name 'my pipeline'"):
        pipeline(name="my pipeline")(tuned.fn)


def test_a_pipeline_with_required_params_is_built_only_when_given_them() -> None:
    @pipeline
    def needs(n: int) -> None:
        if n > 3:
            raise ValueError("too many")  # a definition error only some params reach
        use(n)

    assert isinstance(needs, Pipeline)  # not built at import: no value to build with
    assert needs.params["n"] is inspect.Parameter.empty
    with pytest.raises(PipelineDefinitionError, match="needs parameter 'n'") as info:
        needs.build()
    assert info.value.hint == "Pass it with: --param n=VALUE"
    with pytest.raises(ValueError, match="too many"):
        needs.build({"n": 5})


@pytest.mark.parametrize("returned", [3, "text", object()])
def test_a_pipeline_returning_a_value_is_refused(returned: object) -> None:
    with pytest.raises(PipelineDefinitionError, match="a pipeline function only calls steps"):

        @pipeline
        def p() -> Any:
            use()
            return returned


def test_a_pipeline_may_return_its_outputs() -> None:
    @pipeline
    def p() -> Any:
        return {"a": use(), "b": [use()]}

    assert list(p.build().nodes) == ["use", "use_2"]


def test_unresolvable_annotations_leave_params_unchecked() -> None:
    def p(n: UnknownType = 3) -> None:  # type: ignore[name-defined]  # noqa: F821
        use(n)

    built = pipeline(p)
    assert built.hints == {}
    assert built.resolve_params({"n": "anything"}) == {"n": "anything"}
