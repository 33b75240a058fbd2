"""Reading a request body within a size limit, with or without a Content-Length."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from ..runtime._inputs import FieldError, InputError


def _too_large(limit: int) -> InputError:
    return InputError(
        f"The request body is larger than this server accepts ({limit} bytes).",
        status=413,
        errors=(FieldError("body", f"at most {limit} bytes; send fewer rows per request"),),
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body of ``request``, refused with a 413 as soon as it passes ``limit`` bytes.

    Raises:
        InputError: 413 past the limit (declared or streamed), 400 if the client went away
            or declared a malformed length.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError(
                "The Content-Length header is not a number.",
                status=400,
                errors=(FieldError("content-length", "a byte count"),),
            )
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
        raise InputError(
            "The client closed the connection before sending the whole body.",
            status=400,
            errors=(FieldError("body", "incomplete"),),
        ) from None
    return b"".join(chunks)
