"""Choosing an artifact store from the ``artifacts`` setting."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from conveyor.core import ArtifactError, ConfigError, InvalidNameError

from ._base import ArtifactStore
from ._local import LocalArtifactStore

__all__ = ["open_artifact_store"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def open_artifact_store(
    url: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> ArtifactStore:
    """Open the artifact store at ``url``.

    A plain path or a ``file://`` URL opens a :class:`LocalArtifactStore`; any other URL
    (``s3://bucket/prefix``, ``gs://...``, ``memory://name``, chained ``a::b://...``) opens an
    :class:`FsspecArtifactStore`, importing fsspec and its driver only then.

    Args:
        url: The ``artifacts`` setting (``CONVEYOR_ARTIFACTS``).
        storage_options: Options for the fsspec file system (credentials, endpoint).

    Raises:
        ArtifactError: the protocol is unknown or its driver is not installed (the message
            names the install command, e.g. ``pip install 'conveyor[s3]'``).
        ConfigError: storage options were given for a local path.
    """
    text = os.fspath(url)
    if not text or "\x00" in text:
        raise InvalidNameError(
            f"The artifact store URL {text!r} is empty or contains a NUL byte; expected a "
            "folder path or an fsspec URL such as 's3://bucket/prefix'.",
            hint="Fix the 'artifacts' setting (CONVEYOR_ARTIFACTS).",
            value=text,
        )
    local = _local_path(text)
    if local is None:
        from ._fsspec import FsspecArtifactStore

        return FsspecArtifactStore(text, storage_options)
    if storage_options:
        raise ConfigError(
            f"Storage options ({', '.join(sorted(storage_options))}) were given for the local "
            f"artifact store {local!r}; they apply only to fsspec URLs such as 's3://...'.",
            hint="Remove the storage options or use an object-store URL.",
        )
    return LocalArtifactStore(local)


def _local_path(text: str) -> str | None:
    """The local path ``text`` names, or None if it is an fsspec URL."""
    if "::" in text:
        return None  # a chained fsspec URL, e.g. simplecache::s3://...
    match = _SCHEME.match(text)
    if match is None:
        return unquote(text[5:]) if text.lower().startswith("file:") else text
    if match.group(1).lower() not in ("file", "local"):
        return None
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ArtifactError(
            f"The artifact store URL {text!r} names the host {parts.netloc!r}; file:// URLs "
            "must be local (file:///absolute/path).",
            hint="Use file:///absolute/path or a plain path.",
            url=text,
        )
    return unquote(parts.path)
