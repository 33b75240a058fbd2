"""Finding a project's pipelines: import the modules ``[pipelines] modules`` names."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..core import NotFoundError, PipelineDefinitionError, did_you_mean
from ._pipeline import Pipeline

if TYPE_CHECKING:
    from ..core import Config


def discover(config: Config) -> dict[str, Pipeline]:
    """Every ``@pipeline`` defined at the top level of the project's pipeline modules.

    Raises:
        PipelineDefinitionError: a module cannot be imported, or defines a broken pipeline.
    """
    found: dict[str, Pipeline] = {}
    for module in project_modules(config):
        for value in vars(module).values():
            if isinstance(value, Pipeline):
                found.setdefault(value.name, value)
    return found


def project_modules(config: Config) -> list[ModuleType]:
    """The project's modules (``[pipelines] modules``), imported from its folder; what
    defines its pipelines and its feature views.

    Raises:
        PipelineDefinitionError: a module cannot be imported.
    """
    root = str(Path(config.root).resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    modules: list[ModuleType] = []
    for module_name in config.pipelines.modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise PipelineDefinitionError(
                    f"Pipeline module {module_name!r} was not found in {root}.",
                    hint="Create it, or list your modules in conveyor.toml: "
                    '[pipelines] modules = ["pipelines"]',
                ) from None
            raise PipelineDefinitionError(
                f"Importing pipeline module {module_name!r} failed: {exc}.",
                hint=f"Install the missing package, or fix {module_name}.",
            ) from exc
        except PipelineDefinitionError:
            raise
        except Exception as exc:
            raise PipelineDefinitionError(
                f"Importing pipeline module {module_name!r} raised {type(exc).__name__}: {exc}.",
                hint=f"Fix the error in {module_name} (run `python -c 'import {module_name}'`).",
            ) from exc
        modules.append(module)
    return modules


def find_pipeline(config: Config, name: str) -> Pipeline:
    pipelines = discover(config)
    if name not in pipelines:
        raise NotFoundError(
            f"No pipeline {name!r} in {', '.join(config.pipelines.modules)}."
            f"{did_you_mean(name, pipelines)}",
            hint="List pipelines with: conveyor pipelines list",
        )
    return pipelines[name]
