"""Provisional: the validated input of one request (replaced by the signature checks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...core import InvalidValueError


@dataclass(frozen=True, slots=True)
class Batch:
    columns: dict[str, np.ndarray]
    rows: int


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class InputError(InvalidValueError):
    def __init__(self, message: str, *, status: int = 422, errors: Sequence[FieldError] = ()):
        super().__init__(message)
        self.status = status
        self.errors = tuple(errors)
