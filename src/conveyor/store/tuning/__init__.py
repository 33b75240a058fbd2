"""Tuning studies: their trials, kept under the step run that runs the study."""

from __future__ import annotations

from ._records import TrialRecord as TrialRecord
from ._trials import fail_interrupted_trials as fail_interrupted_trials
from ._trials import finish_trial as finish_trial
from ._trials import list_run_trials as list_run_trials
from ._trials import list_trials as list_trials
from ._trials import start_trial as start_trial

__all__ = [
    "TrialRecord",
    "fail_interrupted_trials",
    "finish_trial",
    "list_run_trials",
    "list_trials",
    "start_trial",
]
