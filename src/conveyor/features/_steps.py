"""Steps that bring features into a pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..pipelines import get_step_context, step

if TYPE_CHECKING:
    import pyarrow as pa


@step(cache=False)
def historical_features(
    entities: Any,
    features: list[str],
    timestamp: str = "event_timestamp",
    full_names: bool = False,
) -> pa.Table:
    """Point-in-time correct training data as a step: ``entities`` (a Dataset, a
    DataFrame or a pyarrow Table) with each feature's value as of each row's time.

    Never cached: the views' sources may have new rows. The run records the views (and the
    snapshots) it read.

    Example:
        >>> from conveyor import pipeline
        >>> from conveyor.data import load_dataset
        >>> from conveyor.features import historical_features
        >>> @pipeline
        ... def train_set():
        ...     flights = load_dataset("flights")
        ...     rows = historical_features(flights, ["weather:temp"], timestamp="time_hour")
    """
    from ._services import get_historical_features

    return get_historical_features(
        get_step_context().workspace,
        entities,
        features,
        timestamp=timestamp,
        full_names=full_names,
    )
