"""``@pipeline``: a function whose step calls define a DAG; its parameters are run params."""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..core import ConveyorError, PipelineDefinitionError, validate_name
from ._graph import Graph, StepOutput, building, done_building

_COERCE: dict[type, Callable[[str], Any]] = {
    int: int,
    float: float,
    str: str,
    bool: lambda s: {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[
        s.strip().lower()
    ],
}


class Pipeline:
    """A pipeline definition. Build its graph with :meth:`build`; run it with ``run``."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = validate_name(name or fn.__name__, what="pipeline name")
        self.signature = inspect.signature(fn)
        self.module = fn.__module__
        self.description = inspect.getdoc(fn) or ""
        try:
            self.hints = typing.get_type_hints(fn)
        except Exception:
            self.hints = {}
        if all(p.default is not p.empty for p in self.signature.parameters.values()):
            self.build()  # definition errors surface at import, before anything runs

    @property
    def params(self) -> dict[str, Any]:
        """Parameter names and their defaults (``inspect.Parameter.empty`` if required)."""
        return {n: p.default for n, p in self.signature.parameters.items()}

    def resolve_params(
        self, given: Mapping[str, Any] | None = None, *, from_text: bool = False
    ) -> dict[str, Any]:
        """Defaults overridden by ``given``, type-checked against the annotations.

        Args:
            from_text: Values are strings from ``--param k=v``: coerce them to the annotated
                type (int, float, bool, str; JSON for lists and dicts).
        """
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.signature.parameters))
        if unknown:
            from ..core import did_you_mean

            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} has no parameter {unknown[0]!r}."
                f"{did_you_mean(unknown[0], self.signature.parameters)}",
                hint=f"Its parameters: {', '.join(self.signature.parameters) or 'none'}.",
            )
        values: dict[str, Any] = {}
        for pname, param in self.signature.parameters.items():
            if pname in given:
                value = given[pname]
                if from_text and isinstance(value, str):
                    value = self._coerce(pname, value)
                self._check_type(pname, value)
                values[pname] = value
            elif param.default is not param.empty:
                values[pname] = param.default
            else:
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r} needs parameter {pname!r}.",
                    hint=f"Pass it with: --param {pname}=VALUE",
                )
        try:
            json.dumps(values, allow_nan=False)
        except (TypeError, ValueError):
            raise PipelineDefinitionError(
                f"Parameters of pipeline {self.name!r} must be JSON values. Got {values!r}."
            ) from None
        return values

    def coerce_param(self, pname: str, value: Any) -> Any:
        """``value`` of parameter ``pname`` coerced from text (``--param``) to its type.

        Anything but a string, and a name the pipeline does not have, come back unchanged:
        :meth:`resolve_params` reports those.
        """
        if not isinstance(value, str) or pname not in self.signature.parameters:
            return value
        return self._coerce(pname, value)

    def _coerce(self, pname: str, text: str) -> Any:
        target, _ = _target(self.hints.get(pname))
        try:
            if target in _COERCE:
                return _COERCE[target](text)
            if target in (list, dict):
                return json.loads(text)
        except (ValueError, KeyError):
            name = getattr(target, "__name__", str(target))
            raise PipelineDefinitionError(
                f"Parameter {pname!r} of pipeline {self.name!r} must be of type {name}. "
                f"Got {text!r}.",
                hint=f"For example: --param {pname}={_example(target)}",
            ) from None
        return text

    def _check_type(self, pname: str, value: Any) -> None:
        target, optional = _target(self.hints.get(pname))
        if target is None or not isinstance(target, type) or (value is None and optional):
            return
        ok = isinstance(value, target) and not (target is int and isinstance(value, bool))
        if target is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True  # ints are safe as floats
        if not ok:
            raise PipelineDefinitionError(
                f"Parameter {pname!r} of pipeline {self.name!r} must be of type {target.__name__}. "
                f"Got {value!r} ({type(value).__name__}).",
                hint=f"For example: --param {pname}={_example(target)}",
            )

    def build(self, params: Mapping[str, Any] | None = None) -> Graph:
        """Trace the pipeline function into a validated :class:`Graph`."""
        values = {n: p.default for n, p in self.signature.parameters.items()}
        values.update(params or {})
        missing = [n for n, v in values.items() if v is inspect.Parameter.empty]
        if missing:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} needs parameter {missing[0]!r}.",
                hint=f"Pass it with: --param {missing[0]}=VALUE",
            )
        graph = Graph(pipeline=self.name)
        token = building(graph)
        try:
            result = self.fn(**values)
        except ConveyorError:
            raise
        except Exception as exc:  # the user's function: wrapped once, here, like a step's
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} raised {type(exc).__name__}: {exc} while building "
                f"its graph with params {values!r}; nothing ran.",
                hint="Fix the pipeline function (it runs before any step, to trace the DAG).",
                pipeline=self.name,
            ) from exc
        finally:
            done_building(token)
        if result is not None and not isinstance(result, StepOutput | list | tuple | dict):
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} returned {result!r}; a pipeline function only calls "
                "steps.",
            )
        if not graph.nodes:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} calls no step.",
                hint="Call @step functions inside it, e.g. train(load()).",
            )
        graph.order()
        return graph

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


def _target(hint: Any) -> tuple[Any, bool]:
    """The class an annotation asks for, and whether it allows None too: ``int | None`` and
    ``Optional[int]`` are ``(int, True)``; a union of several classes is ``(None, ...)``."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        kept = [a for a in args if a is not type(None)]
        if len(kept) != 1:
            return None, len(kept) < len(args)
        return typing.get_origin(kept[0]) or kept[0], len(kept) < len(args)
    return origin or hint, False


def _example(target: Any) -> str:
    return {int: "3", float: "0.5", bool: "true", str: "text", list: "[1,2]", dict: '{"a":1}'}.get(
        target, "VALUE"
    )


def pipeline(fn: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Make a function a pipeline: the steps it calls, and how their outputs flow, form a DAG.

    Its parameters (with defaults) are the run's params, overridable with ``--param k=v``.

    Example:
        >>> @pipeline
        ... def retrain(max_depth: int = 6):
        ...     model = train(load(), max_depth=max_depth)
        ...     deploy(model, when=evaluate(model).passed)
    """

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name=name)

    return wrap(fn) if fn is not None else wrap
