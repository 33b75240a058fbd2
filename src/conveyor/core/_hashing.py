"""Content hashing: sha256 over bytes, files and canonical JSON."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from ._errors import InvalidNameError

CHUNK = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """Hash a binary stream to its end; return ``(hex digest, size in bytes)``."""
    h = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def sha256_file(path: str | Path) -> tuple[str, int]:
    with open(path, "rb") as f:
        return sha256_stream(f)


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: equal values give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_json(value: Any) -> str:
    return sha256_bytes(canonical_json(value))


def parse_digest(value: str) -> str:
    """Accept ``sha256:<hex>`` or ``<hex>`` (64 lowercase hex digits); return the bare hex."""
    text = value.removeprefix("sha256:") if isinstance(value, str) else ""
    if not _DIGEST.fullmatch(text):
        raise InvalidNameError(
            f"{value!r} is not a sha256 digest: expected 64 lowercase hex digits, "
            "optionally prefixed 'sha256:'.",
            hint="List digests with: conveyor artifacts list",
            value=value,
        )
    return text
