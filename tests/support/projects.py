"""Types shared by fixtures that build throw-away projects."""

from __future__ import annotations

from typing import Protocol

from conveyor.workspace import Workspace


class MakeProject(Protocol):
    def __call__(
        self,
        source: str,
        *,
        lease: str = "60s",
        busy_timeout: str | None = None,
        retries: int | None = None,
    ) -> Workspace: ...
