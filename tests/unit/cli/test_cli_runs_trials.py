"""``conveyor runs show`` lists the trials of each step that ran a tuning study, as a table
under the run and in ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

from conveyor import store as st
from support.inprocess_cli import Invoke, MakeCliProject


def lay_out_a_study(project: Path) -> int:
    """A run whose step ``search`` ran three trials (one of them failed) and ``load`` none."""
    with st.open_store(f"sqlite:///{project}/.conveyor/conveyor.db", project="p") as store:
        run = st.create_run(store, "tuned")
        load, search = st.add_step_runs(store, run.id, ["load", "search"])
        load, search = st.start_attempts(store, [load.id, search.id], "w")
        for number, (state, value) in enumerate(
            [("complete", 0.75), ("pruned", 0.25), ("failed", None)]
        ):
            st.start_trial(store, search.id, search.attempt, number)
            st.finish_trial(
                store,
                search.id,
                search.attempt,
                number,
                state=state,  # type: ignore[arg-type]
                value=value,
                params={"alpha": 0.125 * (number + 1), "depth": number + 2},
                intermediate={0: 0.5},
                error="ValueError: refused" if state == "failed" else None,
            )
        st.start_trial(store, search.id, search.attempt, 3)  # still running
        return run.id


def test_runs_show_has_a_trials_table_under_the_tuning_step(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    project = make_project()
    run_id = lay_out_a_study(project)
    result = invoke("-p", str(project), "runs", "show", str(run_id))
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert "Trials of search" in lines and "Trials of load" not in lines
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in lines[lines.index("Trials of search") :]
        if line.startswith("│")
    ]
    header = next(line for line in lines if "trial" in line and "state" in line)
    columns = ["trial", "state", "value", "params", "duration", "attempt", "error"]
    assert header.split()[1::2] == columns
    assert [r[:4] for r in rows] == [
        ["0", "complete", "0.75", "alpha=0.125 depth=2"],
        ["1", "pruned", "0.25", "alpha=0.25 depth=3"],
        ["2", "failed", "-", "alpha=0.375 depth=4"],
        ["3", "running", "-", ""],
    ]
    assert rows[2][6] == "ValueError: refused" and rows[3][4] == "-"


def test_runs_show_json_has_the_trials_by_step(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    project = make_project()
    run_id = lay_out_a_study(project)
    result = invoke("-p", str(project), "runs", "show", str(run_id), "--json")
    assert result.code == 0, result
    shown = json.loads(result.out)
    assert list(shown["trials"]) == ["search"]
    trials = shown["trials"]["search"]
    assert [(t["number"], t["state"], t["value"]) for t in trials] == [
        (0, "complete", 0.75),
        (1, "pruned", 0.25),
        (2, "failed", None),
        (3, "running", None),
    ]
    assert trials[0]["params"] == {"alpha": 0.125, "depth": 2}
    assert trials[0]["intermediate"] == {"0": 0.5} and trials[2]["error"] == "ValueError: refused"
    assert trials[0]["started_at"].endswith("+00:00")


def test_runs_show_json_of_a_run_without_a_study_has_no_trials(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    project = make_project()
    with st.open_store(f"sqlite:///{project}/.conveyor/conveyor.db", project="p") as store:
        run = st.create_run(store, "plain")
    shown = json.loads(invoke("-p", str(project), "runs", "show", str(run.id), "--json").out)
    assert shown["trials"] == {}
