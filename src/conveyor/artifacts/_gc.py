"""Garbage collection: delete blobs no artifact references, after a grace period."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable

from conveyor.core import (
    ArtifactError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    parse_digest,
)

from ._base import ArtifactStore
from ._manifest import MANIFEST_PREFIX, decode_manifest, is_manifest_prefix
from ._types import GcReport

__all__ = ["collect_garbage", "expand_references"]

logger = logging.getLogger(__name__)

TEMP_MAX_AGE = 3600.0


def expand_references(store: ArtifactStore, digests: Iterable[str]) -> set[str]:
    """Return ``digests`` plus the files of every one that is a directory manifest.

    A manifest is recognised by its first bytes (see :mod:`conveyor.artifacts._manifest`),
    then read and verified in full. A blob that merely looks like a manifest but does not
    parse as one is kept as a plain blob; a manifest that fails verification raises, since
    its members cannot be known and collecting them could lose data.

    Raises:
        InvalidNameError: a digest is malformed.
        ChecksumMismatchError: a referenced manifest is corrupt.
    """
    result: set[str] = set()
    for raw in digests:
        digest = parse_digest(raw)
        result.add(digest)
        try:
            head = store._read_prefix(digest, len(MANIFEST_PREFIX))
        except NotFoundError:
            continue
        if not is_manifest_prefix(head):
            continue
        try:
            data = store.get_bytes(digest)  # I/O and checksum errors propagate
        except NotFoundError:
            continue
        try:
            entries = decode_manifest(data, digest=digest, url=store.url)
        except (ArtifactError, InvalidNameError):
            continue  # an ordinary blob that happens to start like a manifest
        result.update(entry.digest for entry in entries)
    return result


def collect_garbage(
    store: ArtifactStore,
    keep: Collection[str],
    *,
    older_than: float = 3600.0,
    dry_run: bool = False,
) -> GcReport:
    """Delete blobs not in ``keep`` and older than ``older_than`` seconds.

    ``keep`` is expanded with :func:`expand_references` first, so passing the manifest
    digest of a directory keeps its files too. The grace period protects writes that are
    not yet recorded in the metadata store: a blob written (or re-put) less than
    ``older_than`` seconds ago is never deleted, and the store re-checks each candidate's
    time as it deletes it (:meth:`~ArtifactStore.delete_if_older`). Orphan temporary files
    older than an hour are removed as well.

    Args:
        store: The artifact store.
        keep: Digests still referenced (artifacts, model versions, directory manifests).
        older_than: Grace period in seconds; keep it above the longest write-to-record time.
            It may not be shorter than the store's ``dedup_window``.
        dry_run: Report what would be deleted, delete nothing.

    Returns:
        A :class:`GcReport`; on a dry run, what would have been deleted.
    """
    if older_than < 0:
        raise InvalidValueError(
            f"The garbage collection grace period must be a non-negative number of seconds; "
            f"got older_than={older_than!r}.",
            hint="Use e.g. older_than=3600 (one hour).",
        )
    if older_than < store.dedup_window:
        raise InvalidValueError(
            f"The garbage collection grace period ({older_than:g} s) is shorter than the "
            f"artifact store's dedup window ({store.dedup_window:g} s): a blob re-put by a "
            "running step, not yet recorded, could be deleted.",
            hint=f"Use a grace of at least {store.dedup_window:g} seconds "
            "(conveyor artifacts gc --grace 1h).",
        )
    kept = expand_references(store, keep)
    deleted: list[str] = []
    bytes_freed = 0
    n_kept = 0
    for blob in list(store.iter_blobs()):
        if blob.digest in kept or time.time() - blob.modified < older_than:
            n_kept += 1
            continue
        # A put may renew a blob between the listing and now: the store re-checks.
        if not dry_run and not store.delete_if_older(blob.digest, older_than):
            if store.exists(blob.digest):
                n_kept += 1
            continue
        deleted.append(blob.digest)
        bytes_freed += blob.size
    n_temp = 0 if dry_run else store.clean_temp(TEMP_MAX_AGE)
    logger.info(
        "artifact gc on %s: %s %d blobs (%d bytes), kept %d, removed %d temp files",
        store.url,
        "would delete" if dry_run else "deleted",
        len(deleted),
        bytes_freed,
        n_kept,
        n_temp,
    )
    return GcReport(
        n_deleted=len(deleted),
        bytes_freed=bytes_freed,
        n_kept=n_kept,
        deleted=tuple(sorted(deleted)),
        n_temp_removed=n_temp,
    )
