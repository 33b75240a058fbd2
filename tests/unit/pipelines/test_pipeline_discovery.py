"""Finding a project's pipelines: the modules ``[pipelines] modules`` names are imported, and
each way that can go wrong is one message saying what to do."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.core import Config, NotFoundError, PipelineDefinitionError
from conveyor.pipelines import discover, find_pipeline

GOOD = """
from conveyor import pipeline, step

@step
def load() -> list:
    return [1, 2]

@pipeline
def train():
    load()

@pipeline(name="score-daily")
def score():
    load()

alias = train  # the same pipeline under a second name: found once
"""

MakeConfig = Callable[..., Config]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[MakeConfig]:
    """A project whose pipeline modules have the given sources (unique module names)."""
    made: list[str] = []

    def make(*sources: str, missing: str | None = None) -> Config:
        names = []
        for source in sources:
            name = f"disc_{uuid.uuid4().hex[:10]}"
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
            names.append(name)
        made.extend(names)
        if missing is not None:
            names.append(missing)
        modules = ", ".join(f'"{n}"' for n in names)
        (tmp_path / "conveyor.toml").write_text(
            f'[project]\nname = "t"\n\n[pipelines]\nmodules = [{modules}]\n'
        )
        return Config.load(tmp_path, env={})

    yield make
    for name in made:
        sys.modules.pop(name, None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_every_top_level_pipeline_of_every_module_is_found(project: MakeConfig) -> None:
    other = """
    from conveyor import pipeline, step

    @step
    def ping() -> str:
        return "pong"

    @pipeline
    def health():
        ping()
    """
    found = discover(project(GOOD, other))
    assert sorted(found) == ["health", "score-daily", "train"]
    assert found["score-daily"].description == ""


def test_an_unknown_pipeline_suggests_the_closest_and_how_to_list(project: MakeConfig) -> None:
    config = project(GOOD)
    with pytest.raises(
        NotFoundError, match="No pipeline 'trian' in disc_.*Did you mean 'train'"
    ) as info:
        find_pipeline(config, "trian")
    assert info.value.hint == "List pipelines with: conveyor pipelines list"
    assert find_pipeline(config, "train").name == "train"


def test_a_missing_module_says_where_it_was_looked_for(project: MakeConfig, tmp_path: Path) -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        discover(project(missing="pipelines_gone"))
    assert str(tmp_path.resolve()) in info.value.message
    assert info.value.message.startswith("Pipeline module 'pipelines_gone' was not found")
    assert "[pipelines] modules" in str(info.value.hint)
    assert info.value.__cause__ is None  # the message says it all


def test_a_module_importing_a_missing_package_names_the_package(project: MakeConfig) -> None:
    config = project("import xgboost_not_installed_here\n")
    with pytest.raises(PipelineDefinitionError) as info:
        discover(config)
    assert "No module named 'xgboost_not_installed_here'" in info.value.message
    assert str(info.value.hint).startswith("Install the missing package")


def test_a_module_that_raises_on_import_names_the_error_and_how_to_see_it(
    project: MakeConfig,
) -> None:
    config = project("RATE = 1 / 0\n")
    with pytest.raises(PipelineDefinitionError) as info:
        discover(config)
    module = config.pipelines.modules[0]
    assert info.value.message == (
        f"Importing pipeline module {module!r} raised ZeroDivisionError: division by zero."
    )
    assert f"python -c 'import {module}'" in str(info.value.hint)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_a_broken_pipeline_is_reported_as_itself(project: MakeConfig) -> None:
    broken = """
    from conveyor import pipeline, step

    @step
    def load() -> list:
        return []

    @pipeline
    def empty():
        pass
    """
    with pytest.raises(PipelineDefinitionError, match="Pipeline 'empty' calls no step"):
        discover(project(broken))
