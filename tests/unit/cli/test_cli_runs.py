"""``conveyor run`` and ``conveyor runs list|show|logs|resume``: what they print as text and
as ``--json``, their exit codes, and what they say about bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conveyor.core import CONFIG_FILE
from conveyor.store import add_step_runs, create_run, open_store
from support.inprocess_cli import Invoke, MakeCliProject

SOURCE = """
import time
from pathlib import Path
from conveyor import get_step_context, pipeline, step
from conveyor.pipelines import get_step_run

HERE = Path(__file__).parent

@step
def load(n: int) -> list:
    print(f"loading {n} rows")
    return list(range(n))

@step(retries=1)
def total(rows: list) -> int:
    get_step_context().log_metric("total", float(sum(rows)))
    if (HERE / "fail-total").exists():
        raise ValueError("total refused: " + (HERE / "fail-total").read_text())
    return sum(rows)

@step
def quiet(rows: list) -> int:
    return len(rows)

@step
def square(x: int) -> int:
    return x * x

@step
def boom() -> int:
    raise RuntimeError("boom went off")

@step
def slow_start() -> str:
    # Returns only once the store holds boom's failure, so the runner has seen it.
    ctx = get_step_context()
    deadline = time.monotonic() + 30
    while get_step_run(ctx.workspace, ctx.run_id, "boom").status != "failed":
        if time.monotonic() > deadline:
            raise TimeoutError("boom never failed")
        time.sleep(0.01)
    return "started"

@step
def later(x: str) -> str:
    return x

@pipeline
def sums(n: int = 4, label: str = "a"):
    \"\"\"Load some rows and add them up.

    Second line of the description.
    \"\"\"
    rows = load(n)
    total(rows)
    quiet(rows)

@pipeline
def squares(n: int = 3):
    square.map(load(n))

@pipeline
def ff():
    boom()
    later(slow_start())

@pipeline
def needs(n: int):
    load(n)
