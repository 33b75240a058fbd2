"""``[notify]``: alert channels checked against their kind, URLs against the outbound
guard, and no secret ever echoed in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core import Config, ConfigError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"


def load(root: Path, text: str, **env: str) -> Config:
    (root / "conveyor.toml").write_text(text)
    return Config.load(root, env=env)


def error(root: Path, text: str, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(root, text, **env)
    assert "\n" not in info.value.message
    return info.value.message


def test_each_kind_of_channel_loads(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        f"""
[notify.channels.audit]
kind = "log"
min_severity = "warning"
[notify.channels.hooks]
kind = "webhook"
url = "https://hooks.example.com/conveyor"
secret = "{SECRET}"
events = ["drift.*", "run.failed"]
[notify.channels.team]
kind = "slack"
url_env = "TEAM_SLACK_URL"
[notify.channels.oncall]
kind = "email"
host = "smtp.example.com"
security = "ssl"
username = "conveyor"
password_env = "SMTP_PASSWORD"
from = "conveyor@example.com"
to = ["oncall@example.com", "ml@example.com"]
""",
    )
    channels = config.notify.channels
    assert list(channels) == ["audit", "hooks", "team", "oncall"]
    assert channels["audit"].min_severity == "warning" and channels["audit"].events == ["*"]
    assert channels["hooks"].secret is not None
    assert channels["hooks"].secret.get_secret_value() == SECRET
    assert channels["hooks"].events == ["drift.*", "run.failed"]
    assert channels["team"].url is None and channels["team"].url_env == "TEAM_SLACK_URL"
    assert channels["oncall"].sender == "conveyor@example.com"
    assert channels["oncall"].to == ["oncall@example.com", "ml@example.com"]
    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('kind = "webhook"\nsecret = "S"', "needs exactly one of 'url' and 'url_env'"),
        (
            'kind = "webhook"\nurl = "https://h.example.com"',
            "needs exactly one of 'secret' and 'secret_env'",
        ),
        (
            'kind = "webhook"\nurl = "https://h.example.com"\nsecret = "not-a-secret"',
            "its 'secret' must start with 'whsec_'",
        ),
        (
            'kind = "webhook"\nurl = "https://h.example.com"\nsecret = "whsec_c2hvcnQ="',
            "must hold 24 to 64 bytes; it holds 5",
        ),
        (
            f'kind = "webhook"\nurl = "https://h.example.com"\nsecret = "{SECRET} whsec_!!"',
            "secret 2 must be 'whsec_' then base64",
        ),
        ('kind = "slack"\nurl = "x"\nurl_env = "X"', "needs exactly one of 'url' and 'url_env'"),
        (f'kind = "slack"\nurl = "{SLACK}"\nsecret = "{SECRET}"', "a slack channel takes no"),
        ('kind = "log"\nhost = "smtp"', "a log channel takes no 'host'"),
        ('kind = "email"\nfrom = "a@b.c"\nto = ["d@e.f"]', "needs 'host'"),
        ('kind = "email"\nhost = "smtp"\nto = ["d@e.f"]', "needs 'from' and 'to'"),
        ('kind = "email"\nhost = "smtp"\nfrom = "a@b.c"\nto = ["nobody"]', "needs 'from' and"),
        (
            'kind = "email"\nhost = "smtp"\nfrom = "a@b.c"\nto = ["d@e.f"]\nusername = "u"',
            "with 'username' needs exactly one of 'password' and 'password_env'",
        ),
        (
            'kind = "email"\nhost = "smtp"\nfrom = "a@b.c"\nto = ["d@e.f"]\npassword = "p"',
            "with a password needs 'username' too",
        ),
        ('kind = "slack"\nurl_env = "1BAD"', "must name an environment variable"),
        ('kind = "log"\nevents = ["Drift.*"]', "must list alert kinds or globs"),
        ('kind = "log"\nevents = []', "must list alert kinds or globs"),
        ('kind = "log"\nmin_severity = "fatal"', "'info', 'warning' or 'critical'"),
        ('kind = "email"\nhost = "h"\nfrom = "a@b.c"\nto = ["d@e.f"]\nport = 70000', "65535"),
    ],
)
def test_a_channel_must_fit_its_kind(tmp_path: Path, table: str, fragment: str) -> None:
    message = error(tmp_path, f"[notify.channels.ops]\n{table}\n")
    assert "notify.channels.ops" in message
    assert fragment in message


def test_an_unknown_channel_key_suggests_the_known_ones(tmp_path: Path) -> None:
    message = error(tmp_path, '[notify.channels.ops]\nkind = "slack"\nurll = "x"\n')
    assert "unknown key 'notify.channels.ops.urll'. Did you mean 'url'?" in message
    assert "'from'" in message and "'sender'" not in message


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("http://hooks.example.com/s3cr3tpath", ["Plain http is refused", "notify.allowed_hosts"]),
        ("https://169.254.169.254/latest/meta-data", ["cloud metadata range 169.254.169.254/32"]),
        (
            "https://127.0.0.1:9/s3cr3tpath",
            ["loopback range 127.0.0.0/8", "notify.allowed_networks"],
        ),
        ("https://2130706433/s3cr3tpath", ["decimal, octal or hexadecimal", "127.0.0.1"]),
        ("file:///etc/passwd", ["The URL scheme file: is not allowed"]),
        ("gopher://h.example.com/", ["The URL scheme gopher: is not allowed"]),
    ],
)
def test_a_channel_url_must_pass_the_outbound_guard(
    tmp_path: Path, url: str, fragments: list[str]
) -> None:
    message = error(tmp_path, f'[notify.channels.ops]\nkind = "slack"\nurl = "{url}"\n')
    assert "channel 'ops'" in message
    for fragment in fragments:
        assert fragment in message
    path = url.split("//", 1)[-1].partition("/")[2]
    if path:
        assert path not in message  # a Slack URL's path is its secret


def test_the_allowlists_let_an_internal_receiver_through(tmp_path: Path) -> None:
    text = (
        '[notify]\nallowed_hosts = ["127.0.0.1"]\n'
        '[notify.channels.ops]\nkind = "slack"\nurl = "http://127.0.0.1:9000/hook"\n'
    )
    assert load(tmp_path, text).notify.channels["ops"].url is not None
    by_network = text.replace('allowed_hosts = ["127.0.0.1"]', 'allowed_networks = ["127.0.0.0/8"]')
    assert load(tmp_path, by_network).notify.allowed_networks == ["127.0.0.0/8"]


def test_secrets_are_never_echoed(tmp_path: Path) -> None:
    # A bad table: pydantic hands the whole table (the URL in it) to the error.
    message = error(
        tmp_path, f'[notify.channels.ops]\nkind = "slack"\nurl = "{SLACK}"\nsecret = "x"\n'
    )
    assert "XXXXsecretXXXX" not in message and "hooks.slack.com" not in message
    message = error(
        tmp_path,
        "",
        CONVEYOR_NOTIFY_CHANNELS=f'{{"ops": {{"kind": "slack", "url": "{SLACK}", "to": 1}}}}',
    )
    assert "XXXXsecretXXXX" not in message


def test_channels_from_the_environment_are_a_json_object(tmp_path: Path) -> None:
    message = error(tmp_path, "", CONVEYOR_NOTIFY_CHANNELS="ops=log")
    assert "must be a JSON object such as" in message
    config = load(
        tmp_path,
        "",
        CONVEYOR_NOTIFY_CHANNELS='{"ops": {"kind": "log", "events": "drift.*, run.*"}}',
    )
    assert config.notify.channels["ops"].events == ["drift.*", "run.*"]
