"""The tuning records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

from ...core import TrialStatus
from .._record import Record

# The error of a trial that an earlier attempt of its step left running (the attempt was
# killed, timed out or lost its run): it never finished, so it never ran to an end.
INTERRUPTED = "interrupted: attempt {attempt} of the step ended before the trial finished"


@dataclass(frozen=True, slots=True)
class TrialRecord(Record):
    """One trial of a tuning study, under the step run that runs the study.

    Attributes:
        number: The trial's number in its study: 0, 1, 2 ... with no gaps, stable across
            resumes of the step.
        attempt: The step attempt that ran (or is running) the trial.
        params: Parameter name to the value the trial used.
        distributions: Parameter name to its distribution, as Optuna writes one in JSON.
        value: The objective's value (``complete``), the last reported value (``pruned``,
            if any), or None.
        intermediate: Step to the value the trial reported there (NaN where it reported NaN).
        artifact_id: The model the trial returned, stored as an artifact of the step run.
    """

    id: int
    step_run_id: int
    number: int
    attempt: int
    state: TrialStatus
    params: dict[str, Any]
    distributions: dict[str, Any]
    value: float | None
    intermediate: dict[int, float]
    user_attrs: dict[str, Any]
    artifact_id: int | None
    error: str | None
    started_at: int
    finished_at: int | None

    @classmethod
    def from_row(cls, row: Any) -> Self:
        m = row._mapping
        return cls(
            id=m["id"],
            step_run_id=m["step_run_id"],
            number=m["number"],
            attempt=m["attempt"],
            state=m["state"],
            params=m["params"],
            distributions=m["distributions"],
            value=m["value"],
            intermediate=loaded_intermediate(m["intermediate"]),
            user_attrs=m["user_attrs"],
            artifact_id=m["artifact_id"],
            error=m["error"],
            started_at=m["started_at"],
            finished_at=m["finished_at"],
        )

    @property
    def is_finished(self) -> bool:
        return self.state != "running"

    @property
    def interrupted(self) -> bool:
        """Closed because its attempt ended before it finished (not an objective's failure)."""
        return self.state == "failed" and self.error == INTERRUPTED.format(attempt=self.attempt)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (None while running)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at) / 1000

    def to_dict(self) -> dict[str, Any]:
        out = Record.to_dict(self)
        # JSON has string keys and no NaN.
        out["intermediate"] = stored_intermediate(self.intermediate)
        return out


def stored_intermediate(values: Any) -> dict[str, float | None]:
    """``{step: value}`` as JSON: string keys, NaN as null (JSON has no NaN)."""
    return {
        str(int(step)): (None if value is None or math.isnan(value) else float(value))
        for step, value in values.items()
    }


def loaded_intermediate(values: Any) -> dict[int, float]:
    return {
        int(step): (math.nan if value is None else float(value))
        for step, value in sorted((values or {}).items(), key=lambda kv: int(kv[0]))
    }