"""


@pytest.fixture
def project(make_project: MakeCliProject) -> Path:
    return make_project(SOURCE)


def cli(invoke: Invoke, root: Path, *args: str) -> Any:
    """Run a ``--json`` command that must succeed; return its parsed output."""
    result = invoke("-p", str(root), *args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


# -- conveyor run ------------------------------------------------------------------------


def test_run_prints_each_step_then_a_summary(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "run", "sums")
    assert result.code == 0, result
    lines = result.out.splitlines()
    for name in ("load", "total", "quiet"):
        assert f"{name}: succeeded" in lines
    assert lines.index("load: succeeded") < lines.index("total: succeeded")
    assert lines[-1].startswith("Run 1 succeeded in ") and lines[-1].endswith(": 3 succeeded.")
    assert "conveyor runs resume" not in result.out and result.err == ""


def test_run_prints_fan_outs_and_retries_without_one_line_per_item(
    invoke: Invoke, project: Path
) -> None:
    result = invoke("-p", str(project), "run", "squares", "--param", "n=20")
    assert result.code == 0, result
    assert "square: succeeded" in result.out.splitlines()
    assert "square[" not in result.out  # 20 items, shown in the live view only
    assert result.out.splitlines()[-1].endswith(": 2 succeeded.")
    (project / "fail-total").write_text("flaky")
    failed = invoke("-p", str(project), "run", "sums").out.splitlines()
    assert failed.index("total: retrying") < failed.index("total: failed")  # retries=1


def test_run_json_is_the_run_with_its_steps_and_errors(invoke: Invoke, project: Path) -> None:
    run = cli(invoke, project, "run", "sums", "--param", "n=5", "-P", "label=b")
    assert run["id"] == 1 and run["pipeline"] == "sums" and run["status"] == "succeeded"
    assert run["params"] == {"n": 5, "label": "b"}
    assert run["steps"] == {"load": "succeeded", "total": "succeeded", "quiet": "succeeded"}
    assert run["errors"] == {}
    assert run["started_at"] <= run["finished_at"]


def test_run_parameters_from_the_config_file_and_the_command_line(
    invoke: Invoke, project: Path
) -> None:
    with open(project / CONFIG_FILE, "a") as f:
        f.write("\n[pipelines.params.sums]\nn = 7\n")
    assert cli(invoke, project, "run", "sums")["params"] == {"n": 7, "label": "a"}
    # The command line wins over the file; a value may itself hold '='.
    run = cli(invoke, project, "run", "sums", "--param", "n=2", "--param", "label=x=y")
    assert run["params"] == {"n": 2, "label": "x=y"}


@pytest.mark.parametrize(
    ("param", "fragments"),
    [
        ("n", ["--param takes KEY=VALUE. Got 'n'.", "For example: --param max_depth=6"]),
        ("=3", ["--param takes KEY=VALUE. Got '=3'."]),
        ("n=", ["Parameter 'n' of pipeline 'sums' must be of type int. Got ''."]),
        ("n=2.5", ["must be of type int. Got '2.5'.", "For example: --param n=3"]),
        ("m=2", ["Pipeline 'sums' has no parameter 'm'.", "Its parameters: n, label."]),
        ("lable=x", ["Did you mean 'label'?"]),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(
    invoke: Invoke, project: Path, param: str, fragments: list[str]
) -> None:
    result = invoke("-p", str(project), "run", "sums", "--param", param)
    assert result.code == 1, result
    for fragment in fragments:
        assert fragment in result.err
    assert cli(invoke, project, "runs", "list") == []


def test_a_required_parameter_names_the_option_to_pass(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "run", "needs")
    assert result.code == 1
    assert "Pipeline 'needs' needs parameter 'n'." in result.err
    assert "Pass it with: --param n=VALUE" in result.err
    assert cli(invoke, project, "run", "needs", "--param", "n=1")["status"] == "succeeded"


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--executor", "spark"], "The executor must be 'local' or 'ray'. Got 'spark'."),
        (["--mode", "proces"], "Got 'proces'. Did you mean 'process'?"),
    ],
)
def test_bad_executor_options_are_one_line(
    invoke: Invoke, project: Path, option: list[str], fragment: str
) -> None:
    result = invoke("-p", str(project), "run", "sums", *option)
    assert result.code == 1
    assert fragment in result.err
    assert len(result.err.splitlines()) == 1


def test_an_unknown_pipeline_suggests_the_closest_and_how_to_list(
    invoke: Invoke, project: Path
) -> None:
    result = invoke("-p", str(project), "run", "sum")
    assert result.code == 1
    assert "No pipeline 'sum' in cli_pipes_" in result.err
    assert "Did you mean 'sums'?" in result.err
    assert "List pipelines with: conveyor pipelines list" in result.err


def test_process_mode_and_no_cache(invoke: Invoke, project: Path) -> None:
    first = cli(invoke, project, "run", "sums", "--mode", "process")
    assert first["status"] == "succeeded"
    second = cli(invoke, project, "run", "sums")
    shown = cli(invoke, project, "runs", "show", str(second["id"]))
    assert all(s["cached_from_id"] for s in shown["steps"])  # same code, inputs, params
    third = cli(invoke, project, "run", "sums", "--no-cache")
    shown = cli(invoke, project, "runs", "show", str(third["id"]))
    assert not any(s["cached_from_id"] for s in shown["steps"])


def test_a_failed_run_exits_1_and_says_how_to_see_logs_and_retry(
    invoke: Invoke, project: Path
) -> None:
    (project / "fail-total").write_text("bad rows")
    result = invoke("-p", str(project), "run", "sums")
    assert result.code == 1
    assert "  total: ValueError: total refused: bad rows" in result.err.splitlines()
    summary = result.out.splitlines()
    assert "Run 1 failed in " in summary[-2] and "1 failed" in summary[-2]
    assert summary[-1] == "Logs: conveyor runs logs 1  ·  Retry what failed: conveyor runs resume 1"
    run = json.loads(invoke("-p", str(project), "run", "sums", "--json").out)
    assert run["status"] == "failed" and run["steps"]["total"] == "failed"
    assert run["errors"]["total"] == "ValueError: total refused: bad rows"


def test_fail_fast_cancels_what_has_not_started(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "run", "ff", "--fail-fast", "--json")
    assert result.code == 1
    run = json.loads(result.out)
    assert run["steps"] == {"boom": "failed", "slow_start": "succeeded", "later": "cancelled"}
    assert "fail_fast" in run["errors"]["later"]
    patient = json.loads(invoke("-p", str(project), "run", "ff", "--no-cache", "--json").out)
    assert patient["steps"] == {"boom": "failed", "slow_start": "succeeded", "later": "succeeded"}


# -- conveyor runs list --------------------------------------------------------------------


def test_runs_list_is_newest_first_and_filters(invoke: Invoke, project: Path) -> None:
    assert invoke("-p", str(project), "runs", "list").out == "No runs.\n"
    cli(invoke, project, "run", "sums")
    cli(invoke, project, "run", "squares")
    (project / "fail-total").write_text("x")
    invoke("-p", str(project), "run", "sums", "--no-cache")

    assert [r["id"] for r in cli(invoke, project, "runs", "list")] == [3, 2, 1]
    assert [r["id"] for r in cli(invoke, project, "runs", "list", "-n", "2")] == [3, 2]
    assert [r["id"] for r in cli(invoke, project, "runs", "list", "--pipeline", "sums")] == [3, 1]
    failed = cli(invoke, project, "runs", "list", "--status", "failed")
    assert [(r["id"], r["status"]) for r in failed] == [(3, "failed")]
    both = cli(invoke, project, "runs", "list", "--status", "failed", "--status", "succeeded")
    assert len(both) == 3
    assert cli(invoke, project, "runs", "list", "--pipeline", "nothing") == []

    text = invoke("-p", str(project), "runs", "list").out
    assert text.splitlines()[0] == "Runs"
    for column in ("run", "pipeline", "status", "started (UTC)", "duration"):
        assert column in text
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["3", "2", "1"]
    assert "failed" in rows[0] and "squares" in rows[1]


def test_runs_list_refuses_an_unknown_status(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "runs", "list", "--status", "faild")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: A run's status is one of queued, running, succeeded, failed, cancelled. "
        "Got 'faild'. Did you mean 'failed'?",
        "For example: conveyor runs list --status failed",
    ]


# -- conveyor runs show --------------------------------------------------------------------


def test_runs_show_text_has_params_metrics_and_the_dag(invoke: Invoke, project: Path) -> None:
    cli(invoke, project, "run", "sums", "--param", "n=3")
    result = invoke("-p", str(project), "runs", "show", "1")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == "Run 1 · pipeline sums · succeeded"
    assert lines[1].startswith("started ") and " · finished " in lines[1]
    assert "Params" in lines and "Metrics" in lines
    assert any("│ n " in line and "│ 3 " in line for line in lines)
    assert any("│ total " in line and "3.0" in line for line in lines)
    # The DAG, each step with its status: load first, its two dependents under it.
    tree = lines[lines.index("sums") :]
    assert tree[1].startswith("└── load  succeeded")
    assert any("total  succeeded" in line for line in tree[2:])
    assert any("quiet  succeeded" in line for line in tree[2:])


def test_runs_show_marks_cached_steps_items_and_retries(invoke: Invoke, project: Path) -> None:
    cli(invoke, project, "run", "squares")
    cli(invoke, project, "run", "squares")
    shown = invoke("-p", str(project), "runs", "show", "2").out
    assert "load  succeeded (cached)" in shown
    assert "square (map)" in shown and "3/3 items" in shown

    (project / "fail-total").write_text("once")
    invoke("-p", str(project), "run", "sums")  # a new pipeline: nothing of it is cached
    failed = invoke("-p", str(project), "runs", "show", "3").out
    assert "total  failed after 2 attempts" in failed  # retries=1
    assert "error: step 'total' failed: ValueError: total refused: once" in failed


def test_runs_show_json_has_params_metrics_and_steps(invoke: Invoke, project: Path) -> None:
    cli(invoke, project, "run", "sums", "--param", "n=3")
    shown = cli(invoke, project, "runs", "show", "1")
    assert shown["id"] == 1 and shown["status"] == "succeeded"
    assert shown["params"] == {"n": 3, "label": "a"}
    assert shown["metrics"] == {"total": 3.0}
    assert {s["name"] for s in shown["steps"]} == {"load", "quiet", "total"}
    assert all(s["status"] == "succeeded" and s["attempt"] == 1 for s in shown["steps"])
    assert shown["code_version"] is not None and shown["environment"]["python"]


def test_runs_show_falls_back_to_a_table_when_the_pipeline_is_gone(
    invoke: Invoke, project: Path
) -> None:
    # A run recorded by an older version of the project, whose pipeline was since removed.
    with open_store(f"sqlite:///{project}/.conveyor/conveyor.db", project="p") as store:
        run = create_run(store, "retired", params={"depth": 3})
        add_step_runs(store, run.id, ["fetch", "fit"])
    result = invoke("-p", str(project), "runs", "show", str(run.id))
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == f"Run {run.id} · pipeline retired · running"
    assert "finished - · -" in lines[1]
    assert "Steps" in lines
    for column in ("step", "status", "attempt", "duration"):
        assert column in result.out
    rows = [line.split("│")[1:-1] for line in lines[lines.index("Steps") :] if line[0] == "│"]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["fetch", "pending", "0", "-"],
        ["fit", "pending", "0", "-"],
    ]


def test_runs_show_of_an_unknown_run(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "runs", "show", "42")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: No run 42 in project 'p'.",
        "List runs with: conveyor runs list",
    ]


# -- conveyor runs logs --------------------------------------------------------------------


def test_runs_logs_prints_each_steps_output(invoke: Invoke, project: Path) -> None:
    cli(invoke, project, "run", "sums", "--param", "n=6")
    result = invoke("-p", str(project), "runs", "logs", "1")
    assert result.code == 0, result
    assert "load · succeeded · attempt 1" in result.out
    assert "loading 6 rows" in result.out
    assert "quiet · succeeded · attempt 1" in result.out
    assert result.out.count("(no output)") == 2  # quiet and total printed nothing
    one = invoke("-p", str(project), "runs", "logs", "1", "load").out
    assert "loading 6 rows" in one and "quiet" not in one


def test_runs_logs_of_a_failed_step_has_its_traceback(invoke: Invoke, project: Path) -> None:
    (project / "fail-total").write_text("no rows")
    invoke("-p", str(project), "run", "sums")
    logs = invoke("-p", str(project), "runs", "logs", "1", "total").out
    assert "total · failed · attempt 2" in logs
    assert "Traceback (most recent call last)" in logs
    assert "ValueError: total refused: no rows" in logs


def test_runs_logs_of_a_step_that_never_ran_prints_why(invoke: Invoke, project: Path) -> None:
    assert invoke("-p", str(project), "run", "ff", "--fail-fast").code == 1
    logs = invoke("-p", str(project), "runs", "logs", "1").out
    assert "boom · failed · attempt 1" in logs and "RuntimeError: boom went off" in logs
    later = invoke("-p", str(project), "runs", "logs", "1", "later").out
    assert "later · cancelled · attempt 0" in later and "fail_fast" in later


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["9"], ["No run 9 in project 'p'.", "List runs with: conveyor runs list"]),
        (["1", "lod"], ["Run 1 has no step 'lod'. Did you mean 'load'?", "Its steps: "]),
    ],
)
def test_runs_logs_of_unknown_runs_and_steps(
    invoke: Invoke, project: Path, args: list[str], fragments: list[str]
) -> None:
    cli(invoke, project, "run", "sums")
    result = invoke("-p", str(project), "runs", "logs", *args)
    assert result.code == 1
    for fragment in fragments:
        assert fragment in result.err


# -- conveyor runs resume ------------------------------------------------------------------


def test_runs_resume_reruns_only_what_failed(invoke: Invoke, project: Path) -> None:
    (project / "fail-total").write_text("x")
    assert invoke("-p", str(project), "run", "sums").code == 1
    (project / "fail-total").unlink()
    result = invoke("-p", str(project), "runs", "resume", "1")
    assert result.code == 0, result
    assert "total: succeeded" in result.out and "Run 1 succeeded in " in result.out
    shown = cli(invoke, project, "runs", "show", "1")
    attempts = {s["name"]: s["attempt"] for s in shown["steps"]}
    assert attempts["load"] == 1 and attempts["total"] == 3  # two failed, then the resume
    assert [r["status"] for r in cli(invoke, project, "runs", "list")] == ["succeeded"]


def test_runs_resume_that_fails_again_exits_1(invoke: Invoke, project: Path) -> None:
    (project / "fail-total").write_text("still")
    invoke("-p", str(project), "run", "sums")
    result = invoke("-p", str(project), "runs", "resume", "1", "--force")
    assert result.code == 1
    assert "total: ValueError: total refused: still" in result.err
    assert "conveyor runs resume 1" in result.out


@pytest.mark.parametrize(
    ("run_id", "fragment"),
    [
        ("1", "Run 1 is succeeded; only queued, failed or interrupted runs can be resumed."),
        ("5", "No run 5 in project 'p'."),
    ],
)
def test_runs_resume_refuses_what_cannot_be_resumed(
    invoke: Invoke, project: Path, run_id: str, fragment: str
) -> None:
    cli(invoke, project, "run", "sums")
    result = invoke("-p", str(project), "runs", "resume", run_id)
    assert result.code == 1
    assert fragment in result.err
    assert [r["status"] for r in cli(invoke, project, "runs", "list")] == ["succeeded"]


def test_runs_show_json_lists_each_fan_out_item(invoke: Invoke, project: Path) -> None:
    cli(invoke, project, "run", "squares", "--param", "n=3")
    steps = {s["name"]: s for s in cli(invoke, project, "runs", "show", "1")["steps"]}
    assert set(steps) == {"load", "square", "square[0]", "square[1]", "square[2]"}
    assert all(s["status"] == "succeeded" for s in steps.values())
    logs = invoke("-p", str(project), "runs", "logs", "1", "square[1]")
    assert logs.code == 0 and "square[1] · succeeded · attempt 1" in logs.out
