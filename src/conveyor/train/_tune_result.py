"""What a tuning study returns, and the trials of a run read back from the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as st

if TYPE_CHECKING:
    import pandas as pd

    from ..workspace import Workspace


@dataclass(frozen=True)
class TuneResult:
    """What a study found: the best trial, the counts, and every trial.

    Attributes:
        best_value: The best objective value of a complete trial.
        best_params: That trial's params.
        best_trial: That trial's number.
        n_complete: Trials that returned a value (over every attempt of the step).
        n_pruned: Trials the pruner stopped.
        n_failed: Trials that raised, returned no number, timed out, or were interrupted.
        trials: Every trial, by number.
        best_model_artifact_id: The artifact of the best trial's model, if it returned one.
        study: The Optuna study with every trial (for Optuna's plots and analysis).
    """

    best_value: float
    best_params: dict[str, Any]
    best_trial: int
    n_complete: int
    n_pruned: int
    n_failed: int
    trials: list[st.TrialRecord]
    best_model_artifact_id: int | None = None
    study: Any = field(default=None, repr=False, compare=False)
    _load_model: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def best_model(self) -> Any:
        """The best trial's model, loaded from the artifact store on first use (checksum
        verified; a scikit-learn model through skops, trusted types only), or None if the
        objective returned no model."""
        if self._load_model is None:
            return None
        if "model" not in self._cache:
            self._cache["model"] = self._load_model()
        return self._cache["model"]

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, state, value, duration, ``params_*``, attempt, error."""
        import pandas as pd

        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state,
                "value": t.value,
                "duration_s": t.duration,
                "attempt": t.attempt,
                "error": t.error,
            }
            row.update({f"params_{k}": v for k, v in t.params.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def tuning_trials(
    ws: Workspace, run_id: int, *, step: str | None = None
) -> dict[str, list[st.TrialRecord]]:
    """The tuning trials of run ``run_id`` by step name (only steps that ran a study; only
    ``step`` if given), each list by trial number.

    Raises:
        NotFoundError: the project has no run ``run_id`` (or it has no step ``step``).
    """
    from ..pipelines import get_run, get_step_run

    run = get_run(ws, run_id)
    names = {s.id: s.name for s in st.get_step_runs(ws.store, run.id)}
    if step is not None:
        names = {get_step_run(ws, run_id, step).id: step}
    found: dict[str, list[st.TrialRecord]] = {}
    for trial in st.list_run_trials(ws.store, run.id):
        name = names.get(trial.step_run_id)
        if name is not None:
            found.setdefault(name, []).append(trial)
    return found
