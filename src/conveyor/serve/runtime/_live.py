"""A deployment being served: the version behind its alias, followed and hot-swapped.

The server follows ``models:/model@alias``: a thread reads the event log for moves of the
alias (every ``serve.follow_interval``) and the alias itself (every ``serve.check_interval``,
in case an event was missed). A new version is loaded beside the serving one and warmed
with a real prediction (the last request served, or a row made from its signature); then
the switch is one assignment on the event loop, so every request that starts after it is
answered by the new version. The old version finishes what it has queued and is released.

A version that fails to load or to warm never serves: the old one keeps answering, the
alias is moved back to it (compare-and-set, so of several servers only one does) and a
``deployment.failed`` event records why.
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
)
from ._batcher import Answer
from ._deployments import get_deployment
from ._inputs import Batch
from ._loaded import LoadedVersion, LogSink, OnCall

if TYPE_CHECKING:
    from ...workspace import Workspace

log = logging.getLogger(__name__)


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
        on_swap: Callable[[int | None, int, str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.name = name
        self.record = get_deployment(ws, name)
        self.model = self.record.model
        self.alias = self.record.alias
        self._sink = sink
        self._on_call = on_call
        self._on_swap = on_swap
        self._current: LoadedVersion | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swap_lock = threading.Lock()
        self._refused: set[int] = set()
        self._sample: Batch | None = None
        self._closing: set[asyncio.Task[None]] = set()
        # The versions swapped out (weakly): a test or /metrics can check they were freed.
        self.retired: deque[weakref.ref[LoadedVersion]] = deque(maxlen=1024)
        self.swaps = 0
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedVersion:
        """The version answering new requests."""
        if self._current is None:
            raise RuntimeError("the deployment is not started")
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    async def start(self, *, follow: bool = True) -> None:
        """Load and warm the alias's version; then follow the alias on a thread.

        Raises:
            NotFoundError: the alias points nowhere.
            SwapFailed: its version does not load or warm.
        """
        self._loop = asyncio.get_running_loop()
        version = await asyncio.to_thread(self._alias_version)
        self._current = await asyncio.to_thread(self._load, version)
        self._told(None, version, "swapped")
        if follow:
            self._thread = threading.Thread(
                target=self._follow, name=f"follow-{self.name}", daemon=True
            )
            self._thread.start()

    async def predict(self, batch: Batch, loaded: LoadedVersion | None = None) -> Answer:
        """Predict ``batch`` on ``loaded`` (read from :attr:`current` with no ``await`` since,
        so it is still serving; default: the serving version)."""
        answer = await (loaded or self.current).predict(batch)
        self._sample = batch
        return answer

    async def swap(self, version: int | None = None) -> int:
        """Load ``version`` (default: where the alias points), warm it and switch to it.

        Returns the version now serving.

        Raises:
            SwapFailed: it does not load or warm; the serving version stays.
        """
        target = version if version is not None else await asyncio.to_thread(self._alias_version)
        return await asyncio.to_thread(self._swap_to, target, False)

    async def stop(self) -> None:
        """Stop following; finish what is queued on every version."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self._current is not None:
            await self._current.close()

    # -- on the follower thread ---------------------------------------------------------

    def _alias_version(self) -> int:
        return st.resolve_alias(self.ws.store, self.model, self.alias).version

    def _load(self, version: int) -> LoadedVersion:
        try:
            loaded = LoadedVersion.load(
                self.ws, self.model, version, sink=self._sink, on_call=self._on_call
            )
            loaded.warm(self._sample)
        except Exception as exc:
            raise SwapFailed(
                f"Version {version} of model {self.model!r} did not "
                f"{'warm' if 'loaded' in locals() else 'load'}: {type(exc).__name__}: {exc}",
                model=self.model,
                version=version,
            ) from exc
        return loaded

    def _follow(self) -> None:
        cursor = st.last_event_id(self.ws.store)
        next_check = time.monotonic() + self.ws.config.serve.check_interval
        while not self._stop.wait(self.ws.config.serve.follow_interval):
            try:
                moved = [
                    e
                    for e in st.read_events(self.ws.store, after=cursor, types=[ALIAS_MOVED])
                    if e.data.get("model") == self.model and e.data.get("alias") == self.alias
                ]
                if moved:
                    cursor = max(e.id for e in moved)
                check = bool(moved) or time.monotonic() >= next_check
                if check:
                    next_check = time.monotonic() + self.ws.config.serve.check_interval
                    target = self._alias_version()
                    if target != self.current.version and target not in self._refused:
                        self._swap_to(target, True)
            except SwapFailed:
                pass  # reported where it failed; the serving version stays
            except Exception as exc:  # a store outage must not stop the server following
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("deployment %s: following %s failed: %s", self.name, self.alias, exc)

    def _swap_to(self, version: int, from_alias: bool) -> int:
        with self._swap_lock:
            old = self.current
            if version == old.version:
                return version
            try:
                new = self._load(version)
            except SwapFailed as exc:
                self._refused.add(version)
                self.last_error = str(exc)
                self._told(old.version, version, "failed")
                log.error(
                    "deployment %s: %s; version %s keeps serving", self.name, exc, old.version
                )
                if from_alias:
                    self._restore_alias(old.version, version, str(exc))
                raise
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(self._switch(new), self._loop).result()
            self.swaps += 1
            self._told(old.version, version, "swapped")
        try:
            st.emit_event(
                self.ws.store,
                DEPLOYMENT_SWAPPED,
                subject=f"deployments/{self.name}",
                data={
                    "deployment": self.name,
                    "model": self.model,
                    "alias": self.alias,
                    "from_version": old.version,
                    "to_version": version,
                    "pid": os.getpid(),
                },
            )
        except Exception as exc:  # the swap happened; a lost event must not undo it
            log.warning("deployment %s: could not record the swap: %s", self.name, exc)
        return version

    def _told(self, old: int | None, new: int, outcome: str) -> None:
        if self._on_swap is not None:
            self._on_swap(old, new, outcome)

    def _restore_alias(self, serving: int, failed: int, reason: str) -> None:
        from ... import registry

        try:
            registry.promote(
                self.ws,
                self.model,
                serving,
                self.alias,
                force_reason=f"deploy failed: {reason}",
                actor=f"conveyor serve {self.name}",
                expected_version=failed,
            )
        except ConflictError:
            return  # another server restored it first, or the alias moved on
        st.emit_event(
            self.ws.store,
            DEPLOYMENT_FAILED,
            subject=f"deployments/{self.name}",
            data={
                "deployment": self.name,
                "model": self.model,
                "alias": self.alias,
                "version": failed,
                "serving_version": serving,
                "reason": reason,
            },
        )

    # -- on the event loop --------------------------------------------------------------

    async def _switch(self, new: LoadedVersion) -> None:
        old, self._current = self._current, new
        if old is not None:
            self.retired.append(weakref.ref(old))
            task = asyncio.get_running_loop().create_task(old.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


def alive(refs: Iterable[weakref.ref[Any]]) -> int:
    """How many of ``refs`` still point at a live object."""
    return sum(1 for r in refs if r() is not None)
