"""Training: fit and register models, tune them in parallel, evaluate a challenger against
the champion through gates, and reproduce a version from its recorded run.

Services over a :class:`~conveyor.workspace.Workspace` (or the running step's): ``fit``,
``tune`` (an Optuna study whose trials run on the project's executor), ``evaluate``,
``reproduce``. Below them, pure computation over arrays: holdout metrics (overall and per
slice), paired statistics (DeLong, McNemar, bootstrap) and the gates. numpy, scipy,
scikit-learn and Optuna are imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._bootstrap import paired_bootstrap as paired_bootstrap
from ._evaluate import evaluate as evaluate
from ._evaluation import Evaluation as Evaluation
from ._fit import TrainingData as TrainingData
from ._fit import fit as fit
from ._fit import training_data as training_data
from ._gate_report import GateReport as GateReport
from ._gate_report import GateResult as GateResult
from ._gate_spec import ChangeThreshold as ChangeThreshold
from ._gate_spec import Decision as Decision
from ._gate_spec import GateSpec as GateSpec
from ._gate_spec import SliceRule as SliceRule
from ._gate_spec import ValueThreshold as ValueThreshold
from ._gate_spec import parse_gate_spec as parse_gate_spec
from ._gates import evaluate_gates as evaluate_gates
from ._metrics import CLASSIFICATION_METRICS as CLASSIFICATION_METRICS
from ._metrics import GREATER_IS_BETTER as GREATER_IS_BETTER
from ._metrics import METRICS as METRICS
from ._metrics import REGRESSION_METRICS as REGRESSION_METRICS
from ._metrics import classification_metrics as classification_metrics
from ._metrics import regression_metrics as regression_metrics
from ._reproduce import Reproduction as Reproduction
from ._reproduce import reproduce as reproduce
from ._slices import SliceMetrics as SliceMetrics
from ._slices import sliced_metrics as sliced_metrics
from ._stats import PairedComparison as PairedComparison
from ._stats import delong as delong
from ._stats import holm as holm
from ._stats import mcnemar as mcnemar
from ._steps import promote_model as promote_model

if TYPE_CHECKING:
    from ._tune import tune as tune
    from ._tune_result import TuneResult as TuneResult
    from ._tune_result import tuning_trials as tuning_trials

# The study's machinery reaches the metadata store: imported on first use.
_LAZY = {"tune": "._tune", "TuneResult": "._tune_result", "tuning_trials": "._tune_result"}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "CLASSIFICATION_METRICS",
    "GREATER_IS_BETTER",
    "METRICS",
    "REGRESSION_METRICS",
    "ChangeThreshold",
    "Decision",
    "Evaluation",
    "GateReport",
    "GateResult",
    "GateSpec",
    "PairedComparison",
    "Reproduction",
    "SliceMetrics",
    "SliceRule",
    "TrainingData",
    "TuneResult",
    "ValueThreshold",
    "classification_metrics",
    "delong",
    "evaluate",
    "evaluate_gates",
    "fit",
    "holm",
    "mcnemar",
    "paired_bootstrap",
    "parse_gate_spec",
    "promote_model",
    "regression_metrics",
    "reproduce",
    "sliced_metrics",
    "training_data",
    "tune",
    "tuning_trials",
]
