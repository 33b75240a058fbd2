"""Provisional prediction ids (replaced by the UUIDv7 generator)."""

from __future__ import annotations

import uuid


def new_prediction_ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]
