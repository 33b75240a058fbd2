"""The server's front door, as one ASGI middleware: Host and Origin checks, bearer tokens,
security headers. Deny by default: every path needs the prediction token (when one is set)
except the exact health paths; ``/admin/`` and ``/signals/`` (alerts posted by Alertmanager
or Grafana, which write events) need the admin token, and are closed without one.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PATHS = frozenset({"/health", "/ready", "/ping", "/v2/health/live", "/v2/health/ready"})
# Paths under these take the admin token, never the prediction token.
ADMIN_PREFIXES = ("/admin/", "/signals/")
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


def loopback_hosts(host: str) -> set[str]:
    """The Host values a server bound to ``host`` answers by default."""
    return {"localhost", "127.0.0.1", "::1", "[::1]", host.lower()}


class Guard:
    """Wraps ``app``; ``token`` / ``admin_token`` are the bearer tokens (None: not set)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str],
        token: str | None,
        admin_token: str | None,
    ) -> None:
        self.app = app
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._token = token.encode() if token else None
        self._admin = admin_token.encode() if admin_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no WebSocket route exists: refuse any upgrade
            await send({"type": "websocket.close", "code": 1008})
            return
        host = origin = auth = b""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"authorization":
                auth = value
        refusal = self._refuse(scope, host, origin, auth)
        if refusal is not None:
            await _answer(send, *refusal)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refuse(
        self, scope: Scope, host: bytes, origin: bytes, auth: bytes
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        if _hostname(host.decode("latin-1")) not in self.allowed_hosts:
            return 403, b'{"error": "This server does not answer that Host name."}', []
        method = scope["method"]
        if origin and method not in _SAFE_METHODS:
            origin_host = urlsplit(origin.decode("latin-1")).hostname or ""
            if origin_host.lower() not in self.allowed_hosts:
                return 403, b'{"error": "Cross-origin requests are refused."}', []
        path = scope["path"]
        if path in PUBLIC_PATHS:
            return None
        admin = path.startswith(ADMIN_PREFIXES)
        needed = self._admin if admin else self._token
        if admin and needed is None:
            return 403, b'{"error": "Admin routes are closed: set serve.admin_token."}', []
        if needed is not None and not _bearer_matches(auth, needed):
            return (
                401,
                b'{"error": "This route needs a bearer token: Authorization: Bearer TOKEN."}',
                [(b"www-authenticate", b"Bearer")],
            )
        return None


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _bearer_matches(auth: bytes, token: bytes) -> bool:
    scheme, _, given = auth.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)


async def _answer(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
        *_SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
