"""Shared by the alert tests: a signing secret, settings for quick retries, and the type
of the fixture that makes projects with alert channels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from conveyor.workspace import Workspace

# The Standard Webhooks reference libraries' example secret (24 bytes, base64).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# Retries that finish quickly: 10 ms, 20 ms ... between tries.
FAST = 'retry_backoff = "10ms"\nretry_max_time = "20s"\ntimeout = "5s"\n'


class MakeNotifyProject(Protocol):
    def __call__(self, toml: str, *, env: Mapping[str, str] | None = None) -> Workspace: ...
