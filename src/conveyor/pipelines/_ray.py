"""The ``ray`` executor: each step attempt is a Ray task.

``executor.address`` empty starts a local Ray cluster; otherwise conveyor joins the cluster
at that address. Workers reach the artifact store by its URL, so on a real cluster the
``artifacts`` setting must be shared storage (``s3://...``). A cluster conveyor starts uses
Ray's token authentication (RELIABILITY rule 12) and no dashboard.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..core import ConfigError
from ._calls import Call, CallResult, Returned, invoke, pool_size, result_of
from ._executor import Executor
from ._worker import Outcome, Task, run_attempt


def _require_token_auth(project_root: str | None) -> None:
    """Turn on Ray token auth for a cluster we start, with a private token if none is set."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None and mode.lower() != "token":
        raise ConfigError(
            f"conveyor will not start a Ray cluster without token authentication "
            f"(RAY_AUTH_MODE={mode!r}).",
            hint="Unset RAY_AUTH_MODE or set it to 'token'.",
        )
    if "ray" in sys.modules:
        # Ray reads its auth mode when imported; too late to turn it on from here.
        from ray._raylet import (  # type: ignore[attr-defined]
            AuthenticationMode,
            get_authentication_mode,
        )

        if get_authentication_mode() != AuthenticationMode.TOKEN:
            raise ConfigError(
                "Ray was imported before conveyor could turn on token authentication, so "
                "conveyor will not start a cluster from this process.",
                hint="Set RAY_AUTH_MODE=token in the environment before starting Python.",
            )
    os.environ["RAY_AUTH_MODE"] = "token"
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    folder = Path(project_root or ".") / ".conveyor"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "ray_auth_token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)


def _ray_attempt(task: Task) -> Outcome:
    return run_attempt(task)


def _ray_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Returned:
    return invoke(fn, args)


class RayExecutor(Executor):
    """Runs attempts as Ray tasks; ``resources`` hints map to ``num_cpus``/``num_gpus``.

    Raises:
        ConfigError: Ray is not installed, or token authentication was disabled.
    """

    name = "ray"

    def __init__(
        self, address: str = "", *, max_workers: int = 0, project_root: str | None = None
    ) -> None:
        if not address:
            _require_token_auth(project_root)
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "The 'ray' executor needs Ray, which is not installed.",
                hint="Install it with: pip install 'conveyor[ray]'",
            ) from None
        self._ray = ray
        self._started = False
        self.max_workers = max_workers or os.cpu_count() or 2
        # Workers import the steps from the project folder, and conveyor itself from where
        # the driver found it (a PYTHONPATH given to the driver, e.g. a source checkout).
        paths = [p for p in (project_root, os.environ.get("PYTHONPATH")) if p]
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}} if paths else None
        if not ray.is_initialized():
            if not address:
                ray.init(
                    num_cpus=self.max_workers,
                    include_dashboard=False,
                    dashboard_host="127.0.0.1",
                    runtime_env=runtime_env,
                    log_to_driver=False,
                    configure_logging=False,
                )
                self._started = True
            else:
                ray.init(
                    address=address,
                    runtime_env=runtime_env,
                    log_to_driver=False,
                    configure_logging=False,
                )
        self._remote = ray.remote(max_retries=0)(_ray_attempt)
        self._remote_call = ray.remote(max_retries=0)(_ray_call)
        self._refs: dict[Future[Outcome], Any] = {}

    def submit(
        self,
        task: Task,
        *,
        mode: str | None,
        timeout: float | None,
        resources: dict[str, float] | None = None,
    ) -> Future[Outcome]:
        task.fn = None  # workers import the step by module and name
        options: dict[str, Any] = {}
        for key, value in (resources or {}).items():
            if key in ("cpus", "num_cpus"):
                options["num_cpus"] = value
            elif key in ("gpus", "num_gpus"):
                options["num_gpus"] = value
            elif key == "memory":
                options["memory"] = value
            else:
                options.setdefault("resources", {})[key] = value
        ref = self._remote.options(**options).remote(task) if options else self._remote.remote(task)
        # The contract is an Outcome, never an exception: a task that never returned one
        # (its worker crashed, or it was cancelled) is a failed attempt like any other.
        future: Future[Outcome] = Future()
        self._refs[future] = ref

        def settle(done: Future[Outcome]) -> None:
            self._refs.pop(future, None)
            try:
                outcome = done.result()
            except BaseException as exc:
                first = (str(exc).strip().splitlines() or [""])[0]
                outcome = Outcome(
                    ok=False, error=f"the step's Ray task failed: {type(exc).__name__}: {first}"
                )
            future.set_result(outcome)

        ref.future().add_done_callback(settle)
        return future

    def cancel(self, future: Future[Outcome]) -> None:
        ref = self._refs.pop(future, None)
        if ref is not None:
            self._ray.cancel(ref, force=True)

    def shutdown(self) -> None:
        if self._started:
            self._ray.shutdown()

    def map_calls(
        self, calls: Iterable[Call], *, parallelism: int | None = None
    ) -> Generator[CallResult, None, None]:
        """Each call is a Ray task (one CPU); a time-out cancels it with ``force``."""
        ray = self._ray
        size = pool_size(parallelism, self.max_workers)
        pending = iter(calls)
        exhausted = False
        running: dict[Any, tuple[Call, float | None]] = {}
        try:
            while True:
                while not exhausted and len(running) < size:
                    call = next(pending, None)
                    if call is None:
                        exhausted = True
                        break
                    ref = self._remote_call.remote(call.fn, call.args)
                    deadline = time.monotonic() + call.timeout if call.timeout else None
                    running[ref] = (call, deadline)
                if not running:
                    return
                deadlines = [d for _, d in running.values() if d is not None]
                wait_for = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                ready, _ = ray.wait(list(running), num_returns=1, timeout=wait_for)
                for ref in ready:
                    call, _ = running.pop(ref)
                    yield self._result(ref, call)
                now = time.monotonic()
                for ref, (call, deadline) in list(running.items()):
                    if deadline is not None and now >= deadline:
                        del running[ref]
                        ray.cancel(ref, force=True)
                        yield CallResult.failed(
                            call.key,
                            f"timed out after {call.timeout:g}s; its Ray task was cancelled",
                            timed_out=True,
                        )
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def _result(self, ref: Any, call: Call) -> CallResult:
        try:
            returned: Returned = self._ray.get(ref)
        except Exception as exc:  # the task's worker died, or the task was cancelled
            first = (str(exc).strip().splitlines() or [""])[0]
            return CallResult.failed(
                call.key, f"its Ray task failed: {type(exc).__name__}: {first}"
            )
        return result_of(call.key, returned)
