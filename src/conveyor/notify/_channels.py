"""The channels an alert goes out on: Python logging, a signed CloudEvents webhook, a Slack
incoming webhook, email over SMTP. Each is built from its ``[notify.channels.<name>]``
table, reading the secrets it names from the environment, and sends one try at a time;
retries, de-duplication and the rate limit are the service's."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core import ConfigError, Resolver, webhook_secret_problem
from ._alert import Alert
from ._envelope import cloudevent, email_message, encode, slack_body, webhook_headers
from ._http import post
from ._policy import TryResult

if TYPE_CHECKING:
    from pydantic import SecretStr

    from ..core import NotifyChannelSettings, NotifySettings

# Where the log channel writes; configure this logger to route alerts.
ALERT_LOGGER = "conveyor.alerts"
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.ERROR}
_SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class Channel(ABC):
    """One configured channel. :meth:`send` makes one try and says how it went."""

    def __init__(self, name: str, project: str) -> None:
        self.name = name
        self.project = project

    @abstractmethod
    def send(self, alert: Alert, *, message_id: str) -> TryResult:
        """Try to deliver ``alert`` once; ``message_id`` is the same for every try.

        Raises:
            UnsafeURLError: the URL guard refused the channel's URL.
        """


class LogChannel(Channel):
    """Writes the alert to the ``conveyor.alerts`` logger (error level for critical)."""

    def send(self, alert: Alert, *, message_id: str) -> TryResult:
        logging.getLogger(ALERT_LOGGER).log(
            _LEVELS[alert.severity],
            "alert %s [%s] %s%s%s",
            alert.kind,
            alert.severity,
            alert.title,
            f" ({alert.subject})" if alert.subject else "",
            f": {alert.text}" if alert.text else "",
            extra={"alert_kind": alert.kind, "message_id": message_id, "project": self.project},
        )
        return TryResult(True)


class _HttpChannel(Channel):
    def __init__(
        self,
        name: str,
        project: str,
        url: str,
        settings: NotifySettings,
        resolver: Resolver | None,
    ) -> None:
        super().__init__(name, project)
        self._url = url
        self._policy = settings.outbound_policy()
        self._timeout = settings.timeout
        self._resolver = resolver

    def _post(self, body: bytes, headers: Mapping[str, str]) -> TryResult:
        return post(
            self._url,
            body,
            headers,
            policy=self._policy,
            timeout=self._timeout,
            resolver=self._resolver,
        )


class WebhookChannel(_HttpChannel):
    """POSTs a CloudEvents 1.0 structured-mode event, signed the Standard Webhooks way."""

    def __init__(
        self,
        name: str,
        project: str,
        url: str,
        secrets: str,
        settings: NotifySettings,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(name, project, url, settings, resolver)
        self._secrets = secrets

    def send(self, alert: Alert, *, message_id: str) -> TryResult:
        body = encode(cloudevent(alert, id=message_id, project=self.project))
        # The timestamp is the try's (a replay of an old try is refused by receivers).
        headers = webhook_headers(self._secrets, message_id, int(time.time()), body)
        return self._post(body, headers)


class SlackChannel(_HttpChannel):
    """POSTs ``{"text", "blocks"}`` to a Slack incoming webhook (the URL is a secret)."""

    def send(self, alert: Alert, *, message_id: str) -> TryResult:
        body = encode(slack_body(alert, project=self.project))
        return self._post(body, {"content-type": "application/json; charset=utf-8"})


class EmailChannel(Channel):
    """Sends a plain-text email over SMTP (STARTTLS, implicit TLS, or none)."""

    def __init__(
        self,
        name: str,
        project: str,
        settings: NotifyChannelSettings,
        password: str | None,
        timeout: float,
    ) -> None:
        super().__init__(name, project)
        self._settings = settings
        self._password = password
        self._timeout = timeout

    def send(self, alert: Alert, *, message_id: str) -> TryResult:
        s = self._settings
        message = email_message(
            alert, project=self.project, sender=s.sender, to=s.to, message_id=message_id
        )
        port = s.port or _SMTP_PORTS[s.security]
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, port, timeout=self._timeout)
            with smtp:
                smtp.ehlo()
                if s.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, self._password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return TryResult(
                False,
                all(400 <= c < 500 for c in codes),
                codes[0] if codes else None,
                f"the SMTP server refused every recipient ({sorted(exc.recipients)})",
            )
        except smtplib.SMTPAuthenticationError as exc:
            return TryResult(
                False, False, exc.smtp_code, f"the SMTP server refused the login ({exc.smtp_code})"
            )
        except smtplib.SMTPNotSupportedError as exc:
            if "AUTH" in str(exc):
                reason = (
                    "the SMTP server offers no login (AUTH) on this connection; remove "
                    "username, or use STARTTLS or ssl if it offers AUTH only over TLS"
                )
            else:
                reason = (
                    'the SMTP server does not offer STARTTLS; set security = "ssl" or, for '
                    'a local relay, "none"'
                )
            return TryResult(False, False, reason=reason)
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return TryResult(
                False,
                400 <= exc.smtp_code < 500,
                exc.smtp_code,
                f"the SMTP server answered {exc.smtp_code}: {' '.join(text.split())[:120]}",
            )
        except ssl.SSLCertVerificationError as exc:
            return TryResult(
                False, False, reason=f"the SMTP server's certificate: {exc.verify_message}"
            )
        except (smtplib.SMTPException, OSError) as exc:
            return TryResult(
                False,
                True,
                reason=f"could not talk to {s.host}:{port}: {type(exc).__name__}: {exc}",
            )
        if refused:
            return TryResult(True, reason=f"some recipients were refused: {sorted(refused)}")
        return TryResult(True, status_code=250)


def build_channel(
    name: str,
    settings: NotifySettings,
    project: str,
    *,
    env: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> Channel:
    """The channel ``[notify.channels.<name>]`` describes, its secrets read now.

    Raises:
        ConfigError: a secret it names in the environment is not set, or is malformed.
    """
    env = os.environ if env is None else env
    channel = settings.channels[name]
    if channel.kind == "log":
        return LogChannel(name, project)
    if channel.kind == "email":
        password = _secret(name, "password", channel.password, channel.password_env, env)
        return EmailChannel(name, project, channel, password or None, settings.timeout)
    url = _secret(name, "url", channel.url, channel.url_env, env)
    if channel.kind == "slack":
        return SlackChannel(name, project, url, settings, resolver)
    secrets = _secret(name, "secret", channel.secret, channel.secret_env, env)
    problem = webhook_secret_problem(secrets)
    if problem:
        raise ConfigError(
            f"The signing secret of channel {name!r} (from ${channel.secret_env}) {problem}.",
            hint='Generate one with: python -c "import base64, os; '
            "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"",
            channel=name,
        )
    return WebhookChannel(name, project, url, secrets, settings, resolver)


def _secret(
    channel: str, key: str, inline: SecretStr | None, variable: str, env: Mapping[str, str]
) -> str:
    if inline is not None:
        return inline.get_secret_value()
    if not variable:
        return ""
    value = env.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"Channel {channel!r} reads its {key} from the environment variable {variable}, "
            "which is not set.",
            hint=f"Set {variable} where conveyor runs, or set {key} in "
            f"[notify.channels.{channel}].",
            channel=channel,
            variable=variable,
        )
    return value
