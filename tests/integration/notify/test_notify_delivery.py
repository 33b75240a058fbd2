"""Alerts delivered for real: a local SMTP server (aiosmtpd) and a local HTTP receiver,
started by the test, receive them; the receiver verifies each webhook's signature with the
``standardwebhooks`` package. Retries, give-ups, de-duplication and the rate limit are
counted at the receiver and in the event log, on each store backend."""

from __future__ import annotations

import json
import logging
from email import message_from_bytes
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from conveyor import store as st
from conveyor.notify import Alert, Delivery, send_alert, send_test_alert
from support.alerts import FAST, SECRET, MakeNotifyProject
from support.receivers import http_receiver, self_signed, smtp_server

pytestmark = pytest.mark.integration
ALERT_TYPES = ["io.conveyor.alert.*"]


def drift(**kwargs: object) -> Alert:
    fields: dict[str, object] = {
        "kind": "drift.detected",
        "severity": "warning",
        "title": "Drift detected on deployments/churn",
        "text": "tenure: PSI 0.31",
        "subject": "models/churn/versions/3",
        "details": {"feature": "tenure", "psi": 0.31},
    }
    fields.update(kwargs)
    return Alert(**fields)  # type: ignore[arg-type]


def alert_events(ws) -> list[st.EventRecord]:  # type: ignore[no-untyped-def]
    return st.read_events(ws.store, types=ALERT_TYPES)


