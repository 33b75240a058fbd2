"""Rolling back a promotion that made the live figure worse: only with enough labels, only
beyond the margin with 95% confidence, once, and never a rollback itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conveyor import store as st
from conveyor.automate import judge_promotions, worse_beyond_margin
from conveyor.core import ALIAS_MOVED, Config
from conveyor.registry import alias_history, promote
from conveyor.serve.runtime import set_deployment
from conveyor.workspace import Workspace, init_project
from support.models import frame
from support.monitoring import log_segment, pid
from support.serving import register_version

pytestmark = pytest.mark.integration

HOUR = 3_600_000


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "p"
    init_project(root, name="p")
    with open(root / "conveyor.toml", "a") as f:
        f.write("\n[automate]\nrollback_min_labels = 150\nrollback_margin = 0.05\n")
    with Workspace.from_config(Config.load(root)) as ws:
        register_version(ws)
        register_version(ws, C=2.0)
        promote(ws, "churn", 1, force_reason="first")
        set_deployment(ws, "churn", model="churn")
        yield ws


def served(ws: Workspace, version: int, start: int, n: int, accuracy: float, seed: int) -> None:
    """``n`` predictions of ``version`` from ``start``, a share ``accuracy`` of them right
    by the labels sent back."""
    X, _ = frame(n, seed=seed)
    rng = np.random.default_rng(seed)
    predictions = rng.integers(0, 2, size=n)
    right = rng.random(n) < accuracy
    labels = np.where(right, predictions, 1 - predictions)
    ts = start + np.arange(n) * 1000
    ids = [pid(int(t)) for t in ts]
    log_segment(ws, X, ts, version=version, predictions=predictions, ids=ids)
    st.upsert_feedback(
        ws.store, [(i, int(y), int(t)) for i, y, t in zip(ids, labels, ts, strict=True)]
    )


def moved_at(ws: Workspace) -> int:
    return alias_history(ws, "churn")[-1].moved_at


def test_a_worse_champion_is_rolled_back_once(ws: Workspace) -> None:
    promote(ws, "churn", 2, force_reason="the challenger")
    at = moved_at(ws)
    served(ws, 1, at - 2 * HOUR, 400, accuracy=0.9, seed=1)
    served(ws, 2, at + 1000, 100, accuracy=0.6, seed=2)
    # Too few labels for v2 yet: wait.
    (verdict,) = judge_promotions(ws, now=at + HOUR)
    assert verdict.outcome == "waiting" and "each needs 150" in verdict.reason
    served(ws, 2, at + 200_000, 300, accuracy=0.6, seed=3)
    (verdict,) = judge_promotions(ws, now=at + HOUR)
    assert verdict.outcome == "rolled_back", verdict
    assert verdict.reason.startswith("v2 is worse than v1 beyond 0.05: accuracy 0.5975 on 400")
    last = alias_history(ws, "churn")[-1]
    assert (last.from_version, last.to_version) == (2, 1)
    assert last.reason.startswith("rollback: v2 is worse than v1")
    assert st.read_events(ws.store, types=[ALIAS_MOVED])[-1].data["to_version"] == 1
    # The rollback itself is never judged: nothing more happens.
    assert judge_promotions(ws, now=at + 2 * HOUR) == []


def test_a_champion_worse_within_the_margin_is_kept(ws: Workspace) -> None:
    promote(ws, "churn", 2, force_reason="the challenger")
    at = moved_at(ws)
    served(ws, 1, at - 2 * HOUR, 400, accuracy=0.85, seed=4)
    served(ws, 2, at + 1000, 400, accuracy=0.83, seed=5)
    (verdict,) = judge_promotions(ws, now=at + HOUR)
    assert verdict.outcome == "kept", verdict
    assert alias_history(ws, "churn")[-1].to_version == 2


def test_the_decision_rule() -> None:
    # A drop of 0.10 with tight errors is beyond a 0.05 margin; with wide ones it is not.
    assert worse_beyond_margin(0.9, 0.01, 0.8, 0.01, margin=0.05, lower_is_better=False)[0]
    assert not worse_beyond_margin(0.9, 0.05, 0.8, 0.05, margin=0.05, lower_is_better=False)[0]
    # Lower is better (RMSE): a rise is the drop.
    worse, bound = worse_beyond_margin(1.0, 0.01, 1.2, 0.01, margin=0.1, lower_is_better=True)
    assert worse and bound == pytest.approx(0.2 - 1.6448536 * (0.0002**0.5))
    assert not worse_beyond_margin(1.2, 0.01, 1.0, 0.01, margin=0.0, lower_is_better=True)[0]
