"""Training-side evaluation: holdout metrics (overall and per slice), paired statistics of a
challenger against the champion, and the gates a challenger must pass to be promoted.

Pure computation over arrays (numpy and scipy, imported when first used); nothing here
reads the metadata store.
"""

from __future__ import annotations

from ._bootstrap import paired_bootstrap as paired_bootstrap
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
from ._slices import SliceMetrics as SliceMetrics
from ._slices import sliced_metrics as sliced_metrics
from ._stats import PairedComparison as PairedComparison
from ._stats import delong as delong
from ._stats import holm as holm
from ._stats import mcnemar as mcnemar

__all__ = [
    "CLASSIFICATION_METRICS",
    "GREATER_IS_BETTER",
    "METRICS",
    "REGRESSION_METRICS",
    "ChangeThreshold",
    "Decision",
    "GateReport",
    "GateResult",
    "GateSpec",
    "PairedComparison",
    "SliceMetrics",
    "SliceRule",
    "ValueThreshold",
    "classification_metrics",
    "delong",
    "evaluate_gates",
    "holm",
    "mcnemar",
    "paired_bootstrap",
    "parse_gate_spec",
    "regression_metrics",
    "sliced_metrics",
]
