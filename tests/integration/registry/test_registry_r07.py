"""R07 through the registry, and a consistent alias history under concurrent promotions,
on SQLite and PostgreSQL, with real processes.

R07: two processes x 200 promotions through ``registry.promote`` alternating two versions
on ``champion`` (one allowed by each version's signed evaluation, one forced with a
reason) while a third process resolves ``models:/churn@champion`` 10,000 times. The moves
are spread over the reads (move i waits for i x 25 reads). Pass: 0 "no target", 0 "two
targets", 0 errors; events = successful moves (+ the first); each history row's ``from``
is the previous row's ``to``; the final alias = the last event's target.

Lockstep: two processes promote different versions at the same instant, 100 rounds (a
barrier before every move). Pass: 200 moves, the history a chain (from = previous to),
every process's view of each move (its from and to) equal to the history row.
"""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from conveyor import store as st
from conveyor.registry import alias_history, record_evaluation, register_model
from conveyor.workspace import Workspace
from support import registry_workers as w
from support.models import frame
from support.procs import SPAWN, run_processes
from support.projects import MakeProject

pytestmark = pytest.mark.integration
MOVES, READS = 200, 10_000


def setup(ws: Workspace) -> dict[int, int]:
    """Two versions of churn, each with a passed evaluation; champion at version 1."""
    X, y = frame(60)
    evaluations = {}
    for version, c in ((1, 1.0), (2, 2.0)):
        register_model(ws, "churn", LogisticRegression(C=c).fit(X, y))
        evaluations[version] = record_evaluation(ws, "churn", version, {"n": 60}, passed=True)
    st.move_alias(ws.store, "churn", "champion", 1, reason="start")
    return evaluations


def check_log(ws: Workspace, n_moves: int) -> list[st.EventRecord]:
    """History == events, one per move; the history is a chain; alias = last target."""
    history = alias_history(ws, "churn", "champion")
    events = []
    while batch := st.read_events(
        ws.store, after=events[-1].id if events else 0, types=["io.conveyor.alias.moved"]
    ):
        events.extend(batch)
    assert len(history) == len(events) == n_moves
    assert [(h.from_version, h.to_version) for h in history] == [
        (e.data["from_version"], e.data["to_version"]) for e in events
    ]
    assert [h.id for h in history] == [e.data["history_id"] for e in events]
    for before, after in zip(history, history[1:], strict=False):
        assert after.from_version == before.to_version, (before, after)
    assert st.resolve_alias(ws.store, "churn", "champion").version == events[-1].data["to_version"]
    return events


@pytest.mark.slow
def test_r07_promotions_with_a_reader(make_project: MakeProject) -> None:
    ws = make_project("")
    evaluations = setup(ws)
    root, url = str(ws.config.root), ws.config.store.url
    barrier = SPAWN.Barrier(3)
    reads = SPAWN.Value("i", 0)
    pace = {"reads_per_move": READS // MOVES // 2}
    by_evaluation, forced, reader = run_processes(
        w.alias_race,
        [
            ("promote", root, url, barrier, reads, MOVES, [1, 2], {"force": False, **pace}),
            ("promote", root, url, barrier, reads, MOVES, [2, 1], {"force": True, **pace}),
            ("read", root, url, barrier, reads, READS, [], {}),
        ],
        barrier=barrier,
        timeout=240,
    )
    assert by_evaluation["errors"] == forced["errors"] == reader["errors"] == []
    assert len(by_evaluation["moves"]) == len(forced["moves"]) == MOVES
    assert (reader["no_target"], reader["two_targets"]) == (0, 0)
    assert set(reader["seen"]) <= {1, 2} and sum(reader["seen"].values()) == READS
    events = check_log(ws, n_moves=1 + 2 * MOVES)
    allowed = [e.data["evaluation_id"] for e in events[1:] if e.data["evaluation_id"]]
    assert len(allowed) == MOVES  # each evaluated move names its version's evaluation
    assert all(
        e.data["evaluation_id"] == evaluations[e.data["to_version"]]
        for e in events
        if e.data["evaluation_id"]
    )
    forced_reasons = [e.data["reason"] for e in events if e.data["reason"].startswith("forced:")]
    assert len(forced_reasons) == MOVES
    print(
        f"\nR07 ({url.split(':')[0]}): {2 * MOVES} promotions, {READS} reads, reader saw "
        f"{reader['seen']} with {reader['changes']} changes; 0 no target, 0 two targets"
    )


def test_concurrent_promotions_leave_a_consistent_history(make_project: MakeProject) -> None:
    ws = make_project("")
    setup(ws)
    root, url = str(ws.config.root), ws.config.store.url
    barrier = SPAWN.Barrier(2)
    rounds = 100
    options = {"force": False, "lockstep": True}
    ones, twos = run_processes(
        w.alias_race,
        [
            ("promote", root, url, barrier, None, rounds, [1], options),
            ("promote", root, url, barrier, None, rounds, [2], options),
        ],
        barrier=barrier,
        timeout=180,
    )
    assert ones["errors"] == twos["errors"] == []
    check_log(ws, n_moves=1 + 2 * rounds)
    history = {h.id: (h.from_version, h.to_version) for h in alias_history(ws, "churn")}
    for move_id, before, after in ones["moves"] + twos["moves"]:
        assert history[move_id] == (before, after)