def test_every_channel_delivers_and_the_receiver_verifies_the_signature(
    notify_project: MakeNotifyProject, caplog: pytest.LogCaptureFixture
) -> None:
    with http_receiver() as receiver, smtp_server() as mailbox:
        ws = notify_project(
            f"""
[notify]
allowed_hosts = ["127.0.0.1"]
{FAST}
[notify.channels.hooks]
kind = "webhook"
url = "{receiver.url}/hooks/conveyor"
secret_env = "HOOK_SECRET"
[notify.channels.team]
kind = "slack"
url_env = "TEAM_SLACK_URL"
[notify.channels.oncall]
kind = "email"
host = "127.0.0.1"
port = {mailbox.port}
security = "none"
from = "conveyor@example.com"
to = ["oncall@example.com", "ml@example.com"]
[notify.channels.audit]
kind = "log"
"""
        )
        env = {"HOOK_SECRET": SECRET, "TEAM_SLACK_URL": f"{receiver.url}/services/T0/B0/s3cr3t"}
        # Every logger at DEBUG (ours, httpx, httpcore): the Slack URL must show nowhere.
        with caplog.at_level(logging.DEBUG):
            deliveries = send_alert(ws, drift(), env=env)

    assert sorted((d.channel, d.outcome, d.attempts) for d in deliveries) == [
        ("audit", "sent", 1),
        ("hooks", "sent", 1),
        ("oncall", "sent", 1),
        ("team", "sent", 1),
    ]
    hook, slack = sorted(receiver.received, key=lambda r: r.path)
    # The webhook: a structured-mode CloudEvent, verified as a receiver would.
    assert hook.path == "/hooks/conveyor"
    assert hook.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    event = Webhook(SECRET).verify(hook.body, hook.headers)
    assert event["specversion"] == "1.0" and event["type"] == "io.conveyor.drift.detected"
    assert event["source"] == "/projects/alerts/alerts"
    assert event["subject"] == "models/churn/versions/3"
    assert event["id"] == hook.headers["webhook-id"]
    assert event["data"]["details"] == {"feature": "tenure", "psi": 0.31}
    # Slack: text and blocks.
    assert slack.path == "/services/T0/B0/s3cr3t"
    body = json.loads(slack.body)
    assert body["text"] == ":warning: [warning] Drift detected on deployments/churn"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]
    # Email: one message to both recipients.
    (envelope,) = mailbox.messages
    assert envelope.rcpt_tos == ["oncall@example.com", "ml@example.com"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "[conveyor alerts] WARNING: Drift detected on deployments/churn"
    # Log.
    (record,) = [r for r in caplog.records if r.name == "conveyor.alerts"]
    assert record.levelno == logging.WARNING and "drift.detected" in record.getMessage()
    # One event per delivery, naming channel, tries and status, and no URL or secret.
    events = alert_events(ws)
    assert sorted((e.type, e.data["channel"]) for e in events) == [
        ("io.conveyor.alert.sent", "audit"),
        ("io.conveyor.alert.sent", "hooks"),
        ("io.conveyor.alert.sent", "oncall"),
        ("io.conveyor.alert.sent", "team"),
    ]
    by_channel = {e.data["channel"]: e for e in events}
    assert by_channel["hooks"].data["status_code"] == 200
    assert by_channel["oncall"].data["status_code"] == 250
    assert by_channel["team"].data["attempts"] == 1
    assert by_channel["team"].data["kind"] == "drift.detected"
    text = json.dumps([e.to_cloudevent() for e in events])
    for secret in ("s3cr3t", SECRET, receiver.url):
        assert secret not in text
        assert secret not in caplog.text


def webhook_project(notify_project: MakeNotifyProject, url: str, extra: str = "") -> object:
    return notify_project(
        f"""
[notify]
allowed_hosts = ["127.0.0.1"]
{FAST}{extra}
[notify.channels.hooks]
kind = "webhook"
url = "{url}/hook"
secret = "{SECRET}"
"""
    )


def test_a_receiver_that_fails_twice_then_succeeds_gets_three_tries(
    notify_project: MakeNotifyProject,
) -> None:
    script = [(503, {}, b"busy"), (500, {}, b"oops")]
    with http_receiver(script) as receiver:
        ws = webhook_project(notify_project, receiver.url)
        (delivery,) = send_alert(ws, drift())  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.attempts, delivery.status_code) == ("sent", 3, 200)
    assert len(receiver.received) == 3
    # Every try is the same message (one id), signed afresh, and verifies.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for request in receiver.received:
        Webhook(SECRET).verify(request.body, request.headers)
    (event,) = alert_events(ws)
    assert event.type == "io.conveyor.alert.sent"
    assert (event.data["attempts"], event.data["status_code"]) == (3, 200)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_a_4xx_answer_is_not_tried_again(notify_project: MakeNotifyProject, status: int) -> None:
    with http_receiver([(status, {}, b"no such hook")]) as receiver:
        ws = webhook_project(notify_project, receiver.url)
        (delivery,) = send_alert(ws, drift())  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.attempts, delivery.status_code) == ("failed", 1, status)
    assert delivery.reason == f"answered HTTP {status}: no such hook"
    assert len(receiver.received) == 1
    (event,) = alert_events(ws)
    assert event.type == "io.conveyor.alert.failed"
    assert (event.data["attempts"], event.data["status_code"]) == (1, status)


def test_408_and_429_are_tried_again(notify_project: MakeNotifyProject) -> None:
    script = [(408, {}, b""), (429, {"retry-after": "0"}, b"slow down")]
    with http_receiver(script) as receiver:
        ws = webhook_project(notify_project, receiver.url)
        (delivery,) = send_alert(ws, drift())  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.attempts) == ("sent", 3)
    assert len(receiver.received) == 3


def test_tries_stop_at_the_limit_and_free_the_key(notify_project: MakeNotifyProject) -> None:
    with http_receiver([(503, {}, b"")] * 4) as receiver:
        ws = webhook_project(notify_project, receiver.url, "retry_attempts = 3\n")
        (first,) = send_alert(ws, drift())  # type: ignore[arg-type]
        assert (first.outcome, first.attempts) == ("failed", 3)
        assert "answered HTTP 503; gave up after 3 tries" in first.reason
        assert len(receiver.received) == 3
        # A failed delivery is no reason to hold the next one back as a duplicate.
        (second,) = send_alert(ws, drift())  # type: ignore[arg-type]
    assert (second.outcome, second.attempts) == ("sent", 2)
    assert len(receiver.received) == 5
    assert [e.type.rsplit(".", 1)[1] for e in alert_events(ws)] == ["failed", "sent"]


