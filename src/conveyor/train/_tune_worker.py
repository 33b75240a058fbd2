"""Optuna studies rebuilt from recorded trials, and one trial of a tuning study in a worker
process (or a Ray task): the worker's side of :func:`conveyor.train.tune`.

A worker cannot share the study that lives in the tuning step's process. It gets a copy
instead: every trial numbered before its own as the study knew them when the trial was
asked (finished ones with their values and reported intermediate values, running ones
with the params sampled for them), the sampler and the pruner. It rebuilds a private
in-memory study from that copy, asks it for its trial (which so gets its own number, and
the params sampled in the step's process when a search ``space`` was given), runs the
objective, and decides ``should_prune()`` against the private study. Trials that finish
while this one runs are not in its copy: pruning and sampling see the study as it was
when the trial started (a bounded staleness: at most ``parallelism - 1`` trials behind).

What comes back is a :class:`TrialOutcome`: state, value, params, intermediate values,
attributes, what the objective printed, and the model (if it returned one) already stored
in the artifact store, so only its description travels back. The worker writes no
metadata: the step's process records the trial, fenced by the step's attempt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import numbers
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..core import TrialStatus

if TYPE_CHECKING:
    import optuna

    from ..artifacts import ArtifactStore
    from ..store import NewArtifact, TrialRecord

Direction = Literal["maximize", "minimize"]
# The system attribute ``enqueue_trial`` sets: how a worker's trial gets pre-sampled params.
_FIXED_PARAMS = "fixed_params"


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs to run trial ``number``.

    Attributes:
        trials: The study's trials numbered before this one (Optuna ``FrozenTrial``s).
        fixed: Params sampled for this trial in the step's process (the search ``space``).
        sampler: The study's sampler; None for the default (TPE seeded from ``seed`` and
            the trial number, so a study with a seed is reproducible).
        model_name: The artifact name of the model the trial may return.
    """

    number: int
    objective: Callable[[Any], Any]
    direction: Direction
    trials: tuple[Any, ...]
    fixed: dict[str, Any]
    sampler: Any
    seed: int | None
    pruner: Any
    artifacts_url: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    model_name: str = "trial-model"


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended, as the worker saw it (see :class:`~conveyor.store.TrialRecord`)."""

    number: int
    state: TrialStatus
    value: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Any] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    model: NewArtifact | None = None
    error: str | None = None
    logs: str = ""

    @classmethod
    def failed(cls, number: int, error: str, *, logs: str = "") -> TrialOutcome:
        return cls(number=number, state="failed", error=error, logs=logs)


def counts(trial: TrialRecord) -> bool:
    """Whether a trial counts towards ``n_trials``: it ran to an end (it was not cut short
    by the loss of its attempt)."""
    return trial.is_finished and not trial.interrupted


def rebuild(optuna: Any, study: optuna.Study, trials: Sequence[TrialRecord]) -> None:
    """Add the recorded trials to ``study`` in number order, so that its trial ``k`` is
    record ``k`` (a missing number becomes a failed trial with no params, which keeps the
    numbering); the next ``ask()`` gets the next free number."""
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState, create_trial

    states = {
        "complete": TrialState.COMPLETE,
        "pruned": TrialState.PRUNED,
        "failed": TrialState.FAIL,
        "running": TrialState.RUNNING,
    }
    by_number = {t.number: t for t in trials}
    for number in range(max(by_number, default=-1) + 1):
        record = by_number.get(number)
        if record is None:
            study.add_trial(create_trial(state=TrialState.FAIL))
            continue
        dists = {
            name: json_to_distribution(json.dumps(spec))
            for name, spec in record.distributions.items()
            if name in record.params
        }
        state = states[record.state]
        value = record.value if state in (TrialState.COMPLETE, TrialState.PRUNED) else None
        study.add_trial(
            create_trial(
                state=state,
                value=value,
                params={k: v for k, v in record.params.items() if k in dists},
                distributions=dists,
                user_attrs=dict(record.user_attrs),
                intermediate_values=dict(record.intermediate),
            )
        )


def trial_seed(seed: int, number: int) -> int:
    """A seed of its own for trial ``number`` of a study seeded with ``seed``: parallel
    trials that see the same history must not sample the same params."""
    digest = hashlib.sha256(f"{seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def worker_sampler(spec: TrialSpec) -> Any:
    """The sampler a worker samples the trial's own (define-by-run) params with."""
    import optuna

    if spec.sampler is None:
        seed = None if spec.seed is None else trial_seed(spec.seed, spec.number)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    # A copy of the study's sampler as pickled at the trial's start: every copy carries the
    # same random state, so reseed it or parallel trials would draw the same params.
    spec.sampler.reseed_rng()
    return spec.sampler


