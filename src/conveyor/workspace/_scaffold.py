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

Each function here is plain Python over plain data; the pipeline engine runs them as steps,
stores what they return as artifacts, and records lineage between them.
"""

from __future__ import annotations

import random
import statistics


def make_customers(n_rows: int = 1000, seed: int = 0) -> list[dict[str, float]]:
    """Generate a small, reproducible customer table (no download needed)."""
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


def profile(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Summary statistics of every column: the data check that gates training."""
    columns = rows[0].keys() if rows else []
    return {{
        col: {{
            "mean": statistics.fmean(r[col] for r in rows),
            "stdev": statistics.pstdev(r[col] for r in rows),
            "min": min(r[col] for r in rows),
            "max": max(r[col] for r in rows),
        }}
        for col in columns
    }}
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
