"""conveyor: MLOps automation in one closed loop.

The package root re-exports the public errors. The authoring API lives in
``conveyor.pipeline`` (``from conveyor.pipeline import step, pipeline``): DESIGN.md's
``from conveyor import pipeline`` cannot coexist with a subpackage of the same name.
"""

from __future__ import annotations

from .core import ConveyorError as ConveyorError
from .core import PipelineDefinitionError as PipelineDefinitionError
from .core import StepFailedError as StepFailedError

__version__ = "0.1.0.dev0"

__all__ = ["ConveyorError", "PipelineDefinitionError", "StepFailedError", "__version__"]
