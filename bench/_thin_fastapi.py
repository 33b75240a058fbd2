"""The speed floor of the serving benchmark: a thin FastAPI app that calls ``predict``.

Run by ``bench_serving.py`` with conveyor's python::

    python bench/_thin_fastapi.py MODEL.skops --port 8080

It loads a skops file once and answers ``POST /invocations`` with a ``dataframe_split``
body: parse the JSON, build the DataFrame, call ``predict``, return
``{"predictions": [...]}``. Nothing else: no validation beyond what pandas and the model
do, no version routing, no logging, no metrics. The handler is ``async def`` and calls
``predict`` on the event loop, the cheapest way for one worker (no thread hop). JSON goes
through orjson when installed, as conveyor's server does. uvicorn runs as conveyor's
does: one worker, uvloop and httptools when installed, access log off.
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


def make_app(model: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> Response:
        return Response(status_code=200)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        split = loads(await request.body())["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        predictions = model.predict(frame).tolist()
        return Response(dumps({"predictions": predictions}), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a skops file written by bench_serving.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The benchmark wrote this file itself a moment ago: every type in it is trusted.
    model = sio.load(args.model, trusted=sio.get_untrusted_types(file=args.model))
    has = importlib.util.find_spec
    uvicorn.run(
        make_app(model),
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
