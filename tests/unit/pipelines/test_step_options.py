"""``@step`` as its users configure it: durations and back-off, names, return types checked
at definition or left to run time, how calls bind, and what runs where."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from conveyor.core import InvalidNameError, PipelineDefinitionError
from conveyor.pipelines import Step, StepOptions, pipeline, step

T = TypeVar("T")


def test_retry_delays_grow_by_the_backoff() -> None:
    @step(retries=3, retry_delay="10s", backoff=3)
    def flaky() -> int:
        return 1

    options = flaky.options
    assert [options.delay_before(a) for a in (2, 3, 4)] == [10.0, 30.0, 90.0]
    assert options.delay_before(1) == 10.0  # never less than the first delay
    assert StepOptions(retry_delay=5, backoff=1).delay_before(9) == 5


def test_options_are_parsed_and_kept() -> None:
    @step(timeout="1h30m", retry_delay=2, cache=False, version="v3", mode="process",
          resources={"gpus": 1})  # fmt: skip
    def train() -> int:
        return 1

    assert train.options == StepOptions(
        retries=0,
        retry_delay=2.0,
        timeout=5400.0,
        cache=False,
        version="v3",
        mode="process",
        resources={"gpus": 1},
    )


@pytest.mark.parametrize("retries", [True, 1.5, "2"])
def test_retries_must_be_a_whole_number(retries: object) -> None:
    with pytest.raises(PipelineDefinitionError, match=f"Got {retries!r}"):
        step(retries=retries)(lambda: 1)  # type: ignore[call-overload]


def test_a_negative_timeout_names_the_option() -> None:
    with pytest.raises(PipelineDefinitionError, match="'timeout' option of step 'slow'.*negative"):

        @step(timeout=-1)
        def slow() -> None:
            return None


def test_a_step_can_be_named_and_a_bad_name_is_refused() -> None:
    def fit() -> int:
        return 1

    named = step(name="fit-v2")(fit)
    assert named.name == "fit-v2" and repr(named) == "<step fit-v2>"
    assert named.__name__ == "fit" and named.__doc__ == fit.__doc__  # still reads as fit
    with pytest.raises(InvalidNameError, match="step name 'fit v2'"):
        step(name="fit v2")(fit)


def returns_any() -> Any:
    return 1


def returns_typevar(x: T) -> T:
    return x


def returns_union() -> int | str:
    return 1


def returns_nothing() -> None:
    return None


def unannotated():  # type: ignore[no-untyped-def]
    return 1


def returns_later() -> NotDefinedYet:  # type: ignore[name-defined]  # noqa: F821
    return 1


@pytest.mark.parametrize(
    ("fn", "materializer"),
    [
        (returns_any, None),
        (returns_typevar, None),
        (returns_union, None),
        (unannotated, None),
        (returns_later, None),  # an annotation that cannot be resolved: checked at run time
        (returns_nothing, "json"),
    ],
)
def test_return_types_are_checked_when_known(fn: Any, materializer: str | None) -> None:
    made = step(fn)
    found = made.output_materializer
    assert (found.name if found is not None else None) == materializer


@pytest.mark.parametrize(
    ("annotation", "name"),
    [
        (np.ndarray, "numpy"),
        (Path, "path"),
        (bytes, "bytes"),
        (dict[str, int], "json"),
        (list[float], "json"),
    ],
)
def test_library_return_types_find_their_materializer(annotation: Any, name: str) -> None:
    def produce() -> None:
        return None

    produce.__annotations__["return"] = annotation
    assert step(produce).output_materializer.name == name


def test_only_module_level_steps_run_in_other_processes() -> None:
    @step
    def local() -> int:
        return 1

    assert not local.is_importable
    assert step(returns_any).is_importable
    main = step(returns_any)
    main.module = "__main__"
    assert not main.is_importable


@step
def fit(data: list[int], target: str, depth: int = 3) -> int:
    return depth


@step
def configurable(data: list[int], **params: Any) -> int:
    return len(params)


def test_a_call_missing_an_input_names_the_first_one_missing() -> None:
    with pytest.raises(PipelineDefinitionError, match="missing input 'target'") as info:

        @pipeline
        def p() -> None:
            fit([1])

    hint = info.value.hint or ""
    assert hint.startswith("Its signature is fit(data") and "target" in hint and "= 3" in hint
    assert info.value.step == "fit"  # type: ignore[attr-defined]


def test_a_call_with_an_unknown_keyword_says_so() -> None:
    with pytest.raises(PipelineDefinitionError, match="unexpected keyword argument 'dpth'"):

        @pipeline
        def p() -> None:
            fit([1], "y", dpth=4)


def test_keyword_arguments_of_a_kwargs_step_become_its_constants() -> None:
    @pipeline
    def p() -> None:
        configurable([1, 2], lr=0.1, layers=[8, 8])

    node = p.build().nodes["configurable"]
    assert node.constants == {"data": [1, 2], "lr": 0.1, "layers": [8, 8]}
    assert configurable([1], a=1, b=2) == 2  # outside a pipeline: a plain call


def test_map_options_outside_a_pipeline_are_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="only apply when step 'fit' is mapped"):
        fit.with_options(name="fits").map([[1]], "y")


def test_a_step_call_with_options_shows_them() -> None:
    call = fit.with_options(name="fit_b")
    assert repr(call) == "<step fit with options when=None, name='fit_b'>"
    assert isinstance(call.step, Step)
