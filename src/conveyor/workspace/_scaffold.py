"""``conveyor init``: lay out a new project folder, never overwriting anything."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..core import CONFIG_FILE, AlreadyExistsError, validate_name

CONFIG_TEMPLATE = """\
# conveyor project settings. Every key is described in the README's configuration
# reference; each can be overridden by an environment variable (CONVEYOR_STORE,
# CONVEYOR_ARTIFACTS, CONVEYOR_EXECUTOR, or CONVEYOR_<SECTION>_<KEY>).

[project]
name = "{name}"

[store]
# sqlite:///path (relative to this folder) or postgresql://user@host:5432/db
url = "sqlite:///.conveyor/conveyor.db"

[artifacts]
# a local folder (relative to this folder) or any fsspec URL, e.g. s3://bucket/prefix
url = ".conveyor/artifacts"

[executor]
# where steps run: "local" or "ray"
kind = "local"
"""

PIPELINES_TEMPLATE = '''\
"""Pipelines of the {name} project.

`conveyor run train` runs the pipeline below: each @step's output is stored as a
content-addressed artifact, steps run in parallel when they can, reruns reuse cached
results, and every run records its params, metrics, lineage and code version.
"""

from __future__ import annotations

import random
import statistics

from conveyor import pipeline, step


@step
def make_customers(n_rows: int = 1000, seed: int = 0) -> list[dict[str, float]]:
    """A small, reproducible customer table, generated here (no download)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n_rows):
        tenure = rng.uniform(0, 72)
        charges = rng.uniform(20, 120)
        churn_score = 1.5 - tenure / 36 + charges / 80 + rng.gauss(0, 0.3)
        rows.append(
            {{"tenure": round(tenure, 2), "monthly_charges": round(charges, 2),
              "churned": float(churn_score > 1.0)}}
        )
    return rows


@step
def validate(rows: list[dict[str, float]]) -> dict[str, object]:
    """Profile every column and check the data before anything trains on it."""
    columns = list(rows[0]) if rows else []
    profile = {{
        col: {{"mean": statistics.fmean(r[col] for r in rows),
               "min": min(r[col] for r in rows), "max": max(r[col] for r in rows)}}
        for col in columns
    }}
    ok = bool(rows) and profile["tenure"]["min"] >= 0 and 0 < profile["churned"]["mean"] < 1
    return {{"ok": ok, "n_rows": len(rows), "profile": profile}}


@step
def score_threshold(threshold: float, rows: list[dict[str, float]]) -> dict[str, float]:
    """Accuracy of the rule "churns if tenure < threshold" (one candidate of the search)."""
    hits = sum((r["tenure"] < threshold) == bool(r["churned"]) for r in rows)
    return {{"threshold": threshold, "accuracy": hits / len(rows)}}


@step
def pick_best(scores: list[dict[str, float]]) -> dict[str, float]:
    return max(scores, key=lambda s: s["accuracy"])


@step
def evaluate(model: dict[str, float], min_accuracy: float) -> dict[str, object]:
    """The gate: promote only a model at least this accurate."""
    return {{"accuracy": model["accuracy"], "passed": model["accuracy"] >= min_accuracy}}


@step
def promote(model: dict[str, float], ev: dict[str, object]) -> str:
    return f"promoted threshold {{model['threshold']}} (accuracy {{ev['accuracy']:.3f}})"


@step
def alert(ev: dict[str, object]) -> str:
    return f"not promoted: accuracy {{ev['accuracy']:.3f}} is below the gate"


@pipeline
def train(n_rows: int = 1000, seed: int = 7, min_accuracy: float = 0.6):
    """Generate data, validate it, search a threshold in parallel, gate, promote or alert."""
    rows = make_customers(n_rows, seed)
    checks = validate(rows)
    scores = score_threshold.map([6.0, 12.0, 18.0, 24.0, 36.0, 48.0], rows=rows, when=checks.ok)
    model = pick_best(scores)
    ev = evaluate(model, min_accuracy)
    promote(model, ev, when=ev.passed)
    alert(ev, when=~ev.passed)
'''

GITIGNORE = """\
# conveyor's local state: metadata store and artifact blobs
.conveyor/
__pycache__/
"""


def _default_name(folder: Path) -> str:
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "-", folder.resolve().name).strip("-._")
    return text or "default"


def init_project(folder: str | os.PathLike[str], *, name: str | None = None) -> list[Path]:
    """Create ``conveyor.toml``, ``pipelines.py`` and ``.gitignore`` in ``folder``.

    Raises:
        AlreadyExistsError: any of those files exists already (nothing is written then).
        InvalidNameError: ``name`` is not a valid project name.
    """
    root = Path(folder)
    project = validate_name(name or _default_name(root), what="project name")
    files = {
        CONFIG_FILE: CONFIG_TEMPLATE.format(name=project),
        "pipelines.py": PIPELINES_TEMPLATE.format(name=project),
        ".gitignore": GITIGNORE,
    }
    existing = [n for n in files if (root / n).exists()]
    if existing:
        raise AlreadyExistsError(
            f"{root.resolve()} already has {', '.join(existing)}; conveyor init never overwrites.",
            hint="Choose an empty folder: conveyor init NEW_FOLDER",
        )
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in files.items():
        path = root / filename
        with open(path, "x", encoding="utf-8") as f:  # "x": fail rather than overwrite a race
            f.write(text)
        written.append(path)
    return written
