"""Serving: deployments and the rules of rolling out a model version (``serve.runtime``),
and the prediction server that speaks to clients (``serve.app``, an entry point)."""

from __future__ import annotations

__all__: list[str] = []
