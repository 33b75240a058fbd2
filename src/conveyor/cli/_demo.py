"""``conveyor demo``: a real tour on the embedded default (SQLite + local folder).

Everything it shows is computed and stored for real: a generated dataset stored as a
content-addressed artifact and snapshot, a run with params and metrics, a step with lineage
from its input to its output, and the event log that recorded each change.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path
from types import ModuleType

from ._output import out


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("conveyor_demo_pipelines", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(folder: Path) -> None:
    from .. import store as st
    from ..workspace import Workspace, init_project, put_artifact

    out.rule("[bold]conveyor demo")
    out.print(f"1. conveyor init {folder}  (a project: config, example pipelines, store)")
    for path in init_project(folder, name="demo"):
        out.print(f"   created {path}")
    pipelines = _load_module(folder / "pipelines.py")

    with Workspace.open(folder) as ws, tempfile.TemporaryDirectory() as tmp:
        out.print(f"   store: {ws.store.display_url}")
        out.print(f"   artifacts: {ws.artifacts.url}")

        out.print(
            "\n2. A dataset, generated on this machine, stored content-addressed and snapshotted"
        )
        rows = pipelines.make_customers(n_rows=1000, seed=7)
        data_file = Path(tmp) / "customers.json"
        data_file.write_text(json.dumps(rows))
        data = put_artifact(ws, data_file, name="customers.json", media_type="application/json")
        snapshot, _ = st.add_snapshot(
            ws.store,
            "customers",
            artifact_id=data.id,
            digest=data.digest,
            source="pipelines.make_customers(seed=7)",
            n_rows=len(rows),
            schema={k: "double" for k in rows[0]},
        )
        out.print(f"   customers v{snapshot.version}: {len(rows)} rows, sha256:{data.digest[:12]}")

        out.print("\n3. A run with params, a step with lineage, and metrics")
        run = st.create_run(ws.store, "profile", params={"n_rows": len(rows), "seed": 7})
        st.log_params(ws.store, run.id, {"n_rows": len(rows), "seed": 7})
        (step,) = st.add_step_runs(ws.store, run.id, ["profile"])
        step = st.start_attempt(ws.store, step.id, worker="demo")
        report = pipelines.profile(rows)
        report_file = Path(tmp) / "profile.json"
        report_file.write_text(json.dumps(report, indent=2))
        report_art = put_artifact(
            ws,
            report_file,
            name="profile.json",
            producer_step_run_id=step.id,
            media_type="application/json",
        )
        st.log_metrics(
            ws.store,
            run.id,
            [
                (f"{col}.{stat}", value)
                for col, stats in report.items()
                for stat, value in stats.items()
            ],
            step_run_id=step.id,
        )
        st.commit_step(
            ws.store,
            step.id,
            step.attempt,
            inputs={"rows": data.id},
            outputs={"profile": report_art.id},
        )
        st.transition_run(ws.store, run.id, "succeeded", expected=["running"])
        churn = report["churned"]["mean"]
        out.print(
            f"   run {run.id} succeeded; churn rate {churn:.1%}; profile sha256:{report_art.digest[:12]}"
        )

        out.print("\n4. Every artifact is verified on read; the copy you get is the bytes recorded")
        copy = ws.artifacts.get_bytes(report_art.digest)
        out.print(f"   read back {len(copy)} bytes, checksum verified")

        out.print("\n5. The event log recorded each change (conveyor events --follow streams it)")
        for ev in st.read_events(ws.store):
            out.print(f"   {ev.id:>3}  {ev.type:<40} {ev.subject}")

    out.print("\nExplore it yourself:")
    for cmd in ("runs list", f"runs show {run.id}", "artifacts list", "events"):
        out.print(f"   conveyor -p {folder} {cmd}")
