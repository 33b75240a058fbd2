"""Validation services: infer a project schema from a snapshot, validate data against it,
check training/serving skew against a reference snapshot's statistics, and record it all.

Every validation leaves a JSON report artifact and an event
(``io.conveyor.validation.passed`` or ``.failed``), so a failed check is visible in the
event log and the run that made it, not only in a terminal.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    VALIDATION_FAILED,
    VALIDATION_PASSED,
    InvalidValueError,
    NotFoundError,
)
from ..pipelines import current_step_context
from ._dataset import Dataset

if TYPE_CHECKING:
    from ..workspace import Workspace
    from ._profile import TableProfile
    from ._report import ValidationReport
    from ._schema import DataSchema

SCHEMA_DIR = Path("schemas")
# Drift thresholds of the skew check: PSI above 0.2 is the usual "significant shift" (0.1
# slight, 0.25 major in credit-risk practice); Jensen-Shannon distance above 0.1 for
# categories. Both are overridable per call.
PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1


def schema_path(ws: Workspace, dataset: str) -> Path:
    """Where the project keeps ``dataset``'s schema: ``schemas/<dataset>.yaml``."""
    return ws.config.root / SCHEMA_DIR / f"{dataset}.yaml"


def infer_dataset_schema(
    ws: Workspace, name: str, version: int | None = None, *, path: str | Path | None = None
) -> Path:
    """Infer a schema from snapshot ``version`` of ``name`` (the latest if None) and save it
    as an editable YAML file (default ``schemas/<name>.yaml``); return its path.

    Raises:
        NotFoundError: no such dataset or version.
    """
    from ._infer import infer_schema
    from ._schema_file import save_schema

    dataset = _bound(ws, name, version)
    schema = infer_schema(dataset.iter_batches(), dataset=name)
    target = Path(path) if path is not None else schema_path(ws, name)
    return save_schema(
        schema,
        target,
        header_comment=f"conveyor data schema for {name!r}, inferred from {dataset.uri}; "
        "edit freely.",
    )


@dataclass(frozen=True)
class ColumnSkew:
    """One column's shift between the reference statistics and the data checked."""

    column: str
    measure: str  # "psi" or "jensen_shannon"
    value: float
    threshold: float

    @property
    def moved(self) -> bool:
        return self.value > self.threshold


@dataclass(frozen=True)
class SkewReport:
    """Per-column drift of the data checked against a reference snapshot's statistics.

    Attributes:
        reference: The reference snapshot (``datasets:/name/version``).
        columns: Every column in both, with its measure (PSI for numbers, Jensen-Shannon
            distance for categories) and threshold.
        missing: Reference columns the data lacks.
    """

    reference: str
    columns: tuple[ColumnSkew, ...]
    missing: tuple[str, ...] = ()

    @property
    def moved(self) -> tuple[ColumnSkew, ...]:
        """The columns past their threshold."""
        return tuple(c for c in self.columns if c.moved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "moved": [c.column for c in self.moved],
            "missing": list(self.missing),
            "columns": [
                {
                    "column": c.column,
                    "measure": c.measure,
                    "value": c.value,
                    "threshold": c.threshold,
                    "moved": c.moved,
                }
                for c in self.columns
            ],
        }


def check_skew(
    reference: TableProfile,
    current: TableProfile,
    *,
    reference_name: str = "",
    psi_threshold: float = PSI_THRESHOLD,
    js_threshold: float = JS_THRESHOLD,
) -> SkewReport:
    """Compare ``current``'s statistics with ``reference``'s, column by column."""
    from ._compare import compare_profiles

    for label, value in (("psi_threshold", psi_threshold), ("js_threshold", js_threshold)):
        if not isinstance(value, int | float) or value <= 0:
            raise InvalidValueError(
                f"{label} must be a positive number. Got {value!r}.",
                hint=f"The defaults are psi_threshold={PSI_THRESHOLD}, "
                f"js_threshold={JS_THRESHOLD}.",
            )
    diff = compare_profiles(reference, current)
    columns = []
    for column in diff.columns:
        if not column.comparable:
            continue
        if column.kind == "numeric" and column.psi is not None:
            columns.append(ColumnSkew(column.name, "psi", column.psi, psi_threshold))
        elif column.jensen_shannon is not None:
            columns.append(
                ColumnSkew(column.name, "jensen_shannon", column.jensen_shannon, js_threshold)
            )
    return SkewReport(reference_name, tuple(columns), missing=tuple(diff.removed))


