"""The prediction server's ASGI app.

Each prediction route reads the body (bounded), parses it in its protocol, validates it
against the serving version's signature, hands it to the deployment (micro-batched with
concurrent requests) and answers in the same protocol, naming the version that answered
(``model_version`` in the body, ``X-Model-Version`` header) and a prediction id per row.
A bad input is a 4xx naming the field; nothing a client sends can make a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ...core import ConveyorError, InvalidValueError, NotFoundError
from ..runtime import LiveDeployment, SwapFailed, get_deployment
from ..runtime._inputs import InputError, input_error
from . import _protocols as proto
from ._body import read_body
from ._enrich import enrichment_factory
from ._guard import Guard, loopback_hosts
from ._metrics import ServerMetrics
from ._render import oip_metadata, render_error, render_kserve_v1, render_mlflow, render_oip

if TYPE_CHECKING:
    from ...workspace import Workspace
    from ..runtime import LoadedVersion

log = logging.getLogger(__name__)

JSON = "application/json"
# A canary deployment sends a client to the same version every time it sends this key.
STICKY_HEADER = "x-request-key"
_Parser = Callable[[bytes, Any], "proto.Parsed"]


def create_app(ws: Workspace, deployment: str, *, log_predictions: bool | None = None) -> Any:
    """The ASGI app serving ``deployment`` of ``ws`` (wrapped in the front-door guard)."""
    settings = ws.config.serve
    metrics = ServerMetrics(
        deployment,
        lambda: _latest_drift(ws, deployment),
        lambda: _latest_performance(ws, deployment),
    )
    logging_on = settings.log_predictions if log_predictions is None else log_predictions
    state: dict[str, Any] = {}

    def on_call(loaded: LoadedVersion, rows: int, seconds: float, outputs: Any) -> None:
        metrics.observe_call(
            loaded.model, loaded.version, loaded.role, rows, seconds, outputs["prediction"]
        )
        plog = state.get("log")
        if plog is not None:
            metrics.log_state(plog.queued_rows, plog.dropped_rows)

    def on_swap(role: str, old: int | None, new: int, outcome: str) -> None:
        live: LiveDeployment | None = state.get("live")
        if outcome == "swapped" and live is not None:
            metrics.serving(live.model, live.aliases[role], new, role, old=old)
        metrics.swaps.labels(deployment, outcome).inc()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        plog = None
        if logging_on:
            from ..runtime import PredictionLog

            plog = PredictionLog(ws, deployment)
            plog.start()
            state["log"] = plog
        record = get_deployment(ws, deployment)
        live = LiveDeployment(
            ws,
            deployment,
            sink=plog,
            on_call=on_call,
            on_swap=on_swap,
            enrichment=enrichment_factory(ws, record.config),
        )
        state["live"] = live
        await live.start()
        try:
            yield
        finally:
            await live.stop()
            if plog is not None:
                plog.close()

    app = FastAPI(
        title="conveyor prediction server",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )

    def live() -> LiveDeployment:
        return state["live"]  # type: ignore[no-any-return]

    async def predict(
        request: Request, protocol: str, parse: _Parser, render: Callable[..., bytes]
    ) -> Response:
        started = time.perf_counter()
        route = request.scope.get("route")
        template = getattr(route, "path", "?")
        deployment_live = live()
        try:
            body = await read_body(request, settings.max_body_bytes)
            # No await between reading the serving version and handing it the batch: a
            # swap cannot slip in, so the signature checked is the one that predicts.
            loaded = deployment_live.route(request.headers.get(STICKY_HEADER))
            parsed = parse(body, loaded.request_signature)
            answer = await deployment_live.predict(parsed.batch, loaded)
        except InputError as exc:
            return _finish(metrics, template, request, started, _error(exc, protocol))
        except Exception as exc:  # the model refused an input its signature allows
            log.info("deployment %s: the model failed on a request: %r", deployment, exc)
            error = input_error(
                "body",
                f"fits the signature, but the model could not predict it ({type(exc).__name__})",
            )
            return _finish(metrics, template, request, started, _error(error, protocol))
        prediction = answer.outputs["prediction"]
        content = render(prediction, loaded, answer.ids, parsed)
        response = Response(
            content, media_type=JSON, headers={"x-model-version": str(loaded.version)}
        )
        return _finish(metrics, template, request, started, response)

    def mlflow_parse(body: bytes, signature: Any, request: Request) -> proto.Parsed:
        return proto.parse_invocations(
            body, request.headers.get("content-type"), signature, max_rows=settings.max_rows
        )

    @app.post("/invocations", openapi_extra=_body_doc("MLflow scoring payload"))
    async def invocations(request: Request) -> Response:
        return await predict(
            request,
            "mlflow",
            lambda body, sig: mlflow_parse(body, sig, request),
            lambda p, loaded, ids, _parsed: render_mlflow(p, ids=ids, version=loaded.version),
        )

    def oip_route(request: Request, name: str) -> Awaitable[Response]:
        if name != live().model:
            return _not_found(metrics, request, f"No model {name!r} on this server.")
        return predict(
            request,
            "oip",
            lambda body, sig: proto.parse_oip(body, sig, max_rows=settings.max_rows),
            lambda p, loaded, ids, parsed: render_oip(
                p, model=loaded.model, version=loaded.version, ids=ids, request_id=parsed.request_id
            ),
        )

    @app.post("/v2/models/{name}/infer", openapi_extra=_body_doc("Open Inference request"))
    async def oip_infer(request: Request, name: str) -> Response:
        return await oip_route(request, name)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        openapi_extra=_body_doc("Open Inference request"),
    )
    async def oip_infer_version(request: Request, name: str, version: str) -> Response:
        if version != str(live().current.version):
            return await _not_found(
                metrics, request, f"Version {version} of {name!r} is not serving here."
            )
        return await oip_route(request, name)

    @app.post("/v1/models/{name}:predict", openapi_extra=_body_doc("KServe v1 instances"))
    async def kserve_predict(request: Request, name: str) -> Response:
        if name != live().model:
            return await _not_found(metrics, request, f"No model {name!r} on this server.")
        return await predict(
            request,
            "kserve_v1",
            lambda body, sig: proto.parse_kserve_v1(body, sig, max_rows=settings.max_rows),
            lambda p, loaded, ids, _parsed: render_kserve_v1(p, ids=ids, version=loaded.version),
        )

    # -- health, metadata, metrics --------------------------------------------------------

    def health() -> Response:
        ready = "live" in state and live().ready
        return JSONResponse(
            {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
        )

    for path in ("/health", "/ready", "/ping", "/v2/health/ready"):
        app.add_api_route(path, health, methods=["GET"], include_in_schema=True)

    @app.get("/v2/health/live")
    async def alive() -> dict[str, bool]:
        return {"live": True}

    @app.get("/version")
    async def version() -> dict[str, Any]:
        current = live().current
        return {"model": current.model, "model_version": str(current.version)}

    @app.get("/v2/models/{name}")
    async def oip_model(name: str) -> Response:
        current = live().current
        if name != current.model:
            return JSONResponse({"error": f"No model {name!r} on this server."}, status_code=404)
        return Response(
            oip_metadata(current.model, [str(current.version)], current.request_signature),
            media_type=JSON,
        )

    @app.get("/v2/models/{name}/ready")
    @app.get("/v1/models/{name}")
    async def model_ready(name: str) -> Response:
        if name != live().model:
            return JSONResponse({"error": f"No model {name!r} on this server."}, status_code=404)
        return JSONResponse({"name": name, "ready": live().ready})

    @app.get("/metrics")
    async def prometheus() -> Response:
        plog = state.get("log")
        if plog is not None:
            metrics.log_state(plog.queued_rows, plog.dropped_rows)
        return Response(metrics.render(), media_type=metrics.content_type)

    # -- feedback and the lineage of one prediction ----------------------------------------

    @app.post("/feedback", openapi_extra=_body_doc("[{prediction_id, label}, ...]"))
    async def feedback(request: Request) -> Response:
        """Ground-truth labels for logged predictions (idempotent upserts)."""
        from ..runtime import record_feedback

        try:
            body = await read_body(request, settings.max_body_bytes)
            items = orjson.loads(body)
        except InputError as exc:
            return _error(exc, "mlflow")
        except orjson.JSONDecodeError:
            return _user_error(400, "The body is not valid JSON: send [{prediction_id, label}].")
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            return _user_error(422, "Send a JSON array of {prediction_id, label} objects.")
        try:
            result = await asyncio.to_thread(record_feedback, ws, items, deployment=deployment)
        except NotFoundError as exc:
            return _user_error(404, str(exc))
        except InvalidValueError as exc:
            return _user_error(422, str(exc))
        return JSONResponse({"upserted": result.n_upserted})

    @app.get("/predictions/{prediction_id}")
    async def prediction(prediction_id: str) -> Response:
        """One prediction: inputs, output, the version, its run, data, code and evaluation."""
        from ..runtime import explain_prediction

        try:
            explained = await asyncio.to_thread(explain_prediction, ws, prediction_id)
        except NotFoundError as exc:
            return _user_error(404, str(exc))
        except InvalidValueError as exc:
            return _user_error(422, str(exc))
        return Response(orjson.dumps(explained.to_dict(), default=str), media_type=JSON)

    # -- alerts from outside (admin token) ---------------------------------------------------

    @app.post(
        "/signals/alertmanager",
        openapi_extra=_body_doc("Alertmanager or Grafana webhook payload"),
    )
    async def alertmanager(request: Request) -> Response:
        """Record each alert of an Alertmanager or Grafana webhook as an event (once per
        fingerprint, start and status)."""
        from ...notify import receive_alertmanager

        try:
            body = await read_body(request, settings.max_body_bytes)
            payload = orjson.loads(body)
        except InputError as exc:
            return _error(exc, "mlflow")
        except orjson.JSONDecodeError:
            return _user_error(400, "The body is not valid JSON: send Alertmanager's payload.")
        try:
            receipt = await asyncio.to_thread(receive_alertmanager, ws, payload)
        except InvalidValueError as exc:
            return _user_error(422, str(exc))
        return JSONResponse(receipt.to_dict())

    # -- admin ------------------------------------------------------------------------------

    @app.post("/admin/reload")
    async def reload() -> Response:
        """Swap to where the alias points now (as the follower would)."""
        return await _swap(live(), None)

    @app.post("/admin/swap/{to_version}")
    async def swap(to_version: int) -> Response:
        """Serve ``to_version`` now, whatever the alias says (until the alias moves)."""
        return await _swap(live(), to_version)

    @app.exception_handler(ConveyorError)
    async def conveyor_error(_request: Request, exc: ConveyorError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=409)

    allowed = settings.allowed_hosts or loopback_hosts(settings.host)
    return Guard(
        app,
        allowed_hosts=allowed,
        token=settings.token.get_secret_value() if settings.token else None,
        admin_token=settings.admin_token.get_secret_value() if settings.admin_token else None,
    )


async def _swap(live: LiveDeployment, version: int | None) -> Response:
    try:
        serving = await live.swap(version)
    except SwapFailed as exc:
        return JSONResponse(
            {"error": str(exc), "model_version": str(live.current.version)}, status_code=409
        )
    return JSONResponse({"model": live.model, "model_version": str(serving)})


def _user_error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type=JSON)


def _error(exc: InputError, protocol: str) -> Response:
    return Response(render_error(exc, protocol), status_code=exc.status, media_type=JSON)


def _latest_drift(ws: Workspace, deployment: str) -> dict[str, Any] | None:
    from ...monitor import DRIFT, monitor_history

    windows = monitor_history(ws, deployment, monitor=DRIFT, last=1)
    return windows[-1].to_dict() if windows else None


def _latest_performance(ws: Workspace, deployment: str) -> list[dict[str, Any]]:
    from ...monitor import PERFORMANCE, monitor_history

    # The newest windows wait for labels: look back for one with enough of them.
    windows = monitor_history(ws, deployment, monitor=PERFORMANCE, last=48)
    return [w.to_dict() for w in windows]


async def _not_found(metrics: ServerMetrics, request: Request, message: str) -> Response:
    response = Response(orjson.dumps({"error": message}), status_code=404, media_type=JSON)
    return _finish(metrics, "?", request, time.perf_counter(), response)


def _finish(
    metrics: ServerMetrics, route: str, request: Request, started: float, response: Response
) -> Response:
    metrics.requests.labels(route, request.method, str(response.status_code)).inc()
    metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
    return response


def _body_doc(what: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"type": "object", "description": what}}},
        }
    }
