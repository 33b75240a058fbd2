"""How the CLI prints: Rich tables for people, ``--json`` for scripts, errors on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output (scripts, CI logs) is not cut at 80 columns; COLUMNS still wins if set.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, allow_nan=False) + "\n")


def print_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def size(n: int) -> str:
    step = 1024.0
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < step:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{value:.1f} TiB"


STATUS_STYLE = {
    "succeeded": "green",
    "running": "cyan",
    "queued": "blue",
    "pending": "dim",
    "failed": "red",
    "cancelled": "yellow",
    "skipped": "dim",
    # tuning trials
    "complete": "green",
    "pruned": "yellow",
}


def status(text: str) -> str:
    return f"[{STATUS_STYLE.get(text, 'white')}]{text}[/]"


def table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    t = Table(*columns, title=title, title_justify="left", header_style="bold")
    n = 0
    for row in rows:
        t.add_row(*(str(cell) for cell in row))
        n += 1
    if n == 0:
        out.print(f"[dim]No {title.lower() if title else 'rows'}.[/]")
    else:
        out.print(t)
