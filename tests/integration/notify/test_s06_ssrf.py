"""S06: SSRF through the URLs alerts are posted to. A canary listener on loopback (127.0.0.1
and ::1, one port) counts every connection it gets; webhook and Slack URLs aimed at it, at
the cloud metadata address, in numeric disguises, through a name, through a redirect from
an allowlisted receiver, or with another scheme, must each be refused naming the blocked
range (or the scheme), and the canary must count 0 hits.

The receiver that is allowlisted on purpose listens on 127.0.0.2, so 127.0.0.1 stays
blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.core import ConfigError
from conveyor.notify import send_test_alert
from support.alerts import SECRET, MakeNotifyProject
from support.receivers import canary_listener, http_receiver, self_signed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]

# (URL with {port} for the canary's, what the refusal must name)
VECTORS = [
    ("https://169.254.169.254/latest/meta-data/iam", "cloud metadata range 169.254.169.254/32"),
    ("http://169.254.169.254/latest/meta-data/iam", "cloud metadata range 169.254.169.254/32"),
    ("http://127.0.0.1:{port}/hook", "loopback range 127.0.0.0/8"),
    ("https://127.0.0.1:{port}/hook", "loopback range 127.0.0.0/8"),
    ("http://[::1]:{port}/hook", "loopback range ::1/128"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "IPv4-mapped IPv6 (to loopback 127.0.0.1)"),
    ("http://2130706433:{port}/hook", "decimal, octal or hexadecimal form, in the loopback"),
    ("http://0177.0.0.1:{port}/hook", "decimal, octal or hexadecimal form, in the loopback"),
    ("http://0x7f.1:{port}/hook", "decimal, octal or hexadecimal form, in the loopback"),
    ("http://0x7f000001:{port}/hook", "decimal, octal or hexadecimal form, in the loopback"),
    ("http://127.1:{port}/hook", "decimal, octal or hexadecimal form, in the loopback"),
    ("http://localhost:{port}/hook", "(the host 'localhost' resolves to"),
    ("https://localhost:{port}/hook", "in the loopback range"),
    ("file:///etc/passwd", "The URL scheme file: is not allowed"),
    ("gopher://127.0.0.1:{port}/_GET%20/", "The URL scheme gopher: is not allowed"),
    ("ftp://127.0.0.1:{port}/x", "The URL scheme ftp: is not allowed"),
]
KINDS = ["webhook", "slack"]


def channels() -> str:
    return f"""
[notify]
allowed_hosts = ["127.0.0.2"]
retry_backoff = "10ms"
[notify.channels.webhook]
kind = "webhook"
url_env = "WEBHOOK_URL"
secret = "{SECRET}"
[notify.channels.slack]
kind = "slack"
url_env = "SLACK_URL"
"""


def test_s06_alert_urls_never_reach_blocked_addresses(
    notify_project: MakeNotifyProject,
) -> None:
    checked = 0
    with canary_listener() as canary:
        ws = notify_project(channels())
        for template, named in VECTORS:
            url = template.format(port=canary.port)
            for kind in KINDS:
                env = {"WEBHOOK_URL": url, "SLACK_URL": url}
                delivery = send_test_alert(ws, kind, env=env)
                checked += 1
                assert delivery.outcome == "failed", (kind, url, delivery)
                assert named in delivery.reason, (kind, url, delivery.reason)
                assert delivery.attempts <= 1  # a refusal is never tried again
                assert "/hook" not in delivery.reason and "meta-data" not in delivery.reason
        hits = canary.hits
    assert hits == 0
    failed = st.read_events(ws.store, types=["io.conveyor.alert.failed"])
    assert len(failed) == checked
    text = json.dumps([e.data for e in failed])
    assert "/hook" not in text and "meta-data" not in text
    print(f"\nS06: {checked} refused sends through {len(VECTORS)} vectors: canary hits {hits}")


@pytest.mark.parametrize(("template", "named"), VECTORS)
def test_s06_the_same_urls_are_refused_when_the_settings_load(
    notify_project: MakeNotifyProject, template: str, named: str
) -> None:
    url = template.format(port=1)
    toml = f'[notify.channels.team]\nkind = "slack"\nurl = "{url}"\n'
    if url.startswith("https://localhost"):  # a name: resolved and checked at each send
        notify_project(toml)
        return
    if url.startswith("http://localhost"):  # plain http to a name nobody allowlisted
        named = "Plain http is refused for http://localhost:1"
    with pytest.raises(ConfigError) as info:
        notify_project(toml)
    assert named in info.value.message
    assert "/hook" not in info.value.message and "meta-data" not in info.value.message


@pytest.mark.parametrize("kind", KINDS)
def test_s06_a_redirect_to_loopback_is_not_followed(
    notify_project: MakeNotifyProject, kind: str
) -> None:
    with canary_listener() as canary:
        target = f"http://127.0.0.1:{canary.port}/hook"
        script = [(302, {"location": target}, b""), (307, {"location": target}, b"")]
        with http_receiver(script, host="127.0.0.2") as receiver:
            ws = notify_project(channels())
            env = {"WEBHOOK_URL": f"{receiver.url}/in", "SLACK_URL": f"{receiver.url}/in"}
            first = send_test_alert(ws, kind, env=env)
            second = send_test_alert(ws, kind, env=env)
        hits = canary.hits
    assert hits == 0
    assert len(receiver.received) == 2  # one try each: a redirect is not retried
    for delivery, status in ((first, 302), (second, 307)):
        assert (delivery.outcome, delivery.status_code, delivery.attempts) == ("failed", status, 1)
        assert "redirects are never followed" in delivery.reason


def test_the_checked_address_is_the_one_connected_to(
    notify_project: MakeNotifyProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is resolved once, by the guard, and the connection goes to
    that address; TLS still verifies the certificate for the URL's name (SNI)."""
    cert, key = self_signed(tmp_path, "hooks.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    answers: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        # First answer an allowlisted address; any later lookup would say loopback.
        answers.append(host)
        return ["127.0.0.2"] if len(answers) == 1 else ["127.0.0.1"]

    with canary_listener() as canary, http_receiver(host="127.0.0.2", tls=(cert, key)) as rx:
        port = rx.url.rsplit(":", 1)[1]
        ws = notify_project(
            f"""
[notify]
allowed_networks = ["127.0.0.2/32"]
[notify.channels.webhook]
kind = "webhook"
url = "https://hooks.test:{port}/in"
secret = "{SECRET}"
"""
        )
        delivery = send_test_alert(ws, "webhook", resolver=resolver)
        hits = canary.hits
    assert delivery.outcome == "sent", delivery
    assert answers == ["hooks.test"]  # resolved once; the system resolver never asked
    assert hits == 0
    (request,) = rx.received
    assert request.headers["host"] == f"hooks.test:{port}"


def test_a_certificate_for_another_name_is_refused(
    notify_project: MakeNotifyProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path, "other.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with http_receiver(host="127.0.0.2", tls=(cert, key)) as rx:
        port = rx.url.rsplit(":", 1)[1]
        ws = notify_project(
            f"""
[notify]
allowed_networks = ["127.0.0.2/32"]
retry_attempts = 1
[notify.channels.webhook]
kind = "webhook"
url = "https://hooks.test:{port}/in"
secret = "{SECRET}"
"""
        )
        delivery = send_test_alert(ws, "webhook", resolver=lambda host, port: ["127.0.0.2"])
    assert delivery.outcome == "failed"
    assert "could not connect" in delivery.reason
    assert rx.received == []
