"""The settings sections of the base: project, store, artifacts, executor, pipelines,
features, registry and training (see ``_config`` for how they load)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

from ._durations import parse_duration
from ._names import validate_name

STATE_DIR = ".conveyor"


def seconds_at_least(
    value: Any, message: str, *, minimum: float = 0.0, strict: bool = True
) -> float:
    """A duration setting (``'30s'``, ``'1h'``, a number of seconds) in seconds; ``message``
    is the error when it is below ``minimum`` (or equal to it, when ``strict``)."""
    seconds = parse_duration(value, what="duration")
    if seconds < minimum or (strict and seconds == minimum):
        raise ValueError(message)
    return seconds


def json_from_env(value: Any, message: str) -> Any:
    """A table setting from the environment arrives as one JSON string; ``message`` is the
    error's text when it is not JSON (``must be a JSON object such as ...``)."""
    if isinstance(value, str):
        import json

        try:
            return json.loads(value)
        except ValueError:
            raise ValueError(message) from None
    return value


def _comma_separated(value: Any) -> Any:
    """A list setting from the environment arrives as one comma-separated string."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSettings(_Section):
    name: str = Field(
        "default",
        description="Project name: letters, digits, `_`, `.`, `-`. Scopes runs, models, datasets "
        "and events; several projects can share one store.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v, what="project name")


class StoreSettings(_Section):
    url: str = Field(
        f"sqlite:///{STATE_DIR}/conveyor.db",
        description="Metadata store URL: `sqlite:///relative/or/absolute.db` or "
        "`postgresql://user@host:5432/db`. Relative SQLite paths are under the project folder. "
        "SQLite on a network file system is refused.",
    )
    busy_timeout: float = Field(
        5.0,
        description="How long a write waits for another writer (SQLite busy timeout, "
        "PostgreSQL lock wait) before it is retried, e.g. `5s`. With `retries`, bounded by "
        "`pipelines.lease` (see there).",
    )
    retries: int = Field(
        5,
        ge=0,
        le=50,
        description="Bounded retries of a transaction after a lost connection, deadlock or lock "
        "time-out.",
    )
    pool_size: int = Field(5, ge=1, le=100, description="PostgreSQL connection pool size.")

    @field_validator("busy_timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v, what="busy_timeout")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        scheme = v.split(":", 1)[0].lower() if ":" in v else ""
        if scheme not in {"sqlite", "postgresql", "postgres", "postgresql+psycopg"}:
            raise ValueError(
                "must be a sqlite:/// or postgresql:// URL, such as "
                "'sqlite:///.conveyor/conveyor.db' or 'postgresql://postgres@127.0.0.1:5432/conveyor'"
            )
        return v


class ArtifactSettings(_Section):
    url: str = Field(
        f"{STATE_DIR}/artifacts",
        description="Artifact store: a local folder (relative to the project) or any fsspec URL "
        "(`s3://bucket/prefix`, `gs://...`, `file:///abs/path`). One artifact store belongs to "
        "one metadata store (garbage collection keeps what that store references).",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options passed to the fsspec filesystem (e.g. `endpoint_url` for S3); "
        "from the environment, a JSON object.",
    )

    @field_validator("storage_options", mode="before")
    @classmethod
    def _options(cls, v: Any) -> Any:
        return json_from_env(v, "must be a JSON object such as '{\"anon\": true}'")


class ExecutorSettings(_Section):
    kind: Literal["local", "ray"] = Field(
        "local", description="Where steps run: `local` (threads/processes) or `ray`."
    )
    max_workers: int = Field(
        0, ge=0, le=1024, description="Parallel steps on the local executor; 0 = number of CPUs."
    )
    address: str = Field(
        "", description='Ray cluster address for `kind = "ray"`; empty starts a local cluster.'
    )


class PipelinesSettings(_Section):
    modules: list[str] = Field(
        default_factory=lambda: ["pipelines"],
        description="Python modules (importable from the project folder) that define the "
        'project\'s `@pipeline`s, e.g. `["pipelines", "jobs.nightly"]`; from the environment, '
        "comma-separated.",
    )
    lease: float = Field(
        60.0,
        description="How long a runner's claim on its run lasts without a heartbeat "
        "(heartbeats come every third of it, from a thread of their own); after it, "
        "`conveyor runs resume` may take the run over. At least 1.5 times the longest a "
        "store call may take: (`store.retries` + 1) x `store.busy_timeout` plus back-off.",
    )

    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Parameter defaults per pipeline, e.g. `[pipelines.params.train]` then "
        "`n_rows = 5000`; `--param` overrides them. Checked against the pipeline's types. From "
        "the environment, a JSON object.",
    )

    @field_validator("lease", mode="before")
    @classmethod
    def _lease(cls, v: Any) -> float:
        seconds = parse_duration(v, what="lease")
        if seconds < 0.5:
            raise ValueError("must be at least 500ms")
        return seconds

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, v: Any) -> Any:
        return json_from_env(v, 'must be a JSON object such as \'{"train": {"n_rows": 500}}\'')

    @field_validator("modules", mode="before")
    @classmethod
    def _modules(cls, v: Any) -> Any:
        return _comma_separated(v)


class FeaturesSettings(_Section):
    online_store: str = Field(
        f"sqlite:///{STATE_DIR}/online.db",
        description="The online feature store: `sqlite:///relative/or/absolute.db` (relative "
        "to the project folder) or `redis://host:6379/0` (needs `conveyor[redis]`).",
    )
    online_prefix: str = Field(
        "conveyor",
        description="Prefix of the online store's Redis keys, so projects can share one Redis; "
        "the project's name is added after it.",
    )

    @field_validator("online_store")
    @classmethod
    def _online_url(cls, v: str) -> str:
        scheme = v.split(":", 1)[0].lower() if ":" in v else ""
        if scheme not in ("sqlite", "redis", "rediss"):
            raise ValueError(
                "must be a sqlite:/// or redis:// URL, e.g. 'sqlite:///.conveyor/online.db' or "
                "'redis://127.0.0.1:6379/0'"
            )
        return v


class RegistrySettings(_Section):
    champion_alias: str = Field(
        "champion",
        description="The alias the promotion policy guards: the version it points at is the "
        "one served as the champion.",
    )
    require_evaluation: bool = Field(
        True,
        description="Only a version with a passed evaluation of that version, whose digest "
        "and store signature verify, may become `champion_alias`; `--force REASON` "
        "overrides and is recorded. Other aliases move freely.",
    )

    @field_validator("champion_alias")
    @classmethod
    def _alias(cls, v: str) -> str:
        return validate_name(v, what="alias")


class TrainSettings(_Section):
    gate: str = Field(
        "default",
        description="The gate `conveyor.train.evaluate` applies when given none: a name from "
        "`train.gates`. With no such table, a challenger must not be significantly worse "
        "than the champion: ROC AUC by 0.01, or RMSE by 1% of the champion's.",
    )
    gates: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named gates, e.g. `[train.gates.default]` then `thresholds = { roc_auc = "
        '">= 0.70" }`, `change`, `decision` and `slices` (see docs/gates.md). From the '
        "environment, a JSON object.",
    )

    @field_validator("gate")
    @classmethod
    def _gate(cls, v: str) -> str:
        return validate_name(v, what="gate name")

    @field_validator("gates", mode="before")
    @classmethod
    def _gates(cls, v: Any) -> Any:
        return json_from_env(
            v,
            'must be a JSON object such as \'{"default": {"thresholds": {"roc_auc": ">= 0.7"}}}\'',
        )
