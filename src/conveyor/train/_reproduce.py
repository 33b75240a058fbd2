"""``reproduce``: run again the pipeline that made a model version, with what it used, and
say whether the same figures come out.

The recorded run gives the pipeline, its params and the code version; the snapshots its
steps read are pinned (``load_dataset`` reads the recorded version, not the latest), so
the same code on the same data with the same seed must give the same metrics. What can
still differ is reported, not hidden: a snapshot the pipeline takes itself from a source
that has changed since, a different commit or uncommitted edits, and any metric that moved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import ConflictError, NotFoundError
from ._fit import REPRODUCES_TAG

if TYPE_CHECKING:
    from ..workspace import Workspace

# Metrics that measure the machine, not the model: never compared.
_TIMING_SUFFIXES = ("_seconds", "_ms")


@dataclass(frozen=True)
class Comparison:
    """One figure, as recorded and as reproduced."""

    name: str
    recorded: Any
    reproduced: Any
    same: bool


@dataclass(frozen=True)
class Reproduction:
    """What a reproduction found.

    Attributes:
        model: The model's name.
        version: The version reproduced.
        run_id: The run that trained it.
        reproduced_run_id: The run made now (None if it could not start).
        reproduced_version: The version that run registered (None if it failed or
            registered none).
        matched: Every compared metric is equal (within ``tolerance``), and the run read
            the same data.
        metrics: Each compared metric.
        datasets: Each snapshot the original run read or wrote, against the reproduction's.
        code: The recorded code version and the one that ran now.
        reasons: Why it did not match, one sentence each.
    """

    model: str
    version: int
    run_id: int
    reproduced_run_id: int | None
    reproduced_version: int | None
    matched: bool
    metrics: list[Comparison] = field(default_factory=list)
    datasets: list[Comparison] = field(default_factory=list)
    code: Comparison | None = None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _same(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=tolerance)
    return bool(a == b)


def _compared_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not k.endswith(_TIMING_SUFFIXES)}


def _figures(ws: Workspace, name: str, version: int) -> dict[str, Any]:
    """The version's own metrics and those of its latest evaluation (prefixed ``eval.``)."""
    from .. import registry

    model = registry.get_model(ws, f"models:/{name}/{version}")
    figures = dict(_compared_metrics(dict(model.metrics)))
    evaluations = registry.list_evaluations(ws, name, version)
    if evaluations:
        report = evaluations[-1].report
        for key, value in dict(report.get("metrics", {})).items():
            figures[f"eval.{key}"] = value
    return figures


def _code_text(code: dict[str, Any]) -> str:
    sha = code.get("git_sha")
    if not sha:
        return "not a git checkout"
    return f"{sha[:12]}{' with uncommitted changes' if code.get('dirty') else ''}"


def reproduce(
    ws: Workspace, uri: str, *, tolerance: float = 0.0, allow_code_change: bool = False
) -> Reproduction:
    """Re-run the pipeline run that trained ``uri`` and compare what comes out.

    The reproduction is a new run tagged ``conveyor.reproduces``; the version it registers
    (through :func:`fit`) is tagged ``reproduction_of`` and is an ordinary version; the
    run's ``promote_model`` steps move no alias.

    Args:
        uri: ``models:/name/3``, ``name/3`` or ``models:/name@alias``.
        tolerance: Relative and absolute tolerance of a metric comparison (0: equal).
        allow_code_change: Run even if the project's code is not the recorded version.

    Raises:
        NotFoundError: the version has no recorded run (registered outside a pipeline).
        ConflictError: the code differs from the recorded version and not
            ``allow_code_change`` (the message says how it differs).
    """
    from .. import pipelines, registry
    from ..data import DATASET_PINS_TAG
    from ..pipelines._code import code_version

    model = registry.get_model(ws, uri)
    run_id = model.run_id
    if run_id is None:
        raise NotFoundError(
            f"{model.uri} was registered outside a pipeline run, so there is no recorded "
            "run to repeat.",
            hint="Only versions trained by a pipeline (conveyor run ...) can be reproduced.",
        )
    original = pipelines.describe_run(ws, int(run_id))
    recorded_code = dict(original.run.code_version)
    current_code = code_version(ws.config.root)
    same_code = bool(recorded_code.get("git_sha")) and all(
        recorded_code.get(k) == current_code.get(k) for k in ("git_sha", "dirty", "diff_sha256")
    )
    code = Comparison("code", _code_text(recorded_code), _code_text(current_code), same_code)
    if not same_code and not allow_code_change:
        raise ConflictError(
            f"{model.uri} was trained by code {code.recorded}; the project is now at "
            f"{code.reproduced}. A reproduction on other code proves nothing.",
            hint=f"Check out {recorded_code.get('git_sha') or 'the recorded code'} and run "
            "again, or pass --allow-code-change to compare anyway.",
        )
    read = {u.dataset: u for u in original.datasets if u.direction == "read"}
    tags = {
        REPRODUCES_TAG: model.uri,
        DATASET_PINS_TAG: {name: use.version for name, use in read.items()},
    }
    result = pipelines.run_pipeline(
        ws, original.run.pipeline, dict(original.run.params), cache=False, tags=tags
    )
    reasons: list[str] = [] if same_code else [f"the code differs ({code.reproduced})"]
    again = pipelines.describe_run(ws, result.run.id)
    datasets = _compare_datasets(original.datasets, again.datasets, reasons)
    if result.run.status != "succeeded":
        reasons.append(f"the reproduction run {result.run.id} {result.run.status}")
        return Reproduction(
            model.name, model.version, int(run_id), result.run.id, None, False,
            datasets=datasets, code=code, reasons=reasons,
        )  # fmt: skip
    made = [v for v in registry.list_versions(ws, model.name) if v.run_id == result.run.id]
    if not made:
        reasons.append(
            f"the reproduction run {result.run.id} registered no version of {model.name!r}"
        )
        return Reproduction(
            model.name, model.version, int(run_id), result.run.id, None, False,
            datasets=datasets, code=code, reasons=reasons,
        )  # fmt: skip
    new_version = made[-1].version
    before = _figures(ws, model.name, model.version)
    after = _figures(ws, model.name, new_version)
    metrics = [
        Comparison(
            key, before.get(key), after.get(key), _same(before.get(key), after.get(key), tolerance)
        )
        for key in sorted(set(before) | set(after))
    ]
    for m in metrics:
        if not m.same:
            reasons.append(f"{m.name} was {m.recorded}, now {m.reproduced}")
    return Reproduction(
        model=model.name,
        version=model.version,
        run_id=int(run_id),
        reproduced_run_id=result.run.id,
        reproduced_version=new_version,
        matched=not reasons,
        metrics=metrics,
        datasets=datasets,
        code=code,
        reasons=reasons,
    )


def _compare_datasets(before: list[Any], after: list[Any], reasons: list[str]) -> list[Comparison]:
    def key(use: Any) -> tuple[str, str]:
        return use.dataset, use.direction

    old = {key(u): u for u in before}
    new = {key(u): u for u in after}
    compared = []
    for name, direction in sorted(set(old) | set(new)):
        a, b = old.get((name, direction)), new.get((name, direction))
        text_a = f"{name}/{a.version} ({a.digest[:12]})" if a else None
        text_b = f"{name}/{b.version} ({b.digest[:12]})" if b else None
        same = a is not None and b is not None and a.digest == b.digest
        compared.append(Comparison(f"{direction} {name}", text_a, text_b, same))
        if not same:
            reasons.append(
                f"the data changed: {direction} {text_a or 'nothing'}, now {text_b or 'nothing'}"
            )
    return compared
