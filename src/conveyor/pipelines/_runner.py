"""The runner: drives one run of a pipeline to its end, on an executor, through the store.

One thread schedules: it starts every step whose upstream is done, evaluates conditions,
checks the cache, submits attempts, and commits each result fenced by the step's attempt
and the run's claim. Workers only compute and store bytes. So a runner killed at any point
can be resumed: finished steps stay finished (never recomputed), running ones are retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import ConflictError, StaleAttemptError, StoreError, now_ms, pause_point
from ._code import cache_key, code_hash, code_version, environment
from ._executor import Executor, make_executor
from ._graph import Graph, StepOutput
from ._runstate import TERMINAL, RunResult, Slot, owner_is_dead, runner_id
from ._worker import InputRef, Outcome, Task, Workdir, load_input

if TYPE_CHECKING:
    from ..workspace import Workspace
    from ._pipeline import Pipeline

OUTPUT = "output"


class Runner:
    """Runs (or resumes) one run of ``pipeline`` in workspace ``ws``.

    Args:
        executor: Where attempts run (default: the project's configured executor).
        cache: Use the step cache (``--no-cache`` turns it off for the run).
        fail_fast: On the first failure, cancel everything not yet started.
        mode: ``'thread'`` or ``'process'``: the default of the executor the runner makes,
            for steps that don't choose.
        on_change: Called with ``(step name, status)`` as steps change (for live views).
        lease: Seconds a claim lasts without a heartbeat (default from the project config).
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
        self.owner = runner_id()
        self._own_executor = executor is None
        self.executor = executor or make_executor(
            ws.config.executor, store=ws.artifacts, project_root=str(ws.config.root), mode=mode
        )
        self.slots: dict[str, Slot] = {}
        self.values: dict[str, Any] = {}
        self.outputs: dict[str, InputRef | list[InputRef]] = {}
        self.code_hashes: dict[str, str] = {}
        self.run_attempt = 0
        self.graph: Graph | None = None
        # Event-driven scheduling: only slots whose upstream changed are looked at again.
        self.candidates: set[str] = set()
        self.retry_at: dict[str, float] = {}
        self.downstream: dict[str, set[str]] = {}
        self.running: dict[Future[Outcome], Slot] = {}
        self.failed_any = False
        self.workdir = Workdir()  # where outputs loaded by the runner live (Path outputs)

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
        values = self.pipeline.resolve_params(configured)  # conveyor.toml, type-checked
        values = self.pipeline.resolve_params({**values, **(params or {})}, from_text=from_text)
        self.graph = self.pipeline.build(values)
        run = st.create_run(
            self.store,
            self.pipeline.name,
            params=values,
            tags=tags,
            status="queued",
            idempotency_key=idempotency_key,
            code_version=code_version(self.ws.config.root),
            environment=environment(),
        )
        run = st.acquire_run(self.store, run.id, self.owner, lease=self.lease)
        return self._drive(run)

    def resume(self, run_id: int, *, force: bool = False) -> RunResult:
        """Continue a run whose runner died: finished steps are kept, the rest run."""
        run = st.get_run(self.store, run_id)
        if run.pipeline != self.pipeline.name:
            raise ConflictError(
                f"Run {run_id} is of pipeline {run.pipeline!r}, not {self.pipeline.name!r}."
            )
        take_over = force or (run.status == "running" and owner_is_dead(run.lease_owner))
        try:
            run = st.acquire_run(
                self.store, run_id, self.owner, lease=self.lease, take_over=take_over
            )
        except ConflictError:
            # A live lease: its holder may be stuck (stopped, partitioned). Wait it out once;
            # a holder that is really alive renews it, and we give up with the --force hint.
            current = st.get_run(self.store, run_id)
            if current.status != "running" or current.lease_expires_at is None:
                raise
            wait_s = (current.lease_expires_at - now_ms()) / 1000 + 0.2
            time.sleep(max(0.0, min(wait_s, self.lease + 1)))
            run = st.acquire_run(self.store, run_id, self.owner, lease=self.lease)
        self.graph = self.pipeline.build(run.params)
        st.reset_steps(self.store, run_id)  # what failed before gets a fresh set of attempts
        return self._drive(run)

    # -- the loop ---------------------------------------------------------------------

    def _drive(self, run: st.RunRecord) -> RunResult:
        assert self.graph is not None
        self.run = run
        self.run_attempt = run.attempt
        order = self.graph.order()
        existing = st.add_step_runs(self.store, run.id, order)
        records = {r.name: r for r in existing}
        for name in order:
            record = records[name]
            self.slots[name] = Slot(
                name=name, node=self.graph.nodes[name], record=record, base_attempt=record.attempt
            )
        for record in existing:
            # Fan-out items from an earlier attempt of this run: kept, and matched to their
            # items again when the parent re-expands (items are recomputed, not stored).
            parent = record.name.split("[", 1)[0]
            if "[" in record.name and parent in self.slots:
                index = int(record.name.split("[", 1)[1].rstrip("]"))
                self.slots[record.name] = Slot(
                    name=record.name,
                    node=self.slots[parent].node,
                    record=record,
                    item_index=index,
                    parent=parent,
                    base_attempt=record.attempt,
                )
        for slot in list(self.slots.values()):
            if slot.status == "succeeded":
                self._load_outputs(slot)
        self.downstream = self.graph.downstream()
        self.candidates = {n for n, s in self.slots.items() if s.status not in TERMINAL}
        error: str | None = None
        try:
            self._loop()
        except StaleAttemptError:
            raise ConflictError(
                f"Run {run.id} was taken over by another runner; this one stopped.",
                run_id=run.id,
            ) from None
        except StoreError as exc:  # the store went away mid-run: the run stays resumable
            exc.hint = f"When the store is back, resume with: conveyor runs resume {run.id}"
            raise
        except KeyboardInterrupt:
            st.transition_run(
                self.store,
                run.id,
                "failed",
                expected=["running"],
                attempt=self.run_attempt,
                error="interrupted",
            )
            raise
        finally:
            if self._own_executor:
                self.executor.shutdown()
        statuses = {n: s.status for n, s in self.slots.items()}
        errors = {n: s.record.error for n, s in self.slots.items() if s.record.error}
        failed = [n for n, s in statuses.items() if s in ("failed", "upstream_failed", "cancelled")]
        if failed:
            first = next((n for n in failed if statuses[n] == "failed"), failed[0])
            error = f"step {first!r} {statuses[first]}: {errors.get(first, '')}".strip().rstrip(":")
        final = st.transition_run(
            self.store,
            run.id,
            "failed" if failed else "succeeded",
            expected=["running"],
            attempt=self.run_attempt,
            error=error,
        )
        return RunResult(final, statuses, errors, dict(self.values), self._load_value)

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while True:
            progressed = self._schedule()
            if not self.running and not self.candidates and not self.retry_at:
                stuck = [n for n, s in self.slots.items() if s.status not in TERMINAL]
                if not stuck:
                    return
                if not progressed:
                    # Nothing runs and nothing is queued, yet steps are unfinished: a bug.
                    # Look at everything once more rather than hang.
                    self.candidates |= set(stuck)
                    if not self._schedule() and not self.running:
                        raise RuntimeError(f"scheduler stalled with unfinished steps {stuck[:5]}")
                continue
            now = time.monotonic()
            waits = [self.lease / 3 - (now - last_beat)]
            waits += [t - now for t in self.retry_at.values()]
            waits += [s.deadline - now for s in self.running.values() if s.deadline is not None]
            timeout = max(0.0, min(waits))
            if self.running and not progressed:
                done, _ = wait(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(self.running.pop(future), future.result())
            elif not self.running and not progressed:
                time.sleep(min(timeout, 0.5))
            self._expire_timeouts()
            if time.monotonic() - last_beat >= self.lease / 3:
                self._heartbeat()
                last_beat = time.monotonic()

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
            if slot.children and slot.status == "running":
                progressed |= self._gather(slot)
                continue
            startable = slot.status == "pending" or (slot.status == "running" and not slot.children)
            if not startable or slot.future is not None or slot.name in self.retry_at:
                continue
            if slot.parent is not None and not self.slots[slot.parent].children:
                continue  # a fan-out item waits for its parent to (re-)expand
            verdict = self._readiness(slot)
            if verdict == "wait":
                continue
            progressed = True
            if verdict in ("skipped", "upstream_failed", "cancelled"):
                self._mark(slot, verdict, self._reason(slot, verdict))
            elif slot.parent is None and slot.node.map_over is not None:
                self._expand(slot)
            else:
                ready.append(slot)
        self._submit_all(ready)
        return progressed

    def _readiness(self, slot: Slot) -> str:
        if slot.parent is not None:
            return "go"
        ups = [self.slots[u] for u in slot.node.upstream]
        if any(u.status in ("failed", "upstream_failed") for u in ups):
            return "upstream_failed"
        if self.fail_fast and self.failed_any:
            return "cancelled"
        if any(u.status == "cancelled" for u in ups):
            return "cancelled"
        if not all(u.status in TERMINAL for u in ups):
            return "wait"
        if any(u.status == "skipped" for u in ups):
            return "skipped"
        if slot.node.when is not None:
            value = self._resolve(slot.node.when.ref)
            if bool(value) == slot.node.when.negate:
                return "skipped"
        return "go"

    def _reason(self, slot: Slot, verdict: str) -> str:
        """Why a step did not run, naming the upstream step that decided it."""
        causes, word = {
            "skipped": ({"skipped"}, "was skipped"),
            "upstream_failed": ({"failed", "upstream_failed"}, "failed"),
            "cancelled": ({"cancelled"}, "was cancelled"),
        }[verdict]
        culprits = [u for u in sorted(slot.node.upstream) if self.slots[u].status in causes]
        if culprits:
            return f"upstream step {culprits[0]!r} {word}"
        if verdict == "skipped" and slot.node.when is not None:
            when = slot.node.when
            return f"condition {'~' if when.negate else ''}{when.ref!r} was false"
        return "cancelled by fail_fast after a failure"

    # -- values and inputs ------------------------------------------------------------

    def _load_outputs(self, slot: Slot) -> None:
        edges = [e for e in st.step_lineage(self.store, slot.record.id) if e.direction == "out"]
        refs = {e.name: self._input_ref(e.artifact_id) for e in edges}
        if slot.node.map_over is not None and slot.parent is None:
            self.outputs[slot.name] = [refs[k] for k in sorted(refs, key=int)]
        elif OUTPUT in refs:
            self.outputs[slot.name] = refs[OUTPUT]

    def _input_ref(self, artifact_id: int) -> InputRef:
        record = st.get_artifact(self.store, artifact_id)
        return InputRef(
            artifact_id=record.id,
            digest=record.digest,
            kind=record.kind,
            materializer=str(record.meta.get("materializer", "bytes")),
        )

    def _load_value(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        ref = self.outputs.get(name)
        if ref is None:
            raise KeyError(f"Step {name!r} has no output (status {self.slots[name].status}).")
        if isinstance(ref, list):
            value: Any = [self._load_ref(r) for r in ref]
        else:
            value = self._load_ref(ref)
        self.values[name] = value
        return value

    def _load_ref(self, ref: InputRef) -> Any:
        return load_input(self.ws.artifacts, ref, self.workdir)

    def _resolve(self, ref: StepOutput) -> Any:
        value = self._load_value(ref.node)
        for part in ref.path:
            if isinstance(value, dict | list | tuple):
                value = value[part]  # type: ignore[index]
            else:
                value = getattr(value, str(part))
        return value

    # -- fan-out ----------------------------------------------------------------------

    def _expand(self, slot: Slot) -> None:
        assert slot.node.map_over is not None
        arg, items = slot.node.map_over
        values = self._resolve(items) if isinstance(items, StepOutput) else items
        values = list(values)
        started = st.start_attempt(
            self.store,
            slot.record.id,
            self.owner,
            lease=self.lease,
            take_over=True,
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
                self._load_outputs(self.slots[name])
        slot.children = names
        self.candidates |= {n for n in names if self.slots[n].status != "succeeded"}
        self.candidates.add(slot.name)
        self.on_change(slot.name, "running")

    def _gather(self, slot: Slot) -> bool:
        children = [self.slots[c] for c in slot.children]
        if not all(c.status in TERMINAL for c in children):
            return False
        failed = [c for c in children if c.status != "succeeded"]
        if failed:
            self._commit_failure(
                slot,
                f"{len(failed)} of {len(children)} items failed; "
                f"first: {failed[0].name}: {failed[0].record.error}",
                final=True,
            )
            return True
        outputs = {}
        for i, c in enumerate(children):
            ref = self.outputs[c.name]
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
        self.outputs[slot.name] = [self.outputs[c.name] for c in children]  # type: ignore[misc]
        if all(c.name in self.values for c in children):
            self.values[slot.name] = [self.values[c.name] for c in children]
        self.on_change(slot.name, "succeeded")
        self._changed(slot)
        return True

    # -- attempts ---------------------------------------------------------------------

    def _task_inputs(
        self, slot: Slot
    ) -> tuple[
        dict[str, Any], dict[str, InputRef | list[InputRef]], dict[str, Any], dict[str, Any]
    ]:
        """(constants, artifact inputs, in-memory values, cache-key inputs)."""
        node = slot.node
        constants = dict(node.constants)
        inputs: dict[str, InputRef | list[InputRef]] = {}
        values: dict[str, Any] = {}
        key_inputs: dict[str, Any] = {}
        for arg, ref in node.refs.items():
            source = self.outputs.get(ref.node)
            if source is None:
                raise ConflictError(
                    f"Step {slot.name!r} needs the output of {ref.node!r}, which has none."
                )
            digests = [r.digest for r in source] if isinstance(source, list) else source.digest
            key_inputs[arg] = {"digest": digests, "path": list(ref.path)}
            if ref.path:
                values[arg] = self._resolve(ref)
            else:
                inputs[arg] = source
                if ref.node in self.values:
                    values[arg] = self.values[ref.node]
        if slot.parent is not None and node.map_over is not None:
            arg, items = node.map_over
            values[arg] = slot.item
            if isinstance(items, StepOutput):
                source = self.outputs[items.node]
                digests = [r.digest for r in source] if isinstance(source, list) else source.digest
                key_inputs[arg] = {
                    "digest": digests,
                    "path": list(items.path),
                    "index": slot.item_index,
                }
            else:
                constants_key = {"item": slot.item}
                key_inputs[arg] = constants_key
        return constants, inputs, values, key_inputs

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
        to_start = []
        for slot in slots:
            hit = hits.get(slot.key or "") if slot in cacheable else None
            if hit is not None:
                slot.record = st.record_cache_hit(
                    self.store, slot.record.id, hit, inputs=slot.inputs
                )
                self._load_outputs(slot)
                self.on_change(slot.name, "cached")
                self._changed(slot)
            else:
                to_start.append(slot)
        started = st.start_attempts(
            self.store,
            [s.record.id for s in to_start],
            self.owner,
            lease=self.lease,
            take_over=True,  # a step left running by a dead runner of this run
            run_attempt=self.run_attempt,
        )
        for slot, record in zip(to_start, started, strict=True):
            slot.record = record
            slot.attempt = record.attempt
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

    def _prepare(self, slot: Slot) -> Task:
        """Resolve a step's inputs and cache key; the task it will run if not cached."""
        step = slot.node.step
        constants, inputs, values, key_inputs = self._task_inputs(slot)
        if step.name not in self.code_hashes:
            self.code_hashes[step.name] = code_hash(step)
        slot.key = cache_key(step, self.code_hashes[step.name], key_inputs, constants)
        slot.inputs = {}
        for arg, ref in inputs.items():  # lineage: one edge per artifact read
            if isinstance(ref, list):
                slot.inputs.update({f"{arg}[{i}]": r.artifact_id for i, r in enumerate(ref)})
            else:
                slot.inputs[arg] = ref.artifact_id
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
            record, ids = st.commit_step(
                self.store,
                slot.record.id,
                slot.attempt,
                outputs={OUTPUT: outcome.output},
                inputs=slot.inputs,
                cache_key=slot.key if slot.node.step.options.cache else None,
                logs_digest=logs,
                run_attempt=self.run_attempt,
            )
            slot.record = record
            out = outcome.output
            self.outputs[slot.name] = InputRef(
                ids[OUTPUT], out.digest, out.kind, str(out.meta.get("materializer"))
            )
            if outcome.has_value:
                self.values[slot.name] = outcome.value
            self.on_change(slot.name, "succeeded")
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
        will_retry = not final and slot.record.attempt - slot.base_attempt < options.retries + 1
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
            (f, slot)
            for f, slot in self.running.items()
            if slot.deadline is not None and now >= slot.deadline + 0.5
        ]
        for future, slot in late:
            # A thread cannot be killed: abandon it; fencing rejects anything it does later.
            del self.running[future]
            self.executor.cancel(future)
            slot.future = None
            slot.deadline = None
            timeout = slot.node.step.options.timeout
            self._commit_failure(slot, f"StepTimeoutError: timed out after {timeout:g}s")

    def _heartbeat(self) -> None:
        st.renew_run_lease(self.store, self.run.id, self.owner, self.run_attempt, lease=self.lease)
        for slot in self.slots.values():
            if slot.status == "running" and (slot.future is not None or slot.children):
                st.heartbeat(self.store, slot.record.id, slot.record.attempt, lease=self.lease)

    def _mark(self, slot: Slot, status: str, reason: str) -> None:
        st.mark_steps(self.store, self.run.id, [slot.name], status, reason=reason)
        slot.record = st.get_step_run(self.store, slot.record.id)
        self.on_change(slot.name, status)
        self._changed(slot)
