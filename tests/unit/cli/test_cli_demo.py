"""``conveyor demo`` walks through a real project, and the commands it suggests work; a run
records the project's git commit, which ``runs show`` prints."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from support.inprocess_cli import Invoke, MakeCliProject


def test_the_demo_tours_a_real_project_and_its_suggestions_work(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("demo", "tour")
    assert result.code == 0, result
    text = result.out
    steps = [line.split(".")[0] for line in text.splitlines() if re.match(r"\d\. ", line)]
    assert steps == ["1", "2", "3", "4", "5", "6", "7"]
    assert "checksum verified" in text and "steps reused from the cache" in text
    assert "alert: not promoted" in text  # the stricter gate took the other branch
    suggested = [
        line.strip().split() for line in text.splitlines() if line.strip().startswith("conveyor -p")
    ]
    assert [words[3:] for words in suggested] == [
        ["runs", "list"],
        ["runs", "show", "1"],
        ["runs", "logs", "1"],
        ["artifacts", "list"],
    ]
    for words in suggested:
        assert invoke(*words[1:]).code == 0, words
    runs = json.loads(invoke("-p", "tour", "runs", "list", "--json").out)
    assert [r["status"] for r in runs] == ["succeeded"] * 3
    assert runs[0]["params"]["min_accuracy"] == 0.95


def test_the_demo_never_reuses_a_folder(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conveyor-demo").mkdir()
    (tmp_path / "conveyor-demo" / "mine.txt").write_text("keep")
    (tmp_path / "conveyor-demo-2").mkdir()
    result = invoke("demo")
    assert result.code == 0, result
    assert (tmp_path / "conveyor-demo-3" / "conveyor.toml").is_file()
    assert sorted(p.name for p in (tmp_path / "conveyor-demo").iterdir()) == ["mine.txt"]


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_runs_show_prints_the_commit_and_whether_it_was_dirty(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project()
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    sha = git(root, "rev-parse", "HEAD")
    assert invoke("-p", str(root), "run", "train").code == 0
    shown = invoke("-p", str(root), "runs", "show", "1").out
    assert f"code {sha[:12]}\n" in shown
    module = next(root.glob("cli_pipes_*.py"))
    module.write_text(module.read_text() + "\n# edited\n")
    assert invoke("-p", str(root), "run", "train").code == 0
    assert f"code {sha[:12]} (dirty)" in invoke("-p", str(root), "runs", "show", "2").out
    recorded = json.loads(invoke("-p", str(root), "runs", "show", "2", "--json").out)
    assert recorded["code_version"]["git_sha"] == sha and recorded["code_version"]["dirty"]
