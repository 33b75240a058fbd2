"""What a step's cache key is made of (its code, the helpers it calls, inputs and params) and
how a run records its code version and environment."""

from __future__ import annotations

import inspect
import platform
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conveyor.core import parse_duration, sha256_json
from conveyor.pipelines import step
from conveyor.pipelines._code import cache_key, code_hash, code_version, environment

HERE = sys.modules[__name__]


def scale(x: int) -> int:
    return offset(x) * 2


def offset(x: int) -> int:
    return x + 1


def ping(n: int) -> int:
    return pong(n - 1) if n > 0 else 0


def pong(n: int) -> int:
    return ping(n - 1) if n > 0 else 1


@step
def prepare(x: int) -> int:
    return scale(x)


@step
def pipeline_of_steps(x: int) -> int:
    return prepare.fn(x) + len(str(sys.maxsize))  # another step's function, and a module


@step
def bounce(n: int) -> int:
    return ping(n)


def test_a_change_two_helpers_deep_changes_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    before = code_hash(prepare)

    def offset(x: int) -> int:  # the edited helper
        return x + 2

    monkeypatch.setattr(HERE, "offset", offset)
    assert code_hash(prepare) != before
    monkeypatch.undo()
    assert code_hash(prepare) == before


def test_a_change_in_a_step_another_step_calls_changes_the_callers_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = code_hash(pipeline_of_steps)

    def scale(x: int) -> int:
        return x * 3

    monkeypatch.setattr(HERE, "scale", scale)
    assert code_hash(pipeline_of_steps) != before


def test_mutually_recursive_helpers_end_and_both_count(monkeypatch: pytest.MonkeyPatch) -> None:
    before = code_hash(bounce)  # ping -> pong -> ping ...: each hashed once, so it ends

    def pong(n: int) -> int:
        return 2

    monkeypatch.setattr(HERE, "pong", pong)
    assert code_hash(bounce) != before


@step
def uses_libraries(text: str) -> float:
    return parse_duration(textwrap.dedent(text))


def test_only_helpers_of_the_steps_own_module_are_hashed() -> None:
    """A library's code (another module's) is not the step's: upgrading it keeps the cache."""
    source = textwrap.dedent(inspect.getsource(uses_libraries.fn))
    name = f"{__name__}.uses_libraries"
    assert code_hash(uses_libraries) == sha256_json({name: source})


def test_code_without_source_is_hashed_by_its_bytecode() -> None:
    scope: dict[str, Any] = {}
    exec("def made(x):\n    return x + 1\n", scope)  # no file to read the source from
    exec("def other(x):\n    return x + 2\n", scope)
    first, second = step(scope["made"]), step(scope["other"])
    second.name = first.name
    assert code_hash(first) != code_hash(second)
    assert code_hash(first) == code_hash(step(scope["made"]))


def test_the_cache_key_changes_with_each_ingredient_and_only_with_them() -> None:
    code = code_hash(prepare)
    inputs = {"x": {"digest": "a" * 64, "path": []}}
    key = cache_key(prepare, code, inputs, {"depth": 3, "lr": 0.1})
    assert key == cache_key(prepare, code, dict(inputs), {"lr": 0.1, "depth": 3})
    other_input = {"x": {"digest": "b" * 64, "path": []}}
    picked = {"x": {"digest": "a" * 64, "path": ["rows"]}}
    assert len({
        key,
        cache_key(prepare, "0" * 64, inputs, {"depth": 3, "lr": 0.1}),
        cache_key(prepare, code, other_input, {"depth": 3, "lr": 0.1}),
        cache_key(prepare, code, picked, {"depth": 3, "lr": 0.1}),
        cache_key(prepare, code, inputs, {"depth": 4, "lr": 0.1}),
        cache_key(bounce, code, inputs, {"depth": 3, "lr": 0.1}),
    }) == 6  # fmt: skip


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_a_folder_outside_git_has_no_code_version(tmp_path: Path) -> None:
    assert code_version(tmp_path) == {"git_sha": None, "dirty": None, "diff_sha256": None}


def test_a_clean_checkout_and_one_with_changes(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "pipes.py").write_text("x = 1\n")
    git(tmp_path, "add", "pipes.py")
    git(tmp_path, "commit", "-qm", "first")
    (tmp_path / "notes.txt").write_text("untracked files are not the code")
    clean = code_version(tmp_path)
    assert len(clean["git_sha"]) == 40 and clean["dirty"] is False
    assert clean["diff_sha256"] is None
    (tmp_path / "pipes.py").write_text("x = 2\n")
    edited = code_version(tmp_path)
    assert edited["git_sha"] == clean["git_sha"] and edited["dirty"] is True
    (tmp_path / "pipes.py").write_text("x = 3\n")
    assert code_version(tmp_path)["diff_sha256"] not in (None, edited["diff_sha256"])


def test_the_environment_is_this_interpreter_and_a_copy_each_time() -> None:
    env = environment()
    assert env["python"] == platform.python_version()
    assert env["packages"]["pytest"] == pytest.__version__
    assert list(env["packages"]) == sorted(env["packages"])
    env["packages"].clear()
    assert environment()["packages"]  # the caller's change did not leak into the cache
