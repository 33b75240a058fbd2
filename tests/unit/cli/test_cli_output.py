"""How the CLI formats sizes, durations, times and empty tables for people."""

from __future__ import annotations

import pytest

from conveyor.cli._output import seconds, size, status, table, when


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (2 * 1024**4, "2.0 TiB"),
        (5000 * 1024**4, "5000.0 TiB"),
    ],
)
def test_sizes_use_binary_units(n: int, text: str) -> None:
    assert size(n) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0.0, "0ms"),
        (0.0424, "42ms"),
        (0.9994, "999ms"),
        (1.0, "1.0s"),
        (75.5, "75.5s"),
    ],
)
def test_durations_are_milliseconds_under_a_second(value: float | None, text: str) -> None:
    assert seconds(value) == text


def test_times_are_utc_to_the_second() -> None:
    assert when(None) == "-"
    assert when(0) == "1970-01-01 00:00:00"
    assert when(1_700_000_000_999) == "2023-11-14 22:13:20"


def test_statuses_are_coloured_and_unknown_ones_still_print() -> None:
    assert status("failed") == "[red]failed[/]"
    assert status("succeeded") == "[green]succeeded[/]"
    assert status("upstream_failed") == "[white]upstream_failed[/]"


def test_an_empty_table_names_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    table(["a"], [], title="Model Versions")
    assert capsys.readouterr().out == "No model versions.\n"
    table(["a"], [])
    assert capsys.readouterr().out == "No rows.\n"
    table(["name", "n"], [["x", 1]], title="Things")
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == "Things" and "│ x    │ 1 │" in printed
