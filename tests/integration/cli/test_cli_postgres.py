"""The CLI on a PostgreSQL store: ``db upgrade`` of a new schema, runs stored there, and a
password in the store URL never printed, whether the command works or fails."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.workspace import init_project
from support.pg import drop_pg_schema, new_pg_schema, postgres_url

pytestmark = pytest.mark.integration

SECRET = "s3cret-Pa55"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in ("CONVEYOR_STORE", "CONVEYOR_PROJECT", "CONVEYOR_STORE_RETRIES"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "p"
    init_project(root, name="p")
    # A module name of its own: this process may have imported another 'pipelines'.
    module = "pg_cli_pipes_" + uuid.uuid4().hex[:10]
    (root / "pipelines.py").rename(root / f"{module}.py")
    with open(root / "conveyor.toml", "a") as f:
        f.write(f'\n[pipelines]\nmodules = ["{module}"]\n')
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield root
    sys.modules.pop(module, None)


@pytest.fixture
def pg_url_with_password() -> Iterator[str]:
    if postgres_url() is None:
        pytest.skip("PostgreSQL tests need CONVEYOR_TEST_POSTGRES_URL; run the suite with .ci/run")
    url, schema = new_pg_schema()
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    try:  # trust authentication: the password is accepted, and must never be shown
        yield f"{scheme}://{user.split(':')[0]}:{SECRET}@{host}"
    finally:
        drop_pg_schema(schema)


def test_db_upgrade_creates_the_schema_and_hides_the_password(
    capsys: pytest.CaptureFixture[str],
    project: Path,
    pg_url_with_password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVEYOR_STORE", pg_url_with_password)
    code, out, err = run(capsys, "-p", str(project), "db", "upgrade", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["from"] is None and report["upgraded"] is True
    assert SECRET not in out and ":***@" in report["store"]
    code, out, _ = run(capsys, "-p", str(project), "db", "upgrade")
    assert code == 0 and "is already at schema revision" in out and SECRET not in out

    code, out, err = run(capsys, "-p", str(project), "run", "train", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "succeeded"
    code, out, _ = run(capsys, "-p", str(project), "runs", "list", "--json")
    assert [r["pipeline"] for r in json.loads(out)] == ["train"]


def test_an_unreachable_store_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.setenv("CONVEYOR_STORE", f"postgresql://conveyor:{SECRET}@127.0.0.1:1/nowhere")
    monkeypatch.setenv("CONVEYOR_STORE_RETRIES", "0")
    code, out, err = run(capsys, "-p", str(project), "runs", "list")
    assert code == 1 and out == ""
    assert SECRET not in err and "postgresql://conveyor:***@127.0.0.1:1/nowhere" in err
    assert "It stayed unavailable after bounded retries." in err
    assert (
        err.splitlines()[-1]
        == "Check that the database is running and reachable, then retry the command."
    )
    assert "Traceback" not in err
