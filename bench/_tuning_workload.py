"""The tuning benchmark's project code: ``bench_tuning.py`` copies this file into a fresh
project as its ``pipelines.py``, so the objective is found as a user's would be (the
worker processes import it from the project folder).

The model: scikit-learn's ``GradientBoostingClassifier`` (single-threaded) on a generated
data set of 1,500 rows x 20 features, scored by 3-fold cross-validation; a trial takes
about 0.2-1 s here, depending on the sampled ``n_estimators`` and ``max_depth``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from conveyor import pipeline, step
from conveyor.train import tune

N_SAMPLES = 1_500
N_FEATURES = 20


@functools.cache
def data() -> tuple[Any, Any]:
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=N_SAMPLES, n_features=N_FEATURES, n_informative=8, random_state=0
    )


def objective(trial: Any) -> float:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    X, y = data()
    model = GradientBoostingClassifier(
        n_estimators=trial.suggest_int("n_estimators", 20, 60),
        max_depth=trial.suggest_int("max_depth", 2, 4),
        learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        random_state=0,
    )
    return float(cross_val_score(model, X, y, cv=3).mean())


@step(cache=False)
def search(n_trials: int, parallelism: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    result = tune(objective, n_trials=n_trials, parallelism=parallelism, seed=seed)
    seconds = time.perf_counter() - started
    durations = [t.duration for t in result.trials if t.duration is not None]
    return {
        "tune_s": seconds,
        "n_complete": result.n_complete,
        "n_failed": result.n_failed,
        "best_value": result.best_value,
        "trial_mean_s": sum(durations) / len(durations),
    }


@pipeline
def tuning(n_trials: int = 40, parallelism: int = 1, seed: int = 0) -> None:
    search(n_trials, parallelism, seed)
