"""Child-process bodies for the store's concurrency tests (importable under ``spawn``).

Each opens its own store from the URL, waits on the shared barrier, does its share, and
returns plain counts plus every error it caught (as ``describe`` strings): the tests assert
on those, so a child never hides a failure by dying.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import func, select

from conveyor import store as st
from conveyor.core import NotFoundError, StaleAttemptError
from conveyor.store import _schema

from .procs import BARRIER_TIMEOUT, RetryCounter, describe

TABLES = _schema.metadata.tables  # every table, by name, whichever domain defines it

PROJECT = "test"


def _open(url: str, **kwargs: Any) -> st.Store:
    return st.open_store(url, project=PROJECT, busy_timeout=30.0, **kwargs)


def metrics_and_events(
    url: str,
    barrier: Any,
    child: int,
    run_id: int,
    n_batches: int,
    batch_size: int,
    n_single: int,
    n_events: int,
) -> dict[str, Any]:
    """Log ``n_batches`` x ``batch_size`` metrics via ``log_metrics``, ``n_single`` via
    ``log_metric`` and ``n_events`` events, interleaved, as fast as possible."""
    errors: list[str] = []
    logged = emitted = 0
    with RetryCounter() as retries, _open(url) as store:
        steps = max(n_single, n_events)
        batch_every = max(1, steps // max(1, n_batches))
        batches_done = 0
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for i in range(steps):
            if batches_done < n_batches and i % batch_every == 0:
                rows = [
                    (f"c{child}.batched", float(j), batches_done * batch_size + j, 0)
                    for j in range(batch_size)
                ]
                try:
                    logged += st.log_metrics(store, run_id, rows)
                except Exception as exc:
                    errors.append(describe(exc))
                batches_done += 1
            if i < n_single:
                try:
                    st.log_metric(store, run_id, f"c{child}.single", float(i), step=i)
                    logged += 1
                except Exception as exc:
                    errors.append(describe(exc))
            if i < n_events:
                try:
                    st.emit_event(
                        store,
                        "io.conveyor.load.emitted",
                        subject=f"children/{child}",
                        data={"child": child, "i": i},
                    )
                    emitted += 1
                except Exception as exc:
                    errors.append(describe(exc))
        while batches_done < n_batches:  # only if n_batches > steps
            rows = [
                (f"c{child}.batched", 0.0, batches_done * batch_size + j, 0)
                for j in range(batch_size)
            ]
            try:
                logged += st.log_metrics(store, run_id, rows)
            except Exception as exc:
                errors.append(describe(exc))
            batches_done += 1
    return {"logged": logged, "emitted": emitted, "errors": errors, "retries": retries.count}


def claim_windows(
    url: str, barrier: Any, owner: str, trigger_id: int, n_windows: int
) -> dict[str, Any]:
    """Claim windows ``w0 .. w{n-1}`` of one trigger, meeting the rival at a barrier before
    each claim, so both inserts race for every window; start the run of each one won."""
    won: list[int] = []
    lost: list[tuple[int, str]] = []
    errors: list[str] = []
    with RetryCounter() as retries, _open(url) as store:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for w in range(n_windows):
            barrier.wait(timeout=BARRIER_TIMEOUT)
            try:
                result = st.claim_trigger(store, trigger_id, f"w{w}", owner)
            except Exception as exc:
                errors.append(describe(exc))
                continue
            if result.won:
                won.append(w)
                try:
                    st.start_claim(store, result.claim.id, result.claim.attempt)
                except Exception as exc:
                    errors.append(describe(exc))
            else:
                lost.append((w, result.claim.claimed_by))
    return {"won": won, "lost": lost, "errors": errors, "retries": retries.count}


def register_versions(url: str, barrier: Any, model: str, n: int) -> dict[str, Any]:
    """Register ``n`` versions of ``model``, in lockstep with the rival before each one."""
    versions: list[int] = []
    errors: list[str] = []
    with RetryCounter() as retries, _open(url) as store:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for _ in range(n):
            barrier.wait(timeout=BARRIER_TIMEOUT)
            try:
                versions.append(st.register_model_version(store, model, flavor="sklearn").version)
            except Exception as exc:
                errors.append(describe(exc))
    return {"versions": versions, "errors": errors, "retries": retries.count}


def first_open(urls: list[str], barrier: Any) -> dict[str, Any]:
    """For each empty store in ``urls``: meet the rival, then ``open_store`` (migrate +
    create the default project) at the same instant."""
    errors: list[str] = []
    project_ids: list[int] = []
    with RetryCounter() as retries:
        for url in urls:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            try:
                with st.open_store(url, busy_timeout=30.0) as store:
                    project_ids.append(store.project_id)
            except Exception as exc:
                errors.append(describe(exc))
    return {"project_ids": project_ids, "errors": errors, "retries": retries.count}


def write_rows(url: str, barrier: Any, worker: str, run_id: int, n: int) -> dict[str, Any]:
    """Commit ``n`` rows, each in its own transaction: step runs and metrics alternately."""
    with RetryCounter() as retries, _open(url) as store:
        result = write_rows_with(store, barrier, worker, run_id, n)
    return result | {"retries": retries.count}


def write_rows_with(
    store: st.Store, barrier: Any, worker: str, run_id: int, n: int
) -> dict[str, Any]:
    """``write_rows`` on a store shared with other threads (retries are counted by caller)."""
    errors: list[str] = []
    steps = metrics = 0
    barrier.wait(timeout=BARRIER_TIMEOUT)
    for i in range(n):
        try:
            if i % 2 == 0:
                st.add_step_runs(store, run_id, [f"{worker}-{i}"])
                steps += 1
            else:
                st.log_metric(store, run_id, worker, float(i), step=i)
                metrics += 1
        except Exception as exc:
            errors.append(describe(exc))
    return {"steps": steps, "metrics": metrics, "errors": errors}


def promote(
    url: str, barrier: Any, model: str, alias: str, versions: list[int], n: int, pause: float
) -> dict[str, Any]:
    """Move ``alias`` ``n`` times, alternating over ``versions``, ``pause`` s apart (so the
    moves spread over a concurrent reader's run instead of finishing before it warms up)."""
    moved = 0
    errors: list[str] = []
    with _open(url) as store:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for i in range(n):
            try:
                st.move_alias(store, model, alias, versions[i % len(versions)], reason=f"m{i}")
                moved += 1
            except Exception as exc:
                errors.append(describe(exc))
            time.sleep(pause)
    return {"moved": moved, "errors": errors}


def read_alias(url: str, barrier: Any, model: str, alias: str, n: int) -> dict[str, Any]:
    """Resolve ``alias`` ``n`` times; count answers with no target, and alias rows != 1."""
    seen: dict[int, int] = {}
    no_target = two_targets = changes = 0
    last = None
    errors: list[str] = []
    a, m = TABLES["aliases"].c, TABLES["models"].c
    n_rows = (
        select(func.count())
        .select_from(TABLES["aliases"].join(TABLES["models"], a.model_id == m.id))
        .where(m.name == model, a.name == alias)
    )
    with _open(url) as store:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for i in range(n):
            try:
                version = st.resolve_alias(store, model, alias).version
                seen[version] = seen.get(version, 0) + 1
                changes += last is not None and version != last
                last = version
            except NotFoundError:
                no_target += 1
            except Exception as exc:
                errors.append(describe(exc))
            if i % 10 == 0:
                try:
                    if store.query(lambda c: c.execute(n_rows).scalar_one()) != 1:
                        two_targets += 1
                except Exception as exc:
                    errors.append(describe(exc))
    return {
        "seen": seen,
        "changes": changes,
        "no_target": no_target,
        "two_targets": two_targets,
        "errors": errors,
    }


def alias_race_role(
    role: str, url: str, barrier: Any, model: str, alias: str, versions: list[int], n: int
) -> dict[str, Any]:
    """One process of an alias race: ``move`` (``promote``) or ``read`` (``read_alias``)."""
    if role == "move":
        return promote(url, barrier, model, alias, versions, n, pause=0.01)
    return read_alias(url, barrier, model, alias, n)


def drain_queue(url: str, barrier: Any, owner: str, batch: int) -> dict[str, Any]:
    """Claim queued runs ``batch`` at a time until none are left; return the ids claimed."""
    claimed: list[int] = []
    errors: list[str] = []
    with _open(url) as store:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        while True:
            try:
                runs = st.claim_runs(store, owner, limit=batch, lease=300)
            except Exception as exc:
                errors.append(describe(exc))
                if len(errors) > 20:
                    break
                continue
            if not runs:
                break
            claimed.extend(r.id for r in runs)
    return {"claimed": claimed, "errors": errors}


def emit_events(url: str, barrier: Any, child: int, n: int) -> dict[str, Any]:
    """Emit ``n`` events, one transaction each."""
    emitted = 0
    errors: list[str] = []
    with _open(url) as store:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for i in range(n):
            try:
                st.emit_event(store, "io.conveyor.load.emitted", data={"child": child, "i": i})
                emitted += 1
            except Exception as exc:
                errors.append(describe(exc))
    return {"emitted": emitted, "errors": errors}


def trigger_controller(
    url: str,
    owner: str,
    trigger_id: int,
    n_windows: int,
    *,
    lease: float,
    pace: float = 0.0,
    env: dict[str, str] | None = None,
    deadline: float = 120.0,
) -> dict[str, Any]:
    """A controller that fires windows ``w0 .. w{n-1}`` of one trigger until every one has
    started (by this controller or a rival), or ``deadline`` seconds pass.

    For each window not yet started: claim it; if won, start its run. A window a rival
    holds under a live lease is revisited on the next pass: if the rival dies, its lease
    lapses and this controller re-claims the firing. ``pace`` sleeps after each window
    (so a rival overtakes); ``env`` is set first (pause points for the fault tests).
    """
    os.environ.update(env or {})
    won: list[str] = []
    started: list[str] = []
    taken_over = stale = passes = 0
    errors: list[str] = []
    pending = [f"w{i}" for i in range(n_windows)]
    stop = time.monotonic() + deadline
    with _open(url) as store:
        while pending and time.monotonic() < stop:
            passes += 1
            left: list[str] = []
            for window in pending:
                try:
                    result = st.claim_trigger(store, trigger_id, window, owner, lease=lease)
                except Exception as exc:
                    errors.append(describe(exc))
                    left.append(window)
                    continue
                claim = result.claim
                if not result.won:
                    if claim.status == "claimed":  # a rival holds it: see it again later
                        left.append(window)
                    continue
                won.append(window)
                taken_over += claim.attempt > 1
                try:
                    st.start_claim(store, claim.id, claim.attempt)
                    started.append(window)
                except StaleAttemptError:  # paused past the lease: the new holder starts it
                    stale += 1
                    left.append(window)
                except Exception as exc:
                    errors.append(describe(exc))
                    left.append(window)
                if pace:
                    time.sleep(pace)
            pending = left
            if pending:
                time.sleep(0.05)
    return {
        "won": won,
        "started": started,
        "pending": pending,
        "taken_over": taken_over,
        "stale": stale,
        "passes": passes,
        "errors": errors,
    }


def first_signing_keys(url: str, barrier: Any, projects: list[str]) -> dict[str, Any]:
    """For each project in turn, wait on the barrier, then ask for its signing key (the
    first ask creates it); return the keys, hex."""
    keys: list[str] = []
    errors: list[str] = []
    for project in projects:
        with st.open_store(url, project=project, busy_timeout=30.0) as store:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            try:
                keys.append(st.signing_key(store).hex())
            except Exception as exc:
                errors.append(describe(exc))
    return {"keys": keys, "errors": errors}
