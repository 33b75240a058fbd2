"""A served model for the serving tests: a project with a registered classifier behind
``churn@champion``, a deployment, and the real server run as ``conveyor serve`` in a child
process on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sklearn.linear_model import LogisticRegression

from conveyor.registry import promote, register_model
from conveyor.serve.runtime import set_deployment
from conveyor.workspace import Workspace
from support.cli import CONVEYOR, _env
from support.models import frame

COLUMNS = ["tenure", "charges", "calls"]


def register_version(ws: Workspace, *, C: float = 1.0, model: str = "churn") -> int:
    """Fit and register a logistic regression; return its version number."""
    X, y = frame()
    fitted = LogisticRegression(C=C, max_iter=500).fit(X, y)
    return register_model(ws, model, fitted, input_example=X.head()).version


def serving_project(ws: Workspace, *, versions: int = 1) -> list[int]:
    """``versions`` registered versions, the first behind ``champion``; deployment churn."""
    numbers = [register_version(ws, C=1.0 + i) for i in range(versions)]
    promote(ws, "churn", numbers[0], force_reason="test")
    set_deployment(ws, "churn", model="churn")
    return numbers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def split_payload(rows: int = 1) -> dict[str, Any]:
    X, _ = frame()
    # astype(object) keeps each column's own type (the integers stay integers).
    data = X.head(rows).astype(object).values.tolist()
    return {"dataframe_split": {"columns": COLUMNS, "data": data}}


@dataclass
class Server:
    """A running ``conveyor serve`` child process."""

    process: subprocess.Popen[str]
    url: str
    log_path: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(
    ws: Workspace,
    deployment: str = "churn",
    *,
    args: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[Server]:
    """Start ``conveyor serve`` for ``ws``'s project; stop it (SIGTERM) on exit."""
    port = free_port()
    root = ws.config.root
    log_path = root / f"server-{port}.log"
    extra = {"CONVEYOR_STORE": ws.config.store.url, "CONVEYOR_SERVE_FOLLOW_INTERVAL": "100ms"}
    extra.update(env or {})
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [CONVEYOR, "serve", deployment, "--port", str(port), *args],
            cwd=root,
            env=_env(extra),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_ready(server, ready_timeout)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"conveyor serve exited early:\n{server.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"conveyor serve was not ready in {timeout}s:\n{server.output()}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class FailsToLoad:
    """A model whose unpickling raises: a version that can never load."""

    def __init__(self) -> None:
        self.state = "pickle calls __setstate__ only for a non-empty state"

    def __setstate__(self, state: dict[str, Any]) -> None:
        raise RuntimeError("this model cannot be loaded")

    def predict(self, X: Any) -> Any:  # pragma: no cover - never loaded
        return X


def support_env() -> dict[str, str]:
    """The environment a server needs to unpickle the test models of ``support``."""
    tests = Path(__file__).resolve().parents[1]
    return {"PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}


class SlowModel:
    """Predicts 1 for every row after sleeping ``seconds`` per call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, X: Any) -> Any:
        import numpy as np

        time.sleep(self.seconds)
        return np.ones(len(X), dtype=np.int64)


class NanModel:
    """Answers NaN, +inf, -inf and 1.0 in turn: outputs JSON has no literal for."""

    def __init__(self) -> None:
        self.values = [float("nan"), float("inf"), float("-inf"), 1.0]

    def predict(self, X: Any) -> Any:
        import numpy as np

        return np.resize(np.array(self.values), len(X))


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")
