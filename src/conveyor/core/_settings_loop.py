"""The settings sections of the loop: monitoring, the prediction server and alerts (see
``_config`` for how they load)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from ._errors import UnsafeURLError
from ._names import validate_name
from ._outbound import OutboundPolicy, check_url, parse_networks
from ._settings import _comma_separated, _Section, json_from_env, seconds_at_least


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
        return seconds_at_least(v, "must be a positive duration such as '1h' or '30s'")

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
        return json_from_env(v, 'must be a JSON object such as \'{"age": "psi"}\'')


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
        return seconds_at_least(v, "must be a positive duration such as '50ms' or '10s'")

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
        return seconds_at_least(v, "must be a positive duration such as '10s' or '1h'")

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, v: Any) -> Any:
        return json_from_env(v, 'must be a JSON object such as \'{"ops": {"kind": "log"}}\'')

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
