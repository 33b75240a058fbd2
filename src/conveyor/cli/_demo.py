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
    from .. import store as st
    from ..pipelines import Runner, find_pipeline
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

        def run(title: str, **params: object) -> st.RunRecord:
            out.print(f"\n{title}")
            started = time.monotonic()
            live = _Live()
            with live:
                result = Runner(ws, train, on_change=live.change).start(params)
            n_cached = sum(1 for s in st.get_step_runs(ws.store, result.run.id) if s.cached_from_id)
            out.print(
                f"   run {result.run.id} {status(result.run.status)} in "
                f"{seconds(time.monotonic() - started)}; {n_cached} steps reused from the cache"
            )
            for name in ("promote", "alert"):
                if result.statuses.get(name) == "succeeded":
                    out.print(f"   {name}: {result.output(name)}")
            return result.run

        first = run("3. conveyor run train")
        run("4. The same run again: every step comes from the cache")
        run(
            "5. conveyor run train --param min_accuracy=0.95: the gate fails, alert runs",
            min_accuracy=0.95,
        )

        out.print("\n6. Lineage: which step produced the chosen model, from what")
        steps = {s.name: s for s in st.get_step_runs(ws.store, first.id)}
        for edge in st.step_lineage(ws.store, steps["pick_best"].id):
            art = st.get_artifact(ws.store, edge.artifact_id)
            verb = "read" if edge.direction == "in" else "wrote"
            out.print(
                f"   pick_best {verb} {edge.name}: artifact {art.id} sha256:{art.digest[:12]}"
            )
            if edge.direction == "out":
                data = ws.artifacts.get_bytes(art.digest)
                out.print(f"   read back {len(data)} bytes, checksum verified: {data.decode()}")

        out.print("\n7. The event log recorded every change (conveyor events --follow streams it)")
        for ev in st.read_events(ws.store)[-6:]:
            out.print(f"   {ev.id:>3}  {ev.type:<36} {ev.subject}")

    out.print("\nExplore it yourself:")
    for cmd in ("runs list", f"runs show {first.id}", f"runs logs {first.id}", "artifacts list"):
        out.print(f"   conveyor -p {folder} {cmd}")
