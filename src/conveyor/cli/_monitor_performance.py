"""How ``conveyor monitor`` prints live performance: the realised figures with their
intervals, the label coverage and latency, and the estimate, always labelled as one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._output import out, seconds, table

if TYPE_CHECKING:
    from ..monitor import MonitorWindow

# The figure a window's row shows, by task.
_HEADLINE = {"classification": "accuracy", "regression": "rmse"}


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _figure(figure: Mapping[str, Any] | None) -> str:
    if not figure:
        return "-"
    return f"{figure['value']:.3f} [{figure['lower']:.3f}, {figure['upper']:.3f}]"


def _estimate(figures: Mapping[str, Any], metric: str) -> str:
    estimate = figures.get("estimate")
    if not estimate:
        return "-"
    value = (estimate.get("metrics") or {}).get(metric)
    if value is None:
        return "-"
    spread = estimate.get("accuracy_standard_error") if metric == "accuracy" else None
    return f"{value:.3f}" + (f" ±{1.96 * spread:.3f}" if spread else "")


def print_performance_run(windows: Sequence[MonitorWindow], alarms: Sequence[Any]) -> None:
    """One line for the windows a run computed, one per decay alarm."""
    if not windows:
        out.print("Performance: no window has closed since the last run.")
        return
    final = sum(bool(w.figures.get("final")) for w in windows)
    labelled = sum(int(w.figures.get("n_labelled", 0)) for w in windows)
    ok = sum(w.status == "ok" for w in windows)
    out.print(
        f"Performance: computed {len(windows)} window(s) ({ok} with enough labels, "
        f"{final} final), {labelled:,} labelled predictions."
    )
    for alarm in alarms:
        what = "accuracy" if alarm["stream"] == "correct" else "mean absolute error"
        out.print(
            f"[bold red]decay[/] of {alarm['model']}/{alarm['version']}: {what} "
            f"{alarm['mean_before']:.3f} -> {alarm['mean_after']:.3f}, found at labelled "
            f"prediction {alarm['n_labelled']:,} (window {alarm['window']})"
        )


def print_performance(deployment: str, windows: Sequence[MonitorWindow]) -> None:
    """The performance windows, oldest first, and the newest measured window's figures."""
    from ..monitor import ESTIMATE_LABEL

    if not windows:
        return
    task = next((w.figures.get("task") for w in windows if w.figures.get("task")), None)
    metric = _HEADLINE.get(str(task), "accuracy")
    rows = []
    for w in windows:
        f = w.figures
        latency = f.get("latency_seconds") or {}
        rows.append(
            [
                _when(w.start_ms),
                f"{w.n_rows:,}",
                "-" if w.version is None else f"{w.model}/{w.version}",
                "-" if f.get("coverage") is None else f"{f['coverage']:.1%}",
                f"{f.get('n_labelled', 0):,}",
                seconds(latency.get("median")),
                _figure((f.get("metrics") or {}).get(metric))
                if w.status == "ok"
                else "[dim]insufficient labels[/]",
                _estimate(f, metric),
                "yes" if f.get("final") else "no",
            ]
        )
    table(
        [
            "window (UTC)",
            "rows",
            "version",
            "coverage",
            "labels",
            "latency p50",
            f"{metric} [95%]",
            f"{metric} {ESTIMATE_LABEL}",
            "final",
        ],
        rows,
        title=f"Live performance of {deployment}",
    )
    measured = next((w for w in reversed(windows) if w.status == "ok"), None)
    if measured is not None:
        metrics = measured.figures.get("metrics") or {}
        compared = (measured.figures.get("comparison") or {}).get("rows") or {}
        table(
            ["metric", "realised [95%]", "n", "estimate (same rows)"],
            (
                [
                    name,
                    _figure(figure),
                    f"{figure['n']:,}",
                    "-" if name not in compared else f"{compared[name]['estimate']:.3f}",
                ]
                for name, figure in metrics.items()
            ),
            title=f"Window {_when(measured.start_ms)}: {measured.figures.get('message', '')}",
        )
    newest = windows[-1].figures
    record = newest.get("estimate_error")
    if record and record.get("n_windows"):
        out.print(
            f"Estimate error over {record['n_windows']} window(s) ({record['metric']}): mean "
            f"absolute {record['mean_absolute_error']:.3f}, worst {record['worst_error']:+.3f}, "
            f"bias {record['mean_error']:+.3f}. An estimate never raises an alarm."
        )
    elif newest.get("estimate_reason"):
        out.print(f"[dim]No estimate: {newest['estimate_reason']}.[/]")
