"""The speed floor of the serving benchmark: a thin FastAPI app that calls ``predict``.

Run by ``bench_serving.py`` with conveyor's python::

    python bench/_thin_fastapi.py MODEL.skops --port 8080

It loads a skops file once and answers ``POST /invocations`` with a ``dataframe_split``
body: parse the JSON, build the DataFrame, call ``predict``, return
``{"predictions": [...]}``. Nothing else: no validation beyond what pandas and the model
do, no version routing, no logging, no metrics. JSON goes through orjson when installed,
as conveyor's server does. uvicorn runs as conveyor's does: one worker, uvloop and
httptools when installed, access log off.

``predict`` runs in Starlette's thread pool, as a plain ``def`` endpoint of FastAPI would:
measured here, that was faster than calling it on the event loop (``--on-loop``) at every
concurrency, for the forest by 1.6-1.8x (its trees are walked without the GIL, so two
requests use both cores) and for the logistic regression too (1.1-2x, on a busy machine).
The faster of the two is the floor.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import Any

import pandas as pd
import skops.io as sio
import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

try:
    import orjson

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - orjson comes with the serve extra

    def loads(data: bytes) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return json.dumps(value).encode()


def make_app(model: Any, *, on_loop: bool = False) -> FastAPI:
    app = FastAPI()

    def predict(body: bytes) -> Response:
        split = loads(body)["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        predictions = model.predict(frame).tolist()
        return Response(dumps({"predictions": predictions}), media_type="application/json")

    @app.get("/ping")
    async def ping() -> Response:
        return Response(status_code=200)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        body = await request.body()
        if on_loop:
            return predict(body)
        return await run_in_threadpool(predict, body)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a skops file written by bench_serving.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--on-loop", action="store_true", help="predict on the event loop, not in a thread"
    )
    args = parser.parse_args()
    # The benchmark wrote this file itself a moment ago: every type in it is trusted.
    model = sio.load(args.model, trusted=sio.get_untrusted_types(file=args.model))
    has = importlib.util.find_spec
    uvicorn.run(
        make_app(model, on_loop=args.on_loop),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop" if has("uvloop") else "asyncio",
        http="httptools" if has("httptools") else "h11",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
