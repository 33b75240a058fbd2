from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import Cli, make_cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Run the installed ``conveyor`` command in ``tmp_path`` (or ``cwd=``)."""
    return make_cli(tmp_path)
