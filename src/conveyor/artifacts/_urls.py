"""Any fsspec URL as a file system and a path, for readers outside the artifact store.

Data sources read files at user URLs (``s3://bucket/prefix/*.parquet``); fsspec and its
drivers are imported only here, in the artifacts layer, and their errors at resolution are
wrapped once into an ``ArtifactError`` whose message names the URL without credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.core import ArtifactError

from ._fsspec import _INSTALL, redact_url

__all__ = ["url_filesystem"]


def url_filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec file system serving ``url``, and ``url``'s path within it.

    The driver (s3fs, gcsfs, ...) is imported only when its protocol is asked for; a glob
    pattern in the path is returned as it is, for the caller to expand.

    Args:
        url: A local path or an fsspec URL (``file://``, ``s3://bucket/key``, ``memory://x``,
            chained ``simplecache::s3://...``).
        storage_options: Passed to the file system (``endpoint_url``, ``key``, ``anon`` ...).

    Returns:
        ``(file system, path)``: an ``fsspec.AbstractFileSystem`` and the path it knows the
        URL by (``bucket/key`` for S3).

    Raises:
        ArtifactError: the protocol is unknown, its driver is not installed (the hint names
            the install command), or the file system rejected the storage options.
    """
    import fsspec.core  # imported only when a URL is opened

    shown = redact_url(url)
    protocol = url.split("://", 1)[0].split("::")[-1] if "://" in url else "file"
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        command = _INSTALL.get(protocol, f"pip install the fsspec driver for {protocol!r}")
        raise ArtifactError(
            f"The URL {shown!r} needs the {protocol!r} file system, which is not installed.",
            hint=f"Install it with: {command}",
            url=shown,
        ) from exc
    except ValueError as exc:
        if "protocol" not in str(exc).lower():
            raise ArtifactError(
                f"Cannot open the URL {shown!r}: {exc}.",
                hint="Check the URL and its storage options.",
                url=shown,
            ) from exc
        raise ArtifactError(
            f"The URL {shown!r} uses the unknown protocol {protocol!r}; expected a local "
            "path, file://, s3://, gs://, az://, memory:// or another fsspec protocol.",
            hint="Fix the URL's scheme, or install the fsspec driver that provides it.",
            url=shown,
        ) from exc
    except Exception as exc:
        raise ArtifactError(
            f"Cannot open the URL {shown!r}: {type(exc).__name__}: {exc}",
            hint="Check the URL and its storage options (names and values).",
            url=shown,
        ) from exc
    return fs, str(path)
