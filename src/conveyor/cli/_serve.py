"""``conveyor serve`` and ``conveyor deployments``: the prediction server and what it serves."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import JsonOpt, open_workspace, project_root
from ._output import out, print_json, table, when

app = typer.Typer(
    help="Deployments: endpoints bound to a model alias (set, list).", no_args_is_help=True
)


def serve(
    deployment: Annotated[str, typer.Argument(help="The deployment to serve.")],
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (default serve.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Port (default serve.port, 8080).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, max=64, help="Server processes (serve.workers)."),
    ] = None,
    log: Annotated[
        bool | None,
        typer.Option(
            "--log/--no-log", help="Log every prediction (default serve.log_predictions)."
        ),
    ] = None,
) -> None:
    """Serve a deployment's model over HTTP until Ctrl-C or SIGTERM.

    Speaks MLflow's scoring protocol (POST /invocations), the Open Inference Protocol v2
    (POST /v2/models/NAME/infer) and KServe v1 (POST /v1/models/NAME:predict); follows
    the deployment's alias and swaps versions with no restart.

    Example:
        conveyor serve churn --port 8080
    """
    from ..serve.app import check_deployment
    from ..serve.app import serve as run_server

    root = project_root()
    serves = check_deployment(root, deployment)
    out.print(f"Serving deployment {deployment!r}: {serves} (Ctrl-C to stop)...")
    run_server(root, deployment, host=host, port=port, workers=workers, log_predictions=log)


@app.command("set")
def set_(
    name: Annotated[str, typer.Argument(help="The deployment's name.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The registered model it serves.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="The alias it follows.")] = "champion",
    strategy: Annotated[
        str, typer.Option("--strategy", help="replace, canary or shadow.")
    ] = "replace",
    second_alias: Annotated[
        str,
        typer.Option("--second-alias", help="The canary's or shadow's alias."),
    ] = "challenger",
    share: Annotated[
        float,
        typer.Option("--share", help="The canary's share of requests, 0 to 1."),
    ] = 0.1,
    feature: Annotated[
        list[str] | None,
        typer.Option(
            "--feature",
            "-f",
            help="A feature (view:feature, or a view) to look up in the online store by the "
            "request's entity columns; repeat for more.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Create or update a deployment: an endpoint serving models:/MODEL@ALIAS.

    With --strategy canary, --share of requests go to the version behind --second-alias
    (sticky by the X-Request-Key header); with shadow, that version predicts every request
    too, logged and never returned. With --feature, requests carry the views' entity
    columns and the features are looked up in the online store.

    Example:
        conveyor deployments set churn --model churn --strategy canary --share 0.2
    """
    from ..serve.runtime import set_deployment

    config: dict[str, object] = {}
    if strategy in ("canary", "shadow"):
        config["second_alias"] = second_alias
    if strategy == "canary":
        config["share"] = share
    if feature:
        config["features"] = list(feature)
    with open_workspace() as ws:
        record = set_deployment(
            ws, name, model=model, alias=alias, strategy=strategy, config=config
        )
    if json_:
        print_json(record.to_dict())
        return
    second = record.config.get("second_alias")
    also = f", {record.strategy} models:/{record.model}@{second}" if second else ""
    out.print(f"Deployment {record.name!r} serves models:/{record.model}@{record.alias}{also}.")


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List deployments: the model alias each serves and its strategy.

    Example:
        conveyor deployments list
    """
    from ..serve.runtime import list_deployments

    with open_workspace() as ws:
        records = list_deployments(ws)
    if json_:
        print_json([r.to_dict() for r in records])
        return
    table(
        ["deployment", "serves", "strategy", "updated (UTC)"],
        ([r.name, f"models:/{r.model}@{r.alias}", r.strategy, when(r.updated_at)] for r in records),
        title="Deployments",
    )
