"""Fixtures for the CLI tests: the ``conveyor`` command run in this process, on new projects.

``invoke(*args)`` runs ``conveyor.cli.main(args)`` (the same parsing, error mapping and
printing as the installed command) and returns its exit code with what it printed on
stdout and stderr. ``make_project(source)`` lays out a project with ``conveyor init`` and
gives it a pipelines module of its own (a unique module name, so no two tests share an
imported module), on a copy of a store migrated once per session.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.store import open_store
from conveyor.workspace import init_project
from support.inprocess_cli import Invoke, MakeCliProject, Result


@pytest.fixture(autouse=True)
def _forget_project_modules(tmp_path: Path) -> Iterator[None]:
    """Projects' modules (``conveyor init`` names one ``pipelines``) are imported into this
    process: forget them afterwards, so the next test's project imports its own."""
    path_before = list(sys.path)
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    sys.path[:] = path_before


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run the CLI in-process with a clean ``CONVEYOR_*`` environment."""
    for var in list(os.environ):
        if var.startswith("CONVEYOR_") and not var.startswith("CONVEYOR_TEST_"):
            monkeypatch.delenv(var)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-template") / "conveyor.db"
    open_store(f"sqlite:///{path}", project="p").close()  # closing checkpoints the WAL
    return path


@pytest.fixture
def make_project(tmp_path: Path, migrated_db: Path) -> MakeCliProject:
    """A project folder under ``tmp_path``; ``source`` replaces the example pipelines."""

    def make(source: str | None = None, *, name: str = "p") -> Path:
        root = tmp_path / name
        init_project(root, name=name)
        (root / ".conveyor").mkdir()
        shutil.copyfile(migrated_db, root / ".conveyor" / "conveyor.db")
        module = "cli_pipes_" + uuid.uuid4().hex[:10]
        example = (root / "pipelines.py").read_text()
        (root / "pipelines.py").unlink()
        text = example if source is None else textwrap.dedent(source)
        (root / f"{module}.py").write_text(text)
        with open(root / "conveyor.toml", "a") as f:
            f.write(f'\n[pipelines]\nmodules = ["{module}"]\n')
        return root

    return make
