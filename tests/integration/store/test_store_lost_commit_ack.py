"""R19: a lost COMMIT acknowledgement never changes an outcome.

On PostgreSQL a loopback proxy (``support.commit_cut_proxy``) forwards COMMIT to the
server, waits until the server has answered (so the transaction is committed), drops the
answer and cuts the connection. On SQLite the engine's after-commit hook raises a transient
"connection closed" error right after COMMIT (``support.lost_ack``). Either way the store
retries a transaction that already committed.

20 lost acknowledgements each during a trigger claim (and the start of its run), a model
registration, a run creation, a metric batch, a step commit and an alias move, per backend.
Pass figure: every outcome is as if the fault had not happened: 1 winner told it won,
1 run per firing, 1 version, 1 run, 0 duplicate rows or events, 0 false StaleAttemptError
or ConflictError; and every one of the 120 cuts really happened and was retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conveyor import store as st
from conveyor.store import _schema
from support.commit_cut_proxy import CommitCutProxy
from support.lost_ack import lost_acks
from support.pg import PG_ENV, drop_pg_schema, new_pg_schema, postgres_url
from support.procs import RetryCounter

TABLES = _schema.metadata.tables  # every table, by name, whichever domain defines it

pytestmark = pytest.mark.integration

N = 20
N_LATE = 5  # each late commit costs its delay


@dataclass
class Lossy:
    """``store`` loses one acknowledgement in :meth:`once`; ``direct`` never does.

    ``n`` is how many times each test repeats its operation.
    """

    store: st.Store
    direct: st.Store
    arm: Callable[[], None]
    n_cut: Callable[[], int]
    n: int = N

    def once(self, fn: Callable[..., object]) -> object:
        """Run ``fn`` with exactly one acknowledgement lost and retried."""
        self.store.query(lambda c: 1)  # a warm pooled connection: the cut hits fn's COMMIT
        before = self.n_cut()
        with RetryCounter() as retries:
            self.arm()
            result = fn()
        assert self.n_cut() == before + 1, "the acknowledgement was not lost"
        assert retries.count >= 1, "the lost acknowledgement was not retried"
        return result


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-late-commit"])
def lossy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lossy]:
    """SQLite with the after-commit hook; PostgreSQL through the proxy, the COMMIT
    delivered before the cut, or (``late-commit``) 0.15 s after it, so that the retry runs
    while the first transaction still holds its locks and commits under it."""
    if request.param == "sqlite":
        with (
            st.open_store(f"sqlite:///{tmp_path}/conveyor.db", project="test") as store,
            lost_acks() as hook,
        ):
            yield Lossy(store, store, hook.arm, lambda: hook.n_cut)
        return
    if postgres_url() is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}; run the suite with .ci/run")
    url, schema = new_pg_schema()
    late = 0.15 if request.param.endswith("late-commit") else 0.0
    try:
        with (
            CommitCutProxy.for_url(url) as proxy,
            st.open_store(url, project="test", busy_timeout=30.0) as direct,
            st.open_store(proxy.url(url), project="test", busy_timeout=30.0) as proxied,
        ):
            yield Lossy(
                proxied,
                direct,
                lambda: proxy.arm(1, late=late),
                lambda: proxy.n_cut,
                n=N_LATE if late else N,
            )
    finally:
        drop_pg_schema(schema)


def count(store: st.Store, table: object, *where: object) -> int:
    query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
    return int(store.query(lambda c: c.execute(query).scalar_one()))


def n_events(store: st.Store, type: str) -> int:
    e = TABLES["events"].c
    return count(store, TABLES["events"], e.type == type, e.project_id == store.project_id)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_r19_trigger_claim_and_its_run(lossy: Lossy) -> None:
    """The winner is told it won (a retry does not read its own claim as a rival's), and
    starting the firing's run, also cut, makes exactly one run."""
    trigger = st.upsert_trigger(lossy.direct, "drift", kind="drift", pipeline="retrain")
    for i in range(lossy.n):
        window = f"w{i}"
        result = lossy.once(lambda w=window: st.claim_trigger(lossy.store, trigger.id, w, "ctl-a"))
        assert isinstance(result, st.ClaimResult)
        assert result.won and result.claim.claimed_by == "ctl-a" and result.claim.attempt == 1
        rival = st.claim_trigger(lossy.direct, trigger.id, window, "ctl-b")
        assert not rival.won and rival.claim.claimed_by == "ctl-a"
        claim = result.claim
        run = lossy.once(lambda c=claim: st.start_claim(lossy.store, c.id, c.attempt))
        assert isinstance(run, st.RunRecord) and run.trigger_claim_id == result.claim.id
    claims = st.list_claims(lossy.direct, trigger.id)
    assert len(claims) == lossy.n and {c.status for c in claims} == {"started"}
    runs = st.list_runs(lossy.direct, limit=10 * lossy.n)
    assert sorted(r.trigger_claim_id or 0 for r in runs) == sorted(c.id for c in claims)
    assert n_events(lossy.direct, "io.conveyor.run.started") == lossy.n


def test_r19_model_registration(lossy: Lossy) -> None:
    for i in range(lossy.n):
        version = lossy.once(lambda: st.register_model_version(lossy.store, "churn"))
        assert isinstance(version, st.ModelVersionRecord) and version.version == i + 1
    assert [v.version for v in st.list_model_versions(lossy.direct, "churn")] == list(
        range(1, lossy.n + 1)
    )
    assert st.get_model(lossy.direct, "churn").last_version == lossy.n
    assert n_events(lossy.direct, "io.conveyor.model_version.registered") == lossy.n


def test_r19_run_creation(lossy: Lossy) -> None:
    made = [lossy.once(lambda: st.create_run(lossy.store, "train")) for _ in range(lossy.n)]
    runs = st.list_runs(lossy.direct, limit=10 * lossy.n)
    assert sorted(r.id for r in runs) == sorted(r.id for r in made)  # type: ignore[attr-defined]
    assert n_events(lossy.direct, "io.conveyor.run.started") == lossy.n


def test_r19_metric_batch(lossy: Lossy) -> None:
    run = st.create_run(lossy.direct, "train")
    for i in range(lossy.n):
        batch = [("loss", 1.0 / (j + 1), i * 10 + j, 0) for j in range(10)]
        assert lossy.once(lambda b=batch: st.log_metrics(lossy.store, run.id, b)) == 10
    history = st.metric_history(lossy.direct, run.id, "loss")
    assert [m.step for m in history] == list(range(10 * lossy.n))  # 0 duplicates, 0 lost


def test_r19_step_commit(lossy: Lossy) -> None:
    run = st.create_run(lossy.direct, "train")
    steps = st.add_step_runs(lossy.direct, run.id, [f"s{i}" for i in range(lossy.n)])
    for i, step in enumerate(steps):
        started = st.start_attempt(lossy.direct, step.id, "worker")
        output = st.NewArtifact(digest=digest(f"out {i}"), size=1, name="model")
        result = lossy.once(
            lambda s=started, out=output: st.commit_step(
                lossy.store, s.id, s.attempt, outputs={"model": out}
            )
        )
        done, ids = result  # type: ignore[misc]
        assert done.status == "succeeded" and done.attempt == started.attempt == 1
        assert [(e.direction, e.artifact_id) for e in st.step_lineage(lossy.direct, step.id)] == [
            ("out", ids["model"])
        ]
        history = [(a.attempt, a.status) for a in st.step_attempts(lossy.direct, step.id)]
        assert history == [(1, "succeeded")]
    assert count(lossy.direct, TABLES["artifacts"]) == lossy.n
    assert count(lossy.direct, TABLES["lineage_edges"]) == lossy.n


def test_r19_alias_move(lossy: Lossy) -> None:
    for _ in range(2):
        st.register_model_version(lossy.direct, "churn")
    st.move_alias(lossy.direct, "churn", "champion", 1)
    for i in range(lossy.n):
        target, current = 2 - i % 2, 1 + i % 2
        moved = lossy.once(
            lambda to=target, at=current: st.move_alias(
                lossy.store, "churn", "champion", to, expected_version=at
            )
        )
        assert isinstance(moved, st.AliasMoveRecord)
        assert st.resolve_alias(lossy.direct, "churn", "champion").version == target
    history = st.alias_history(lossy.direct, "churn", "champion")
    assert len(history) == lossy.n + 1
    assert n_events(lossy.direct, "io.conveyor.alias.moved") == lossy.n + 1