def test_a_refused_connection_is_tried_again_then_given_up(
    notify_project: MakeNotifyProject,
) -> None:
    with http_receiver() as receiver:
        url = receiver.url
    # The receiver is gone: nothing listens on its port any more.
    ws = webhook_project(notify_project, url, "retry_attempts = 2\n")
    (delivery,) = send_alert(ws, drift())  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.attempts, delivery.status_code) == ("failed", 2, None)
    assert delivery.reason.startswith("could not connect:")
    assert "gave up after 2 tries" in delivery.reason
    assert "/hook" not in delivery.reason


def test_smtp_transient_refusals_are_tried_again_permanent_ones_not(
    notify_project: MakeNotifyProject,
) -> None:
    with smtp_server(["451 4.3.0 try again later", "554 5.7.1 rejected"]) as mailbox:
        ws = notify_project(
            f"""
[notify]
{FAST}
[notify.channels.mail]
kind = "email"
host = "127.0.0.1"
port = {mailbox.port}
security = "none"
from = "conveyor@example.com"
to = ["oncall@example.com"]
"""
        )
        (first,) = send_alert(ws, drift())
        (second,) = send_alert(ws, drift(subject="models/churn/versions/4"))
        (third,) = send_alert(ws, drift(subject="models/churn/versions/5"))
    assert (first.outcome, first.attempts, first.status_code) == ("failed", 2, 554)
    assert first.reason == "the SMTP server answered 554: 5.7.1 rejected"
    assert (second.outcome, second.attempts, second.status_code) == ("sent", 1, 250)
    assert third.outcome == "sent"
    assert len(mailbox.messages) == 2


def test_repeats_within_the_window_are_sent_once_and_recorded_as_suppressed(
    notify_project: MakeNotifyProject,
) -> None:
    with http_receiver() as receiver:
        ws = webhook_project(notify_project, receiver.url)
        outcomes = [send_alert(ws, drift())[0].outcome for _ in range(5)]  # type: ignore[arg-type]
        other = send_alert(ws, drift(subject="models/churn/versions/4"))[0]  # type: ignore[arg-type]
    assert outcomes == ["sent"] + ["duplicate"] * 4
    assert other.outcome == "sent"
    assert len(receiver.received) == 2
    events = alert_events(ws)
    assert [e.type.rsplit(".", 1)[1] for e in events] == ["sent"] + ["suppressed"] * 4 + ["sent"]
    assert events[1].data["outcome"] == "duplicate"
    assert "within the de-duplication window of 600s" in events[1].data["reason"]


def test_the_rate_limit_holds_back_the_excess_and_records_it(
    notify_project: MakeNotifyProject,
) -> None:
    with http_receiver() as receiver:
        ws = webhook_project(notify_project, receiver.url, "rate_limit = 3\n")
        deliveries: list[Delivery] = [
            send_alert(ws, drift(subject=f"models/m{i}"))[0]  # type: ignore[arg-type]
            for i in range(5)
        ]
    assert [d.outcome for d in deliveries] == ["sent"] * 3 + ["rate_limited"] * 2
    assert len(receiver.received) == 3
    suppressed = [e for e in alert_events(ws) if e.type == "io.conveyor.alert.suppressed"]
    assert len(suppressed) == 2
    assert suppressed[0].data["reason"] == "the channel sent its limit of 3 alerts in 3600s"
    records = st.list_alert_deliveries(ws.store, channel="hooks")  # type: ignore[attr-defined]
    assert sorted(r.status for r in records) == ["sent"] * 3 + ["suppressed"] * 2


