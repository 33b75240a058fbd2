"""``conveyor pipelines``, ``conveyor run``, and ``conveyor runs logs|resume``."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..core import STEP_DONE
from ._common import JsonOpt, open_workspace
from ._output import err, out, print_json, seconds, status

if TYPE_CHECKING:
    from ..pipelines import Graph, Pipeline, RunResult

app = typer.Typer(help="The project's pipelines: list them, show their DAG.", no_args_is_help=True)


def _describe(p: Pipeline) -> dict[str, Any]:
    graph = p.build() if all(v is not p.signature.empty for v in p.params.values()) else None
    params = {k: (None if v is p.signature.empty else v) for k, v in p.params.items()}
    steps = []
    if graph is not None:
        for name in graph.order():
            node = graph.nodes[name]
            steps.append(
                {
                    "name": name,
                    "step": node.step.name,
                    "upstream": sorted(node.upstream),
                    "when": None
                    if node.when is None
                    else f"{'~' if node.when.negate else ''}{node.when.ref!r}",
                    "map": node.map_over is not None,
                    "retries": node.step.options.retries,
                    "timeout": node.step.options.timeout,
                }
            )
    return {
        "name": p.name,
        "module": p.module,
        "description": p.description,
        "params": params,
        "steps": steps,
    }


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List the pipelines defined in the project's pipeline modules.

    Example:
        conveyor pipelines list
    """
    from ..pipelines import discover

    with open_workspace() as ws:
        found = discover(ws.config)
    described = [_describe(p) for p in found.values()]
    if json_:
        print_json(described)
        return
    from ._output import table

    table(
        ["pipeline", "steps", "params", "module", "description"],
        (
            [
                d["name"],
                len(d["steps"]),
                ", ".join(f"{k}={v!r}" for k, v in d["params"].items()) or "-",
                d["module"],
                (d["description"].splitlines() or [""])[0],
            ]
            for d in described
        ),
        title="Pipelines",
    )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Pipeline name (see `conveyor pipelines list`).")],
    json_: JsonOpt = False,
) -> None:
    """Draw a pipeline's DAG: steps, what each waits for, conditions and fan-outs.

    Example:
        conveyor pipelines show retrain
    """
    from ..pipelines import find_pipeline

    with open_workspace() as ws:
        p = find_pipeline(ws.config, name)
    if json_:
        print_json(_describe(p))
        return
    out.print(
        f"[bold]{p.name}[/] ({p.module})  {p.description.splitlines()[0] if p.description else ''}"
    )
    out.print(_tree(p.build(p.resolve_params())))


def _tree(graph: Graph, statuses: dict[str, str] | None = None) -> Any:
    """A Rich tree: each step under the step it waits for (first upstream in order)."""
    from rich.tree import Tree

    order = graph.order()
    root = Tree(f"[bold]{graph.pipeline}")
    branches: dict[str, Any] = {}
    for name in order:
        node = graph.nodes[name]
        label = name
        if node.map_over is not None:
            label += " [dim](map)[/]"
        if node.when is not None:
            label += f" [dim]when {'~' if node.when.negate else ''}{node.when.ref!r}[/]"
        others = sorted(node.upstream)
        if len(others) > 1:
            label += f" [dim]after {', '.join(others)}[/]"
        if statuses is not None:
            state = statuses.get(name, "pending")
            word = state.split(" ", 1)[0]
            label += f"  {status(word)}{state[len(word) :]}"
        parent = next(
            (branches[u] for u in reversed(order) if u in node.upstream and u in branches), root
        )
        branches[name] = parent.add(label)
    return root


def _parse_params(pairs: list[str]) -> dict[str, str]:
    from ..core import ConfigError

    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--param takes KEY=VALUE. Got {pair!r}.", hint="For example: --param max_depth=6"
            )
        params[key.strip()] = value
    return params


