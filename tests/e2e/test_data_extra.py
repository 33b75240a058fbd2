"""Without the 'data' extra, the data services and commands say what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import CONVEYOR, _env

pytestmark = pytest.mark.e2e

# Hides one library as if it were not installed, for the whole interpreter.
HIDE = "import sys; sys.modules['datasketches'] = None\n"


def test_a_missing_data_library_names_the_extra_to_install(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(HIDE)
    env = _env({"PYTHONPATH": str(tmp_path)})
    assert subprocess.run([CONVEYOR, "init", "p"], cwd=tmp_path, env=env).returncode == 0
    result = subprocess.run(
        [CONVEYOR, "data", "snapshot", "x.csv", "--name", "x"],
        cwd=tmp_path / "p",
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "conveyor.data needs datasketches, which is not installed" in result.stderr
    assert "pip install 'conveyor[data]'" in result.stderr and "Traceback" not in result.stderr
    code = "import conveyor, conveyor.data; print(conveyor.Dataset.__name__)"
    light = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert light.stdout.strip() == "Dataset", light.stderr  # authoring needs no extra
