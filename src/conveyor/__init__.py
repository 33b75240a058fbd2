"""conveyor: MLOps automation in one closed loop.

The package root re-exports only the authoring API and the public errors.
"""

from __future__ import annotations

from .core import ConveyorError as ConveyorError

__version__ = "0.1.0.dev0"

__all__ = [
    "ConveyorError",
    "__version__",
]