@dataclass(frozen=True)
class DataCheck:
    """What :func:`validate` found: the schema report, and the skew if a reference was given.

    Attributes:
        report: Every broken schema rule, with severity, count and example rows.
        skew: Per-column drift against the reference, or None.
        artifact_id: The JSON report stored in the artifact store.
        schema_path: The schema file used, if any.
        source: What was checked.
        command_arg: What to type after ``conveyor data validate`` to check it again (a
            path or URL as given, shell-quoted), or None for data in memory.
    """

    report: ValidationReport
    skew: SkewReport | None = None
    artifact_id: int | None = None
    schema_path: str | None = None
    source: str = ""
    command_arg: str | None = None

    @property
    def passed(self) -> bool:
        """No ``error`` rule broken (skew alone never fails a check; it is reported)."""
        return self.report.passed

    def raise_for_errors(self) -> None:
        """Raise :class:`~conveyor.core.DataValidationError` if an ``error`` rule broke."""
        self.report.raise_for_errors(source=self.command_arg, schema_path=self.schema_path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "source": self.source,
            "schema": self.schema_path,
            "artifact_id": self.artifact_id,
            "report": self.report.to_dict(),
            "skew": None if self.skew is None else self.skew.to_dict(),
        }


def validate(
    ws: Workspace,
    data: Any,
    *,
    schema: str | Path | DataSchema | None = None,
    reference: str | None = None,
    psi_threshold: float = PSI_THRESHOLD,
    js_threshold: float = JS_THRESHOLD,
) -> DataCheck:
    """Validate ``data`` against a schema and, with ``reference``, check it for skew.

    Never raises for bad data: call :meth:`DataCheck.raise_for_errors` to halt (the
    :func:`validate_dataset` step does). The report is stored as an artifact and announced
    by an event either way.

    Args:
        data: A snapshot (a :class:`Dataset`, or a reference ``flights`` / ``flights/3``),
            or any source :func:`snapshot` takes (a path, a URL, a DataFrame ...).
        schema: A schema file, a :class:`DataSchema`, or None for the project's
            ``schemas/<dataset>.yaml`` (a snapshot's dataset).
        reference: A snapshot (``flights/3``) whose statistics the data is compared with.
        psi_threshold, js_threshold: Skew past which a column counts as moved.

    Raises:
        NotFoundError: no schema given and the project has none for the dataset.
        InvalidValueError: the schema file is invalid.
        DataSourceError: the data cannot be read.
    """
    from ._profiler import profile_table
    from ._schema import DataSchema
    from ._schema_file import load_schema
    from ._validate import validate_data

    batches, label, dataset_name = _batches(ws, data)
    # What to type after ``conveyor data validate`` to see this report again.
    command_arg = shlex.quote(str(data)) if isinstance(data, str | os.PathLike) else None
    path: Path | None = None
    if isinstance(schema, DataSchema):
        loaded = schema
    else:
        if schema is None:
            if dataset_name is None:
                raise NotFoundError(
                    f"No schema given for {label}, and it is not a dataset whose project "
                    "schema could be used.",
                    hint="Pass --schema FILE, or infer one with: conveyor data schema NAME",
                )
            path = schema_path(ws, dataset_name)
            if not path.is_file():
                raise NotFoundError(
                    f"Dataset {dataset_name!r} has no schema at {_rel(ws, path)}.",
                    hint=f"Infer one from a snapshot with: conveyor data schema {dataset_name}",
                    dataset=dataset_name,
                )
        else:
            path = Path(schema)
        loaded = load_schema(path)

    skew: SkewReport | None = None
    if reference is None:
        report = validate_data(batches, loaded)
    else:
        from ._snapshots import dataset_profile, parse_ref

        ref_name, ref_version = parse_ref(reference)
        ref_profile = dataset_profile(ws, ref_name, ref_version)
        # One pass over the data feeds both the validator and the statistics.
        profiles: list[Any] = []
        report = validate_data(_tee(batches, profiles), loaded)
        current = profile_table(profiles) if profiles else None
        if current is not None:
            skew = check_skew(
                ref_profile,
                current,
                reference_name=f"datasets:/{ref_name}/{ref_version or 'latest'}",
                psi_threshold=psi_threshold,
                js_threshold=js_threshold,
            )
    schema_text = None if path is None else str(_rel(ws, path))
    check = DataCheck(
        report=report,
        skew=skew,
        schema_path=schema_text,
        source=label,
        command_arg=command_arg,
    )
    return _record(ws, check, dataset_name)


