"""conveyor: MLOps automation in one closed loop.

The package root re-exports the authoring API (``from conveyor import step, pipeline,
Dataset, Model, Evaluation``, and ``get_step_context`` inside a running step) and the public errors,
from light modules only: importing conveyor starts no store or executor.
The engine itself lives in :mod:`conveyor.pipelines`.
"""

from __future__ import annotations

from .core import ConveyorError as ConveyorError
from .core import DataSourceError as DataSourceError
from .core import DataValidationError as DataValidationError
from .core import PipelineDefinitionError as PipelineDefinitionError
from .core import StepContextError as StepContextError
from .core import StepFailedError as StepFailedError
from .data._dataset import Dataset as Dataset
from .pipelines._context import get_step_context as get_step_context
from .pipelines._pipeline import pipeline as pipeline
from .pipelines._step import step as step
from .registry._model import Model as Model
from .train._evaluation import Evaluation as Evaluation

__version__ = "0.1.0.dev0"

__all__ = [
    "ConveyorError",
    "DataSourceError",
    "DataValidationError",
    "Dataset",
    "Evaluation",
    "Model",
    "PipelineDefinitionError",
    "StepContextError",
    "StepFailedError",
    "__version__",
    "get_step_context",
    "pipeline",
    "step",
]
