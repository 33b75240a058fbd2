"""Closed-loop HTTP/1.1 load generator for the serving benchmark.

Run as its own process, so that it does not share the server's interpreter (and its GIL)::

    python bench/_loadgen.py http://127.0.0.1:8080/invocations -c 8 --warmup 2 --duration 10 \\
        -X POST -H "Content-Type: application/json" --body '{"dataframe_split": ...}'

N keep-alive connections (``-c``) each send the same request, wait for the whole response
and send the next one at once (closed loop: N requests in flight at any moment). It is an
``asyncio.Protocol`` on raw sockets, on uvloop when installed: no HTTP client library, a
response parser that reads ``Content-Length`` and chunked bodies and nothing more, so that
its own CPU cost per request stays small; it shares the machine's cores with the server.

A warm-up runs first and is not counted. Then, for ``--duration`` seconds, every response
that completes is counted and its latency (from the request's write to the response's last
byte) kept; percentiles are exact, from all samples (nearest rank). At the end no new
request is sent and those in flight are waited for (``--drain``), so that over the whole
run every request sent is accounted for: answered, or lost with its connection.

Prints one JSON object on stdout: requests, non-2xx, connection errors, missing header
(``--expect-header``), throughput, p50/p90/p99/max latency, and the load generator's own
CPU time per request.

``--trivial-server PORT`` runs the other end instead: a server that answers every request
with a fixed 200 and parses nothing, for measuring the load generator's own ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any, cast
from urllib.parse import urlsplit

MAX_HEADER_VALUES = 8  # distinct values of --expect-header kept in the report


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stats:
    """The shared clock and counters of one run."""

    def __init__(self, expect_header: bytes | None) -> None:
        self.expect_header = expect_header  # lowercased header name, or None
        self.measuring = False
        self.sending = True
        self.latencies_ns: list[int] = []
        self.requests = 0  # completed in the measured window
        self.non_2xx = 0
        self.missing_header = 0
        self.header_values: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.sent_total = 0  # whole run, warm-up included
        self.completed_total = 0
        self.non_2xx_total = 0
        self.connection_errors = 0
        self.first_error: str | None = None
        self.in_flight = 0
        self.drained = asyncio.Event()

    def note_error(self, text: str) -> None:
        if self.first_error is None:
            self.first_error = text[:300]


class Connection(asyncio.Protocol):
    """One keep-alive connection sending ``request`` again as soon as its answer is read."""

    def __init__(self, stats: Stats, request: bytes, head_only: bool, reconnect: Any) -> None:
        self.stats = stats
        self.request = request
        self.head_only = head_only  # a HEAD request: responses have no body
        self.reconnect = reconnect
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.started_ns = 0
        self.waiting = False  # a request is in flight on this connection
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.in_body = False
        self.remaining = 0  # body bytes still to read (Content-Length mode)
        self.chunked = False
        self.until_close = False
        self.close_after = False
        self.header_value: bytes | None = None

    # --- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        stats = self.stats
        if self.waiting and self.until_close and self.in_body:
            self._complete()  # a body delimited by the end of the connection
        elif self.waiting:
            self.waiting = False
            stats.in_flight -= 1
            stats.connection_errors += 1
            stats.note_error(f"connection lost mid-request: {exc!r}")
        self.transport = None
        if stats.sending:
            self.reconnect()
        elif stats.in_flight == 0:
            stats.drained.set()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while self.waiting:
            if not self.in_body:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._parse_head(bytes(buf[:end]))
                del buf[: end + 4]
                self.in_body = True
                if not 200 <= self.status < 300:
                    self.stats.note_error(f"HTTP {self.status}: {bytes(buf[:200])!r}")
            if self.until_close:
                buf.clear()
                return
            if self.chunked:
                if not self._read_chunks(buf):
                    return
            elif len(buf) >= self.remaining:
                del buf[: self.remaining]
            else:
                return
            self._complete()

    # --- the request/response cycle ------------------------------------------------------

    def _send(self) -> None:
        stats = self.stats
        if not stats.sending or self.transport is None:
            return
        self.waiting = True
        stats.in_flight += 1
        stats.sent_total += 1
        self.started_ns = time.perf_counter_ns()
        self.transport.write(self.request)

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        try:
            self.status = int(lines[0][9:12])
        except ValueError:
            self.status = 0
        length = -1
        expect = self.stats.expect_header
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif name == b"connection":
                self.close_after = b"close" in value.lower()
            if expect is not None and name == expect:
                self.header_value = value.strip()
        no_body = self.head_only or self.status < 200 or self.status in (204, 304)
        if no_body:
            self.chunked = False
            self.remaining = 0
        elif not self.chunked:
            if length >= 0:
                self.remaining = length
            else:
                self.until_close = True

    def _read_chunks(self, buf: bytearray) -> bool:
        """Consume whole chunks from ``buf``; True once the last chunk and trailers are read."""
        while True:
            if self.remaining > 0:  # the rest of a chunk's data and its CRLF
                if len(buf) < self.remaining:
                    return False
                del buf[: self.remaining]
                self.remaining = 0
            if self.remaining < 0:  # after the zero chunk: trailers up to an empty line
                if buf[:2] == b"\r\n":
                    del buf[:2]
                    return True
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return False
                del buf[: end + 4]
                return True
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(buf[:end]).split(b";", 1)[0], 16)
            del buf[: end + 2]
            self.remaining = size + 2 if size else -1

    def _complete(self) -> None:
        stats = self.stats
        now = time.perf_counter_ns()
        self.waiting = False
        stats.in_flight -= 1
        stats.completed_total += 1
        ok = 200 <= self.status < 300
        if not ok:
            stats.non_2xx_total += 1
        if stats.measuring:
            stats.requests += 1
            stats.latencies_ns.append(now - self.started_ns)
            stats.statuses[self.status] = stats.statuses.get(self.status, 0) + 1
            if not ok:
                stats.non_2xx += 1
            if stats.expect_header is not None:
                if self.header_value is None:
                    stats.missing_header += 1
                else:
                    value = self.header_value.decode("latin-1")
                    if value in stats.header_values or len(stats.header_values) < MAX_HEADER_VALUES:
                        stats.header_values[value] = stats.header_values.get(value, 0) + 1
        close = self.close_after or self.until_close
        self._reset()
        if close:
            if self.transport is not None:
                self.transport.close()  # connection_lost reconnects while sending
        elif stats.sending:
            self._send()
        else:
            if stats.in_flight == 0:
                stats.drained.set()


def build_request(method: str, url: str, headers: list[str], body: bytes) -> tuple[bytes, str, int]:
    """The raw request bytes, the host and the port for ``url`` (``http://`` only)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"Only http:// URLs are supported. Got {url!r}.")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    names = {h.split(":", 1)[0].strip().lower() for h in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {parts.hostname}:{port}")
    lines += [h.strip() for h in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, parts.hostname, port


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of sorted samples, in milliseconds."""
    if not sorted_ns:
        return float("nan")
    rank = max(1, -(-len(sorted_ns) * q // 100))
    return sorted_ns[int(rank) - 1] / 1e6


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body = args.body.encode() if args.body is not None else b""
    if args.body_file:
        with open(args.body_file, "rb") as f:
            body = f.read()
    request, host, port = build_request(args.method.upper(), args.url, args.header, body)
    expect = args.expect_header.lower().encode("latin-1") if args.expect_header else None
    stats = Stats(expect)
    loop = asyncio.get_running_loop()
    conns: list[Connection] = []

    def connect() -> None:
        conn = Connection(stats, request, args.method.upper() == "HEAD", lambda: reconnect())
        conns.append(conn)

        def done(task: asyncio.Future[Any]) -> None:
            if task.exception() is not None:
                stats.connection_errors += 1
                stats.note_error(f"connect failed: {task.exception()!r}")
                if stats.sending:
                    loop.call_later(0.01, connect)

        task = asyncio.ensure_future(loop.create_connection(lambda: conn, host, port))
        task.add_done_callback(done)

    def reconnect() -> None:
        loop.call_soon(connect)

    for _ in range(args.connections):
        connect()
    await asyncio.sleep(args.warmup)
    stats.measuring = True
    cpu0, t0 = _cpu_s(), time.perf_counter()
    await asyncio.sleep(args.duration)
    stats.measuring = False
    elapsed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    stats.sending = False
    if stats.in_flight:
        stats.drained.clear()
        try:
            await asyncio.wait_for(stats.drained.wait(), args.drain)
        except TimeoutError:
            pass
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    await asyncio.sleep(0)
    samples = sorted(stats.latencies_ns)
    return {
        "url": args.url,
        "connections": args.connections,
        "warmup_s": args.warmup,
        "duration_s": elapsed,
        "loop": type(loop).__module__.split(".")[0],
        "requests": stats.requests,
        "throughput_rps": stats.requests / elapsed if elapsed else 0.0,
        "non_2xx": stats.non_2xx,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "connection_errors": stats.connection_errors,
        "missing_header": stats.missing_header if expect is not None else None,
        "header_values": stats.header_values if expect is not None else None,
        "p50_ms": percentile(samples, 50),
        "p90_ms": percentile(samples, 90),
        "p99_ms": percentile(samples, 99),
        "max_ms": samples[-1] / 1e6 if samples else float("nan"),
        "mean_ms": sum(samples) / len(samples) / 1e6 if samples else float("nan"),
        "sent_total": stats.sent_total,
        "completed_total": stats.completed_total,
        "non_2xx_total": stats.non_2xx_total,
        "unfinished": stats.in_flight,
        "cpu_s": cpu,
        "cpu_us_per_request": cpu / stats.requests * 1e6 if stats.requests else None,
        "first_error": stats.first_error,
    }


# --- the trivial server: the load generator's own ceiling --------------------------------

TRIVIAL_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n"
    b"X-Model-Version: 1\r\n\r\n" + b'{"predictions":[1]}'
)


class TrivialServer(asyncio.Protocol):
    """Answers each request (counted by its blank line) with a fixed 200; reads no body
    beyond the bytes it skips, so it only serves requests whose body holds no CRLFCRLF."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15 :].split(b"\r\n", 1)[0]) if start >= 0 else 0
            if len(buf) < end + 4 + length:
                return
            del buf[: end + 4 + length]
            self.transport.write(TRIVIAL_RESPONSE)


async def serve_trivial(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(TrivialServer, "127.0.0.1", port, backlog=1024)
    print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Closed-loop HTTP/1.1 load generator.")
    parser.add_argument("url", nargs="?", help="http://host:port/path")
    parser.add_argument("-c", "--connections", type=int, default=1, help="concurrency")
    parser.add_argument("-X", "--method", default="GET")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--body", help="request body (text)")
    parser.add_argument("--body-file", help="request body from a file")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--drain", type=float, default=10.0, help="max wait for in-flight")
    parser.add_argument("--expect-header", help="count responses without this header")
    parser.add_argument(
        "--loop", choices=("auto", "uvloop", "asyncio"), default="auto", help="event loop"
    )
    parser.add_argument("--trivial-server", type=int, metavar="PORT", help="serve, not load")
    args = parser.parse_args(argv)
    if args.trivial_server is None and not args.url:
        parser.error("a URL is needed (or --trivial-server PORT)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_uvloop = args.loop == "uvloop"
    if args.loop == "auto":
        import importlib.util

        use_uvloop = importlib.util.find_spec("uvloop") is not None
    if use_uvloop:
        import uvloop

        runner: Any = uvloop.run
    else:
        runner = asyncio.run
    if args.trivial_server is not None:
        try:
            runner(serve_trivial(args.trivial_server))
        except KeyboardInterrupt:
            pass
        return 0
    print(json.dumps(runner(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
