"""HTTP posts through the outbound URL guard, to the address that was checked.

:class:`PinnedTransport` checks every request's URL (as httpx parsed it) with
:func:`conveyor.core.check_target`, then connects to the checked address while the Host
header and the TLS server name stay the URL's host: a DNS answer that changes between the
check and the connect (rebinding) cannot move the request. Redirects are never followed,
no proxy is read from the environment, and no URL is logged.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..core import CheckedURL, OutboundPolicy, Resolver, check_target, check_url
from ._policy import TryResult, retryable_status

_BODY_SHOWN = 120


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that sends each request only to an address the guard passed."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolver: Resolver | None = None,
        checked: CheckedURL | None = None,
        verify: Any = True,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._checked = checked
        self._inner = httpx.HTTPTransport(verify=verify, retries=0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        checked = self._checked
        port = url.port or (443 if url.scheme == "https" else 80)
        if checked is None or (checked.scheme, checked.host, checked.port) != (
            url.scheme,
            url.host.lower().rstrip("."),
            port,
        ):
            # Not the target checked beforehand (httpx read the URL differently): check
            # what httpx is about to connect to.
            try:
                checked = check_target(
                    url.scheme, url.host, url.port, self._policy, resolver=self._resolver
                )
            except ConnectionError as exc:  # the name did not resolve: a network problem
                raise httpx.ConnectError(str(exc), request=request) from None
            assert checked is not None
        request.url = url.copy_with(host=checked.address)
        if checked.scheme == "https" and checked.address != checked.host:
            # Verify the certificate for the URL's name, not for the address.
            request.extensions = {**request.extensions, "sni_hostname": checked.host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    policy: OutboundPolicy,
    timeout: float,
    resolver: Resolver | None = None,
) -> TryResult:
    """POST ``body`` to ``url`` once; say how it went. Never names the URL's path or query
    in the reason (a Slack URL's path is its secret).

    The URL is checked (its host resolved once) and the connection goes to the address
    checked.

    Raises:
        UnsafeURLError: the guard refused the URL (not worth another try).
    """
    try:
        checked = check_url(url, policy, resolver=resolver)
    except ConnectionError as exc:  # the name did not resolve: worth another try
        return TryResult(False, True, reason=str(exc))
    # The transport is called directly, not through an httpx.Client: a client would log
    # the URL (a Slack URL's path is its secret), read proxies from the environment, and
    # could follow redirects.
    try:
        request = httpx.Request(
            "POST",
            url,
            content=body,
            headers=dict(headers),
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )
        with PinnedTransport(policy, resolver=resolver, checked=checked) as transport:
            response = transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
    except httpx.InvalidURL as exc:
        return TryResult(False, False, reason=f"the URL is not valid: {_redact(str(exc), url)}")
    except httpx.TimeoutException:
        return TryResult(False, True, reason=f"no answer within {timeout:g}s")
    except httpx.TransportError as exc:
        return TryResult(False, True, reason=f"could not connect: {_redact(str(exc), url)}")
    code = response.status_code
    if 200 <= code <= 299:
        return TryResult(True, status_code=code)
    if 300 <= code <= 399:
        return TryResult(
            False,
            False,
            code,
            f"answered HTTP {code}, a redirect; redirects are never followed: set the "
            "channel's URL to the final address",
        )
    snippet = _redact(response.text[:_BODY_SHOWN].strip(), url)
    return TryResult(
        False,
        retryable_status(code),
        code,
        f"answered HTTP {code}" + (f": {snippet}" if snippet else ""),
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _redact(text: str, url: str) -> str:
    """``text`` without the URL, its path or its query (secrets live there)."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if len(secret) > 1:
            text = text.replace(secret, "<redacted>")
    return " ".join(text.split())


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
