"""The runner: drives one run of a pipeline to its end, on an executor, through the store.

One thread schedules: it starts every step whose upstream is done, evaluates conditions,
checks the cache, submits attempts, and commits each result fenced by the step's attempt
and the run's claim. A heartbeat thread keeps the claim alive. Workers only compute and
store bytes. So a runner killed at any point can be resumed: finished steps stay finished
(never recomputed), running ones are retried. What to do is decided in ``_decisions.py``;
this module does it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    ConfigError,
    ConflictError,
    ConveyorError,
    StaleAttemptError,
    StoreError,
    lease_problem,
    now_ms,
    pause_point,
)
from . import _decisions as decide
from ._code import cache_key, code_hash, code_version, environment
from ._executor import Executor, make_executor
from ._graph import Graph, StepOutput
from ._runstate import (
    OUTPUT,
    TERMINAL,
    Heartbeat,
    Outputs,
    RunResult,
    Slot,
    owner_is_dead,
    runner_id,
    slots_for,
)
from ._worker import InputRef, Outcome, Task

if TYPE_CHECKING:
    from ..workspace import Workspace
    from ._pipeline import Pipeline

log = logging.getLogger(__name__)


class Runner:
    """Runs (or resumes) one run of ``pipeline`` in workspace ``ws``.

    Args:
        executor: Where attempts run (default: the project's configured executor).
        cache: Use the step cache (``--no-cache`` turns it off for the run).
        fail_fast: On the first failure, cancel everything not yet started.
        mode: ``'thread'`` or ``'process'``: the default of the executor the runner makes,
            for steps that don't choose.
        on_change: Called with ``(step name, status)`` as steps change (for live views).
        lease: Seconds a claim lasts without a heartbeat (default from the project config);
            at least 3 times the store's busy timeout.
    """

    def __init__(
        self,
        ws: Workspace,
        pipeline: Pipeline,
        *,
        executor: Executor | None = None,
        cache: bool = True,
        fail_fast: bool = False,
        mode: str = "thread",
        on_change: Callable[[str, str], None] | None = None,
        lease: float | None = None,
    ) -> None:
        self.ws = ws
        self.store = ws.store
        self.pipeline = pipeline
        self.use_cache = cache
        self.fail_fast = fail_fast
        self.on_change = on_change or (lambda name, status: None)
        self.lease = lease if lease is not None else ws.config.pipelines.lease
        store_settings = ws.config.store
        problem = lease_problem(self.lease, store_settings.busy_timeout, store_settings.retries)
        if problem:
            raise ConfigError(f"{problem}.", hint="See the configuration reference in the README.")
        self.owner = runner_id()
        self._own_executor = executor is None
        self.executor = executor or make_executor(
            ws.config.executor, store=ws.artifacts, project_root=str(ws.config.root), mode=mode
        )
        self.slots: dict[str, Slot] = {}
        self.outputs = Outputs(self.store, ws.artifacts, self.slots)
        self.code_hashes: dict[str, str] = {}
        self.run_attempt = 0
        self.graph: Graph | None = None
        # Event-driven scheduling: only slots whose upstream changed are looked at again.
        self.candidates: set[str] = set()
        self.retry_at: dict[str, float] = {}
        self.downstream: dict[str, set[str]] = {}
        self.running: dict[Future[Outcome], Slot] = {}
        self.failed_any = False
        # Successful attempts whose commit waits for the next start transaction (_flush).
        self.pending: list[tuple[Slot, st.StepCommit]] = []
        self.heartbeat: Heartbeat | None = None

    # -- entry points -----------------------------------------------------------------

    def start(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        from_text: bool = False,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RunResult:
        """Create a run with ``params`` and drive it to the end."""
        configured = self.ws.config.pipelines.params.get(self.pipeline.name, {})
        given = dict(params or {})
        if from_text:  # --param values are text; conveyor.toml's are typed and not coerced
            given = {k: self.pipeline.coerce_param(k, v) for k, v in given.items()}
        # One check of both together: a required parameter may come from either.
        values = self.pipeline.resolve_params({**configured, **given})
        self.graph = self.pipeline.build(values)
        run = st.start_run(
            self.store,
            self.pipeline.name,
            self.owner,
            lease=self.lease,
            params=values,
            tags=tags,
            idempotency_key=idempotency_key,
            code_version=code_version(self.ws.config.root),
            environment=environment(),
        )
        if run.lease_owner != self.owner:  # the key's run exists: resume it if nobody holds it
            run = st.acquire_run(self.store, run.id, self.owner, lease=self.lease)
            # As a resume does: with the run's own params, and its failed steps run again.
            self.graph = self.pipeline.build(run.params)
            return self._drive(run, resumed=True)
        return self._drive(run)

    def resume(self, run_id: int, *, force: bool = False) -> RunResult:
        """Continue a run whose runner died: finished steps are kept, the rest run.

        The old runner is taken over at once if its process is gone from this machine (or
        with ``force``), after its lease otherwise. Of several resumers, one acquires the
        run; the others raise :class:`ConflictError` and change nothing.
        """
        seen = st.get_run(self.store, run_id)
        if seen.pipeline != self.pipeline.name:
            raise ConflictError(
                f"Run {run_id} is of pipeline {seen.pipeline!r}, not {self.pipeline.name!r}."
            )
        self.graph = self.pipeline.build(seen.params)  # before acquiring: it may raise
        plan = decide.plan_acquisition(
            seen.status,
            seen.lease_owner,
            seen.attempt,
            seen.lease_expires_at,
            now_ms=now_ms(),
            force=force,
            holder_dead=seen.status == "running" and owner_is_dead(seen.lease_owner),
            lease=self.lease,
        )
        time.sleep(plan.wait)
        # Fault tests line resumers up here: each has decided from its read, none acquired.
        pause_point("runner.before_acquire")
        try:
            run = st.acquire_run(
                self.store,
                run_id,
                self.owner,
                lease=self.lease,
                take_over_from=plan.take_over_from,
            )
        except ConflictError as exc:
            now = (getattr(exc, "lease_owner", None), getattr(exc, "attempt", seen.attempt))
            if decide.lost_to_another((seen.lease_owner, seen.attempt), now):
                # Another resumer won; it may even have finished the run by now (a loser can
                # wait on the store's write lock that long), which is still a takeover.
                status = getattr(exc, "status", None)
                by = f" by {now[0]}" if now[0] else ""
                raise ConflictError(
                    f"Run {run_id} was taken over{by} (attempt {now[1]}) while this runner "
                    "was resuming it; "
                    + ("it runs there." if status == "running" else f"it has since {status}."),
                    run_id=run_id,
                ) from None
            raise
        return self._drive(run, resumed=True)

    # -- the loop ---------------------------------------------------------------------

    def _drive(self, run: st.RunRecord, *, resumed: bool = False) -> RunResult:
        assert self.graph is not None
        self.run = run
        self.run_attempt = run.attempt
        # From here on the claim is renewed by a thread of its own; writes are all fenced.
        self.heartbeat = Heartbeat(self.store, run.id, self.owner, run.attempt, self.lease)
        self.heartbeat.start()
        try:
            if resumed:
                # Failed steps get a fresh set of attempts; steps left running belong to the
                # runner we replaced (we have started none yet) and run again under us.
                st.reset_steps(self.store, run.id, run_attempt=run.attempt)
            self._load_slots(run)
            self._loop()
            self.heartbeat.stop()
            statuses = {n: s.status for n, s in self.slots.items()}
            errors = {n: s.record.error for n, s in self.slots.items() if s.record.error}
            status, error = decide.run_outcome(statuses, errors)
            final = st.transition_run(
                self.store,
                run.id,
                status,
                expected=["running"],
                attempt=self.run_attempt,
                error=error,
            )
        except StaleAttemptError:
            # Another runner holds the run now: write nothing more, leave it to them.
            raise ConflictError(
                f"Run {run.id} was taken over by another runner; this one stopped.",
                run_id=run.id,
            ) from None
        except StoreError as exc:  # the store went away mid-run: the run stays resumable
            exc.hint = f"When the store is back, resume with: conveyor runs resume {run.id}"
            raise
        except BaseException as exc:
            # Interrupted, or a bug: fail the run rather than leave it running with nobody
            # behind it until its lease runs out.
            interrupted = isinstance(exc, KeyboardInterrupt)
            self._give_up("interrupted" if interrupted else f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.heartbeat.stop()
            self._abandon_attempts()
        return RunResult(final, statuses, errors, dict(self.outputs.values), self.outputs.value)

    def _give_up(self, error: str) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        try:
            st.transition_run(
                self.store,
                self.run.id,
                "failed",
                expected=["running"],
                attempt=self.run_attempt,
                error=error,
            )
        except ConveyorError as exc:  # taken over meanwhile, or the store is away
            log.warning("Could not mark run %s failed: %s", self.run.id, exc)

    def _abandon_attempts(self) -> None:
        """Stop what still runs (nothing, after a normal end) and the executor we made."""
        for future in list(self.running):
            self.executor.cancel(future)
        self.running.clear()
        if self._own_executor:
            self.executor.shutdown()

    def _load_slots(self, run: st.RunRecord) -> None:
        assert self.graph is not None
        existing = st.add_step_runs(self.store, run.id, self.graph.order())
        self.slots.update(slots_for(self.graph, existing))
        for slot in list(self.slots.values()):
            if slot.status == "succeeded":
                self.outputs.load(slot)
        self.downstream = self.graph.downstream()
        self.candidates = {n for n, s in self.slots.items() if s.status not in TERMINAL}

    def _loop(self) -> None:
        assert self.heartbeat is not None
        lost = self.heartbeat.lost
        while True:
            if lost.done():
                raise lost.result()
            progressed = self._schedule()
            if not self.running and not self.candidates and not self.retry_at:
                stuck = decide.unfinished({n: s.status for n, s in self.slots.items()})
                if not stuck:
                    return
                if not progressed:
                    # Nothing runs and nothing is queued, yet steps are unfinished: a bug.
                    # Look at everything once more rather than hang.
                    self.candidates |= set(stuck)
                    if not self._schedule() and not self.running:
                        raise RuntimeError(f"scheduler stalled with unfinished steps {stuck[:5]}")
                continue
            if not progressed:
                now = time.monotonic()
                deadlines = [s.deadline for s in self.running.values() if s.deadline is not None]
                timeout = decide.next_wakeup(now, [*self.retry_at.values(), *deadlines])
                # The heartbeat's verdict wakes us too: a runner that lost its run stops now.
                waits: list[Future[Any]] = [*self.running, lost]
                done, _ = wait(waits, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    if future is not lost:
                        self._finish(self.running.pop(future), future.result())
            self._expire_timeouts()

    def _changed(self, slot: Slot) -> None:
        """Requeue what may have become ready because ``slot`` changed state."""
        if slot.status == "pending":
            self.retry_at[slot.name] = slot.not_before
            return
        if slot.status not in TERMINAL:
            return
        if slot.parent is not None:
            self.candidates.add(slot.parent)
            return
        self.candidates |= self.downstream.get(slot.name, set())
        if slot.status == "failed":
            self.failed_any = True
        if self.fail_fast and slot.status == "failed":
            self.candidates |= {n for n, s in self.slots.items() if s.status == "pending"}

    def _schedule(self) -> bool:
        now = time.monotonic()
        for name in [n for n, t in self.retry_at.items() if t <= now]:
            del self.retry_at[name]
            self.candidates.add(name)
        progressed = False
        ready: list[Slot] = []
        while self.candidates:
            slot = self.slots[self.candidates.pop()]
            if slot.expanded and slot.status == "running":
                progressed |= self._gather(slot)
                continue
            # Only pending steps start: a running one is ours (resume reset the others).
            if slot.status != "pending" or slot.future is not None or slot.name in self.retry_at:
                continue
            if slot.parent is not None and not self.slots[slot.parent].expanded:
                continue  # a fan-out item waits for its parent to (re-)expand
            verdict = self._readiness(slot)
            if verdict == "wait":
                continue
            progressed = True
            if verdict != "go":
                upstream = {u: self.slots[u].status for u in slot.node.upstream}
                when = slot.node.when
                condition = (repr(when.ref), when.negate) if when is not None else None
                self._mark(slot, verdict, decide.skip_reason(verdict, upstream, condition))
            elif slot.parent is None and slot.node.map_over is not None:
                self._expand(slot)
            else:
                ready.append(slot)
        self._submit_all(ready)
        return progressed

    def _readiness(self, slot: Slot) -> decide.Verdict:
        if slot.parent is not None:
            return "go"
        upstream = {u: self.slots[u].status for u in slot.node.upstream}
        verdict = decide.readiness(upstream, fail_fast_tripped=self.fail_fast and self.failed_any)
        when = slot.node.when
        if verdict == "go" and when is not None:
            if not decide.condition_holds(self.outputs.resolve(when.ref), negate=when.negate):
                return "skipped"
        return verdict

    # -- fan-out ----------------------------------------------------------------------

    def _expand(self, slot: Slot) -> None:
        assert slot.node.map_over is not None
        arg, items = slot.node.map_over
        values = self.outputs.resolve(items) if isinstance(items, StepOutput) else items
        values = list(values)
        started = st.start_attempt(
            self.store,
            slot.record.id,
            self.owner,
            lease=self.lease,
            run_attempt=self.run_attempt,
        )
        slot.record = started
        names = [f"{slot.name}[{i}]" for i in range(len(values))]
        records = {r.name: r for r in st.add_step_runs(self.store, self.run.id, names)}
        for i, name in enumerate(names):
            if name not in self.slots:
                self.slots[name] = Slot(
                    name=name,
                    node=slot.node,
                    record=records[name],
                    item=values[i],
                    item_index=i,
                    parent=slot.name,
                )
            else:
                self.slots[name].item = values[i]
            if self.slots[name].status == "succeeded":
                self.outputs.load(self.slots[name])
        slot.children = names
        slot.expanded = True
        self.candidates |= {n for n in names if self.slots[n].status != "succeeded"}
        self.candidates.add(slot.name)
        self.on_change(slot.name, "running")

    def _gather(self, slot: Slot) -> bool:
        children = [self.slots[c] for c in slot.children]
        status, error = decide.gather([(c.name, c.status, c.record.error) for c in children])
        if status == "wait":
            return False
        if status == "failed":
            self._commit_failure(slot, error or "failed", final=True)
            return True
        if self.pending:
            self._flush([])  # the children's artifact ids become the parent's outputs
        outputs = {}
        for i, c in enumerate(children):
            ref = self.outputs.refs[c.name]
            assert isinstance(ref, InputRef)
            outputs[str(i)] = ref.artifact_id
        record, _ = st.commit_step(
            self.store,
            slot.record.id,
            slot.record.attempt,
            outputs=outputs,
            run_attempt=self.run_attempt,
        )
        slot.record = record
        self.outputs.refs[slot.name] = [self.outputs.refs[c.name] for c in children]  # type: ignore[misc]
        if all(c.name in self.outputs.values for c in children):
            self.outputs.values[slot.name] = [self.outputs.values[c.name] for c in children]
        self.on_change(slot.name, "succeeded")
        self._changed(slot)
        return True

    # -- attempts ---------------------------------------------------------------------

    def _submit_all(self, slots: list[Slot]) -> None:
        """Start every ready step: one cache query and one start transaction for the lot."""
        tasks: dict[str, Task] = {}
        for slot in slots:
            tasks[slot.name] = self._prepare(slot)
        cacheable = [
            s
            for s in slots
            if self.use_cache and s.node.step.options.cache and s.status == "pending"
        ]
        hits = st.find_cached_steps(self.store, {s.key for s in cacheable if s.key})
        if hits and self.pending:
            self._flush([])  # a hit's lineage names its inputs' artifact ids: commit them first
        to_start = []
        for slot in slots:
            hit = hits.get(slot.key or "") if slot in cacheable else None
            if hit is not None:
                slot.record = st.record_cache_hit(
                    self.store,
                    slot.record.id,
                    hit,
                    inputs=self.outputs.lineage_inputs(slot),
                    run_attempt=self.run_attempt,
                )
                self.outputs.load(slot)
                self.on_change(slot.name, "cached")
                self._changed(slot)
            else:
                to_start.append(slot)
        started = self._flush([s.record.id for s in to_start])
        for slot, record in zip(to_start, started, strict=True):
            slot.record = record
            self.on_change(slot.name, "running")
            task = tasks[slot.name]
            task.step_run_id, task.attempt = record.id, record.attempt
            step = slot.node.step
            mode = step.options.mode
            if mode is None and not step.is_importable:
                mode = "thread"  # defined inside a function: only this process can call it
            timeout = step.options.timeout
            slot.deadline = time.monotonic() + timeout if timeout else None
            slot.future = self.executor.submit(
                task, mode=mode, timeout=timeout, resources=dict(step.options.resources)
            )
            self.running[slot.future] = slot

    def _flush(self, start: list[int]) -> list[st.StepRunRecord]:
        """Commit the successful attempts waiting to be committed and start ``start``, in one
        transaction; return the started step runs."""
        if not self.pending:
            return st.start_attempts(
                self.store, start, self.owner, lease=self.lease, run_attempt=self.run_attempt
            )
        pending, self.pending = self.pending, []
        committed, started = st.commit_and_start(
            self.store,
            [commit for _, commit in pending],
            start,
            self.owner,
            lease=self.lease,
            run_attempt=self.run_attempt,
        )
        for (slot, _), (record, ids) in zip(pending, committed, strict=True):
            slot.record = record
            ref = self.outputs.refs[slot.name]
            assert isinstance(ref, InputRef)
            self.outputs.refs[slot.name] = dataclasses.replace(ref, artifact_id=ids[OUTPUT])
            self.on_change(slot.name, "succeeded")
        return started

    def _prepare(self, slot: Slot) -> Task:
        """Resolve a step's inputs and cache key; the task it will run if not cached."""
        step = slot.node.step
        constants, inputs, values, key_inputs = self.outputs.task_inputs(slot)
        if step.name not in self.code_hashes:
            self.code_hashes[step.name] = code_hash(step)
        slot.key = cache_key(step, self.code_hashes[step.name], key_inputs, constants)
        return Task(
            step_name=slot.name.split("[", 1)[0] if slot.parent else slot.name,
            step_run_id=slot.record.id,
            attempt=0,
            module=step.module,
            qualname=step.qualname,
            artifacts_url=self.ws.artifacts.url,
            storage_options=dict(self.ws.config.artifacts.storage_options),
            project_root=str(self.ws.config.root),
            constants=constants,
            inputs=inputs,
            fn=step.fn,
            values=values,
            run_id=self.run.id,
            config=self.ws.config,
            workspace=self.ws,
        )

    def _finish(self, slot: Slot, outcome: Outcome) -> None:
        slot.future = None
        slot.deadline = None
        logs = self.ws.artifacts.put_bytes(outcome.logs).digest if outcome.logs else None
        if outcome.ok and outcome.output is not None:
            # Fault tests stop here: the output's bytes are stored, the commit is not made.
            pause_point(f"runner.before_commit.{slot.name}")
            commit = st.StepCommit(
                slot.record.id,
                slot.record.attempt,
                outputs={OUTPUT: outcome.output},
                inputs=self.outputs.lineage_inputs(slot),
                cache_key=slot.key if slot.node.step.options.cache else None,
                logs_digest=logs,
            )
            # The commit lands with the starts of the steps it makes ready, in one
            # transaction (_flush): until then the runner alone knows the step succeeded, and
            # its output's artifact id is not known (0).
            self.pending.append((slot, commit))
            slot.record = dataclasses.replace(slot.record, status="succeeded")
            out = outcome.output
            self.outputs.refs[slot.name] = InputRef(
                0, out.digest, out.kind, str(out.meta.get("materializer"))
            )
            if outcome.has_value:
                self.outputs.values[slot.name] = outcome.value
            self._changed(slot)
            return
        error = outcome.error or "failed"
        if outcome.timed_out:
            error = f"StepTimeoutError: {error}"
        self._commit_failure(slot, error, logs=logs)

    def _commit_failure(
        self, slot: Slot, error: str, *, logs: str | None = None, final: bool = False
    ) -> None:
        options = slot.node.step.options
        will_retry = decide.will_retry(
            slot.record.attempt, slot.base_attempt, options.retries, final=final
        )
        slot.record = st.fail_attempt(
            self.store,
            slot.record.id,
            slot.record.attempt,
            error=error,
            will_retry=will_retry,
            logs_digest=logs,
            run_attempt=self.run_attempt,
        )
        if will_retry:
            slot.not_before = time.monotonic() + options.delay_before(slot.record.attempt + 1)
            self.on_change(slot.name, "retrying")
        else:
            self.on_change(slot.name, "failed")
        self._changed(slot)

    def _expire_timeouts(self) -> None:
        now = time.monotonic()
        late = [
            (f, slot) for f, slot in self.running.items() if decide.timed_out(slot.deadline, now)
        ]
        for future, slot in late:
            # A thread cannot be killed: abandon it; fencing rejects anything it does later.
            del self.running[future]
            self.executor.cancel(future)
            slot.future = None
            slot.deadline = None
            timeout = slot.node.step.options.timeout
            self._commit_failure(slot, f"StepTimeoutError: timed out after {timeout:g}s")

    def _mark(self, slot: Slot, status: str, reason: str) -> None:
        marked = st.mark_steps(
            self.store,
            self.run.id,
            [slot.name],
            status,
            reason=reason,
            run_attempt=self.run_attempt,
        )
        if marked == 1:
            slot.record = dataclasses.replace(slot.record, status=status, error=reason or None)
        else:  # not pending after all: see what it is
            slot.record = st.get_step_run(self.store, slot.record.id)
        self.on_change(slot.name, status)
        self._changed(slot)
