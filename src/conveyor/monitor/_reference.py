"""The reference a deployment's drift is measured against: the data its served version was
trained on (or the snapshot ``monitor.reference`` names), and that version's predictions
on it.

Which snapshot trained a version: the ``training_data`` param ``fit`` records
(``datasets:/flights/3``); else the one snapshot the training step read, from the run's
lineage. Anything else is ambiguous, and the error says to set ``monitor.reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import registry
from ..core import NotFoundError
from ..data import get_dataset, parse_ref

if TYPE_CHECKING:
    import pyarrow as pa

    from ..workspace import Workspace

# Reference rows the served version predicts on, for the prediction's own drift.
PREDICTED_ROWS = 20_000


@dataclass(frozen=True)
class ReferenceData:
    """A version's reference: where it came from, its rows (the model's input and
    enriched feature columns present in it, sampled to at most ``monitor.reference_rows``)
    and the version's outputs on the first rows (``outputs.prediction``)."""

    model: str
    version: int
    source: str
    rows: pa.Table
    outputs: pa.Table


def reference_source(ws: Workspace, model: str, version: int) -> str:
    """The snapshot URI the reference of ``models:/model/version`` is read from.

    Raises:
        NotFoundError: nothing says which snapshot trained it (the hint says how to name
            one).
    """
    configured = ws.config.monitor.reference
    if configured:
        name, number = parse_ref(configured)
        return f"datasets:/{name}/{number}" if number is not None else f"datasets:/{name}"
    uri = f"models:/{model}/{version}"
    handle = registry.get_model(ws, uri)
    trained_on = handle.params.get("training_data")
    if isinstance(trained_on, str) and trained_on.startswith("datasets:/"):
        return str(trained_on)
    story = registry.lineage(ws, uri)
    step = (story.get("step_run") or {}).get("name")
    read = {
        s["uri"] for s in story.get("snapshots", []) if s["direction"] == "in" and s["step"] == step
    }
    if len(read) == 1:
        return str(read.pop())
    found = ", ".join(sorted(read)) or "none"
    raise NotFoundError(
        f"Cannot tell which snapshot {uri} was trained on (snapshots its training step read: "
        f"{found}), so its drift has no reference.",
        hint='Name one in conveyor.toml: [monitor] reference = "datasets:/NAME/VERSION".',
        model=model,
        version=version,
    )


def load_reference(
    ws: Workspace, model: str, version: int, columns: list[str], *, seed: int = 0
) -> ReferenceData:
    """Read the reference of ``models:/model/version``: the ``columns`` it holds, sampled
    (seeded) to ``monitor.reference_rows``, and the version's predictions on it.

    Raises:
        NotFoundError: no reference can be named (see :func:`reference_source`), or the
            snapshot holds none of ``columns``.
    """
    import numpy as np
    import pyarrow as pa

    source = reference_source(ws, model, version)
    name, number = parse_ref(source)
    dataset = get_dataset(ws, name, number)
    table = dataset.to_arrow()
    present = [c for c in columns if c in table.column_names]
    if not present:
        raise NotFoundError(
            f"The reference {source} holds none of the model's columns "
            f"({', '.join(columns[:10])}).",
            hint='Name the right snapshot: [monitor] reference = "datasets:/NAME/VERSION".',
        )
    limit = ws.config.monitor.reference_rows
    if table.num_rows > limit:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(table.num_rows, size=limit, replace=False))
        table = table.take(pa.array(keep))
    rows = table.select(present)
    outputs = _predict(ws, model, version, table.slice(0, PREDICTED_ROWS))
    return ReferenceData(model, version, source, rows, outputs)


def _predict(ws: Workspace, model: str, version: int, table: pa.Table) -> pa.Table:
    """The version's ``outputs.prediction`` on ``table`` (an empty table if it cannot
    predict on these columns: the reference then has no prediction drift)."""
    import numpy as np
    import pyarrow as pa

    handle = registry.get_model(ws, f"models:/{model}/{version}")
    names = [c["name"] for c in handle.signature.get("inputs") or () if "name" in c]
    if not names or not all(n in table.column_names for n in names):
        return pa.table({})
    estimator: Any = registry.load_model(ws, handle.uri)
    frame = table.select(names).to_pandas()
    prediction = np.asarray(estimator.predict(frame))
    return pa.table({"outputs.prediction": pa.array(prediction)})