def test_filters_pick_the_channels(notify_project: MakeNotifyProject) -> None:
    ws = notify_project(
        """
[notify.channels.drift]
kind = "log"
events = ["drift.*"]
[notify.channels.pager]
kind = "log"
min_severity = "critical"
[notify.channels.all]
kind = "log"
"""
    )
    assert {d.channel for d in send_alert(ws, drift())} == {"drift", "all"}
    failed = Alert("run.failed", "critical", "Run 1 failed", subject="runs/1")
    assert {d.channel for d in send_alert(ws, failed)} == {"pager", "all"}


def test_a_test_alert_goes_to_the_channel_named_whatever_its_filter(
    notify_project: MakeNotifyProject,
) -> None:
    with http_receiver() as receiver:
        ws = notify_project(
            f"""
[notify]
allowed_hosts = ["127.0.0.1"]
[notify.channels.team]
kind = "slack"
url = "{receiver.url}/services/x"
events = ["drift.*"]
"""
        )
        first = send_test_alert(ws, "team")
        second = send_test_alert(ws, "team")
    assert (first.outcome, second.outcome) == ("sent", "sent")  # never a duplicate
    assert len(receiver.received) == 2
    assert (
        "Test alert from conveyor project 'alerts'" in json.loads(receiver.received[0].body)["text"]
    )
    from conveyor.core import NotFoundError

    with pytest.raises(NotFoundError, match="No alert channel 'teem'.*Did you mean 'team'"):
        send_test_alert(ws, "teem")


def test_a_missing_secret_variable_fails_the_delivery_with_a_message(
    notify_project: MakeNotifyProject,
) -> None:
    ws = notify_project(
        """
[notify.channels.team]
kind = "slack"
url_env = "NOT_SET_ANYWHERE"
"""
    )
    delivery = send_test_alert(ws, "team", env={})
    assert (delivery.outcome, delivery.attempts) == ("failed", 0)
    assert "environment variable NOT_SET_ANYWHERE, which is not set" in delivery.reason
    (event,) = alert_events(ws)
    assert event.type == "io.conveyor.alert.failed"


def mail_project(notify_project: MakeNotifyProject, port: int, security: str) -> object:
    return notify_project(
        f"""
[notify]
{FAST}
[notify.channels.mail]
kind = "email"
host = "localhost"
port = {port}
security = "{security}"
username = "conveyor"
password_env = "SMTP_PASSWORD"
from = "conveyor@example.com"
to = ["oncall@example.com"]
"""
    )


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_a_login(
    notify_project: MakeNotifyProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    security: str,
) -> None:
    cert, key = self_signed(tmp_path, "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this server only
    login = ("conveyor", "pa55word")
    implicit = security == "ssl"
    with smtp_server(tls=(cert, key), implicit_tls=implicit, login=login) as mailbox:
        ws = mail_project(notify_project, mailbox.port, security)
        (sent,) = send_alert(ws, drift(), env={"SMTP_PASSWORD": "pa55word"})  # type: ignore[arg-type]
        (refused,) = send_alert(  # type: ignore[arg-type]
            ws, drift(subject="models/x"), env={"SMTP_PASSWORD": "wrong"}
        )
    assert (sent.outcome, sent.attempts, sent.status_code) == ("sent", 1, 250)
    assert mailbox.logins == ["conveyor"] and len(mailbox.messages) == 1
    assert (refused.outcome, refused.attempts, refused.status_code) == ("failed", 1, 535)
    assert refused.reason == "the SMTP server refused the login (535)"


def test_email_to_a_server_whose_certificate_names_another_host_fails_at_once(
    notify_project: MakeNotifyProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path, "mail.other.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with smtp_server(tls=(cert, key)) as mailbox:
        ws = mail_project(notify_project, mailbox.port, "starttls")
        (delivery,) = send_alert(ws, drift(), env={"SMTP_PASSWORD": "x"})  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.attempts) == ("failed", 1)
    assert delivery.reason.startswith("the SMTP server's certificate:")
    assert mailbox.messages == []