class _Live:
    """Prints step changes: a live table on a terminal, one line per change otherwise."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, float, float | None]] = {}
        self.live: Any = None

    def __enter__(self) -> _Live:
        if out.is_terminal:
            from rich.live import Live

            self.live = Live(self._render(), console=out, refresh_per_second=8, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(*exc)

    def change(self, name: str, state: str) -> None:
        now = time.monotonic()
        started = self.rows.get(name, (state, now, None))[1]
        done = now if state in STEP_DONE or state == "cached" else None
        if state in ("running", "retrying"):
            started = now if state == "running" else started
        self.rows[name] = (state, started, done)
        if self.live is not None:
            self.live.update(self._render())
        elif "[" not in name:  # fan-out items show in the live view only
            out.print(f"{name}: {state}")

    def _render(self) -> Any:
        from rich.table import Table

        t = Table("step", "status", "duration", header_style="bold")
        shown = [n for n in self.rows if "[" not in n]
        for name in shown:
            state, started, done = self.rows[name]
            items = [s for n, s in self.rows.items() if n.startswith(name + "[")]
            label = name + (
                f" ({sum(1 for s in items if s[0] in ('succeeded', 'cached'))}/{len(items)})"
                if items
                else ""
            )
            t.add_row(label, status(state), seconds((done or time.monotonic()) - started))
        return t


def _summary(result: RunResult, elapsed: float) -> None:
    run = result.run
    counts: dict[str, int] = {}
    for name, state in result.statuses.items():
        if "[" not in name:
            counts[state] = counts.get(state, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    out.print(f"Run {run.id} {status(run.status)} in {seconds(elapsed)}: {parts}.")
    for name, error in result.errors.items():
        if result.statuses.get(name) == "failed" and "[" not in name:
            err.print(f"  {name}: {error}", markup=False)
    if run.status == "failed":
        out.print(
            f"Logs: conveyor runs logs {run.id}  ·  "
            f"Retry what failed: conveyor runs resume {run.id}"
        )


def run(
    pipeline: Annotated[str, typer.Argument(help="Pipeline name (see `conveyor pipelines list`).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-P", help="Override a parameter: KEY=VALUE (repeatable)."),
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="local or ray (default: executor.kind).")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="Local executor: run steps in 'thread's or 'process'es.")
    ] = "thread",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every step.")] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Cancel what has not started after a failure.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Run a pipeline, showing each step live, then a summary. Exit 1 if the run failed.

    Example:
        conveyor run retrain --param max_depth=8
    """
    from ..pipelines import run_pipeline

    params = _parse_params(param or [])
    with open_workspace() as ws:
        started = time.monotonic()
        live = _Live()
        with live if not json_ else contextlib.nullcontext():
            result = run_pipeline(
                ws,
                pipeline,
                params,
                from_text=True,
                executor=executor,
                mode=mode,
                cache=not no_cache,
                fail_fast=fail_fast,
                on_change=live.change if not json_ else None,
            )
        if json_:
            print_json(result.run.to_dict() | {"steps": result.statuses, "errors": result.errors})
        else:
            _summary(result, time.monotonic() - started)
    if not result.succeeded:
        raise typer.Exit(1)


def resume(
    run_id: Annotated[int, typer.Argument(help="The run to continue.")],
    force: Annotated[
        bool, typer.Option("--force", help="Take over even if the old runner's lease is live.")
    ] = False,
) -> None:
    """Continue a run whose process died: finished steps are kept, the rest run.

    Example:
        conveyor runs resume 42
    """
    from ..pipelines import resume_run

    with open_workspace() as ws:
        started = time.monotonic()
        live = _Live()
        with live:
            result = resume_run(ws, run_id, force=force, on_change=live.change)
        _summary(result, time.monotonic() - started)
    if not result.succeeded:
        raise typer.Exit(1)


def logs(
    run_id: Annotated[int, typer.Argument(help="The run.")],
    step: Annotated[str | None, typer.Argument(help="Only this step (default: all).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Print the captured stdout, stderr and tracebacks of a run's steps.

    Example:
        conveyor runs logs 42 train
    """
    from ..pipelines import step_logs

    with open_workspace() as ws:
        found = step_logs(ws, run_id, step)
    if json_:
        print_json(
            [
                {
                    "step": log.step.name,
                    "status": log.step.status,
                    "attempt": log.step.attempt,
                    "error": log.step.error,
                    "text": log.text,
                }
                for log in found
            ]
        )
        return
    for log in found:
        s = log.step
        out.rule(f"{s.name} · {s.status} · attempt {s.attempt}", align="left")
        if log.text is not None:
            out.print(log.text.rstrip() or "(no output)", markup=False, highlight=False)
        elif s.error:
            out.print(s.error, markup=False)
        else:
            out.print("(no output)")
