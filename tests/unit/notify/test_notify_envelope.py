"""What the channels send: the CloudEvents envelope, its Standard Webhooks signature
(checked against the spec's own example and the reference package), Slack's body, the
email."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from conveyor.notify import CLOUDEVENTS_CONTENT_TYPE, Alert, cloudevent, sign, slack_body
from conveyor.notify._envelope import email_message, encode, message_id, webhook_headers

# The example of the Standard Webhooks reference libraries' test suites.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def drift() -> Alert:
    return Alert(
        kind="drift.detected",
        severity="warning",
        title="Drift detected on deployments/churn",
        text="feature tenure: PSI 0.31 > 0.2",
        subject="models/churn/versions/3",
        event_id=42,
        details={"feature": "tenure", "psi": 0.31},
        source="/projects/shop/monitors/churn",
        time_ms=1_765_000_000_123,
    )


def test_the_signature_matches_the_specs_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_several_secrets_sign_once_each_for_rotation() -> None:
    header = sign(f"{SPEC_SECRET} {OTHER_SECRET}", SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    first, second = header.split(" ")
    assert first == SPEC_SIGNATURE
    assert second.startswith("v1,") and second != first
    assert second == sign(OTHER_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)


def test_the_reference_package_verifies_our_headers_with_either_secret() -> None:
    body = encode(cloudevent(drift(), id="msg_abc", project="shop"))
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers(f"{OTHER_SECRET} {SPEC_SECRET}", "msg_abc", now, body)
    for secret in (SPEC_SECRET, OTHER_SECRET):
        assert Webhook(secret).verify(body, headers)["type"] == "io.conveyor.drift.detected"
    tampered = body.replace(b"0.31", b"0.01")
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(SPEC_SECRET).verify(tampered, headers)
    assert headers["content-type"] == CLOUDEVENTS_CONTENT_TYPE
    assert CLOUDEVENTS_CONTENT_TYPE == "application/cloudevents+json; charset=utf-8"


def test_the_cloudevent_has_the_required_attributes_and_ours() -> None:
    event = cloudevent(drift(), id="msg_1", project="shop")
    assert event["specversion"] == "1.0"
    assert event["id"] == "msg_1"
    assert event["type"] == "io.conveyor.drift.detected"
    assert event["source"] == "/projects/shop/monitors/churn"
    assert event["subject"] == "models/churn/versions/3"
    assert event["time"] == "2025-12-06T05:46:40.123Z"
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == {
        "project": "shop",
        "kind": "drift.detected",
        "severity": "warning",
        "title": "Drift detected on deployments/churn",
        "text": "feature tenure: PSI 0.31 > 0.2",
        "subject": "models/churn/versions/3",
        "event_id": 42,
        "details": {"feature": "tenure", "psi": 0.31},
    }
    bare = cloudevent(Alert("alert.tested", "info", "Test"), id="msg_2", project="shop")
    assert bare["source"] == "/projects/shop/alerts" and "subject" not in bare


def test_the_body_is_compact_utf8_json() -> None:
    alert = Alert("run.failed", "critical", "café☕", details={"n": 1, "m": [1, 2]})
    body = encode(cloudevent(alert, id="m", project="p"))
    assert b", " not in body and b": " not in body
    assert "café☕".encode() in body  # UTF-8, not \u escapes
    assert json.loads(body.decode("utf-8"))["data"]["title"] == "café☕"


def test_message_ids_are_stable_unique_and_dot_free() -> None:
    key = b"s" * 32
    first = message_id(key, "shop", 7)
    assert first == message_id(key, "shop", 7)
    assert first != message_id(key, "shop", 8) != message_id(key, "shop.eu", 7)
    assert first != message_id(b"t" * 32, "shop", 7)
    assert first.startswith("msg_") and "." not in first


def test_the_slack_body_has_text_and_blocks_with_markup_escaped() -> None:
    alert = Alert(
        "validation.failed",
        "critical",
        "Validation failed on <orders> & co",
        text="column <b>: not null",
        subject="datasets/orders",
    )
    body = slack_body(alert, project="shop")
    assert body["text"] == ":red_circle: [critical] Validation failed on &lt;orders&gt; &amp; co"
    header, section, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Validation failed on <orders> & co"},
    }
    assert section["text"] == {"type": "mrkdwn", "text": "column &lt;b&gt;: not null"}
    assert context["elements"][0]["text"] == (
        "*critical* · `validation.failed` · datasets/orders · project shop"
    )
    assert [b["type"] for b in slack_body(Alert("a.b", "info", "t"), project="p")["blocks"]] == [
        "header",
        "context",
    ]


def test_slack_texts_are_cut_to_slacks_limits() -> None:
    alert = Alert("run.failed", "warning", "t" * 200, text="x" * 5000)
    header, section, _ = slack_body(alert, project="p")["blocks"]
    assert len(header["text"]["text"]) == 150 and header["text"]["text"].endswith("…")
    assert len(section["text"]["text"]) == 3000


def test_the_email_says_what_happened_and_how_to_find_it() -> None:
    message = email_message(
        drift(), project="shop", sender="conveyor@example.com", to=["a@x.io"], message_id="msg_9"
    )
    assert message["Subject"] == "[conveyor shop] WARNING: Drift detected on deployments/churn"
    assert message["From"] == "conveyor@example.com" and message["To"] == "a@x.io"
    assert message["Message-ID"] == "<msg_9@example.com>"
    body = message.get_content()
    assert "feature tenure: PSI 0.31 > 0.2" in body
    assert "Kind:     drift.detected (io.conveyor.drift.detected)" in body
    assert "conveyor events --after 41" in body
    assert '"psi": 0.31' in body


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "Drift"}, "'<noun>.<past-tense verb>'"),
        ({"kind": "drift"}, "'<noun>.<past-tense verb>'"),
        ({"severity": "fatal"}, "severity must be one of"),
        ({"title": " "}, "needs a title"),
        ({"title": "two\nlines"}, "one line"),
        ({"title": "x" * 201}, "at most 200"),
        ({"details": {"x": float("nan")}}, "must be JSON"),
        ({"details": {"x": object()}}, "must be JSON"),
        ({"dedupe_key": "k" * 257}, "at most 256"),
    ],
)
def test_a_bad_alert_is_refused_with_a_message(kwargs: dict[str, object], fragment: str) -> None:
    from conveyor.core import InvalidValueError

    fields: dict[str, object] = {"kind": "run.failed", "severity": "info", "title": "t"}
    fields.update(kwargs)
    with pytest.raises(InvalidValueError, match=fragment):
        Alert(**fields)  # type: ignore[arg-type]


def test_the_default_key_is_kind_and_subject() -> None:
    assert drift().key == "drift.detected:models/churn/versions/3"
    assert Alert("a.b", "info", "t", dedupe_key="mine").key == "mine"
