"""``/metrics``'s monitor figures, read at scrape time: live accuracy from the newest window
with enough labels, coverage of the newest window, the estimate from the newest window
that has one; a regressor's RMSE and MAE; nothing when the store cannot answer."""

from __future__ import annotations

import re
from typing import Any

from conveyor.serve.app._metrics import ServerMetrics


def window(end_s: int, status: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"monitor": "performance", "end_ms": end_s * 1000, "status": status, "figures": figures}


def gauges(metrics: ServerMetrics) -> dict[str, float]:
    text = metrics.render().decode()
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^(conveyor_\w+)\{deployment="churn"[^}]*\} (\S+)$', text, re.M)
    }


def test_live_figures_come_from_the_newest_window_that_has_them() -> None:
    def accuracy(value: float) -> dict[str, Any]:
        return {"accuracy": {"value": value}}

    estimate = {"metrics": {"accuracy": 0.81}}
    windows = [
        window(100, "ok", {"coverage": 0.9, "metrics": accuracy(0.7), "estimate": estimate}),
        window(200, "ok", {"coverage": 0.6, "metrics": accuracy(0.75), "estimate": None}),
        window(300, "insufficient", {"coverage": 0.05, "metrics": {}, "estimate": None}),
    ]
    found = gauges(ServerMetrics("churn", lambda: None, lambda: windows))
    assert found["conveyor_live_accuracy_ratio"] == 0.75
    assert found["conveyor_label_coverage_ratio"] == 0.05
    assert found["conveyor_estimated_accuracy_ratio"] == 0.81
    assert found["conveyor_monitor_window_end_seconds"] == 300


def test_a_regressor_has_its_errors_and_no_accuracy() -> None:
    metrics = {"rmse": {"value": 2.5}, "mae": {"value": 1.5}}
    windows = [window(100, "ok", {"coverage": 1.0, "metrics": metrics})]
    found = gauges(ServerMetrics("churn", lambda: None, lambda: windows))
    assert (found["conveyor_live_rmse"], found["conveyor_live_mae"]) == (2.5, 1.5)
    assert "conveyor_live_accuracy_ratio" not in found
    assert "conveyor_estimated_accuracy_ratio" not in found


def test_both_monitors_freshness_in_one_family_and_a_scrape_survives_the_store() -> None:
    drift = {"monitor": "drift", "end_ms": 50_000, "figures": {}}
    perf = [window(60, "insufficient", {"coverage": 0.0, "metrics": {}})]
    text = ServerMetrics("churn", lambda: drift, lambda: perf).render().decode()
    assert text.count("# TYPE conveyor_monitor_window_end_seconds gauge") == 1
    assert 'conveyor_monitor_window_end_seconds{deployment="churn",monitor="drift"} 50.0' in text
    assert 'monitor="performance"} 60.0' in text

    def down() -> list[dict[str, Any]]:
        raise ConnectionError("store down")

    text = ServerMetrics("churn", lambda: None, down).render().decode()
    assert "conveyor_live" not in text and "conveyor_http_requests" in text
