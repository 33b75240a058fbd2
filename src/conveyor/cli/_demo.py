"""``conveyor demo``: a real tour on the embedded default (SQLite + local folder).

Everything it shows is computed and stored for real: a project is created, its example
pipeline runs (data generated here, validated, a parallel search, an evaluation gate),
runs again from the cache, runs with a stricter gate that takes the other branch, and the
store is read back: lineage, a verified artifact, the event log.
"""

from __future__ import annotations

import time
from pathlib import Path

from ._output import out, seconds, status


def run_demo(folder: Path) -> None:
    from ..lineage import describe_artifact, read_artifact, read_events
    from ..pipelines import describe_run, find_pipeline, run_pipeline, step_lineage
    from ..workspace import Workspace, init_project
    from ._pipelines import _Live, _tree

    out.rule("[bold]conveyor demo")
    out.print(f"1. conveyor init {folder}: a project with an example pipeline and its store")
    for path in init_project(folder, name="demo"):
        out.print(f"   created {path}")

    with Workspace.open(folder) as ws:
        out.print(f"   store {ws.store.display_url} · artifacts {ws.artifacts.url}")
        train = find_pipeline(ws.config, "train")
        out.print("\n2. The pipeline, as conveyor sees it (conveyor pipelines show train)")
        out.print(_tree(train.build()))

        def run(title: str, **params: object) -> int:
            out.print(f"\n{title}")
            started = time.monotonic()
            live = _Live()
            with live:
                result = run_pipeline(ws, "train", params, on_change=live.change)
            steps = describe_run(ws, result.run.id).steps
            n_cached = sum(1 for s in steps if s.cached_from_id)
            out.print(
                f"   run {result.run.id} {status(result.run.status)} in "
                f"{seconds(time.monotonic() - started)}; {n_cached} steps reused from the cache"
            )
            for name in ("promote", "alert"):
                if result.statuses.get(name) == "succeeded":
                    out.print(f"   {name}: {result.output(name)}")
            return result.run.id

        first = run("3. conveyor run train")
        run("4. The same run again: every step comes from the cache")
        run(
            "5. conveyor run train --param min_accuracy=0.95: the gate fails, alert runs",
            min_accuracy=0.95,
        )

        out.print("\n6. Lineage: which step produced the chosen model, from what")
        for edge in step_lineage(ws, first, "pick_best"):
            art = describe_artifact(ws, edge.artifact_id).artifact
            verb = "read" if edge.direction == "in" else "wrote"
            out.print(
                f"   pick_best {verb} {edge.name}: artifact {art.id} sha256:{art.digest[:12]}"
            )
            if edge.direction == "out":
                data = read_artifact(ws, art.id)
                out.print(f"   read back {len(data)} bytes, checksum verified: {data.decode()}")

        out.print("\n7. The event log recorded every change (conveyor events --follow streams it)")
        for ev in read_events(ws)[-6:]:
            out.print(f"   {ev.id:>3}  {ev.type:<36} {ev.subject}")

    out.print("\nExplore it yourself:")
    for cmd in ("runs list", f"runs show {first}", f"runs logs {first}", "artifacts list"):
        out.print(f"   conveyor -p {folder} {cmd}")
