"""Reading a request body within a size limit, with or without a Content-Length."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from ..runtime._inputs import InputError, input_error


def _too_large(limit: int) -> InputError:
    return input_error(
        "body",
        f"is larger than this server accepts ({limit} bytes); send fewer rows per request",
        status=413,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body of ``request``, refused with a 413 as soon as it passes ``limit`` bytes.

    Raises:
        InputError: 413 past the limit (declared or streamed); 400 for a malformed
            Content-Length or a client gone before the body ended.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise input_error("content-length", "must be a byte count", status=400)
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise input_error(
            "body", "ended before its length: the client went away", status=400
        ) from None
    return b"".join(chunks)
