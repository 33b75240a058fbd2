"""The settings of the closed loop: the triggers that start pipelines (see ``_config`` for
how they load)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._names import validate_name
from ._settings import _Section, json_from_env, seconds_at_least

# What each trigger kind reads from the event log, and the setting it needs to pick its
# events out (a kind without one fires on every event of its type).
_NEEDS = {
    "drift": "deployment",
    "decay": "deployment",
    "new_data": "dataset",
    "schedule": "cron",
}


class TriggerSettings(_Section):
    """One trigger: the event that starts a pipeline, and how often it may."""

    kind: Literal["schedule", "new_data", "drift", "decay", "webhook", "manual"] = Field(
        description="`schedule` (the `cron` times in `timezone`), `new_data` (a new snapshot "
        "of `dataset`), `drift` (an alarm of `deployment`'s drift monitor at `level`), "
        "`decay` (its live performance dropped), `webhook` (an Alertmanager or Grafana alert "
        "whose labels include `match`), or `manual` (`conveyor trigger NAME` only)."
    )
    pipeline: str = Field(description="The pipeline a firing runs.")
    deployment: str = ""
    level: Literal["warning", "drift"] = "drift"
    dataset: str = ""
    cron: str = ""
    timezone: str = "UTC"
    match: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    cooldown: float = 0.0
    max_age: float = 86_400.0
    enabled: bool = True

    @field_validator("cooldown", "max_age", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> float:
        return seconds_at_least(v, "must be a duration such as '6h' or '0s'", strict=False)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if v:
            from croniter import croniter

            if not croniter.is_valid(v):
                raise ValueError(
                    f"{v!r} is not a cron expression: five fields (minute hour day-of-month "
                    "month day-of-week, e.g. '0 3 * * 1') or @hourly, @daily, @weekly, "
                    "@monthly, @yearly"
                )
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{v!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Paris')"
            ) from None
        return v

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, v: str) -> str:
        return validate_name(v, what="pipeline name")

    @model_validator(mode="after")
    def _needs(self) -> TriggerSettings:
        needed = _NEEDS.get(self.kind)
        if needed and not getattr(self, needed):
            raise ValueError(f"a {self.kind!r} trigger needs `{needed}`")
        return self


class AutomateSettings(_Section):
    triggers: dict[str, TriggerSettings] = Field(
        default_factory=dict,
        description="Named triggers, e.g. `[automate.triggers.drifted]` then `kind = "
        '"drift"`, `deployment = "churn"`, `pipeline = "retrain"`, `cooldown = "6h"` (see '
        "docs/automation.md). A firing is claimed once however many controllers run; a "
        "firing while its pipeline runs, or within the cooldown, is coalesced with the "
        "reason. From the environment, a JSON object.",
    )
    lease: float = Field(
        30.0,
        description="How long a controller holds a firing it claimed before another may "
        "take it over (if it died before starting the run).",
    )
    rollback: bool = Field(
        True,
        description="`conveyor up` rolls a champion back when, after a promotion, its live "
        "`rollback_metric` is worse than the previous champion's by more than "
        "`rollback_margin` with 95% confidence (see docs/automation.md).",
    )
    rollback_metric: str = Field(
        "",
        description="The live metric a promotion is judged on: `accuracy`, `f1`, `roc_auc`, "
        "`rmse`, `mae`...; empty = accuracy for a classifier, RMSE for a regressor.",
    )
    rollback_margin: float = Field(
        0.02,
        ge=0,
        description="How much worse (in the metric's units) the new champion may be before "
        "it is rolled back.",
    )
    rollback_min_labels: int = Field(
        200,
        ge=1,
        description="Labelled predictions each version needs before a promotion is judged.",
    )
    rollback_baseline: float = Field(
        7 * 86_400.0,
        description="How far before a promotion the previous champion's live figure is taken from.",
    )

    @field_validator("triggers", mode="before")
    @classmethod
    def _triggers(cls, v: Any) -> Any:
        return json_from_env(
            v,
            'must be a JSON object such as \'{"drifted": {"kind": "drift", '
            '"deployment": "churn", "pipeline": "retrain"}}\'',
        )

    @field_validator("triggers")
    @classmethod
    def _names(cls, v: dict[str, TriggerSettings]) -> dict[str, TriggerSettings]:
        for name in v:
            validate_name(name, what="trigger name")
        return v

    @field_validator("rollback_baseline", mode="before")
    @classmethod
    def _baseline(cls, v: Any) -> float:
        return seconds_at_least(v, "must be a positive duration such as '7d'")

    @field_validator("lease", mode="before")
    @classmethod
    def _lease(cls, v: Any) -> float:
        return seconds_at_least(v, "must be at least '1s'", minimum=1, strict=False)
