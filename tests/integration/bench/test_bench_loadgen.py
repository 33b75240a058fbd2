"""The serving benchmark's load generator (``bench/_loadgen.py``) against a real HTTP/1.1
server: its counts match what the server answered, over Content-Length and chunked
bodies, with non-2xx answers and a checked header. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

LOADGEN = Path(__file__).resolve().parents[3] / "bench" / "_loadgen.py"


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered = 0
        self.failed = 0
        self.bodies: set[bytes] = set()


def make_handler(counts: Counts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Keep-alive; the n-th request gets, by n % 4: a 503 with a Content-Length body, a
        200 with one, a chunked 200, a chunked 200 with a chunk extension and a trailer."""

        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except ConnectionError:  # the load generator closed the connection at the end
                pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with counts.lock:
                n = counts.answered
                counts.answered += 1
                counts.bodies.add(body)
                if n % 4 == 0:
                    counts.failed += 1
            if n % 4 == 0:
                raw = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
            elif n % 4 == 1:
                raw = (
                    b"HTTP/1.1 200 OK\r\nX-Model-Version: 7\r\nContent-Length: 19\r\n\r\n"
                    b'{"predictions":[1]}'
                )
            elif n % 4 == 2:
                raw = (
                    b"HTTP/1.1 200 OK\r\nx-model-version: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b'5\r\n{"pre\r\n0e\r\ndictions":[1]}\r\n0\r\n\r\n'
                )
            else:
                raw = (
                    b"HTTP/1.1 200 OK\r\nX-Model-Version:7\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b'13;ext=1\r\n{"predictions":[1]}\r\n0\r\nX-Trailer: done\r\n\r\n'
                )
            self.wfile.write(raw)
            self.wfile.flush()

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[int, Counts]]:
    counts = Counts()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(counts))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], counts
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def run_loadgen(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(LOADGEN), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_loadgen_counts_match_what_the_server_answered(server: tuple[int, Counts]) -> None:
    port, counts = server
    result = run_loadgen(
        f"http://127.0.0.1:{port}/invocations",
        *("-c", "4", "--warmup", "0.3", "--duration", "1"),
        *("-X", "POST", "-H", "Content-Type: application/json", "--body", '{"x": [1]}'),
        *("--expect-header", "X-Model-Version"),
    )
    # Over the whole run, every request sent was answered and read, and nothing was lost.
    assert result["completed_total"] == counts.answered > 0
    assert result["sent_total"] == result["completed_total"]
    assert result["unfinished"] == 0
    assert result["connection_errors"] == 0
    assert result["non_2xx_total"] == counts.failed
    assert counts.bodies == {b'{"x": [1]}'}
    # In the measured window: the 503s are the non-2xx and the only answers without the header.
    assert 0 < result["requests"] <= result["completed_total"]
    statuses = result["statuses"]
    assert set(statuses) == {"200", "503"}
    assert sum(statuses.values()) == result["requests"]
    assert statuses["503"] == result["non_2xx"] == result["missing_header"]
    assert result["header_values"] == {"7": statuses["200"]}
    assert result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["first_error"].startswith("HTTP 503: b'busy'")


def test_loadgen_counts_connection_errors_when_nothing_listens() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # the port is free again and nothing listens on it
    result = run_loadgen(
        f"http://127.0.0.1:{port}/", "-c", "2", "--warmup", "0.1", "--duration", "0.3"
    )
    assert result["requests"] == result["sent_total"] == 0
    assert result["connection_errors"] > 0
    assert "connect failed" in result["first_error"]
