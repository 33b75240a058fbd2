"""``get_step_context()``: what a running step knows about itself, and where it logs.

The worker sets the context around the call of the user's function, in a ``ContextVar``, so
each thread of the local executor sees its own step. Process and Ray workers cannot share
the runner's open workspace: they get its settings and open one on first use. This module
is imported by ``import conveyor``, so the store is only imported when a step logs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import StepContextError

if TYPE_CHECKING:
    from ..core import Config
    from ..workspace import Workspace


class StepContext:
    """The running attempt of a step: who it is, its project, and logging on its step run.

    Metrics and params are recorded against the run and the step run, with the attempt
    number; only the step run's current attempt may log (an abandoned attempt's writes
    raise :class:`~conveyor.core.StaleAttemptError`), and readers show one attempt.

    Attributes:
        run_id: The run this step belongs to.
        step_run_id: This step run (one item of a fan-out has its own).
        step_name: The step's name in the pipeline (a fan-out's items share it).
        attempt: This attempt's number, from 1; it keeps counting up across retries and
            resumes.
        project_root: The project folder, if the run has one.
    """

    def __init__(
        self,
        *,
        run_id: int,
        step_run_id: int,
        step_name: str,
        attempt: int,
        project_root: str | Path | None = None,
        workspace: Workspace | None = None,
        config: Config | None = None,
    ) -> None:
        self.run_id = run_id
        self.step_run_id = step_run_id
        self.step_name = step_name
        self.attempt = attempt
        self.project_root = Path(project_root) if project_root else None
        self._workspace = workspace
        self._config = config
        self._owned: Workspace | None = None  # opened here, so closed here
        self._lock = threading.Lock()
        self._run_tags: dict[str, Any] | None = None

    @property
    def workspace(self) -> Workspace:
        """The project's workspace: the runner's own in thread mode, else opened on first use
        from the run's settings (and closed when the attempt ends)."""
        if self._workspace is not None:
            return self._workspace
        with self._lock:
            if self._workspace is None:
                from ..workspace import Workspace

                if self._config is not None:
                    opened = Workspace.from_config(self._config, migrate=False)
                elif self.project_root is not None:
                    opened = Workspace.open(self.project_root, migrate=False)
                else:
                    raise StepContextError(
                        f"Step {self.step_name!r} has no project to open: the run gave its "
                        "worker neither settings nor a project folder.",
                        hint="Run the pipeline with a Runner on a Workspace.",
                        step=self.step_name,
                    )
                self._owned = self._workspace = opened
            return self._workspace

    @property
    def run_tags(self) -> dict[str, Any]:
        """The run's tags (read once per attempt)."""
        if self._run_tags is None:
            from .. import store as st

            self._run_tags = dict(st.get_run(self.workspace.store, self.run_id).tags)
        return self._run_tags

    def log_metric(self, key: str, value: float, *, step: int = 0) -> None:
        """Log one metric value, e.g. ``ctx.log_metric("loss", 0.3, step=1)``."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], *, step: int = 0) -> None:
        """Log several metric values at the same ``step``, in one transaction."""
        from .. import store as st

        rows = [(key, value, step) for key, value in metrics.items()]
        st.log_step_metrics(self.workspace.store, self.step_run_id, self.attempt, rows)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (JSON values) of this attempt; a param cannot change once logged."""
        from .. import store as st

        st.log_step_params(self.workspace.store, self.step_run_id, self.attempt, params)

    def close(self) -> None:
        """Close the workspace this context opened, if it opened one."""
        with self._lock:
            owned, self._owned = self._owned, None
            if owned is not None:
                self._workspace = None
                owned.close()

    def __repr__(self) -> str:
        return (
            f"<step context {self.step_name} run={self.run_id} step_run={self.step_run_id} "
            f"attempt={self.attempt}>"
        )


_CURRENT: ContextVar[StepContext | None] = ContextVar("conveyor_step_context", default=None)


def get_step_context() -> StepContext:
    """The context of the step running in this thread: its ids, attempt and workspace, and
    ``log_metric``/``log_metrics``/``log_params`` on its step run.

    Raises:
        StepContextError: called outside a running step (at import, while a pipeline is
            being defined, or from a step function called plainly).

    Example:
        >>> from conveyor import get_step_context, step
        >>> @step
        ... def train(rows: list[dict]) -> dict:
        ...     ctx = get_step_context()
        ...     ctx.log_params({"n_rows": len(rows)})
        ...     ctx.log_metric("loss", 0.3, step=1)
        ...     return {"attempt": ctx.attempt}
    """
    ctx = _CURRENT.get()
    if ctx is None:
        raise StepContextError(
            "get_step_context() can only be called inside a running step, not here.",
            hint="Call it in the body of a @step function that a pipeline run is executing "
            "(a step function called plainly has no step run). In a thread the step starts, "
            "run the code with contextvars.copy_context().run(...).",
        )
    return ctx


def current_step_context() -> StepContext | None:
    """The context of the step running in this thread, or None outside a step (for code
    that also runs outside steps, such as a snapshot taken from a notebook)."""
    return _CURRENT.get()


@contextlib.contextmanager
def step_context(ctx: StepContext) -> Iterator[StepContext]:
    """Make ``ctx`` the current step context for the block; close what it opened after."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
        ctx.close()
