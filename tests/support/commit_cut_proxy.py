"""A loopback TCP proxy to PostgreSQL that loses COMMIT acknowledgements on demand (R19).

It relays bytes both ways and parses the client's side of the PostgreSQL wire protocol just
enough to see each message: the untyped start-up packets (SSL/GSS requests, the start-up
message), then ``type byte + int32 length + body``. A simple ``Query`` (``Q``) or
extended-protocol ``Parse`` (``P``) whose SQL is ``COMMIT`` is a commit; psycopg sends
COMMIT as a simple query.

When armed, the next commit is forwarded to the server; once the server's reply arrives
(so the transaction is committed) the proxy drops that reply and closes both sockets.
The client sees a dead connection where its acknowledgement should be: the transaction
committed, and the client cannot know it.

Armed with ``late=seconds``, the proxy closes the client's socket first and forwards the
COMMIT only after that delay: the client's retry then runs while the first transaction is
still open (holding its locks), and that transaction commits in the middle of the retry.

Use ``sslmode=disable`` (``url()`` adds it): a TLS stream cannot be parsed.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

from sqlalchemy import make_url

_SSL_REQUEST, _GSSENC_REQUEST, _CANCEL_REQUEST = 80877103, 80877104, 80877102


def _is_commit(kind: bytes, body: bytes) -> bool:
    if kind == b"Q":
        sql = body.split(b"\0", 1)[0]
    elif kind == b"P":  # statement name \0 query \0 ...
        parts = body.split(b"\0", 2)
        sql = parts[1] if len(parts) > 1 else b""
    else:
        return False
    words = sql.strip().rstrip(b";").strip().upper().split()
    return words[:1] in ([b"COMMIT"], [b"END"])


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("closed")
        chunks += chunk
    return bytes(chunks)


class _Link:
    """One client connection and its server connection."""

    def __init__(self, proxy: CommitCutProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = socket.create_connection(proxy.target, timeout=None)
        for sock in (client, self.server):  # relay each message at once (no Nagle delay)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.cutting = threading.Event()
        self.closed = False
        self._lock = threading.Lock()

    def start(self) -> None:
        for target in (self._client_to_server, self._server_to_client):
            threading.Thread(target=target, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _client_to_server(self) -> None:
        try:
            starting = True
            while True:
                if starting:
                    head = _recv_exact(self.client, 4)
                    (length,) = struct.unpack("!i", head)
                    body = _recv_exact(self.client, length - 4)
                    self.server.sendall(head + body)
                    code = struct.unpack("!i", body[:4])[0] if len(body) >= 4 else 0
                    # SSL/GSS requests come before the real start-up message.
                    starting = code in (_SSL_REQUEST, _GSSENC_REQUEST)
                    continue
                head = _recv_exact(self.client, 5)
                kind = head[:1]
                (length,) = struct.unpack("!i", head[1:])
                body = _recv_exact(self.client, length - 4)
                late = self.proxy._take_cut() if _is_commit(kind, body) else None
                if late is not None:
                    # Armed before forwarding: whatever the server sends next is this
                    # commit's reply, and the other pump drops it.
                    self.cutting.set()
                    if late:
                        self.client.shutdown(socket.SHUT_RDWR)
                        time.sleep(late)
                self.server.sendall(head + body)
        except (ConnectionError, OSError):
            pass
        finally:
            if not self.cutting.is_set():
                self.close()

    def _server_to_client(self) -> None:
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                if self.cutting.is_set():  # the commit's reply: the server has committed
                    self.proxy._record_cut()
                    break
                self.client.sendall(data)
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()


class CommitCutProxy:
    """``with CommitCutProxy("127.0.0.1", 5432) as proxy:`` then ``proxy.url(url)``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed = 0
        self._late = 0.0
        self.n_commits = 0
        self.n_cut = 0
        self._links: list[_Link] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @classmethod
    def for_url(cls, url: str) -> CommitCutProxy:
        parsed = make_url(url)
        return cls(parsed.host or "127.0.0.1", parsed.port or 5432)

    def url(self, url: str) -> str:
        """``url`` pointed at this proxy (same database, user and options)."""
        parsed = make_url(url)
        query = dict(parsed.query) | {"sslmode": "disable", "gssencmode": "disable"}
        moved = parsed.set(host="127.0.0.1", port=self.port, query=query)
        return moved.render_as_string(hide_password=False)

    def arm(self, n: int = 1, *, late: float = 0.0) -> None:
        """Lose the acknowledgement of the next ``n`` commits, on any connection; with
        ``late``, cut the client first and deliver each COMMIT that many seconds later."""
        with self._lock:
            self._armed, self._late = n, late

    @property
    def armed(self) -> int:
        return self._armed

    def _take_cut(self) -> float | None:
        """``None`` to relay this commit; else cut it, delivering it after this delay."""
        with self._lock:
            self.n_commits += 1
            if self._armed <= 0:
                return None
            self._armed -= 1
            return self._late

    def _record_cut(self) -> None:
        with self._lock:
            self.n_cut += 1

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                link = _Link(self, client)
            except OSError:
                client.close()
                continue
            self._links.append(link)
            link.start()

    def close(self) -> None:
        self._stopped = True
        try:  # wakes the accept() blocked in the other thread; close() alone does not
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for link in self._links:
            link.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CommitCutProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
