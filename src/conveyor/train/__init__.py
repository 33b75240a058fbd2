"""Training, tuning, evaluation and reproduction on top of the pipeline engine.

``tune`` runs an Optuna study inside a step, its trials in parallel on the project's
executor; ``tuning_trials`` reads a run's trials back. Imported on first use: the study's
machinery pulls in the metadata store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._tune import TuneResult as TuneResult
    from ._tune import tune as tune
    from ._tune import tuning_trials as tuning_trials

_LAZY = dict.fromkeys(["TuneResult", "tune", "tuning_trials"], "._tune")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = ["TuneResult", "tune", "tuning_trials"]
