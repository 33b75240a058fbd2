"""Store calls that must fail with a conveyor error, on every backend.

Each one trips a constraint, a foreign key, or a value the driver cannot bind. The error
boundary must turn every one into a :class:`~conveyor.core.ConveyorError` with a one-line
message: no raw SQLAlchemy, driver or ``TypeError`` escapes a store function.
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor import store as st
from conveyor.core import ConveyorError

MISSING = 10_000_000


def bad_calls(store: st.Store) -> dict[str, Callable[[], object]]:
    run = st.create_run(store, "train")
    return {
        "CHECK on run status": lambda: st.transition_run(
            store, run.id, "exploded", expected=["running"]
        ),
        "CHECK on claim status": lambda: st.set_claim_status(
            store, st.claim_trigger(store, trigger(store), "w", "ctl").claim.id, "exploded"
        ),
        "kind of artifact": lambda: st.record_artifact(store, "a" * 64, 1, kind="blob"),
        "FK metric run": lambda: st.log_metric(store, MISSING, "loss", 1.0),
        "FK metric batch": lambda: st.log_metrics(store, MISSING, [("loss", 1.0)]),
        "FK step run": lambda: st.add_step_runs(store, MISSING, ["a"]),
        "FK params run": lambda: st.log_params(store, MISSING, {"a": 1}),
        "FK producer": lambda: st.record_artifact(store, "a" * 64, 1, producer_step_run_id=MISSING),
        "FK model run": lambda: st.register_model_version(store, "m", run_id=MISSING),
        "FK snapshot artifact": lambda: st.add_snapshot(
            store, "d", artifact_id=MISSING, digest="b" * 64
        ),
        "FK trigger claim": lambda: st.claim_trigger(store, MISSING, "w", "ctl"),
        "FK run claim": lambda: st.create_run(store, "p", trigger_claim_id=MISSING),
        "not JSON event": lambda: st.emit_event(
            store, "io.conveyor.test.emitted", data={"x": {1, 2}}
        ),
        "not JSON meta": lambda: st.record_artifact(store, "a" * 64, 1, meta={"x": b"bytes"}),
        "not JSON run params": lambda: st.create_run(store, "p", params={"m": object()}),
        "NaN in JSON": lambda: st.register_model_version(store, "m", metrics={"auc": float("nan")}),
    }


def trigger(store: st.Store) -> int:
    return st.upsert_trigger(store, "t", kind="manual", pipeline="train").id


def escaped_errors(store: st.Store) -> dict[str, str]:
    """Run every bad call; return the ones that did not raise a one-line ConveyorError."""
    escaped: dict[str, str] = {}
    for name, call in bad_calls(store).items():
        try:
            call()
        except ConveyorError as exc:
            if "\n" in str(exc):
                escaped[name] = f"multi-line message: {exc!s}"
        except Exception as exc:
            escaped[name] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        else:
            escaped[name] = "no error"
    return escaped
