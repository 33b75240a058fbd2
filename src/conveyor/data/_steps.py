"""Steps that bring datasets into a pipeline."""

from __future__ import annotations

from ..pipelines import get_step_context, step
from ._dataset import Dataset


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

    return get_dataset(get_step_context().workspace, name, version)
