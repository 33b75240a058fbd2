"""Running the prediction server: uvicorn with the project's settings.

One worker serves from this process. Several are uvicorn's worker processes, each building
its app from the environment (:func:`app_from_env`), with prometheus_client's multiprocess
mode on a folder wiped before they start.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path
from typing import Any

from ...core import ConfigError

# Not CONVEYOR_*: those are settings.
_ROOT = "_CONVEYOR_WORKER_PROJECT"
_DEPLOYMENT = "_CONVEYOR_WORKER_DEPLOYMENT"
_LOG = "_CONVEYOR_WORKER_LOG"


def check_exposure(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a prediction token.

    Raises:
        ConfigError: ``host`` is not loopback and no token is set.
    """
    if token:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"Refusing to serve on {host} without a token: anyone who can reach it could "
            "call the model and read its predictions.",
            hint="Set CONVEYOR_SERVE_TOKEN (or serve.token), or bind 127.0.0.1.",
            host=host,
        )


def check_deployment(root: Path, deployment: str) -> str:
    """Load and warm what ``deployment`` serves, once, before any server starts: a missing
    deployment, an alias pointing nowhere, a version that fails to load or warm, or a bad
    feature list is a clear error here rather than a failed start. Returns what it serves.

    Raises:
        ConveyorError: the deployment cannot serve (the message says why).
    """
    import asyncio

    from ...workspace import Workspace
    from ..runtime import LiveDeployment, get_deployment
    from ._enrich import enrichment_factory

    async def check(ws: Any) -> str:
        record = get_deployment(ws, deployment)
        live = LiveDeployment(ws, deployment, enrichment=enrichment_factory(ws, record.config))
        await live.start(follow=False)
        version = live.current.version
        await live.stop()
        return f"models:/{record.model}@{record.alias} (version {version})"

    with Workspace.open(root) as ws:
        return asyncio.run(check(ws))


def serve(
    root: Path,
    deployment: str,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    log_predictions: bool | None = None,
) -> None:
    """Serve ``deployment`` of the project at ``root`` until SIGTERM or Ctrl-C."""
    import uvicorn

    from ...workspace import Workspace

    with Workspace.open(root) as ws:
        settings = ws.config.serve
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    check_exposure(host, settings.token.get_secret_value() if settings.token else None)
    options: dict[str, Any] = dict(
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(max(settings.grace, 1)),
        server_header=False,
    )
    if workers == 1:
        ws = Workspace.open(root)
        try:
            app = _create(ws, deployment, log_predictions)
            uvicorn.run(app, **options)
        finally:
            ws.close()
        return
    metrics_dir = ws.config.state_dir / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[_ROOT] = str(root)
    os.environ[_DEPLOYMENT] = deployment
    if log_predictions is not None:
        os.environ[_LOG] = "1" if log_predictions else "0"
    uvicorn.run("conveyor.serve.app._run:app_from_env", factory=True, workers=workers, **options)


def app_from_env() -> Any:
    """A worker's app: the project and deployment its parent put in the environment."""
    import atexit

    from prometheus_client import multiprocess

    from ...workspace import Workspace

    ws = Workspace.open(Path(os.environ[_ROOT]))
    atexit.register(ws.close)
    atexit.register(multiprocess.mark_process_dead, os.getpid())
    flag = os.environ.get(_LOG)
    return _create(ws, os.environ[_DEPLOYMENT], None if flag is None else flag == "1")


def _create(ws: Any, deployment: str, log_predictions: bool | None) -> Any:
    from ._app import create_app

    return create_app(ws, deployment, log_predictions=log_predictions)
