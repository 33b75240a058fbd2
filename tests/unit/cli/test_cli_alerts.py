"""``conveyor alerts``: test a channel, list alert events, dispatch the event log once, on
log channels (no network; deliveries to real servers are tested in integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.store import create_run, open_store, transition_run
from support.inprocess_cli import Invoke, MakeCliProject

CHANNELS = """
[notify.channels.audit]
kind = "log"
[notify.channels.team]
kind = "slack"
url_env = "CONVEYOR_TEST_UNSET_SLACK_URL"
"""


@pytest.fixture
def project(make_project: MakeCliProject) -> Path:
    root = make_project()
    with open(root / "conveyor.toml", "a") as f:
        f.write(CHANNELS)
    return root


def test_a_test_alert_reports_its_delivery(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "alerts", "test", "audit")
    assert result.code == 0, result
    assert "Test alert sent on 'audit' after 1 try" in result.out
    as_json = invoke("-p", str(project), "alerts", "test", "audit", "--json")
    assert json.loads(as_json.out)["outcome"] == "sent"


def test_a_failed_test_alert_exits_1_with_the_reason(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "alerts", "test", "team")
    assert result.code == 1
    assert "Test alert failed on 'team'" in result.out
    assert "CONVEYOR_TEST_UNSET_SLACK_URL, which is not set" in result.out


def test_an_unknown_channel_is_a_user_error(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "alerts", "test", "audti")
    assert result.code == 1
    assert "No alert channel 'audti' in [notify.channels]. Did you mean 'audit'?" in result.err
    assert "Known channels: audit, team." in result.err
    assert "Traceback" not in result.err


def test_dispatch_alerts_on_events_once_and_lists_them(invoke: Invoke, project: Path) -> None:
    with open_store(f"sqlite:///{project}/.conveyor/conveyor.db", project="p") as store:
        run = create_run(store, "train")
        transition_run(store, run.id, "failed", expected=["running"], error="no data")
    first = invoke("-p", str(project), "alerts", "dispatch")
    assert first.code == 0, first
    assert "sent on 'audit' after 1 try" in first.out
    assert "failed on 'team'" in first.out
    assert "1 event(s) read, 1 alert(s), 2 deliveries" in first.out
    again = invoke("-p", str(project), "alerts", "dispatch", "--json")
    assert json.loads(again.out)["n_events"] == 0
    listed = invoke("-p", str(project), "alerts", "list", "--json")
    events = json.loads(listed.out)
    assert sorted((e["type"], e["data"]["channel"]) for e in events) == [
        ("io.conveyor.alert.failed", "team"),
        ("io.conveyor.alert.sent", "audit"),
    ]
    table = invoke("-p", str(project), "alerts", "list")
    assert "run.failed" in table.out and "runs/1" in table.out
