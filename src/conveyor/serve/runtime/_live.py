"""A deployment being served: the version behind its alias, followed and hot-swapped, and
with the ``canary`` or ``shadow`` strategy a second version behind a second alias.

The server follows its aliases: a thread reads the event log for moves of them (every
``serve.follow_interval``) and the aliases themselves (every ``serve.check_interval``, in
case an event was missed). A new version is loaded beside the serving one and warmed with a
real prediction (the last request served, or a row made from its signature); then the
switch is one assignment on the event loop, so every request that starts after it is
answered by the new version. The old version finishes what it has queued and is released.

A version that fails to load or to warm never serves: the old one keeps answering, the
alias is moved back to it (compare-and-set, so of several servers only one does) and a
``deployment.failed`` event records why.

Strategies (the deployment's ``config``): ``canary`` sends a share of requests
(``share``, default 0.1) to the version behind ``second_alias`` (default ``challenger``),
sticky by a request key when the client sends one; ``shadow`` predicts every request on
that version too, off the request path, logged under the same prediction ids and never
returned.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ... import store as st
from ...core import (
    ALIAS_MOVED,
    DEPLOYMENT_FAILED,
    DEPLOYMENT_SWAPPED,
    ConflictError,
    ConveyorError,
    NotFoundError,
)
from ._batcher import Answer
from ._deployments import Strategy, get_deployment
from ._inputs import Batch
from ._loaded import Enrichment, LoadedVersion, LogSink, OnCall

if TYPE_CHECKING:
    from ...workspace import Workspace

log = logging.getLogger(__name__)

SERVE = "serve"
SwapListener = Callable[[str, int | None, int, str], None]
"""Told of every switch: role, old version (None at start), new version, outcome
(``swapped`` or ``failed``)."""

# A shadow that falls this far behind skips requests rather than queue without bound.
_SHADOW_BACKLOG = 64


class SwapFailed(ConveyorError):
    """A version could not be loaded or warmed; the serving version stays."""


class LiveDeployment:
    """Deployment ``name`` of workspace ``ws``, serving the version behind its alias."""

    def __init__(
        self,
        ws: Workspace,
        name: str,
        *,
        sink: LogSink | None = None,
        on_call: OnCall | None = None,
        on_swap: SwapListener | None = None,
        enrichment: Callable[[], Enrichment] | None = None,
    ) -> None:
        self.ws = ws
        self.name = name
        self.record = get_deployment(ws, name)
        self.model = self.record.model
        self.alias = self.record.alias
        self.strategy = Strategy(self.record.strategy, self.record.config)
        # Role (serve, canary, shadow) -> the alias whose version plays it.
        self.aliases = {SERVE: self.alias}
        if self.strategy.second_role is not None:
            assert self.strategy.second_alias is not None
            self.aliases[self.strategy.second_role] = self.strategy.second_alias
        self._sink = sink
        self._on_call = on_call
        self._on_swap = on_swap
        self._enrichment = enrichment
        self._slots: dict[str, LoadedVersion | None] = dict.fromkeys(self.aliases)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swap_lock = threading.Lock()
        self._refused: set[int] = set()
        self._sample: Batch | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # The versions swapped out (weakly): a test or /metrics can check they were freed.
        self.retired: deque[weakref.ref[LoadedVersion]] = deque(maxlen=1024)
        self.swaps = 0
        self.shadow_skipped = 0
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedVersion:
        """The version answering new requests (the serving alias's)."""
        loaded = self._slots[SERVE]
        if loaded is None:
            raise RuntimeError("the deployment is not started")
        return loaded

    @property
    def second(self) -> LoadedVersion | None:
        """The canary's or shadow's version, if the second alias points at one."""
        role = self.strategy.second_role
        return None if role is None else self._slots[role]

    @property
    def ready(self) -> bool:
        return self._slots[SERVE] is not None

    def route(self, key: str | None = None) -> LoadedVersion:
        """The version a new request goes to: the canary's for its share, else the serving
        one. Read it, parse against its signature and hand it the batch with no ``await``
        in between, so a swap cannot slip in."""
        second = self.second
        if second is not None and self.strategy.kind == "canary":
            if self.strategy.goes_to_canary(key):
                return second
        return self.current

    async def start(self, *, follow: bool = True) -> None:
        """Load and warm the aliases' versions; then follow the aliases on a thread.

        Raises:
            NotFoundError: the serving alias points nowhere.
            SwapFailed: its version does not load or warm.
        """
        self._loop = asyncio.get_running_loop()
        version = await asyncio.to_thread(self._alias_version, SERVE)
        self._slots[SERVE] = await asyncio.to_thread(self._load, version, SERVE)
        self._told(SERVE, None, version, "swapped")
        role = self.strategy.second_role
        if role is not None:  # without its alias (or a version that loads) the primary serves alone
            await asyncio.to_thread(self._follow_role, role, False)
        if follow:
            self._thread = threading.Thread(
                target=self._follow, name=f"follow-{self.name}", daemon=True
            )
            self._thread.start()

    async def predict(self, batch: Batch, loaded: LoadedVersion | None = None) -> Answer:
        """Predict ``batch`` on ``loaded`` (from :meth:`route`, read with no ``await``
        since; default: the serving version). A shadow sees a copy, after."""
        loaded = loaded or self.current
        answer = await loaded.predict(batch)
        self._sample = batch
        shadow = self.second if self.strategy.kind == "shadow" else None
        if shadow is not None and shadow is not loaded:
            self._mirror(shadow, batch, answer.ids)
        return answer

    async def swap(self, version: int | None = None) -> int:
        """Load ``version`` (default: where the alias points), warm it and switch to it.

        Returns the version now serving.

        Raises:
            SwapFailed: it does not load or warm; the serving version stays.
        """
        if version is None:
            version = await asyncio.to_thread(self._alias_version, SERVE)
        return await asyncio.to_thread(self._swap_to, SERVE, version, False)

    async def stop(self) -> None:
        """Stop following; finish what is queued on every version."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for loaded in self._slots.values():
            if loaded is not None:
                await loaded.close()

    def _mirror(self, shadow: LoadedVersion, batch: Batch, ids: list[str]) -> None:
        if shadow.batcher.pending >= _SHADOW_BACKLOG:
            self.shadow_skipped += 1
            return
        self._spawn(shadow.predict(batch, ids), what="shadow prediction")

    def _spawn(self, work: Any, *, what: str) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.info("deployment %s: %s failed: %r", self.name, what, finished.exception())

        task.add_done_callback(done)

    # -- on the follower thread ---------------------------------------------------------

    def _alias_version(self, role: str) -> int:
        return st.resolve_alias(self.ws.store, self.model, self.aliases[role]).version

    def _load(self, version: int, role: str) -> LoadedVersion:
        step = "load"
        try:
            enrich = self._enrichment() if self._enrichment is not None else None
            loaded = LoadedVersion.load(
                self.ws,
                self.model,
                version,
                role=role,
                sink=self._sink,
                on_call=self._on_call,
                enrich=enrich,
            )
            step = "warm"
            loaded.warm(self._sample)
        except Exception as exc:
            raise SwapFailed(
                f"Version {version} of model {self.model!r} did not {step}: "
                f"{type(exc).__name__}: {exc}",
                model=self.model,
                version=version,
            ) from exc
        return loaded

    def _follow(self) -> None:
        cursor = st.last_event_id(self.ws.store)
        settings = self.ws.config.serve
        next_check = time.monotonic() + settings.check_interval
        watched = set(self.aliases.values())
        while not self._stop.wait(settings.follow_interval):
            try:
                moved = [
                    e
                    for e in st.read_events(self.ws.store, after=cursor, types=[ALIAS_MOVED])
                    if e.data.get("model") == self.model and e.data.get("alias") in watched
                ]
                if moved:
                    cursor = max(e.id for e in moved)
                if moved or time.monotonic() >= next_check:
                    next_check = time.monotonic() + settings.check_interval
                    for role in self.aliases:
                        self._follow_role(role, True)
            except Exception as exc:  # a store outage must not stop the server following
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("deployment %s: following its aliases failed: %s", self.name, exc)

    def _follow_role(self, role: str, from_alias: bool) -> None:
        try:
            target = self._alias_version(role)
        except NotFoundError:
            if role == SERVE:
                raise
            self._retire(role)  # the second alias was deleted: serve alone
            return
        loaded = self._slots[role]
        if (loaded is None or target != loaded.version) and target not in self._refused:
            try:
                self._swap_to(role, target, from_alias)
            except SwapFailed:
                pass  # reported where it failed; the serving version stays

    def _swap_to(self, role: str, version: int, from_alias: bool) -> int:
        with self._swap_lock:
            old = self._slots[role]
            if old is not None and version == old.version:
                return version
            try:
                new = self._load(version, role)
            except SwapFailed as exc:
                self._refused.add(version)
                self.last_error = str(exc)
                serving = old.version if old is not None else None
                self._told(role, serving, version, "failed")
                log.error("deployment %s: %s; version %s keeps serving", self.name, exc, serving)
                if from_alias and serving is not None:
                    self._restore_alias(role, serving, version, str(exc))
                raise
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(self._switch(role, new), self._loop).result()
            self.swaps += 1
            previous = old.version if old is not None else None
            self._told(role, previous, version, "swapped")
        try:
            self._emit(
                DEPLOYMENT_SWAPPED,
                alias=self.aliases[role],
                role=role,
                from_version=previous,
                to_version=version,
                pid=os.getpid(),
            )
        except Exception as exc:  # the swap happened; a lost event must not undo it
            log.warning("deployment %s: could not record the swap: %s", self.name, exc)
        return version

    def _retire(self, role: str) -> None:
        if self._slots[role] is not None:
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(self._switch(role, None), self._loop).result()

    def _emit(self, type: str, **data: Any) -> None:
        st.emit_event(
            self.ws.store,
            type,
            subject=f"deployments/{self.name}",
            data={"deployment": self.name, "model": self.model, **data},
        )

    def _told(self, role: str, old: int | None, new: int, outcome: str) -> None:
        if self._on_swap is not None:
            self._on_swap(role, old, new, outcome)

    def _restore_alias(self, role: str, serving: int, failed: int, reason: str) -> None:
        from ... import registry

        alias = self.aliases[role]
        try:
            registry.promote(
                self.ws,
                self.model,
                serving,
                alias,
                force_reason=f"deploy failed: {reason}",
                actor=f"conveyor serve {self.name}",
                expected_version=failed,
            )
        except ConflictError:
            return  # another server restored it first, or the alias moved on
        self._emit(
            DEPLOYMENT_FAILED, alias=alias, version=failed, serving_version=serving, reason=reason
        )

    # -- on the event loop --------------------------------------------------------------

    async def _switch(self, role: str, new: LoadedVersion | None) -> None:
        old, self._slots[role] = self._slots[role], new
        if old is not None:
            self.retired.append(weakref.ref(old))
            self._spawn(old.close(), what="draining a swapped-out version")


def alive(refs: Iterable[weakref.ref[Any]]) -> int:
    """How many of ``refs`` still point at a live object."""
    return sum(1 for r in refs if r() is not None)
