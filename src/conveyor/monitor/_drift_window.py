"""One drift window against a version's reference: the statistics the monitor ranks, and
their null draws, over the inputs, the enriched features and the prediction.

Each column's method is fixed once per reference (``monitor.methods``, else Evidently's
choice for the reference's type and size), so a window's statistic and the null draws it
is ranked among are the same statistic. A larger score means more drift: the statistic
itself (KS D, chi-square, normed W1, PSI, Jensen-Shannon), and ``|z|`` for the Z-test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError, did_you_mean
from ._drift import detect_drift
from ._drift_null import null_statistics as column_null
from ._drift_reference import DriftReference, prepare_reference
from ._drift_stats import default_method

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa


# The most rows the null draws of a window are computed at: a draw costs its rows, and
# thousands of draws are needed. A bigger window's scores are brought to this size by how
# each statistic shrinks with the effective sample size n_eff = m * N / (m + N) under no
# drift: as n_eff ** -0.5 for KS, normed Wasserstein and Jensen-Shannon distance, as
# n_eff ** -1 for PSI; chi-square and |z| do not shrink.
CALIBRATION_ROWS = 1024
_SHRINK = {"ks": 0.5, "wasserstein": 0.5, "jensenshannon": 0.5, "psi": 1.0}


@dataclass(frozen=True)
class Prepared:
    """A version's reference columns (inputs and features; the prediction apart: it has
    fewer reference rows) and the method of each."""

    inputs: DriftReference
    outputs: DriftReference | None
    methods: dict[str, str]


@dataclass(frozen=True)
class Compared:
    """One window's figures per column (JSON-ready), and the scores in the same order."""

    figures: list[dict[str, Any]]
    scores: npt.NDArray[np.float64]
    share_drifted: float
    dataset_drift: bool

    @property
    def columns(self) -> list[str]:
        return [f["column"] for f in self.figures]


def prepare(rows: pa.Table, outputs: pa.Table, methods: Mapping[str, str]) -> Prepared:
    """Prepare the reference once per version.

    Raises:
        InvalidValueError: ``monitor.methods`` names a column the reference lacks, or a
            method that does not fit its column.
    """
    inputs = prepare_reference(rows)
    out = prepare_reference(outputs) if outputs.num_columns else None
    known = inputs.names + (out.names if out is not None else [])
    for column in methods:
        if column not in known:
            raise InvalidValueError(
                f"monitor.methods names column {column!r}, which the reference does not "
                f"hold.{did_you_mean(column, known)}",
                hint=f"Columns: {', '.join(known)}.",
            )
    chosen: dict[str, str] = {}
    for reference in (inputs, out):
        for name, ref in reference.columns.items() if reference is not None else ():
            chosen[name] = methods.get(name) or default_method(ref.kind, ref.n_values, ref.n_unique)
    return Prepared(inputs, out, chosen)


def column_names(prepared: Prepared) -> list[str]:
    return prepared.inputs.names + (prepared.outputs.names if prepared.outputs else [])


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _score(method: str | None, statistic: float | None) -> float:
    if statistic is None:
        return math.nan
    return abs(statistic) if method == "z" else float(statistic)


def compare(prepared: Prepared, window: pa.Table) -> Compared:
    """The window's drift per reference column (a column the window lacks is reported
    as missing, with a NaN score that never flags)."""
    import numpy as np

    reports = [detect_drift(prepared.inputs, window, methods=_only(prepared, prepared.inputs))]
    if prepared.outputs is not None:
        reports.append(
            detect_drift(prepared.outputs, window, methods=_only(prepared, prepared.outputs))
        )
    figures: list[dict[str, Any]] = []
    for report in reports:
        for c in report.columns:
            figures.append(
                {
                    "column": c.column,
                    "kind": c.kind,
                    "method": c.method or prepared.methods[c.column],
                    "status": c.status,
                    # JSON has no infinity (chi-square on a category only the window
                    # holds): the figure says so instead; its score stays infinite.
                    "statistic": c.statistic if _finite(c.statistic) else None,
                    "infinite": c.statistic is not None and math.isinf(c.statistic),
                    "textbook_p_value": c.p_value,
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                    "n_current": c.n_current,
                    "null_rate": c.null_rate,
                    "out_of_range_rate": c.out_of_range_rate,
                }
            )
    scores = np.array(
        [math.inf if f["infinite"] else _score(f["method"], f["statistic"]) for f in figures],
        dtype=np.float64,
    )
    tested = [f for f in figures if f["status"] == "tested"]
    share = sum(f["drifted"] for f in tested) / len(tested) if tested else 0.0
    return Compared(figures, scores, share, bool(tested) and share >= 0.5)


def rescaled(prepared: Prepared, compared: Compared, rows: int) -> npt.NDArray[np.float64]:
    """``compared``'s scores as they would be on windows of ``rows`` rows (see
    :data:`CALIBRATION_ROWS`), each column by its own current and reference counts."""

    scores = compared.scores.copy()
    references = {
        **prepared.inputs.columns,
        **(prepared.outputs.columns if prepared.outputs else {}),
    }
    for j, figure in enumerate(compared.figures):
        power = _SHRINK.get(figure["method"], 0.0)
        m, n = figure["n_current"], references[figure["column"]].n_values
        if not power or not m or rows >= n:
            continue
        now = m * n / (m + n)
        calibrated = rows * (n - rows) / n  # a draw of ``rows`` against the rest
        scores[j] *= (now / calibrated) ** power
    return scores


def _only(prepared: Prepared, reference: DriftReference) -> dict[str, str]:
    return {name: prepared.methods[name] for name in reference.names}


def null_statistics(prepared: Prepared, rows: int, draws: int, *, seed: int) -> np.ndarray:
    """``(draws, columns)``: each column's score on ``draws`` windows of ``rows`` rows
    drawn from its reference (compared with the rest of it). A column whose reference
    is too small for such windows gets NaN draws, which make its p-value 1: it is
    reported, never flagged."""
    import numpy as np

    matrix = np.full((draws, len(column_names(prepared))), np.nan)
    j = 0
    for reference in (prepared.inputs, prepared.outputs):
        if reference is None:
            continue
        for name, ref in reference.columns.items():
            method = prepared.methods[name]
            if 0 < rows < ref.n_values:
                null = column_null(ref, rows, draws, seed + j, method=method)
                values = null.statistics
                matrix[:, j] = np.abs(values) if method == "z" else values
            j += 1
    return matrix
