"""Steps that bring datasets into a pipeline."""

from __future__ import annotations

from ..pipelines import get_step_context, step
from ._dataset import Dataset

# Run tag: {dataset name: snapshot version} that ``load_dataset`` reads instead of the latest.
DATASET_PINS_TAG = "conveyor.dataset_pins"


@step(cache=False)
def load_dataset(name: str, version: int | None = None) -> Dataset:
    """Hand on snapshot ``version`` of dataset ``name`` (the latest if None).

    How a pipeline says it trains on "the latest snapshot of flights": never cached, so
    every run resolves the latest again, and the run records the snapshot it got.

    Example:
        >>> from conveyor import pipeline
        >>> from conveyor.data import load_dataset
        >>> @pipeline
        ... def retrain(dataset: str = "flights"):
        ...     data = load_dataset(dataset)
    """
    from ._snapshots import get_dataset

    ctx = get_step_context()
    if version is None:
        # A reproduction of a model pins the snapshots its original run read.
        pinned = ctx.run_tags.get(DATASET_PINS_TAG, {})
        version = pinned.get(name) if isinstance(pinned, dict) else None
    return get_dataset(ctx.workspace, name, version)


@step(cache=False)
def validate_dataset(
    data: Dataset, schema: str | None = None, reference: str | None = None
) -> Dataset:
    """Validate ``data`` against its schema (``schemas/<dataset>.yaml`` by default) and
    hand it on; a broken ``error`` rule fails the step, so every step after it is skipped
    and nothing reaches the registry. Warnings and skew are recorded in the report.

    Example:
        >>> from conveyor import pipeline
        >>> from conveyor.data import load_dataset, validate_dataset
        >>> @pipeline
        ... def retrain(dataset: str = "flights"):
        ...     clean = validate_dataset(load_dataset(dataset))
    """
    from ._checks import validate

    check = validate(get_step_context().workspace, data, schema=schema, reference=reference)
    check.raise_for_errors()
    return data