def private_study(spec: TrialSpec) -> optuna.Study:
    """The worker's copy of the study: the trials before this one, the sampler and pruner,
    and this trial's pre-sampled params queued, so its ``ask()`` is trial ``number``."""
    import optuna

    study = optuna.create_study(
        storage=optuna.storages.InMemoryStorage(),
        direction=spec.direction,
        sampler=worker_sampler(spec),
        pruner=spec.pruner,
    )
    study.add_trials(spec.trials)
    if spec.fixed:
        study.enqueue_trial(dict(spec.fixed))
    return study


def run_trial(spec: TrialSpec) -> TrialOutcome:
    """Run one trial of the objective (in a worker). Never raises: a failure is an outcome."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = private_study(spec)
        trial = study.ask()
    except Exception as exc:
        return TrialOutcome.failed(spec.number, f"could not start the trial: {_text(exc)}")
    if trial.number != spec.number:  # the copy must hold exactly the trials before this one
        return TrialOutcome.failed(
            spec.number, f"the worker's study numbered the trial {trial.number}"
        )
    output = io.StringIO()
    state: TrialStatus = "complete"
    value: float | None = None
    model: Any = None
    error: str | None = None
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            value, model = split_returned(spec.objective(trial))
        except optuna.TrialPruned:
            state = "pruned"
        except Exception as exc:  # the user-code boundary of one trial
            state, error = "failed", _text(exc)
            output.write("".join(traceback.format_exception(exc)))
    frozen = study.get_trials(deepcopy=False)[spec.number]
    intermediate = dict(frozen.intermediate_values)
    if state == "pruned" and intermediate:
        value = intermediate[max(intermediate)]  # as Optuna records a pruned trial
    stored = None
    if state == "complete" and model is not None:
        try:
            stored = _store_model(spec, model)
        except Exception as exc:
            state, value, error = "failed", None, f"could not store its model: {_text(exc)}"
    return TrialOutcome(
        number=spec.number,
        state=state,
        value=value,
        params=dict(frozen.params),
        distributions=distributions_json(frozen.distributions),
        intermediate=intermediate,
        user_attrs=dict(frozen.user_attrs),
        system_attrs={k: v for k, v in frozen.system_attrs.items() if k != _FIXED_PARAMS},
        model=stored,
        error=error,
        logs=output.getvalue(),
    )


def split_returned(returned: Any) -> tuple[float, Any]:
    """The objective's ``value`` or ``(value, model)``, checked.

    Raises:
        ValueError: not a number (or NaN), or a second number (one objective only).
    """
    model = None
    if isinstance(returned, tuple):
        if len(returned) != 2:
            raise ValueError(
                f"the objective returned a tuple of {len(returned)}; return a value or "
                "(value, model)"
            )
        returned, model = returned
        if _is_number(model):
            raise ValueError(
                "the objective returned two numbers; tune() optimizes one objective: "
                "return a value or (value, model)"
            )
    if not _is_number(returned):
        raise ValueError(
            f"the objective returned {type(returned).__name__} {returned!r:.60}; return a "
            "number, or (number, model)"
        )
    value = float(returned)
    if math.isnan(value):
        raise ValueError("the objective returned NaN")
    return value, model


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def distributions_json(distributions: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna distributions as JSON values (Optuna's own JSON form)."""
    from optuna.distributions import distribution_to_json

    return {name: json.loads(distribution_to_json(d)) for name, d in distributions.items()}


_STORES: dict[str, ArtifactStore] = {}


def _store_model(spec: TrialSpec, model: Any) -> NewArtifact:
    from ..artifacts import open_artifact_store
    from ..pipelines import store_value

    # One artifact store per worker process, reused by its later trials.
    store = _STORES.get(spec.artifacts_url)
    if store is None:
        store = _STORES[spec.artifacts_url] = open_artifact_store(
            spec.artifacts_url, spec.storage_options
        )
    return store_value(store, model, name=spec.model_name)


def _text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__
