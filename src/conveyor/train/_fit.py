"""``fit``: train any scikit-learn-compatible estimator on a snapshot or a feature retrieval,
log what went in on the step run, and register the fitted model.

The estimator is whatever speaks ``fit``/``predict`` (a scikit-learn Pipeline with its
preprocessing, LightGBM's and XGBoost's scikit-learn classes). A retrain may continue from
a registered version instead of starting over (``continue_from``): ``partial_fit`` where the
model has it, LightGBM's ``init_model``, or ``warm_start`` with more estimators; the new
version records the one it grew from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import ConfigError, InvalidValueError, StepContextError, did_you_mean
from ..pipelines import current_step_context

if TYPE_CHECKING:
    import pandas as pd

    from ..registry import Model
    from ..workspace import Workspace

# Run tag of a reproduction: the URI of the version it repeats.
REPRODUCES_TAG = "conveyor.reproduces"


@dataclass(frozen=True)
class TrainingData:
    """The frame a model was fitted on, split into features and target.

    Attributes:
        features: Feature columns, in order.
        target: The target column.
        X: The feature frame.
        y: The target values.
        source: Where the rows came from (``datasets:/flights/3``, or ``frame``).
    """

    features: tuple[str, ...]
    target: str
    X: pd.DataFrame
    y: pd.Series
    source: str


def require_ml_extra() -> None:
    """Raise :class:`~conveyor.core.ConfigError` naming the install command if a library of
    the ``ml`` extra is missing."""
    import importlib.util

    missing = [m for m in ("sklearn", "pandas", "scipy") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"conveyor.train needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed.",
            hint="Install the ml extra with: pip install 'conveyor[ml]'",
        )


def resolve_workspace(ws: Workspace | None, what: str) -> Workspace:
    """``ws``, or the running step's workspace; a clear error outside both."""
    if ws is not None:
        return ws
    ctx = current_step_context()
    if ctx is None:
        raise StepContextError(
            f"{what} needs a project: pass ws=... or call it inside a running step.",
            hint="Open one with conveyor.workspace.Workspace.open('.').",
        )
    return ctx.workspace


def training_data(
    data: Any,
    *,
    target: str,
    features: Sequence[str] | None = None,
    ws: Workspace | None = None,
    what: str = "training",
) -> TrainingData:
    """Split ``data`` (a ``Dataset``, pandas DataFrame or pyarrow Table) into ``X`` and ``y``.

    Raises:
        InvalidValueError: ``target`` or a feature is not a column, the target has missing
            values, or there are no rows.
    """
    from ..data import Dataset

    require_ml_extra()
    import pandas as pd

    source = "frame"
    if isinstance(data, Dataset):
        source = data.uri
        frame = (data.bind(ws) if ws is not None and data._ws is None else data).to_pandas()
    elif isinstance(data, pd.DataFrame):
        frame = data
    elif type(data).__module__.startswith("pyarrow") and hasattr(data, "to_pandas"):
        frame = data.to_pandas()
    else:
        raise InvalidValueError(
            f"The {what} data must be a conveyor Dataset, a pandas DataFrame or a pyarrow "
            f"Table. Got {type(data).__name__}.",
            hint="Load a snapshot with conveyor.data.load_dataset(...) or retrieve features "
            "with conveyor.features.get_historical_features(...).",
        )
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise InvalidValueError(
            f"The target column {target!r} is not in the {what} data "
            f"(columns: {', '.join(columns)}).{did_you_mean(target, columns)}",
            hint="Pass target= the name of the column to predict.",
        )
    chosen = [c for c in columns if c != target] if features is None else list(features)
    missing = [c for c in chosen if c not in columns]
    if missing:
        raise InvalidValueError(
            f"Feature column(s) {missing} are not in the {what} data."
            f"{did_you_mean(missing[0], columns)}",
            hint=f"Available columns: {', '.join(columns)}.",
        )
    if target in chosen:
        raise InvalidValueError(
            f"The target {target!r} is also listed as a feature; a model would learn the "
            "answer from itself.",
            hint="Remove it from features=.",
        )
    if len(frame) == 0:
        raise InvalidValueError(f"The {what} data has no rows.")
    y = frame[target]
    n_missing = int(y.isna().sum())
    if n_missing:
        raise InvalidValueError(
            f"The target {target!r} has {n_missing} missing value(s) in the {what} data.",
            hint="Drop or label those rows first (a validate_dataset rule can refuse them).",
        )
    return TrainingData(features=tuple(chosen), target=target, X=frame[chosen], y=y, source=source)


def _seed(estimator: Any, seed: int) -> None:
    """Set every ``random_state`` (and XGBoost's ``seed``) the estimator has to ``seed``."""
    names = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    chosen = {k: seed for k in names if k == "random_state" or k.endswith("__random_state")}
    if chosen:
        estimator.set_params(**chosen)


