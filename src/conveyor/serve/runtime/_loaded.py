"""A model version in memory, ready to predict: the estimator, its signature, and the
batcher that feeds it.

A classifier's probabilities are logged beside its prediction when the log is on (binary:
``score``, the positive class's; else ``proba_<class>`` per class), for the performance
estimate. They cost the request path little: where ``predict`` answers the arg-max of
``predict_proba`` (checked at warm-up, as the matrix path is), one ``predict_proba`` call
gives both; only a model that decides otherwise (a tuned threshold) is called twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from ._batcher import Answer, Batcher, Outputs
from ._inputs import Batch

if TYPE_CHECKING:
    from ...workspace import Workspace

log = logging.getLogger(__name__)


class LogSink(Protocol):
    """Where a served batch goes after its call (the prediction log)."""

    def submit(self, chunk: Any) -> bool: ...


class Enrichment(Protocol):
    """Adds looked-up columns (features) to a batch before the model sees it."""

    features: Mapping[str, str]

    def request_signature(self, signature: Mapping[str, Any]) -> dict[str, Any]: ...

    def __call__(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


OnCall = Callable[["LoadedVersion", int, float, Outputs], None]
"""Told of every model call: the version, its rows, its seconds and its outputs (metrics)."""

ScoreMode = Literal["none", "derive", "both"]
"""How a call gets the probabilities: not at all; one ``predict_proba`` call whose arg-max
is the prediction; or ``predict`` and ``predict_proba`` both."""


class LoadedVersion:
    """Version ``version`` of ``model``, loaded and serving in ``role`` (``serve``,
    ``canary`` or ``shadow``).

    With ``log_scores`` (and a ``sink``), a classifier's probabilities join its outputs
    (see the module docstring); ``score_mode`` says how they are computed.
    """

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
        enrich: Enrichment | None = None,
        log_scores: bool = False,
    ) -> None:
        self.model = model
        self.version = version
        self.role = role
        self.estimator = estimator
        self.signature = dict(signature or {})
        self.input_names = [c["name"] for c in self.signature.get("inputs") or () if "name" in c]
        self._enrich = enrich
        # What a request is checked against: the model's inputs, and with enrichment the
        # entity columns instead of the features looked up by them.
        self.request_signature = (
            enrich.request_signature(self.signature) if enrich is not None else self.signature
        )
        self._sink = sink
        self._on_call = on_call
        self._matrix = False  # call the model on a plain matrix (see warm)
        self._index: Any = None
        wanted = log_scores and sink is not None
        self._classes, self._score_names = _score_columns(estimator, wanted)
        # Until warm() has checked the arg-max, both calls: always right, if slower.
        self.score_mode: ScoreMode = "both" if self._classes is not None else "none"
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
        enrich: Enrichment | None = None,
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
            enrich=enrich,
            log_scores=settings.log_scores,
        )

    def __repr__(self) -> str:
        return f"<LoadedVersion models:/{self.model}/{self.version} {self.role}>"

    async def predict(self, batch: Batch, ids: list[str] | None = None) -> Answer:
        """This batch's outputs and prediction ids (``ids`` if given), batched with
        concurrent requests."""
        return await self.batcher.submit(batch, ids)

    def predict_batch(self, batch: Batch) -> Outputs:
        """Call the model on ``batch`` (on the batcher's thread), after adding the features
        looked up for it (they join ``batch.columns``, so the log sees them)."""
        if self._enrich is not None:
            self._enrich(batch)
        X = self._as_matrix(batch) if self._matrix and self._numeric(batch) else self._frame(batch)
        mode = self.score_mode
        if mode == "derive":
            proba = np.asarray(self.estimator.predict_proba(X))
            assert self._classes is not None
            return {"prediction": self._classes[proba.argmax(axis=1)], **self._scores(proba)}
        prediction = np.asarray(self.estimator.predict(X))
        if mode == "none":
            return {"prediction": prediction}
        try:
            proba = np.asarray(self.estimator.predict_proba(X))
        except Exception as exc:  # the prediction stands; the log goes without scores
            log.warning("%r: predict_proba failed, scores are no longer logged: %r", self, exc)
            self.score_mode = "none"
            return {"prediction": prediction}
        return {"prediction": prediction, **self._scores(proba)}

    def warm(self, sample: Batch | None = None) -> None:
        """One real prediction, on ``sample`` or on a row made from the signature.

        A model of numeric inputs is also tried on a plain matrix of the signature's
        columns; if it answers the same, that is how it is called from then on (the
        signature already guarantees the columns and their order, so the frame's names
        only cost: scikit-learn checks a frame's names and types on every call, several
        times the cost of the prediction on one row).

        Raises:
            Exception: whatever the model raises: it must not serve.
        """
        batch = sample if sample is not None else synthetic_batch(self.signature)
        if self._enrich is not None:
            self._enrich(batch)
        framed = np.asarray(self.estimator.predict(self._frame(batch)))
        if self._numeric(batch):
            _quiet_feature_names()
            try:
                matrix = np.asarray(self.estimator.predict(self._as_matrix(batch)))
            except Exception:  # a model that selects columns by name needs its frame
                matrix = None
            if matrix is not None:
                self._matrix = framed.shape == matrix.shape and bool(np.all(framed == matrix))
        if self._classes is not None:
            self.score_mode = self._check_scores(batch, framed)

    def _check_scores(self, batch: Batch, predicted: np.ndarray) -> ScoreMode:
        """``derive`` if the arg-max of ``predict_proba`` on the warm-up batch is what
        ``predict`` answered; ``both`` if not; ``none`` if it has no usable probabilities."""
        X = self._as_matrix(batch) if self._matrix and self._numeric(batch) else self._frame(batch)
        try:
            proba = np.asarray(self.estimator.predict_proba(X))
        except Exception as exc:
            log.warning("%r: predict_proba failed at warm-up, no scores logged: %r", self, exc)
            return "none"
        assert self._classes is not None
        if proba.ndim != 2 or proba.shape != (len(predicted), len(self._classes)):
            log.warning(
                "%r: predict_proba gave shape %s for %d classes, no scores logged",
                self,
                proba.shape,
                len(self._classes),
            )
            return "none"
        derived = self._classes[proba.argmax(axis=1)]
        same = derived.shape == predicted.shape and bool(np.all(derived == predicted))
        return "derive" if same else "both"

    def _scores(self, proba: np.ndarray) -> dict[str, np.ndarray]:
        if len(self._score_names) == 1:  # binary: the positive class's probability
            return {self._score_names[0]: proba[:, 1]}
        return {name: proba[:, j] for j, name in enumerate(self._score_names)}

    async def close(self) -> None:
        """Finish what is queued, then release the model."""
        await self.batcher.close()
        self.estimator = None
        self._sink = self._on_call = None
        if self._enrich is not None:
            self._enrich.close()
            self._enrich = None

    def _numeric(self, batch: Batch) -> bool:
        names = self.input_names
        return bool(names) and all(
            n in batch.columns and batch.columns[n].dtype.kind in "iuf" for n in names
        )

    def _as_matrix(self, batch: Batch) -> np.ndarray:
        return np.column_stack([batch.columns[n] for n in self.input_names]).astype(
            np.float64, copy=False
        )

    def _frame(self, batch: Batch) -> Any:
        import pandas as pd

        if self._index is None:
            # Built once: an index of Python strings (not Arrow ones) is what scikit-learn
            # reads the names from fastest.
            self._index = pd.Index(self.input_names, dtype=object)
        if self.input_names and all(n in batch.columns for n in self.input_names):
            names = self._index
        else:  # no signature, or an optional column left out
            given = [n for n in self.input_names or batch.columns if n in batch.columns]
            names = pd.Index(given, dtype=object)
        arrays = [batch.columns[n] for n in names]
        if arrays and all(a.dtype == np.float64 for a in arrays):
            # One block of floats: several times cheaper than a frame built column by column.
            return pd.DataFrame(np.column_stack(arrays), columns=names, copy=False)
        return pd.DataFrame(dict(zip(names, arrays, strict=True)), columns=names)

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
        looked_up = self._enrich.features if self._enrich is not None else {}
        sink.submit(
            LogChunk(
                model=self.model,
                model_version=self.version,
                role=self.role,
                ids=ids,
                ts_ms=(arrivals * 1000).astype(np.int64),
                latency_s=now - arrivals,
                inputs={k: v for k, v in batch.columns.items() if k not in looked_up},
                outputs=outputs,
                features={k: v for k, v in batch.columns.items() if k in looked_up},
            )
        )


def _score_columns(estimator: Any, wanted: bool) -> tuple[np.ndarray | None, list[str]]:
    """The classes of a classifier whose probabilities are to be logged, and the names of
    their output columns (``score`` for two classes, else ``proba_<class>``); ``(None,
    [])`` if none are wanted or it has no ``predict_proba`` and ``classes_``."""
    classes = getattr(estimator, "classes_", None)
    if not wanted or not hasattr(estimator, "predict_proba") or classes is None:
        return None, []
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(classes) < 2:
        return None, []
    if len(classes) == 2:
        return classes, ["score"]
    return classes, [f"proba_{c}" for c in classes.tolist()]


def _quiet_feature_names() -> None:
    """Silence scikit-learn's warning that a matrix has no column names, in this process:
    the matrix path is taken only for a model whose answers on it match its frame's."""
    import warnings

    warnings.filterwarnings(
        "ignore", message="X does not have valid feature names", category=UserWarning
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