def _tee(batches: Any, sink: list[Any]) -> Any:
    for batch in batches:
        sink.append(batch)
        yield batch


def _batches(ws: Workspace, data: Any) -> tuple[Any, str, str | None]:
    """(record batches, a label for messages, the dataset's name if it is one)."""
    if isinstance(data, Dataset):
        bound = data if data._ws is not None else data.bind(ws)
        return bound.iter_batches(), bound.uri, data.name
    if isinstance(data, str) and _looks_like_ref(ws, data):
        from ._snapshots import parse_ref

        name, version = parse_ref(data)
        dataset = _bound(ws, name, version)
        return dataset.iter_batches(), data, name
    from ._sources import make_source

    source = make_source(data)
    return source.iter_batches(), source.describe(), None


def _looks_like_ref(ws: Workspace, text: str) -> bool:
    """A dataset reference, not a path: no such file, and the name is a dataset's."""
    if Path(text).exists() or "://" in text.removeprefix("datasets:/"):
        return False
    from ._snapshots import parse_ref

    try:
        name, _ = parse_ref(text)
    except InvalidValueError:
        return False
    return any(d.name == name for d in st.list_datasets(ws.store))


def _bound(ws: Workspace, name: str, version: int | None) -> Dataset:
    from ._snapshots import get_dataset

    return get_dataset(ws, name, version)


def _rel(ws: Workspace, path: Path) -> Path:
    try:
        return path.resolve().relative_to(ws.config.root.resolve())
    except ValueError:
        return path


def _record(ws: Workspace, check: DataCheck, dataset: str | None) -> DataCheck:
    """Store the report as an artifact and announce it; return the check with its id."""
    from dataclasses import replace

    body = json.dumps(check.to_dict(), sort_keys=True, allow_nan=False).encode()
    blob = ws.artifacts.put_bytes(body)
    ctx = current_step_context()
    artifact = st.record_artifact(
        ws.store,
        blob.digest,
        blob.size,
        name=f"validation/{dataset or 'data'}.json",
        type_name="conveyor.data.DataCheck",
        media_type="application/json",
        meta={"passed": check.passed, "dataset": dataset},
        producer_step_run_id=ctx.step_run_id if ctx else None,
    )
    report = check.report
    st.emit_event(
        ws.store,
        VALIDATION_PASSED if check.passed else VALIDATION_FAILED,
        subject=f"datasets/{dataset}" if dataset else "data",
        data={
            "dataset": dataset,
            "source": check.source,
            "rows": report.n_rows,
            "errors": [_brief(v) for v in report.errors],
            "warnings": [_brief(v) for v in report.warnings],
            "moved": [] if check.skew is None else [c.column for c in check.skew.moved],
            "artifact_id": artifact.id,
        },
    )
    return replace(check, artifact_id=artifact.id)


def _brief(violation: Any) -> Mapping[str, Any]:
    return {"column": violation.column, "rule": violation.rule, "n_failed": violation.n_failed}
