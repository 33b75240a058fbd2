"""The server's Prometheus metrics (names and labels as CONVENTIONS: ``conveyor_`` prefix,
base units, bounded labels, never ids).

With several workers, prometheus_client's multiprocess mode: ``conveyor serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start, each scrape
aggregates every worker's files into a fresh registry, and a worker's files are marked dead
when it exits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
_SCORES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServerMetrics:
    """The metrics of one server process."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self,
        deployment: str,
        latest_window: Callable[[], Mapping[str, Any] | None] | None = None,
        latest_performance: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.deployment = deployment
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Read at scrape time from the store (not per process): one collector serves both
        # the single-process registry and each multiprocess scrape's fresh one.
        self.monitor = (
            MonitorCollector(deployment, latest_window, latest_performance)
            if latest_window or latest_performance
            else None
        )
        if self.monitor is not None:
            r.register(self.monitor)
        self.requests = Counter(
            "conveyor_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "conveyor_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.predictions = Counter(
            "conveyor_predictions",
            "Rows predicted, by model version and role (serve, canary, shadow).",
            ["deployment", "model", "model_version", "role"],
            registry=r,
        )
        self.predict_seconds = Histogram(
            "conveyor_prediction_duration_seconds",
            "Time of one model call (a micro-batch).",
            ["deployment", "model_version"],
            buckets=_LATENCY,
            registry=r,
        )
        self.batch_rows = Histogram(
            "conveyor_prediction_batch_rows",
            "Rows per model call (concurrent requests batched together).",
            ["deployment"],
            buckets=_ROWS,
            registry=r,
        )
        self.scores = Histogram(
            "conveyor_prediction_score",
            "Numeric predictions (a class label's index or a regression value).",
            ["deployment", "model_version"],
            buckets=_SCORES,
            registry=r,
        )
        self.model_info = Gauge(
            "conveyor_model_info",
            "1 for the model version a server process answers with.",
            ["deployment", "model", "model_version", "alias", "role"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.log_queue = Gauge(
            "conveyor_prediction_log_queue_rows",
            "Prediction log rows waiting to be written.",
            ["deployment"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.log_dropped = Counter(
            "conveyor_prediction_log_dropped",
            "Prediction log rows dropped (queue full, disk full, store down); never requests.",
            ["deployment"],
            registry=r,
        )
        self.swaps = Counter(
            "conveyor_model_swaps",
            "Version switches of this server, by outcome (swapped, failed).",
            ["deployment", "outcome"],
            registry=r,
        )
        self._dropped_seen = 0

    def observe_call(
        self, model: str, version: int, role: str, rows: int, seconds: float, prediction: np.ndarray
    ) -> None:
        v = str(version)
        self.predictions.labels(self.deployment, model, v, role).inc(rows)
        self.predict_seconds.labels(self.deployment, v).observe(seconds)
        self.batch_rows.labels(self.deployment).observe(rows)
        if prediction.dtype.kind in "biuf" and prediction.ndim == 1:
            histogram = self.scores.labels(self.deployment, v)
            for value in prediction[:64].tolist():  # a sample per call bounds the cost
                histogram.observe(value)

    def serving(self, model: str, alias: str, version: int, role: str, *, old: int | None) -> None:
        if old is not None:
            self.model_info.labels(self.deployment, model, str(old), alias, role).set(0)
        self.model_info.labels(self.deployment, model, str(version), alias, role).set(1)

    def log_state(self, queued: int, dropped: int) -> None:
        self.log_queue.labels(self.deployment).set(queued)
        if dropped > self._dropped_seen:
            self.log_dropped.labels(self.deployment).inc(dropped - self._dropped_seen)
            self._dropped_seen = dropped

    def render(self) -> bytes:
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            if self.monitor is not None:
                registry.register(self.monitor)
            return generate_latest(registry)
        return generate_latest(self.registry)


class MonitorCollector(Collector):
    """The deployment's latest monitor windows, read from the store at each scrape.

    Drift: ``conveyor_drift_detected{level}`` is 1 from the window that raised an alarm at
    that level until the level's cooldown ends (a Prometheus rule can alert on it);
    ``conveyor_feature_drift_score`` and ``conveyor_feature_drift_p_value`` give each
    column's statistic and calibrated p-value.

    Live performance: ``conveyor_live_accuracy_ratio`` (a regressor:
    ``conveyor_live_rmse`` and ``conveyor_live_mae``, in the label's unit) from the newest
    window with enough labels; ``conveyor_label_coverage_ratio`` of the newest window;
    ``conveyor_estimated_accuracy_ratio`` from the newest window with an estimate (an
    estimate, assuming P(y|x) unchanged: alert on the realised figure, not on it).

    ``conveyor_monitor_window_end_seconds{monitor}`` says how fresh each monitor's figures
    are.
    """

    def __init__(
        self,
        deployment: str,
        latest_window: Callable[[], Mapping[str, Any] | None] | None,
        latest_performance: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.deployment = deployment
        self._latest = latest_window
        self._performance = latest_performance

    def describe(self) -> Iterator[Any]:
        return iter(())  # figures depend on the store: nothing to describe up front

    def _read(self) -> tuple[Mapping[str, Any] | None, Sequence[Mapping[str, Any]]]:
        drift = self._latest() if self._latest is not None else None
        performance = self._performance() if self._performance is not None else []
        return drift, performance

    def collect(self) -> Iterator[Any]:
        try:
            window, performance = self._read()
        except Exception as exc:  # a scrape must answer even with the store down
            log.warning("monitor figures unavailable for /metrics: %s", exc)
            return
        d = self.deployment
        newest = [w for w in (window, performance[-1] if performance else None) if w]
        if newest:
            end = GaugeMetricFamily(
                "conveyor_monitor_window_end_seconds",
                "End of the latest computed monitor window (Unix seconds).",
                labels=["deployment", "monitor"],
            )
            for w in newest:
                end.add_metric([d, str(w["monitor"])], w["end_ms"] / 1000)
            yield end
        if window:
            yield from self._drift(window.get("figures") or {})
        if performance:
            yield from self._live(performance)

    def _drift(self, figures: Mapping[str, Any]) -> Iterator[Any]:
        d = self.deployment
        levels = figures.get("levels") or {}
        if levels:
            detected = GaugeMetricFamily(
                "conveyor_drift_detected",
                "1 from a drift alarm at this level until its cooldown ends.",
                labels=["deployment", "level"],
            )
            for name, level in levels.items():
                on = bool(level.get("alarm")) or int(level.get("cooling", 0)) > 0
                detected.add_metric([d, name], 1.0 if on else 0.0)
            yield detected
        columns = figures.get("columns") or []
        if columns:
            score = GaugeMetricFamily(
                "conveyor_feature_drift_score",
                "Drift statistic of each column in the latest window (method in the label).",
                labels=["deployment", "feature", "method"],
            )
            p_value = GaugeMetricFamily(
                "conveyor_feature_drift_p_value",
                "Each column's p-value among windows resampled from the reference.",
                labels=["deployment", "feature"],
            )
            for column in columns:
                value = float("inf") if column.get("infinite") else column["statistic"]
                if value is not None:
                    score.add_metric([d, column["column"], column["method"]], value)
                p_value.add_metric([d, column["column"]], column["p_value"])
            yield score
            yield p_value
            share = GaugeMetricFamily(
                "conveyor_drift_share_flagged",
                "Share of columns flagged at the warning level in the latest window.",
                labels=["deployment"],
            )
            share.add_metric([d], figures.get("share_flagged", 0.0))
            yield share

    def _live(self, windows: Sequence[Mapping[str, Any]]) -> Iterator[Any]:
        d = self.deployment
        coverage = (windows[-1].get("figures") or {}).get("coverage")
        if coverage is not None:
            family = GaugeMetricFamily(
                "conveyor_label_coverage_ratio",
                "Share of the newest performance window's predictions labelled so far.",
                labels=["deployment"],
            )
            family.add_metric([d], coverage)
            yield family
        measured = next((w for w in reversed(windows) if w.get("status") == "ok"), None)
        if measured is not None:
            metrics = (measured.get("figures") or {}).get("metrics") or {}
            for name, key, text in (
                ("conveyor_live_accuracy_ratio", "accuracy", "Accuracy on the labelled"),
                ("conveyor_live_rmse", "rmse", "Root mean squared error on the labelled"),
                ("conveyor_live_mae", "mae", "Mean absolute error on the labelled"),
            ):
                if key in metrics:
                    family = GaugeMetricFamily(
                        name,
                        f"{text} predictions of the newest window with enough labels.",
                        labels=["deployment"],
                    )
                    family.add_metric([d], metrics[key]["value"])
                    yield family
        estimated = next(
            (w for w in reversed(windows) if (w.get("figures") or {}).get("estimate")), None
        )
        if estimated is not None:
            value = estimated["figures"]["estimate"]["metrics"].get("accuracy")
            if value is not None:
                family = GaugeMetricFamily(
                    "conveyor_estimated_accuracy_ratio",
                    "Estimated accuracy of the newest window with an estimate (CBPE: assumes "
                    "P(y|x) unchanged; never an alarm on its own).",
                    labels=["deployment"],
                )
                family.add_metric([d], value)
                yield family
