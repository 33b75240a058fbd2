"""A model version in memory, ready to predict: the estimator, its signature, and the
batcher that feeds it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ._batcher import Answer, Batcher, Outputs
from ._inputs import Batch

if TYPE_CHECKING:
    from ...workspace import Workspace


class LogSink(Protocol):
    """Where a served batch goes after its call (the prediction log)."""

    def submit(self, chunk: Any) -> bool: ...


OnCall = Callable[["LoadedVersion", int, float, Outputs], None]
"""Told of every model call: the version, its rows, its seconds and its outputs (metrics)."""


class LoadedVersion:
    """Version ``version`` of ``model``, loaded and serving in ``role`` (``serve``,
    ``canary`` or ``shadow``)."""

    def __init__(
        self,
        model: str,
        version: int,
        estimator: Any,
        signature: Mapping[str, Any] | None,
        *,
        role: str = "serve",
        max_rows: int = 512,
        budget: float = 0.05,
        sink: LogSink | None = None,
        on_call: OnCall | None = None,
    ) -> None:
        self.model = model
        self.version = version
        self.role = role
        self.estimator = estimator
        self.signature = dict(signature or {})
        self.input_names = [c["name"] for c in self.signature.get("inputs") or () if "name" in c]
        self._sink = sink
        self._on_call = on_call
        self.batcher = Batcher(
            self.predict_batch,
            after=self._after if sink is not None or on_call is not None else None,
            max_rows=max_rows,
            budget=budget,
            name=f"{model}-{version}",
        )

    @classmethod
    def load(
        cls,
        ws: Workspace,
        model: str,
        version: int,
        *,
        role: str = "serve",
        sink: LogSink | None = None,
        on_call: OnCall | None = None,
    ) -> LoadedVersion:
        """Load version ``version`` of ``model`` through every registry check."""
        from ... import registry

        uri = f"models:/{model}/{version}"
        handle = registry.get_model(ws, uri)
        estimator = registry.load_model(ws, uri)
        settings = ws.config.serve
        return cls(
            model,
            version,
            estimator,
            handle.signature,
            role=role,
            max_rows=settings.max_batch_rows,
            budget=settings.latency_budget,
            sink=sink,
            on_call=on_call,
        )

    def __repr__(self) -> str:
        return f"<LoadedVersion models:/{self.model}/{self.version} {self.role}>"

    async def predict(self, batch: Batch) -> Answer:
        """This batch's outputs and prediction ids, batched with concurrent requests."""
        return await self.batcher.submit(batch)

    def predict_batch(self, batch: Batch) -> Outputs:
        """Call the model on ``batch`` (on the batcher's thread)."""
        prediction = np.asarray(self.estimator.predict(self._frame(batch)))
        return {"prediction": prediction}

    def warm(self, sample: Batch | None = None) -> None:
        """One real prediction, on ``sample`` or on a row made from the signature.

        Raises:
            Exception: whatever the model raises: it must not serve.
        """
        self.predict_batch(sample if sample is not None else synthetic_batch(self.signature))

    async def close(self) -> None:
        """Finish what is queued, then release the model."""
        await self.batcher.close()
        self.estimator = None
        self._sink = self._on_call = None

    def _frame(self, batch: Batch) -> Any:
        import pandas as pd

        names = self.input_names or list(batch.columns)
        arrays = [batch.columns[n] for n in names if n in batch.columns]
        if arrays and all(a.dtype == np.float64 for a in arrays):
            # One block of floats: several times cheaper than a frame built column by column.
            return pd.DataFrame(np.column_stack(arrays), columns=names, copy=False)
        return pd.DataFrame({n: batch.columns[n] for n in names if n in batch.columns})

    def _after(
        self,
        batch: Batch,
        outputs: Outputs,
        ids: list[str],
        arrivals: np.ndarray,
        elapsed: float,
    ) -> None:
        if self._on_call is not None:
            self._on_call(self, batch.rows, elapsed, outputs)
        sink = self._sink
        if sink is None:
            return
        from ._predlog import LogChunk

        now = time.time()
        sink.submit(
            LogChunk(
                model=self.model,
                model_version=self.version,
                role=self.role,
                ids=ids,
                ts_ms=(arrivals * 1000).astype(np.int64),
                latency_s=now - arrivals,
                inputs=batch.columns,
                outputs=outputs,
            )
        )


_EXAMPLE: dict[str, Any] = {
    "string": "",
    "binary": b"",
    "boolean": False,
    "datetime": np.datetime64(0, "ns"),
    "long": 0,
    "integer": 0,
}


def synthetic_batch(signature: Mapping[str, Any]) -> Batch:
    """One row of neutral values (0, "", False) in the signature's columns: a warm-up input
    for a version that has served no request yet."""
    inputs: Sequence[Mapping[str, Any]] = signature.get("inputs") or ()
    columns: dict[str, np.ndarray] = {}
    for spec in inputs:
        kind = spec.get("type", "double")
        value = _EXAMPLE.get(kind, 0.0)
        dtype: Any = object if kind in ("string", "binary") else None
        columns[spec["name"]] = np.array([value], dtype=dtype)
    return Batch(columns=columns, rows=1)
