"""Project configuration: `conveyor.toml` validated by pydantic, overridden by `CONVEYOR_*`."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ._durations import parse_duration
from ._errors import ConfigError, ProjectNotFoundError, UnsafeURLError
from ._names import did_you_mean, validate_name
from ._outbound import OutboundPolicy, check_url, parse_networks

CONFIG_FILE = "conveyor.toml"
STATE_DIR = ".conveyor"

# Short environment names for the settings people change most; every other setting is
# CONVEYOR_<SECTION>_<KEY> (e.g. CONVEYOR_STORE_BUSY_TIMEOUT).
ENV_SHORTCUTS = {
    "CONVEYOR_STORE": ("store", "url"),
    "CONVEYOR_ARTIFACTS": ("artifacts", "url"),
    "CONVEYOR_EXECUTOR": ("executor", "kind"),
}


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
        # From the environment the options arrive as a JSON object in a string.
        if isinstance(v, str):
            import json

            try:
                return json.loads(v)
            except ValueError:
                raise ValueError("must be a JSON object such as '{\"anon\": true}'") from None
        return v


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
        if isinstance(v, str):  # from the environment: a JSON object
            import json

            try:
                return json.loads(v)
            except ValueError:
                raise ValueError(
                    'must be a JSON object such as \'{"train": {"n_rows": 500}}\''
                ) from None
        return v

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
        if isinstance(v, str):  # from the environment: a JSON object
            import json

            try:
                return json.loads(v)
            except ValueError:
                raise ValueError(
                    'must be a JSON object such as \'{"default": {"thresholds": '
                    '{"roc_auc": ">= 0.7"}}}\''
                ) from None
        return v


class MonitorSettings(_Section):
    window: float = Field(
        3600.0,
        description="The width of a monitor's time windows over the prediction log, e.g. "
        "'1h' or '15m' (windows align to multiples of it since the Unix epoch).",
    )
    window_rows: int = Field(
        0,
        ge=0,
        description="Cut windows by count instead: this many predictions each (0 = by time).",
    )
    grace: float = Field(
        30.0,
        description="How long after a time window ends before it is computed, so the "
        "servers' last log flush has landed.",
    )
    min_rows: int = Field(
        30,
        ge=1,
        description="A window with fewer predictions gets no drift verdict (status "
        "`insufficient`).",
    )
    reference: str = Field(
        "",
        description="The data drift is measured against, as `datasets:/name/version`; empty = "
        "the snapshot the served version was trained on (from its lineage).",
    )
    reference_rows: int = Field(
        100_000,
        ge=100,
        description="At most this many reference rows are kept (a seeded sample beyond it).",
    )
    warning_every: float = Field(
        168.0,
        gt=1,
        description="The false-alarm budget of the `warning` level: on data that has not "
        "changed, a false warning about once per this many windows (168 = a week of hourly "
        "windows).",
    )
    warning_persistence: tuple[int, int] = Field(
        (2, 3),
        description="A warning needs k flagged windows among the last n: `[k, n]`. From the "
        "environment, `k,n`.",
    )
    drift_every: float = Field(
        720.0,
        gt=1,
        description="The false-alarm budget of the `drift` level (asks the gate), in windows "
        "(720 = a month of hourly windows).",
    )
    drift_persistence: tuple[int, int] = Field(
        (3, 3),
        description="A drift alarm needs k flagged windows among the last n: `[k, n]`.",
    )
    cooldown: int = Field(
        12,
        ge=0,
        description="After an alarm, a level stays silent for this many windows, then counts "
        "flagged windows afresh.",
    )
    methods: dict[str, str] = Field(
        default_factory=dict,
        description='The drift statistic per column, e.g. `{ age = "psi" }`; a column not '
        "named gets the default choice by type and size (see docs/monitoring.md). From the "
        "environment, a JSON object.",
    )
    label_horizon: float = Field(
        7 * 86400.0,
        description="How long after a window ends its labels may still arrive, e.g. '7d': "
        "until then every run recomputes the window's live performance with the labels "
        "received so far; after it the window is final, and a label arriving later counts "
        "nowhere.",
    )
    min_labels: int = Field(
        100,
        ge=1,
        description="A performance window with fewer labels reports `insufficient labels` and "
        "no figures (at 100 a 95% accuracy interval is within 0.1).",
    )
    estimate_reference: str = Field(
        "",
        description="The labelled snapshot (`datasets:/name/version`, not trained on) the "
        "performance estimate is calibrated on when the served version has no evaluation "
        "holdout; its label column is the version's `target`. Empty: no estimate then.",
    )

    @field_validator("window", "grace", "label_horizon", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> float:
        seconds = parse_duration(v, what="duration")
        if seconds <= 0:
            raise ValueError("must be a positive duration such as '1h' or '30s'")
        return seconds

    @field_validator("warning_persistence", "drift_persistence", mode="before")
    @classmethod
    def _persistence(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = _comma_separated(v)
        if (
            not isinstance(v, list | tuple)
            or len(v) != 2
            or not all(isinstance(x, int | str) and str(x).strip().isdigit() for x in v)
        ):
            raise ValueError("must be two whole numbers [k, n] such as [2, 3]")
        k, n = (int(str(x).strip()) for x in v)
        if not 1 <= k <= n <= 12:
            raise ValueError(f"needs 1 <= k <= n <= 12; got k={k}, n={n}")
        return (k, n)

    @field_validator("methods", mode="before")
    @classmethod
    def _methods(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: a JSON object
            import json

            try:
                return json.loads(v)
            except ValueError:
                raise ValueError('must be a JSON object such as \'{"age": "psi"}\'') from None
        return v


class ServeSettings(_Section):
    host: str = Field(
        "127.0.0.1",
        description="The address `conveyor serve` binds. Any address but loopback needs "
        "`serve.token` (the server refuses to start without it).",
    )
    port: int = Field(8080, ge=1, le=65535, description="The port `conveyor serve` listens on.")
    workers: int = Field(
        1, ge=1, le=64, description="Server processes; each loads the model and logs on its own."
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="The largest request body accepted (413 beyond it), with or without a "
        "Content-Length.",
    )
    max_rows: int = Field(
        10_000, ge=1, description="The most rows one prediction request may hold (413 beyond)."
    )
    max_batch_rows: int = Field(
        512,
        ge=1,
        description="The most rows one `predict` call takes when concurrent requests are "
        "batched together.",
    )
    latency_budget: float = Field(
        0.05,
        description="The most time batching may add to a request's `predict` call: a batch "
        "stops growing when the model's measured cost (per call and per row) says the extra "
        "rows would take longer. Never a wait: a request alone is predicted at once.",
    )
    follow_interval: float = Field(
        0.5,
        description="How often the server reads the event log for a move of its alias "
        "(a new version is loaded, warmed and swapped in).",
    )
    check_interval: float = Field(
        10.0,
        description="How often the server also reads its alias directly, in case an event "
        "was missed.",
    )
    grace: float = Field(
        30.0,
        description="On SIGTERM: how long requests in flight may take to finish before the "
        "server exits anyway.",
    )
    log_predictions: bool = Field(
        True,
        description="Write every prediction to the prediction log (Parquet segments in the "
        "artifact store). `conveyor serve --no-log` turns it off for one server.",
    )
    log_scores: bool = Field(
        True,
        description="Log a classifier's probabilities beside its prediction (`score`, or "
        "`proba_<class>` per class), which the performance estimate needs; computed in the "
        "same model call where `predict` is the arg-max of `predict_proba`.",
    )
    token: SecretStr | None = Field(
        None,
        description="A bearer token every prediction request must carry "
        "(`Authorization: Bearer ...`); unset, predictions are open on loopback only.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="The bearer token of the admin routes (reload, swap) and of "
        "`/signals/alertmanager` (alerts posted by Alertmanager or Grafana); unset, they "
        "are closed.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values the server answers (403 otherwise, against DNS "
        "rebinding); empty = `localhost`, `127.0.0.1`, `::1` and `serve.host`. From the "
        "environment, comma-separated.",
    )

    @field_validator("latency_budget", "follow_interval", "check_interval", "grace", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> float:
        seconds = parse_duration(v, what="duration")
        if seconds <= 0:
            raise ValueError("must be a positive duration such as '50ms' or '10s'")
        return seconds

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, v: Any) -> Any:
        return _comma_separated(v)


_ALERT_KINDS = ("log", "webhook", "slack", "email")
# The keys each kind of channel takes, beside ``kind``, ``events`` and ``min_severity``.
_CHANNEL_KEYS = {
    "log": frozenset(),
    "webhook": frozenset({"url", "url_env", "secret", "secret_env"}),
    "slack": frozenset({"url", "url_env"}),
    "email": frozenset(
        {"host", "port", "security", "username", "password", "password_env", "sender", "to"}
    ),
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EVENT_GLOB = re.compile(r"[a-z0-9_.*?\[\]!-]+")


class NotifyChannelSettings(_Section):
    """One alert channel, a table such as ``[notify.channels.ops]``.

    Secrets (a webhook or Slack URL, a signing secret, an SMTP password) are best read from
    the environment at send time: ``url_env = "OPS_SLACK_URL"`` names the variable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["log", "webhook", "slack", "email"] = Field(
        description="`log` (Python logging), `webhook` (signed CloudEvents), `slack` "
        "(incoming webhook) or `email` (SMTP)."
    )
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Which alerts the channel gets: globs over alert kinds such as "
        "`drift.*`, `run.failed`, `model.*`.",
    )
    min_severity: Literal["info", "warning", "critical"] = Field(
        "info", description="The least severe alert the channel gets."
    )
    url: SecretStr | None = Field(None, description="webhook, slack: the URL to post to.")
    url_env: str = Field("", description="webhook, slack: the variable holding the URL.")
    secret: SecretStr | None = Field(
        None,
        description="webhook: the Standard Webhooks signing secret `whsec_...`; several, "
        "space-separated, sign with each (rotation).",
    )
    secret_env: str = Field("", description="webhook: the variable holding the secret.")
    host: str = Field("", description="email: the SMTP server.")
    port: int = Field(
        0, ge=0, le=65535, description="email: the SMTP port; 0 = 587, 465 (ssl) or 25 (none)."
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="email: STARTTLS, implicit TLS, or none (a local relay)."
    )
    username: str = Field("", description="email: the SMTP login, if the server wants one.")
    password: SecretStr | None = Field(None, description="email: the SMTP password.")
    password_env: str = Field("", description="email: the variable holding the password.")
    sender: str = Field("", alias="from", description="email: the From address.")
    to: list[str] = Field(default_factory=list, description="email: the recipients.")

    @field_validator("events", "to", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _comma_separated(v)

    @field_validator("events")
    @classmethod
    def _globs(cls, v: list[str]) -> list[str]:
        bad = [g for g in v if not _EVENT_GLOB.fullmatch(g)]
        if bad or not v:
            raise ValueError(
                "must list alert kinds or globs such as ['drift.*', 'run.failed'] (lower "
                f"case, dots, * and ?). Got {bad or v!r}"
            )
        return v

    @field_validator("url_env", "secret_env", "password_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if v and not _ENV_NAME.fullmatch(v):
            raise ValueError(
                f"must name an environment variable such as 'OPS_SLACK_URL'. Got {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _fits_its_kind(self) -> NotifyChannelSettings:
        given = self.model_fields_set - {"kind", "events", "min_severity"}
        foreign = sorted(given - _CHANNEL_KEYS[self.kind])
        if foreign:
            article = "an" if self.kind == "email" else "a"
            takes = sorted(_toml_key(k) for k in _CHANNEL_KEYS[self.kind])
            raise ValueError(
                f"{article} {self.kind} channel takes no "
                + ", ".join(repr(_toml_key(k)) for k in foreign)
                + "; besides 'kind', 'events' and 'min_severity' it takes "
                + (", ".join(repr(k) for k in takes) or "nothing")
            )
        if self.kind in ("webhook", "slack") and (self.url is None) == (not self.url_env):
            raise ValueError(f"a {self.kind} channel needs exactly one of 'url' and 'url_env'")
        if self.kind == "webhook":
            if (self.secret is None) == (not self.secret_env):
                raise ValueError(
                    "a webhook channel needs exactly one of 'secret' and 'secret_env' (its "
                    "Standard Webhooks signing secret, 'whsec_' and base64)"
                )
            if self.secret is not None:
                problem = webhook_secret_problem(self.secret.get_secret_value())
                if problem:
                    raise ValueError(f"its 'secret' {problem}")
        if self.kind == "email":
            if not self.host:
                raise ValueError("an email channel needs 'host', the SMTP server")
            if "@" not in self.sender or not self.to or any("@" not in a for a in self.to):
                raise ValueError(
                    "an email channel needs 'from' and 'to' addresses, such as from = "
                    "'conveyor@example.com' and to = ['ops@example.com']"
                )
            if self.username and (self.password is None) == (not self.password_env):
                raise ValueError(
                    "an email channel with 'username' needs exactly one of 'password' and "
                    "'password_env'"
                )
            if not self.username and (self.password is not None or self.password_env):
                raise ValueError("an email channel with a password needs 'username' too")
        return self


def _toml_key(field: str) -> str:
    return "from" if field == "sender" else field


def webhook_secret_problem(text: str) -> str | None:
    """Why ``text`` is not one or more Standard Webhooks secrets, or None if it is.

    A secret is ``whsec_`` and base64 of 24 to 64 random bytes; several are space-separated.
    """
    import base64
    import binascii

    parts = text.split()
    if not parts:
        return "is empty"
    for i, part in enumerate(parts, 1):
        which = f"secret {i} " if len(parts) > 1 else ""
        if not part.startswith("whsec_"):
            return f"{which}must start with 'whsec_' (Standard Webhooks)"
        try:
            raw = base64.b64decode(part[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            return f"{which}must be 'whsec_' then base64"
        if not 24 <= len(raw) <= 64:
            return f"{which}must hold 24 to 64 bytes; it holds {len(raw)}"
    return None


class NotifySettings(_Section):
    channels: dict[str, NotifyChannelSettings] = Field(
        default_factory=dict,
        description="Named alert channels, e.g. `[notify.channels.ops]` then `kind = "
        '"slack"`, `url_env = "OPS_SLACK_URL"`, `events = ["drift.*", "run.failed"]` (see '
        "docs/alerts.md). From the environment, a JSON object.",
    )
    dedupe_window: float = Field(
        600.0,
        description="An alert with the same de-duplication key on the same channel within "
        "this time is sent once; the repeats are recorded as suppressed.",
    )
    rate_limit: int = Field(
        30,
        ge=1,
        le=100_000,
        description="The most alerts one channel sends per `rate_period`; the excess is "
        "recorded as suppressed.",
    )
    rate_period: float = Field(3600.0, description="The period of `rate_limit`.")
    retry_attempts: int = Field(
        5,
        ge=1,
        le=50,
        description="Tries per delivery (the first included), with exponential back-off; "
        "a 4xx answer other than 408 and 429 is not tried again.",
    )
    retry_backoff: float = Field(
        1.0, description="The wait before the second try; it doubles each try after (jittered)."
    )
    retry_max_time: float = Field(
        60.0, description="The most time one delivery may spend on tries and waits."
    )
    timeout: float = Field(10.0, description="Connect and read time-out of one HTTP or SMTP try.")
    max_age: float = Field(
        86400.0,
        description="`conveyor alerts dispatch` skips events older than this (a first start "
        "on an old project, a long outage) instead of alerting on them.",
    )
    dispatch_interval: float = Field(
        2.0, description="How often `conveyor alerts dispatch --follow` reads new events."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts that alert URLs may reach although they resolve to a loopback, "
        "private or link-local address (and over plain http); from the environment, "
        "comma-separated.",
    )
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR, e.g. `10.20.0.0/16`) that alert URLs may reach on "
        "purpose; from the environment, comma-separated.",
    )

    @field_validator(
        "dedupe_window",
        "rate_period",
        "retry_backoff",
        "retry_max_time",
        "timeout",
        "max_age",
        "dispatch_interval",
        mode="before",
    )
    @classmethod
    def _seconds(cls, v: Any) -> float:
        seconds = parse_duration(v, what="duration")
        if seconds <= 0:
            raise ValueError("must be a positive duration such as '10s' or '1h'")
        return seconds

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: a JSON object
            import json

            try:
                return json.loads(v)
            except ValueError:
                raise ValueError(
                    'must be a JSON object such as \'{"ops": {"kind": "log"}}\''
                ) from None
        return v

    @field_validator("channels")
    @classmethod
    def _channel_names(
        cls, v: dict[str, NotifyChannelSettings]
    ) -> dict[str, NotifyChannelSettings]:
        for name in v:
            validate_name(name, what="channel name")
        return v

    @field_validator("allowed_hosts", "allowed_networks", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _comma_separated(v)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        parse_networks(v)
        return v

    @model_validator(mode="after")
    def _urls_pass_the_guard(self) -> NotifySettings:
        # What the URL alone shows (scheme, literal addresses) is checked now; names are
        # resolved and checked again at every send.
        policy = self.outbound_policy()
        for name, channel in self.channels.items():
            if channel.url is None:
                continue
            try:
                check_url(channel.url.get_secret_value(), policy, resolve=False)
            except UnsafeURLError as exc:
                raise ValueError(f"channel {name!r}: {exc}") from None
        return self

    def outbound_policy(self) -> OutboundPolicy:
        """The URL guard's policy for alert URLs (https; the allowlists above)."""
        return OutboundPolicy.build(
            allowed_hosts=self.allowed_hosts,
            allowed_networks=self.allowed_networks,
            setting="notify",
        )


class Config(_Section):
    """A project's settings. Build with :meth:`Config.load`, which resolves relative paths."""

    project: ProjectSettings = Field(default_factory=lambda: ProjectSettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    artifacts: ArtifactSettings = Field(default_factory=lambda: ArtifactSettings())
    executor: ExecutorSettings = Field(default_factory=lambda: ExecutorSettings())
    pipelines: PipelinesSettings = Field(default_factory=lambda: PipelinesSettings())
    features: FeaturesSettings = Field(default_factory=lambda: FeaturesSettings())
    registry: RegistrySettings = Field(default_factory=lambda: RegistrySettings())
    train: TrainSettings = Field(default_factory=lambda: TrainSettings())
    monitor: MonitorSettings = Field(default_factory=lambda: MonitorSettings())
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings())
    notify: NotifySettings = Field(default_factory=lambda: NotifySettings())
    root: Path = Field(Path("."), exclude=True, description="The project folder (not a setting).")

    @model_validator(mode="after")
    def _lease_outlasts_a_busy_store(self) -> Config:
        problem = lease_problem(self.pipelines.lease, self.store.busy_timeout, self.store.retries)
        if problem:
            raise ValueError(problem)
        return self

    @classmethod
    def load(cls, root: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
        """Read ``root/conveyor.toml`` (if present), apply ``CONVEYOR_*`` overrides, validate.

        Raises:
            ConfigError: naming the key, the bad value and what is allowed.
        """
        root_path = Path(root).resolve()
        path = root_path / CONFIG_FILE
        data: dict[str, Any] = {}
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"{path} is not valid TOML: {exc}.",
                    hint="Fix the syntax; `conveyor init` in an empty folder shows a valid file.",
                    path=str(path),
                ) from None
        data = _apply_env(data, os.environ if env is None else env)
        try:
            config = cls.model_validate({**data, "root": root_path})
        except ValidationError as exc:
            raise _config_error(exc, path) from None
        return config.resolved()

    @classmethod
    def find(cls, start: str | os.PathLike[str] = ".") -> Path:
        """Return the nearest folder at or above ``start`` holding a ``conveyor.toml``."""
        here = Path(start).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return folder
        raise ProjectNotFoundError(
            f"No {CONFIG_FILE} in {here} or any folder above it.",
            hint="Create a project with: conveyor init",
        )

    def resolved(self) -> Config:
        """Return a copy whose relative SQLite and artifact paths are absolute under ``root``."""
        art = self.artifacts.url
        if "://" not in art and not os.path.isabs(art):
            art = str(self.root / art)
        online = self._absolute_sqlite(self.features.online_store)
        return self.model_copy(
            update={
                "store": self.store.model_copy(
                    update={"url": self._absolute_sqlite(self.store.url)}
                ),
                "artifacts": self.artifacts.model_copy(update={"url": art}),
                "features": self.features.model_copy(update={"online_store": online}),
            }
        )

    def _absolute_sqlite(self, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and not rest.startswith(":memory:"):
                return prefix + str(self.root / rest)
        return url

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


# A store call that meets transient failures is tried ``retries + 1`` times, each waiting up
# to ``busy_timeout`` for a competing writer, with jittered exponential back-off between
# tries (``STORE_RETRY_BACKOFF`` doubling, capped at ``STORE_RETRY_MAX_DELAY``, times up to 2
# for the jitter). The store reads these constants, so the lease rule below cannot drift.
STORE_RETRY_BACKOFF = 0.02
STORE_RETRY_MAX_DELAY = 1.0


def worst_store_call(busy_timeout: float, retries: int) -> float:
    """The longest one store call may take before it lands or gives up, in seconds."""
    backoff = sum(min(STORE_RETRY_BACKOFF * 2.0**i, STORE_RETRY_MAX_DELAY) for i in range(retries))
    return (retries + 1) * busy_timeout + 2 * backoff


# Heartbeats come every third of the lease, each setting the expiry a full lease ahead when
# it lands. The renewal after a good one starts a third of the lease later, so it has the
# other two thirds to land: the lease must be at least 1.5 worst store calls.
LEASE_PER_WORST_CALL = 1.5


def lease_problem(lease: float, busy_timeout: float, retries: int) -> str | None:
    """Why a runner lease of ``lease`` seconds is unsafe for a store that waits up to
    ``busy_timeout`` per try and retries ``retries`` times, or None."""
    worst = worst_store_call(busy_timeout, retries)
    if lease >= LEASE_PER_WORST_CALL * worst:
        return None
    # The largest busy timeout this lease allows with these retries, for the hint.
    busy_max = (lease / LEASE_PER_WORST_CALL - (worst - (retries + 1) * busy_timeout)) / (
        retries + 1
    )
    fix = f"lower store.busy_timeout to at most {busy_max:.3g}s" if busy_max > 0 else ""
    return (
        f"pipelines.lease ({lease:g}s) is too short for the store: one heartbeat may take "
        f"{worst:.3g}s (store.retries {retries} + 1 tries of up to store.busy_timeout "
        f"{busy_timeout:g}s each, plus back-off), and the lease must be at least "
        f"{LEASE_PER_WORST_CALL:g} times that, or a heartbeat that waits on a busy store can "
        f"lose the run; raise pipelines.lease to at least "
        f"{LEASE_PER_WORST_CALL * worst:.3g}s"
        + (f", {fix}" if fix else "")
        + ", or lower store.retries"
    )


def settings_reference() -> list[tuple[str, str, str, str]]:
    """``(key, environment variable, default, description)`` for every setting, for docs."""
    rows = []
    shortcut = {v: k for k, v in ENV_SHORTCUTS.items()}
    for section, field in Config.model_fields.items():
        if field.exclude:
            continue
        model = _section_model(section)
        for key, sub in model.model_fields.items():
            env = shortcut.get((section, key), f"CONVEYOR_{section.upper()}_{key.upper()}")
            default = sub.get_default(call_default_factory=True)
            rows.append((f"{section}.{key}", env, repr(default), sub.description or ""))
    return rows


def _section_model(section: str) -> type[BaseModel]:
    annotation = Config.model_fields[section].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    sections = {name for name, f in Config.model_fields.items() if not f.exclude}
    for var, value in env.items():
        if not var.startswith("CONVEYOR_"):
            continue
        if var in ENV_SHORTCUTS:
            section, key = ENV_SHORTCUTS[var]
        else:
            rest = var[len("CONVEYOR_") :].lower()
            section = next((s for s in sections if rest.startswith(s + "_")), "")
            if not section:
                continue
            key = rest[len(section) + 1 :]
            if key not in _section_model(section).model_fields:
                continue
        target = merged.setdefault(section, {})
        if isinstance(target, dict):
            target[key] = value
    return merged


def _model_at(parts: list[str]) -> Any:
    """The settings model at a key path (through tables of models such as channels)."""
    model: Any = Config
    for part in parts:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part)
            model = field.annotation if field else None
        elif get_origin(model) is dict:
            model = get_args(model)[1]  # the table's key is a name: step to its value
        else:
            return None
    return model


def _is_secret(loc: tuple[Any, ...]) -> bool:
    *parents, last = [str(p) for p in loc if p != "root"] or [""]
    model = _model_at(parents)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    field = model.model_fields.get(last)
    return field is not None and "SecretStr" in str(field.annotation)


def _config_error(exc: ValidationError, path: Path) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "root")
        if not loc:  # a rule across settings names its keys itself
            lines.append(err["msg"].removeprefix("Value error, ").rstrip(".") + ".")
        elif err["type"] == "extra_forbidden":
            *parents, last = [str(p) for p in err["loc"]]
            parent_model = _model_at(parents)
            known = [
                field.alias or name
                for name, field in getattr(parent_model, "model_fields", {}).items()
            ]
            lines.append(
                f"unknown key {loc!r}.{did_you_mean(last, known)} Known keys here: "
                + ", ".join(repr(k) for k in known if k != "root")
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            value = err.get("input")
            # Echo a plain value only: a table may hold secrets (a Slack URL is one), and
            # so does a secret setting itself.
            echo = not isinstance(value, dict | list) and not _is_secret(err["loc"])
            got = "" if "Got " in msg or not echo else f" Got {value!r}."
            lines.append(f"key {loc!r}: {msg.rstrip('.')}.{got}")
    where = str(path) if path.exists() else "the configuration"
    return ConfigError(
        f"Invalid settings in {where} (or CONVEYOR_* environment): " + "; ".join(lines),
        hint="See the configuration reference in the README.",
        path=str(path),
    )
