"""``tune``: an Optuna study inside a step, its trials run in parallel on the project's
executor and kept in the metadata store under the step run.

The study is an in-memory Optuna study in the step's process, driven by ask and tell; its
trials run elsewhere through ``Executor.map_calls`` (worker processes locally, Ray tasks
with ``executor.kind = "ray"``; see ``_tune_worker`` for the worker's side and how pruning
works there). Optuna's own database storage is not used: it migrates its own schema with
Alembic under the same ``alembic_version`` table as conveyor's store. Each trial is a row
of ``tuning_trials`` instead, started when the trial is asked and finished when its result
comes back, both fenced by the step's attempt.

Resume: a step attempt that starts (a retry, or ``conveyor runs resume`` after the runner
was killed) rebuilds the study from the rows of earlier attempts, in number order, so the
sampler sees every finished trial and none is run again. Trials an earlier attempt left
running are closed as failed (``interrupted``) and keep their numbers; they do not count
towards ``n_trials``, so the study asks new trials in their place. Numbers stay dense and
stable: trial ``k`` of the study is row ``k``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    ConfigError,
    ConflictError,
    InvalidValueError,
    StepContextError,
    StepFailedError,
    did_you_mean,
    parse_duration,
    pause_point,
)
from ..pipelines import Call, CallResult, current_step_context
from ._tune_result import TuneResult
from ._tune_worker import (
    Direction,
    TrialOutcome,
    TrialSpec,
    counts,
    distributions_json,
    rebuild,
    run_trial,
)

if TYPE_CHECKING:
    from ..pipelines import StepContext
    from ..workspace import Workspace

log = logging.getLogger(__name__)

DIRECTIONS: tuple[Direction, ...] = ("maximize", "minimize")
# Metrics a study logs on its step run (step = the trial's number).
TRIAL_VALUE = "trial_value"
BEST_VALUE = "best_value"
# The prefix of the best params logged as the step's params.
BEST_PARAM = "best."


@dataclass(frozen=True)
class _Options:
    n_trials: int | None
    timeout: float | None
    parallelism: int | None
    direction: Direction
    space: dict[str, Any]
    trial_timeout: float | None


def tune(
    objective: Callable[[Any], Any],
    *,
    n_trials: int | None = None,
    timeout: float | str | None = None,
    parallelism: int | None = None,
    direction: Direction = "maximize",
    sampler: Any = None,
    pruner: Any = None,
    seed: int | None = None,
    space: Mapping[str, Any] | None = None,
    trial_timeout: float | str | None = None,
) -> TuneResult:
    """Run an Optuna study from inside a step: trials in parallel on the project's
    executor, each recorded under the step run, the best trial's model kept.

    ``objective(trial)`` returns the value to optimize, or ``(value, model)``: the model of
    every complete trial is stored as an artifact of the step run, so the best one is
    returned without fitting it again (return ``result.best_model`` from the step to make
    it the step's output). It runs in a worker process (a Ray task on a cluster), so it must
    be a function defined at the top level of a module, such as the project's pipeline
    module. Use ``trial.suggest_*`` as usual, and ``trial.report(value, step)`` with
    ``trial.should_prune()`` for pruning. One study per step: calling ``tune`` again in
    the same step continues the same study.

    A killed or retried step resumes the study: trials that finished are kept (not run
    again) and the sampler sees them; ``n_trials`` counts over every attempt.

    Args:
        objective: ``objective(trial) -> value`` or ``-> (value, model)``.
        n_trials: Trials to run in all (complete, pruned and failed; a trial cut short by a
            killed attempt does not count and is asked again as a new trial).
        timeout: Stop asking new trials this long after ``tune`` starts (``"10m"`` or
            seconds; per attempt). Trials already running finish (bound them with
            ``trial_timeout``). At least one of ``n_trials`` and ``timeout`` is required.
        parallelism: Trials at once (default: the executor's ``max_workers``).
        direction: ``"maximize"`` or ``"minimize"``.
        sampler: An Optuna sampler (default: TPE with ``constant_liar``, seeded by
            ``seed``). A sampler of yours is reseeded at random in each worker, so only the
            default is reproducible from ``seed``.
        pruner: An Optuna pruner (default: ``MedianPruner()``).
        seed: Seeds the default sampler.
        space: Optional ``{name: optuna distribution}`` sampled in the step's process
            before each trial starts, where the sampler sees the trials still running (so
            parallel trials do not repeat each other); ``trial.suggest_*`` then returns
            those values. Params not in ``space`` are sampled in the worker.
        trial_timeout: Kill a trial that runs longer and record it failed.

    Returns:
        The best trial, the counts and every trial (:class:`TuneResult`).

    Raises:
        StepContextError: called outside a running step.
        InvalidValueError: a bad argument (named in the message).
        ConfigError: Optuna is not installed.
        StepFailedError: no trial completed.
        StaleAttemptError: the step's attempt was superseded while the study ran.

    Example:
        >>> @step
        ... def search(rows: list[dict]) -> Any:
        ...     result = tune(objective, n_trials=40, parallelism=2, seed=0)
        ...     return result.best_model
    """
    options = _check(
        objective, n_trials, timeout, parallelism, direction, sampler, pruner, seed, space
    )
    options = _Options(**{**options.__dict__, "trial_timeout": _seconds(trial_timeout)})
    ctx = current_step_context()
    if ctx is None:
        raise StepContextError(
            "tune() runs a study inside a running step, not here.",
            hint="Call it in the body of a @step function that a pipeline run executes "
            "(conveyor run PIPELINE); its trials are recorded under that step run.",
        )
    optuna = _optuna()
    return _Study(ctx, optuna, objective, options, sampler, pruner, seed).run()


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "tune() needs Optuna, which is not installed.",
            hint="Install it with: pip install 'conveyor[ml]'",
        ) from None
    return optuna


def _seconds(value: float | str | None, what: str = "trial_timeout") -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value, what=f"{what!r} of tune()")
    except ValueError as exc:
        raise InvalidValueError(str(exc), hint="For example: timeout='10m'") from None
    if seconds <= 0:
        raise InvalidValueError(
            f"The {what!r} of tune() must be more than 0. Got {value!r}.",
            hint="Leave it out for no limit.",
        )
    return seconds


def _check(
    objective: Any,
    n_trials: Any,
    timeout: Any,
    parallelism: Any,
    direction: Any,
    sampler: Any,
    pruner: Any,
    seed: Any,
    space: Any,
) -> _Options:
    """Every argument of :func:`tune`, checked before anything runs."""
    if not callable(objective):
        raise InvalidValueError(
            f"The objective of tune() must be a function of the trial. Got "
            f"{type(objective).__name__}.",
            hint="def objective(trial): return score",
        )
    try:
        pickle.dumps(objective)
    except Exception:
        raise InvalidValueError(
            f"The objective {getattr(objective, '__qualname__', objective)!r} cannot be sent "
            "to the worker processes that run the trials: they import it by name.",
            hint="Define it with def at the top level of a module (the project's pipeline "
            "module), not as a lambda or inside another function.",
        ) from None
    for name, value in (("n_trials", n_trials), ("parallelism", parallelism)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidValueError(
                f"The {name!r} of tune() must be an int. Got {value!r}.",
                hint=f"For example: {name}=20",
            )
        if value is not None and value < 1:
            raise InvalidValueError(
                f"The {name!r} of tune() must be at least 1. Got {value!r}.",
                hint=f"For example: {name}=20",
            )
    seconds = _seconds(timeout, "timeout")
    if n_trials is None and seconds is None:
        raise InvalidValueError(
            "tune() needs n_trials or timeout (or both): a study with neither never stops.",
            hint="For example: tune(objective, n_trials=40) or timeout='30m'.",
        )
    if direction not in DIRECTIONS:
        raise InvalidValueError(
            f"The direction of tune() must be 'maximize' or 'minimize'. Got {direction!r}."
            f"{did_you_mean(str(direction), DIRECTIONS)}",
        )
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InvalidValueError(f"The seed of tune() must be an int. Got {seed!r}.")
    optuna = _optuna()
    if sampler is not None and not isinstance(sampler, optuna.samplers.BaseSampler):
        raise InvalidValueError(
            f"The sampler of tune() must be an Optuna sampler. Got {type(sampler).__name__}.",
            hint="For example: optuna.samplers.TPESampler(seed=0)",
        )
    if pruner is not None and not isinstance(pruner, optuna.pruners.BasePruner):
        raise InvalidValueError(
            f"The pruner of tune() must be an Optuna pruner. Got {type(pruner).__name__}.",
            hint="For example: optuna.pruners.MedianPruner(n_warmup_steps=5)",
        )
    dists = dict(space or {})
    for name, dist in dists.items():
        if not isinstance(name, str) or not isinstance(dist, optuna.distributions.BaseDistribution):
            raise InvalidValueError(
                f"The space of tune() maps param names to Optuna distributions. Got "
                f"{name!r}: {dist!r}.",
                hint="For example: space={'alpha': FloatDistribution(1e-4, 1.0, log=True)}",
            )
    return _Options(n_trials, seconds, parallelism, direction, dists, None)


class _Study:
    """One call of :func:`tune` in one step attempt: the study, its counts and its loop."""

    def __init__(
        self,
        ctx: StepContext,
        optuna: Any,
        objective: Callable[[Any], Any],
        options: _Options,
        sampler: Any,
        pruner: Any,
        seed: int | None,
    ) -> None:
        self.ctx = ctx
        self.ws: Workspace = ctx.workspace
        self.store = self.ws.store
        self.optuna = optuna
        self.objective = objective
        self.options = options
        self.user_sampler = sampler
        self.pruner = pruner if pruner is not None else optuna.pruners.MedianPruner()
        self.seed = seed
        self.storage = optuna.storages.InMemoryStorage()
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "a new study created" line
        try:
            self.study = optuna.create_study(
                storage=self.storage,
                direction=options.direction,
                sampler=sampler or optuna.samplers.TPESampler(seed=seed, constant_liar=True),
                pruner=self.pruner,
            )
        finally:
            optuna.logging.set_verbosity(verbosity)
        self.study_id = self.storage.get_study_id_from_name(self.study.study_name)
        self.counted = 0  # trials that ran to an end (interrupted ones do not count)
        self.running: set[int] = set()
        self.deadline: float | None = None

    def run(self) -> TuneResult:
        ctx = self.ctx
        st.fail_interrupted_trials(self.store, ctx.step_run_id, ctx.attempt)
        past = st.list_trials(self.store, ctx.step_run_id)
        rebuild(self.optuna, self.study, past)
        self.counted = sum(1 for t in past if counts(t))
        self._relog(past)
        if self.options.timeout is not None:
            self.deadline = time.monotonic() + self.options.timeout
        if self._wanted():
            self._loop()
        return self._result()

    def _wanted(self) -> bool:
        """Whether to ask one more trial now."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        n_trials = self.options.n_trials
        return n_trials is None or self.counted + len(self.running) < n_trials

    def _loop(self) -> None:
        from ..pipelines import make_executor

        config = self.ws.config
        executor = make_executor(
            config.executor, store=self.ws.artifacts, project_root=str(config.root)
        )
        try:
            results = executor.map_calls(self._asks(), parallelism=self.options.parallelism)
            with contextlib.closing(results):
                for result in results:
                    self._finish(result)
        finally:
            executor.shutdown()

    def _asks(self) -> Iterator[Call]:
        """The next trial to run, whenever a slot is free, until the study is done."""
        ctx = self.ctx
        while self._wanted():
            trial = self.study.ask(dict(self.options.space))
            number = trial.number
            st.start_trial(
                self.store,
                ctx.step_run_id,
                ctx.attempt,
                number,
                params=trial.params,
                distributions=distributions_json(trial.distributions),
            )
            self.running.add(number)
            spec = TrialSpec(
                number=number,
                objective=self.objective,
                direction=self.options.direction,
                trials=tuple(self.study.get_trials(deepcopy=False)[:number]),
                fixed=dict(trial.params),
                sampler=self.user_sampler,
                seed=self.seed,
                pruner=self.pruner,
                artifacts_url=self.ws.artifacts.url,
                storage_options=dict(self.ws.config.artifacts.storage_options),
                model_name=f"{ctx.step_name}-trial-{number}",
            )
            yield Call(run_trial, (spec,), key=number, timeout=self.options.trial_timeout)

    def _finish(self, result: CallResult) -> None:
        """Record a trial that came back: the store first (fenced), then the study."""
        number = int(result.key)
        self.running.discard(number)
        if result.ok and isinstance(result.value, TrialOutcome):
            outcome = result.value
        else:
            outcome = TrialOutcome.failed(number, result.error or "the trial failed")
        if outcome.logs:
            sys.stdout.write(f"[trial {number}]\n{outcome.logs}")
            if not outcome.logs.endswith("\n"):
                sys.stdout.write("\n")
        ctx = self.ctx
        record = st.finish_trial(
            self.store,
            ctx.step_run_id,
            ctx.attempt,
            number,
            state=outcome.state,
            value=outcome.value,
            # A trial that never reported back (its worker died, it timed out) keeps the
            # params recorded at its start.
            params=outcome.params or None,
            distributions=outcome.distributions or None,
            intermediate=outcome.intermediate,
            user_attrs=_jsonable(outcome.user_attrs),
            artifact=outcome.model,
            error=outcome.error,
        )
        self.counted += 1
        self._tell(outcome)
        rows = []
        if record.state == "complete" and record.value is not None:
            rows.append((TRIAL_VALUE, record.value, number))
            rows.append((BEST_VALUE, self.study.best_value, number))
        st.log_step_metrics(self.store, ctx.step_run_id, ctx.attempt, rows)
        log.info("trial %d %s (value %s)", number, record.state, record.value)
        # Fault tests stop here: the trial is recorded, the next ones are not.
        pause_point(f"tune.trial_recorded.{number}")

    def _tell(self, outcome: TrialOutcome) -> None:
        """Give the study the trial as the worker ran it: the params it sampled itself,
        its reported values and attributes, then its state."""
        from optuna.distributions import json_to_distribution

        optuna = self.optuna
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(
            self.study_id, outcome.number
        )
        known = self.storage.get_trial(trial_id).params
        for name, value in outcome.params.items():
            if name in known or name not in outcome.distributions:
                continue
            dist = json_to_distribution(json.dumps(outcome.distributions[name]))
            self.storage.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
        for step, value in outcome.intermediate.items():
            self.storage.set_trial_intermediate_value(trial_id, step, value)
        for key, value in outcome.user_attrs.items():
            self.storage.set_trial_user_attr(trial_id, key, value)
        for key, value in outcome.system_attrs.items():
            self.storage.set_trial_system_attr(trial_id, key, value)
        state = {
            "complete": optuna.trial.TrialState.COMPLETE,
            "pruned": optuna.trial.TrialState.PRUNED,
            "failed": optuna.trial.TrialState.FAIL,
        }[outcome.state]
        values = outcome.value if outcome.state == "complete" else None
        self.study.tell(outcome.number, values, state=state, skip_if_finished=True)

    def _relog(self, past: Sequence[st.TrialRecord]) -> None:
        """Log the earlier attempts' trial values on this attempt too: a step run's
        readers show one attempt, and this one carries the whole study."""
        rows: list[tuple[str, float, int]] = []
        best: float | None = None
        sign = 1.0 if self.options.direction == "maximize" else -1.0
        for t in past:
            if t.state != "complete" or t.value is None:
                continue
            best = t.value if best is None else sign * max(sign * best, sign * t.value)
            rows += [(TRIAL_VALUE, t.value, t.number), (BEST_VALUE, best, t.number)]
        st.log_step_metrics(self.store, self.ctx.step_run_id, self.ctx.attempt, rows)

    def _result(self) -> TuneResult:
        ctx = self.ctx
        trials = st.list_trials(self.store, ctx.step_run_id)
        n_complete = sum(1 for t in trials if t.state == "complete")
        n_pruned = sum(1 for t in trials if t.state == "pruned")
        n_failed = sum(1 for t in trials if t.state == "failed")
        complete = [t for t in trials if t.state == "complete" and t.value is not None]
        if not complete:
            first = next((t.error for t in trials if t.error), None)
            raise StepFailedError(
                f"No trial of the study completed: {n_pruned} pruned, {n_failed} failed."
                + (f" The first failure: {first}" if first else ""),
                hint=f"Read the trials with: conveyor runs show {ctx.run_id}",
                step=ctx.step_name,
            )
        sign = 1.0 if self.options.direction == "maximize" else -1.0
        best = max(complete, key=lambda t: (sign * (t.value or 0.0), -t.number))
        try:
            st.log_step_params(
                self.store,
                ctx.step_run_id,
                ctx.attempt,
                {f"{BEST_PARAM}{k}": v for k, v in best.params.items()},
            )
        except ConflictError:  # a second tune() in this attempt found another best
            log.warning("tune(): the best params of an earlier study of this step stay logged")
        st.log_step_metrics(
            self.store,
            ctx.step_run_id,
            ctx.attempt,
            [
                ("n_complete", float(n_complete), 0),
                ("n_pruned", float(n_pruned), 0),
                ("n_failed", float(n_failed), 0),
            ],
        )
        loader = None
        if best.artifact_id is not None:
            artifact_id = best.artifact_id
            ws = self.ws

            def loader() -> Any:
                from ..pipelines import load_value

                return load_value(ws.artifacts, st.get_artifact(ws.store, artifact_id))

        return TuneResult(
            best_value=float(best.value or 0.0),
            best_params=dict(best.params),
            best_trial=best.number,
            n_complete=n_complete,
            n_pruned=n_pruned,
            n_failed=n_failed,
            trials=trials,
            best_model_artifact_id=best.artifact_id,
            study=self.study,
            _load_model=loader,
        )


def _jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """User attributes as JSON values (what JSON cannot hold is kept as its ``repr``)."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        try:
            json.dumps(value, allow_nan=False)
            out[key] = value
        except (TypeError, ValueError):
            out[key] = repr(value)
    return out
