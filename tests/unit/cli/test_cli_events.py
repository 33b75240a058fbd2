"""``conveyor events`` without ``--follow``: the newest events, by type, after a cursor, as a
table or as CloudEvents JSON. (Following is tested on the installed command, in e2e.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conveyor.store import create_run, open_store, transition_run
from support.inprocess_cli import Invoke, MakeCliProject


@pytest.fixture
def project(make_project: MakeCliProject) -> Path:
    """Three runs: 1 succeeded, 2 failed, 3 still running: five events in all."""
    root = make_project()
    with open_store(f"sqlite:///{root}/.conveyor/conveyor.db", project="p") as store:
        first = create_run(store, "train")
        transition_run(store, first.id, "succeeded", expected=["running"])
        second = create_run(store, "score")
        transition_run(store, second.id, "failed", expected=["running"], error="no data")
        create_run(store, "train")
    return root


def events(invoke: Invoke, root: Path, *args: str) -> Any:
    result = invoke("-p", str(root), "events", *args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def test_all_events_in_order_as_cloudevents(invoke: Invoke, project: Path) -> None:
    listed = events(invoke, project)
    assert [(e["type"], e["subject"]) for e in listed] == [
        ("io.conveyor.run.started", "runs/1"),
        ("io.conveyor.run.succeeded", "runs/1"),
        ("io.conveyor.run.started", "runs/2"),
        ("io.conveyor.run.failed", "runs/2"),
        ("io.conveyor.run.started", "runs/3"),
    ]
    first = listed[0]
    assert first["specversion"] == "1.0" and first["source"] == "/projects/p"
    assert [int(e["id"]) for e in listed] == sorted(int(e["id"]) for e in listed)
    assert first["time"].endswith("Z") or "+00:00" in first["time"]
    assert listed[3]["data"]["error"] == "no data"


def test_without_a_cursor_the_last_limit_events_are_shown(invoke: Invoke, project: Path) -> None:
    last_two = events(invoke, project, "--limit", "2")
    assert [(e["type"], e["subject"]) for e in last_two] == [
        ("io.conveyor.run.failed", "runs/2"),
        ("io.conveyor.run.started", "runs/3"),
    ]


def test_after_a_cursor_the_next_limit_events_are_shown(invoke: Invoke, project: Path) -> None:
    ids = [int(e["id"]) for e in events(invoke, project)]
    after = events(invoke, project, "--after", str(ids[1]), "-n", "2")
    assert [int(e["id"]) for e in after] == ids[2:4]
    assert events(invoke, project, "--after", str(ids[-1])) == []
    # 0 is a cursor like any other: the first events, not the last.
    assert [int(e["id"]) for e in events(invoke, project, "--after", "0", "-n", "2")] == ids[:2]
    negative = invoke("-p", str(project), "events", "--after", "-1")
    assert negative.code == 2 and "'--after'" in negative.err


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["io.conveyor.run.failed"], [("io.conveyor.run.failed", "runs/2")]),
        (
            ["io.conveyor.run.s*"],
            [
                ("io.conveyor.run.started", "runs/1"),
                ("io.conveyor.run.succeeded", "runs/1"),
                ("io.conveyor.run.started", "runs/2"),
                ("io.conveyor.run.started", "runs/3"),
            ],
        ),
        (
            ["io.conveyor.run.failed", "io.conveyor.run.succeeded"],
            [("io.conveyor.run.succeeded", "runs/1"), ("io.conveyor.run.failed", "runs/2")],
        ),
        (["io.conveyor.alias.*"], []),
    ],
)
def test_types_are_exact_or_a_prefix(
    invoke: Invoke, project: Path, types: list[str], expected: list[tuple[str, str]]
) -> None:
    args = [arg for t in types for arg in ("--type", t)]
    assert [(e["type"], e["subject"]) for e in events(invoke, project, *args)] == expected


def test_the_table_shows_id_time_type_and_subject(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "events", "-t", "io.conveyor.run.failed")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == "Events"
    for column in ("id", "time (UTC)", "type", "subject"):
        assert column in lines[2]
    (row,) = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line[0] == "│"]
    assert row[0] == "4" and row[2:] == ["io.conveyor.run.failed", "runs/2"]
    assert len(row[1]) == len("2024-01-01 00:00:00")


def test_an_empty_log_says_so(invoke: Invoke, make_project: MakeCliProject) -> None:
    root = make_project(name="empty")
    assert invoke("-p", str(root), "events").out == "No events.\n"
    assert events(invoke, root) == []
