"""``@step``: a typed Python function that conveyor runs with retries, a timeout and a cache."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..core import PipelineDefinitionError, parse_duration, validate_name
from ._graph import StepOutput, current_graph
from ._materializers import materializer_for_type

P = ParamSpec("P")
R = TypeVar("R")
MODES = ("thread", "process")


@dataclass(frozen=True)
class StepOptions:
    """How a step runs. Durations are seconds (or text such as ``'30m'`` in ``@step``)."""

    retries: int = 0
    retry_delay: float = 0.0
    backoff: float = 2.0
    timeout: float | None = None
    cache: bool = True
    version: str | None = None
    mode: str | None = None
    resources: Mapping[str, float] = field(default_factory=dict)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2, 3, ...): retry_delay * backoff^(attempt-2)."""
        return self.retry_delay * self.backoff ** max(0, attempt - 2)


class Step(Generic[P, R]):
    """A step: call it inside a ``@pipeline`` to add it; call it elsewhere to run it plainly."""

    def __init__(self, fn: Callable[P, R], options: StepOptions, name: str | None = None) -> None:
        self.fn = fn
        self.options = options
        self.name = validate_name(name or fn.__name__, what="step name")
        self.signature = inspect.signature(fn)
        self.module = fn.__module__
        self.qualname = fn.__qualname__
        functools.update_wrapper(self, fn)
        self.output_materializer = self._check_return_type()

    def _check_return_type(self) -> Any:
        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:  # unresolvable annotations: checked at run time instead
            return None
        if "return" not in hints:
            return None
        try:
            return materializer_for_type(hints["return"])
        except PipelineDefinitionError as exc:
            raise PipelineDefinitionError(
                f"Step {self.name!r} returns {exc.message[:-1].split(' has no')[0]}, which "
                "conveyor cannot store between steps.",
                hint="Return a JSON value, bytes, Path, numpy array, DataFrame, Arrow Table or "
                "scikit-learn estimator, or register a materializer.",
                step=self.name,
            ) from None

    @property
    def is_importable(self) -> bool:
        """Whether other processes can import this step by module and name."""
        return "<locals>" not in self.qualname and self.module != "__main__"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside a ``@pipeline``: add this step; elsewhere: run the function plainly.

        ``when=`` and ``name=`` are call options unless the step has a parameter of that
        name, which then receives the value. :meth:`with_options` sets them in every case.
        """
        options = self._take_options(kwargs, ("when", "name"))
        return self._call(args, kwargs, when=options.get("when"), name=options.get("name"))

    def map(self, items: Iterable[Any] | StepOutput, /, *args: Any, **kwargs: Any) -> Any:
        """Fan out: one run of this step per item (in parallel), gathered into a list.

        The items go to the step's first parameter; other arguments are shared by every item.
        ``items`` may be a list, or another step's output (then the count is known at run time).
        ``when=`` is a call option unless the step has a parameter of that name.
        """
        options = self._take_options(kwargs, ("when",))
        return self._map(items, args, kwargs, when=options.get("when"))

    def with_options(self, *, when: Any = None, name: str | None = None) -> StepCall:
        """Call options set apart from the step's arguments, so they never collide.

        ``step.with_options(when=ev.passed, name="deploy_b")(model, name="b")`` passes
        ``name="b"`` to the step and makes the call conditional and named ``deploy_b``.
        """
        return StepCall(self, when=when, name=name)

    def _take_options(self, kwargs: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
        """Pop the call options out of ``kwargs``; a keyword the step takes stays an argument."""
        options: dict[str, Any] = {}
        params = self.signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for option in allowed:
            if option not in kwargs:
                continue
            param = params.get(option)
            if param is not None and param.kind in (
                param.POSITIONAL_OR_KEYWORD,
                param.KEYWORD_ONLY,
            ):
                continue  # the step's own parameter: an argument, never an option
            if takes_any:
                raise PipelineDefinitionError(
                    f"Step {self.name!r} takes **kwargs, so {option}= in its call could be an "
                    "argument or the call option.",
                    hint=f"For the option write {self.name}.with_options({option}=...)(...); "
                    f"for an argument write {self.name}.with_options()(..., {option}=...).",
                    step=self.name,
                )
            options[option] = kwargs.pop(option)
        return options

    def _call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, when: Any, name: str | None
    ) -> Any:
        graph = current_graph()
        if graph is None:
            if when is not None or name is not None:
                raise PipelineDefinitionError(
                    f"The when= and name= options only apply when step {self.name!r} is "
                    "called inside a @pipeline function.",
                    hint="Call the step without them, or call it inside a @pipeline.",
                    step=self.name,
                )
            return self.fn(*args, **kwargs)
        return graph.add(self, self._bind(args, kwargs), when=when, name=name)

    def _map(
        self,
        items: Iterable[Any] | StepOutput,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        when: Any,
        name: str | None = None,
    ) -> Any:
        graph = current_graph()
        params = list(self.signature.parameters)
        if not params:
            raise PipelineDefinitionError(f"Step {self.name!r} takes no argument to map over.")
        if graph is None:
            if when is not None or name is not None:
                raise PipelineDefinitionError(
                    f"The when= and name= options only apply when step {self.name!r} is "
                    "mapped inside a @pipeline function.",
                    hint="Map the step without them, or map it inside a @pipeline.",
                    step=self.name,
                )
            return [self.fn(item, *args, **kwargs) for item in items]
        first = params[0]
        placeholder = object()
        bound = self._bind((placeholder, *args), kwargs)
        bound.pop(first)
        return graph.add(self, bound, when=when, name=name, map_over=(first, items))

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            missing = [
                p.name
                for p in self.signature.parameters.values()
                if p.default is p.empty
                and p.name not in kwargs
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ][len(args) :]
            detail = f"missing input {missing[0]!r}" if missing else str(exc)
            raise PipelineDefinitionError(
                f"Step {self.name!r} is called with the wrong arguments: {detail}.",
                hint=f"Its signature is {self.name}{self.signature}.",
                step=self.name,
            ) from None
        arguments = dict(bound.arguments)
        for param in self.signature.parameters.values():
            if param.kind is param.VAR_KEYWORD:  # the worker calls fn(**arguments): flatten
                arguments.update(arguments.pop(param.name, {}))
        return arguments

    def __repr__(self) -> str:
        return f"<step {self.name}>"


class StepCall:
    """A step with call options set (:meth:`Step.with_options`): every keyword of the call
    is an argument of the step, whatever its name."""

    def __init__(self, step: Step[..., Any], *, when: Any = None, name: str | None = None) -> None:
        self.step = step
        self.when = when
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.step._call(args, kwargs, when=self.when, name=self.name)

    def map(self, items: Iterable[Any] | StepOutput, /, *args: Any, **kwargs: Any) -> Any:
        """Fan out as :meth:`Step.map`, with these options (``name=`` names the gathering step)."""
        return self.step._map(items, args, kwargs, when=self.when, name=self.name)

    def __repr__(self) -> str:
        return f"<step {self.step.name} with options when={self.when!r}, name={self.name!r}>"


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    retries: int = 0,
    retry_delay: str | float = 0.0,
    backoff: float = 2.0,
    timeout: str | float | None = None,
    cache: bool = True,
    version: str | None = None,
    mode: str | None = None,
    resources: Mapping[str, float] | None = None,
    name: str | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    retries: int = 0,
    retry_delay: str | float = 0.0,
    backoff: float = 2.0,
    timeout: str | float | None = None,
    cache: bool = True,
    version: str | None = None,
    mode: str | None = None,
    resources: Mapping[str, float] | None = None,
    name: str | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step.

    Args:
        retries: Extra attempts after a failure (``retries=2``: up to 3 attempts).
        retry_delay: Wait before the first retry, e.g. ``'10s'``; multiplied by ``backoff``
            for each later one.
        timeout: Fail an attempt that runs longer, e.g. ``'30m'``. A thread-mode step that
            times out is abandoned (its result is discarded); a process-mode one is killed.
        cache: Reuse the outputs of an earlier run with the same code, inputs and params.
        version: Set the code version by hand (else conveyor hashes the function's source and
            the same-module helpers it calls).
        mode: ``'thread'`` or ``'process'`` on the local executor (default: the run's).
        resources: Hints for the executor, e.g. ``{"cpus": 2, "gpus": 1}`` on Ray.

    Example:
        >>> @step(retries=2, timeout="30m")
        ... def train(data: dict, params: dict) -> dict: ...
    """

    def wrap(f: Callable[P, R]) -> Step[P, R]:
        label = name or f.__name__
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise PipelineDefinitionError(
                f"The 'retries' option of step {label!r} must be a whole number >= 0. "
                f"Got {retries!r}."
            )
        if mode is not None and mode not in MODES:
            raise PipelineDefinitionError(
                f"The 'mode' option of step {label!r} must be 'thread' or 'process'. Got {mode!r}."
            )
        try:
            options = StepOptions(
                retries=retries,
                retry_delay=parse_duration(
                    retry_delay, what=f"'retry_delay' option of step {label!r}"
                ),
                backoff=float(backoff),
                timeout=None
                if timeout is None
                else parse_duration(timeout, what=f"'timeout' option of step {label!r}"),
                cache=bool(cache),
                version=version,
                mode=mode,
                resources=dict(resources or {}),
            )
        except ValueError as exc:
            raise PipelineDefinitionError(str(exc)) from None
        return Step(f, options, name=name)

    return wrap(fn) if fn is not None else wrap