def _continue(parent_model: Any, estimator: Any, X: Any, y: Any, more: int) -> tuple[Any, str]:
    """Train on from ``parent_model`` (already fitted); return the model and how."""
    import copy

    from sklearn.base import clone

    grown = copy.deepcopy(parent_model)
    final = grown.steps[-1][1] if hasattr(grown, "steps") else grown
    if hasattr(final, "partial_fit"):
        if final is grown:
            grown.partial_fit(X, y)
        else:
            # A pipeline's fitted preprocessing stays as the parent learned it; only the
            # final estimator learns from the new rows.
            grown.steps[-1][1].partial_fit(grown[:-1].transform(X), y)
        return grown, "partial_fit"
    booster = getattr(final, "booster_", None)
    if booster is not None and type(booster).__module__.startswith("lightgbm"):
        if estimator is not None:
            fresh = clone(estimator)
        elif type(final).__module__.startswith("lightgbm") or hasattr(parent_model, "steps"):
            fresh = clone(parent_model)
            last = fresh.steps[-1][1] if hasattr(fresh, "steps") else fresh
            last.set_params(n_estimators=more)
        else:  # a version in LightGBM's own format: a new estimator of the class it was
            import lightgbm

            fresh = getattr(lightgbm, str(final.estimator))(n_estimators=more, verbose=-1)
        if hasattr(fresh, "steps"):
            fresh.steps[:-1] = grown.steps[:-1]
            fresh.steps[-1][1].fit(grown[:-1].transform(X), y, init_model=booster)
        else:
            fresh.fit(X, y, init_model=booster)
        return fresh, "lightgbm init_model"
    params = final.get_params() if hasattr(final, "get_params") else {}
    if "warm_start" in params and "n_estimators" in params:
        final.set_params(warm_start=True, n_estimators=int(params["n_estimators"]) + more)
        if final is grown:
            grown.fit(X, y)
        else:
            final.fit(grown[:-1].transform(X), y)
        return grown, "warm_start"
    raise ConfigError(
        f"{type(final).__name__} cannot continue training from a previous version: it has "
        "no partial_fit, no warm_start with n_estimators, and is not a LightGBM model.",
        hint="Train from scratch (drop continue_from=), or use an estimator that supports "
        "incremental training (SGDClassifier, GradientBoosting*, RandomForest*, LightGBM).",
    )


def fit(
    estimator: Any,
    data: Any,
    *,
    target: str,
    name: str,
    features: Sequence[str] | None = None,
    seed: int | None = None,
    continue_from: Model | str | None = None,
    more_estimators: int = 50,
    tags: Mapping[str, str] | None = None,
    description: str = "",
    ws: Workspace | None = None,
) -> Model:
    """Fit ``estimator`` on ``data`` and register the result as the next version of ``name``.

    Inside a step, the estimator's params (``get_params``), the data's size and source,
    the seed and the fit time are logged on the step run, and the version records the run
    (so its lineage reaches the snapshots and feature views the run read, and the code).

    Args:
        estimator: Anything with ``fit``/``predict``; a scikit-learn ``Pipeline`` keeps its
            preprocessing in the registered model. None with ``continue_from``: train the
            parent on.
        data: A ``Dataset``, a pandas DataFrame or a pyarrow Table (a feature retrieval).
        target: The column to predict.
        name: The registered model's name.
        features: Columns to train on (default: every column but the target).
        seed: Sets every ``random_state`` of the estimator, and is recorded.
        continue_from: A version (``Model`` or ``models:/name@champion``) to train on from
            with the new rows: ``partial_fit``, or ``more_estimators`` more trees (LightGBM
            ``init_model``, or ``warm_start``). The new version records it as its parent.
        tags: Recorded on the version.

    Raises:
        InvalidValueError: bad data or columns (the message says which).
        ConfigError: ``continue_from`` with a model that cannot train incrementally.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> from conveyor import step
        >>> from conveyor.train import fit
        >>> @step
        ... def train(data):
        ...     return fit(LogisticRegression(), data, target="delayed", name="delays", seed=7)
    """
    from .. import registry

    ws = resolve_workspace(ws, "fit()")
    parent = None
    if continue_from is not None:
        parent = (
            continue_from
            if isinstance(continue_from, registry.Model)
            else registry.get_model(ws, continue_from)
        )
    if estimator is None and parent is None:
        raise InvalidValueError(
            "fit() needs an estimator, or continue_from= a registered version to train on."
        )
    train = training_data(data, target=target, features=features, ws=ws)
    if estimator is not None and seed is not None:
        _seed(estimator, seed)
    started = time.perf_counter()
    if parent is not None:
        fitted, how = _continue(parent.load(), estimator, train.X, train.y, more_estimators)
    else:
        fitted, how = estimator.fit(train.X, train.y), "fit"
        fitted = estimator if fitted is None else fitted
    seconds = time.perf_counter() - started
    params = {
        **registry.estimator_params(fitted),
        "target": target,
        "features": list(train.features),
        "seed": seed,
        "training_data": train.source,
        "fit_method": how,
    }
    metrics = {"fit_seconds": round(seconds, 6), "n_rows": float(len(train.X))}
    tags = dict(tags or {})
    ctx = current_step_context()
    if ctx is not None:
        reproduces = ctx.run_tags.get(REPRODUCES_TAG)
        if reproduces:
            tags["reproduction_of"] = str(reproduces)
        ctx.log_params({f"fit.{k}": v for k, v in params.items()})
        ctx.log_metrics({f"fit.{k}": v for k, v in metrics.items()})
    return registry.register_model(
        ws,
        name,
        fitted,
        input_example=train.X.head(20),
        params=params,
        metrics=metrics,
        tags=tags,
        description=description,
        parent=parent,
    )
