"""schemathesis against the real server's OpenAPI spec: whatever it generates, positive or
negative, no answer is a 5xx (S01)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.serving import run_server, serving_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
TOKEN = "tok-schemathesis-0123456789"


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(make_project, tmp_path: Path) -> None:
    ws = make_project("")
    serving_project(ws)
    with run_server(ws, env={"CONVEYOR_SERVE_TOKEN": TOKEN}) as server:
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "40",
                "--seed",
                "1",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # its cache folder goes there, not into the checkout
        )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary + result.stderr[-2000:]
    passed = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert passed is not None and int(passed.group(2)) > 100, summary
    print(f"\nschemathesis: {passed.group(2)} generated cases, 0 server errors")
