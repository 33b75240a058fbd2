"""Tuning studies: their trials, kept under the step run that runs the study."""

from __future__ import annotations

from . import _tables as _tables  # registers the tables on the metadata

__all__: list[str] = []
