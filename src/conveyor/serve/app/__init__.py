"""The prediction server: an ASGI app that speaks MLflow's scoring protocol, the Open
Inference Protocol v2 and KServe v1 in front of a deployment's model.

An entry point: it parses requests, calls ``conveyor.serve.runtime`` and renders answers;
the rules (signatures, batching, swaps, the prediction log) live in the runtime.
"""

from __future__ import annotations

from ._app import create_app as create_app
from ._run import check_deployment as check_deployment
from ._run import serve as serve

__all__ = ["check_deployment", "create_app", "serve"]
