"""Directory manifests: the blob that lists a stored directory's files.

A manifest is canonical JSON (sorted keys, no spaces), so equal directories give equal
manifest digests::

    {"conveyor_manifest":1,"files":[{"digest":"<sha256>","path":"a/b.txt","size":3},...]}

Because keys are sorted, every manifest starts with the fixed bytes :data:`MANIFEST_PREFIX`;
that is how garbage collection tells a manifest from an ordinary blob without an index.
A user file that happens to start with those bytes is at worst treated as a manifest whose
members are kept too: collection errs on the side of keeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from conveyor.core import (
    ArtifactError,
    InvalidNameError,
    canonical_json,
    check_relative_path,
    parse_digest,
)

from ._types import DirEntry

__all__ = ["MANIFEST_PREFIX", "decode_manifest", "encode_manifest", "is_manifest_prefix"]

MANIFEST_VERSION = 1
MANIFEST_PREFIX = b'{"conveyor_manifest":1,"files":['


def encode_manifest(entries: Iterable[DirEntry]) -> bytes:
    """Return the canonical manifest bytes for ``entries`` (sorted by path)."""
    files = [
        {"digest": e.digest, "path": e.path, "size": e.size}
        for e in sorted(entries, key=lambda e: e.path)
    ]
    return canonical_json({"conveyor_manifest": MANIFEST_VERSION, "files": files})


def is_manifest_prefix(head: bytes) -> bool:
    """Whether a blob starting with ``head`` is (probably) a manifest."""
    return head.startswith(MANIFEST_PREFIX)


def check_member_path(path: object, *, manifest: str) -> str:
    """Return ``path`` if it is a plain relative POSIX path that survives normalisation.

    A member path must equal its own normal form (no URL escapes, no ``.`` or empty
    segments, NFKC): what is written is then exactly what the manifest says.
    """
    if not isinstance(path, str):
        raise InvalidNameError(
            f"Manifest sha256:{manifest} lists a member path that is not a string: {path!r}.",
            hint="The manifest was not written by conveyor; do not use it.",
            digest=manifest,
        )
    normal = check_relative_path(path, what=f"member path in manifest sha256:{manifest[:12]}")
    if normal.as_posix() != path:
        raise InvalidNameError(
            f"The member path {path!r} in manifest sha256:{manifest[:12]} is not in normal "
            f"form (it reads as {normal.as_posix()!r}); expected a plain relative path.",
            hint="Rename the file so its name has no '%' escapes, '.' or empty segments.",
            value=path,
            digest=manifest,
        )
    return path


def decode_manifest(data: bytes, *, digest: str, url: str) -> tuple[DirEntry, ...]:
    """Parse and validate manifest bytes already verified against ``digest``.

    Raises:
        ArtifactError: the blob is not a conveyor manifest.
        InvalidNameError: a member path escapes, repeats, or clashes with a directory.
    """
    try:
        value: Any = json.loads(data) if is_manifest_prefix(data) else None
    except (UnicodeDecodeError, ValueError):
        value = None
    if (
        not isinstance(value, dict)
        or set(value) != {"conveyor_manifest", "files"}
        or value["conveyor_manifest"] != MANIFEST_VERSION
        or not isinstance(value["files"], list)
    ):
        raise ArtifactError(
            f"The blob sha256:{digest} in artifact store {url} is not a directory manifest "
            f"(expected JSON starting with {MANIFEST_PREFIX.decode()!r}).",
            hint="Pass the digest returned by put_dir; use get_file for a single blob.",
            digest=digest,
        )
    entries: list[DirEntry] = []
    for item in value["files"]:
        if not isinstance(item, dict) or set(item) != {"digest", "path", "size"}:
            raise ArtifactError(
                f"Manifest sha256:{digest} has a malformed entry {str(item)[:200]!r}; expected "
                "an object with exactly 'digest', 'path' and 'size'.",
                hint="The manifest was not written by conveyor; do not use it.",
                digest=digest,
            )
        size = item["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArtifactError(
                f"Manifest sha256:{digest} gives member {str(item['path'])[:200]!r} the size "
                f"{size!r}; expected a non-negative integer.",
                digest=digest,
            )
        path = check_member_path(item["path"], manifest=digest)
        entries.append(DirEntry(path=path, digest=parse_digest(item["digest"]), size=size))
    entries.sort(key=lambda e: e.path)
    _check_no_clashes(entries, manifest=digest)
    return tuple(entries)


def _check_no_clashes(entries: list[DirEntry], *, manifest: str) -> None:
    paths: set[str] = set()
    for entry in entries:
        if entry.path in paths:
            raise InvalidNameError(
                f"Manifest sha256:{manifest[:12]} lists the member {entry.path!r} twice.",
                value=entry.path,
                digest=manifest,
            )
        paths.add(entry.path)
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in paths:
                raise InvalidNameError(
                    f"Manifest sha256:{manifest[:12]} lists {parent!r} as a file and also "
                    f"{path!r} inside it.",
                    value=path,
                    digest=manifest,
                )
