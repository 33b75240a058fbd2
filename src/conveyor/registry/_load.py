"""Loading a registered version: every check first, then the one loader its flavor names.

In order, with nothing from the model's files imported or executed before the last step:

1. the version's directory artifact is read through its manifest of members (checksum
   verified); it must hold exactly ``conveyor-model.json`` and the one file that names;
2. the manifest's bytes (verified) are validated by the strict schema;
3. the model file's bytes (verified, in memory) must hash to what the manifest says;
4. the store's signature over manifest and file is checked: absent (not signed), valid,
   or invalid (refused outright);
5. the flavor's loader runs on the verified bytes, given the signature's verdict: skops
   with its trusted types, pickle only when signed, LightGBM text or XGBoost JSON.

A ``ChecksumMismatchError`` anywhere names the model version and its artifact. Steps 1-4
run on every load; for the skops, LightGBM and XGBoost flavors step 5 runs once per
verified manifest in a process, and later loads get a copy of that object (a bounded cache
of small models).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    ChecksumMismatchError,
    NotFoundError,
    SignatureMismatchError,
    UntrustedModelError,
    pause_point,
)
from . import _flavors
from ._fetch import verified_bytes
from ._manifest import MANIFEST_NAME, ModelManifest, parse_manifest
from ._signing import SIGNATURE_TAG, matches, model_signature

if TYPE_CHECKING:
    from ..workspace import Workspace


# Objects deserialised from verified bytes, by (manifest, signature verdict): every load
# still reads and verifies the bytes, then copies the object instead of deserialising again.
_LOADED: OrderedDict[tuple[str, bool], Any] = OrderedDict()
_LOADED_LOCK = threading.Lock()
_CACHE_MAX_MODELS = 8
_CACHE_MAX_BYTES = 64 * 1024 * 1024


def load_version(ws: Workspace, name: str, version: int, *, expected: str | None = None) -> Any:
    """Load version ``version`` of model ``name`` (see the module docstring for the checks).

    Args:
        expected: The artifact digest the caller's handle recorded; a version whose
            artifact differs is refused.
    """
    return load_record(ws, name, st.get_model_version(ws.store, name, version), expected=expected)


def load_record(
    ws: Workspace, name: str, record: st.ModelVersionRecord, *, expected: str | None = None
) -> Any:
    """Load the version ``record`` of model ``name``."""
    manifest, data, signed = read_version(ws, name, record, expected=expected)
    if manifest.flavor == "pickle":  # a copy would run its code again: load it every time
        return _flavors.load(manifest, data, signed=signed, model=_uri(name, record))
    key = (manifest.model_dump_json(), signed)
    with _LOADED_LOCK:
        known = _LOADED.get(key)
        if known is not None:
            _LOADED.move_to_end(key)
    if known is not None:
        # The bytes just verified are the ones this object was built from: a copy of it
        # is what deserialising them again would give, without paying for it.
        return copy.deepcopy(known)
    loaded = _flavors.load(manifest, data, signed=signed, model=_uri(name, record))
    if len(data) <= _CACHE_MAX_BYTES:
        with _LOADED_LOCK:
            _LOADED[key] = loaded
            while len(_LOADED) > _CACHE_MAX_MODELS:
                _LOADED.popitem(last=False)
        return copy.deepcopy(loaded)  # callers may change theirs; the cached one stays
    return loaded


def read_version(
    ws: Workspace, name: str, record: st.ModelVersionRecord, *, expected: str | None = None
) -> tuple[ModelManifest, bytes, bool]:
    """Steps 1-4: the validated manifest, the model file's verified bytes, and whether the
    store's signature verified.

    Raises:
        NotFoundError: the version has no model artifact.
        ChecksumMismatchError: bytes changed since registration (naming the version and
            its artifact).
        UntrustedModelError: the directory or manifest is outside the schema.
        SignatureMismatchError: a signature is recorded and does not verify.
    """
    uri = _uri(name, record)
    if record.artifact_id is None:
        raise NotFoundError(
            f"{uri} has no model file recorded.",
            hint="Register the model with conveyor.registry.register_model.",
            model=name,
            version=record.version,
        )
    artifact = st.get_artifact(ws.store, record.artifact_id)
    if expected is not None and artifact.digest != expected:
        raise ChecksumMismatchError(
            f"{uri} is stored as artifact {artifact.id} (sha256:{artifact.digest}), not as "
            f"sha256:{expected} as the handle being loaded records; not loaded.",
            hint=f"Get the version afresh: conveyor models show {name}/{record.version}",
            model=name,
            version=record.version,
            artifact_id=artifact.id,
        )
    with _naming(uri, artifact):
        if artifact.kind != "dir":
            raise _not_a_version(uri, "its artifact is a single file, not a version directory")
        members = {entry.path: entry for entry in ws.artifacts.read_manifest(artifact.digest)}
        if MANIFEST_NAME not in members:
            raise _not_a_version(uri, f"its directory has no {MANIFEST_NAME}")
        manifest = parse_manifest(verified_bytes(ws, members[MANIFEST_NAME].digest), model=uri)
        extra = sorted(set(members) - {MANIFEST_NAME, manifest.file})
        if extra or manifest.file not in members:
            raise _not_a_version(
                uri,
                f"its directory holds {sorted(members)}; a version holds exactly "
                f"{MANIFEST_NAME} and the model file it names ({manifest.file!r}), no code "
                "or other files",
            )
        entry = members[manifest.file]
        if entry.digest != manifest.sha256 or entry.size != manifest.size:
            raise ChecksumMismatchError(
                f"{uri} (artifact {artifact.id}): the model file {manifest.file!r} is "
                f"sha256:{entry.digest} ({entry.size} bytes) but its manifest says "
                f"sha256:{manifest.sha256} ({manifest.size} bytes); not loaded.",
                hint="The version was tampered with; register the model again.",
                model=name,
                version=record.version,
                artifact_id=artifact.id,
            )
        signed = _signature_verdict(
            ws, record, uri, manifest_sha256=members[MANIFEST_NAME].digest, file_sha256=entry.digest
        )
        data = verified_bytes(ws, entry.digest)
    # Tests stop here to change the stored and cached copies: the bytes in hand stay as
    # verified, so the loader never sees the change.
    pause_point("registry.load.verified")
    return manifest, data, signed


def _signature_verdict(
    ws: Workspace,
    record: st.ModelVersionRecord,
    uri: str,
    *,
    manifest_sha256: str,
    file_sha256: str,
) -> bool:
    """True if the version carries the store's valid signature, False if it carries none.

    Raises:
        SignatureMismatchError: it carries one that does not verify.
    """
    recorded = record.tags.get(SIGNATURE_TAG)
    if recorded is None:
        return False
    key = st.signing_key(ws.store)
    expected = model_signature(key, manifest_sha256=manifest_sha256, file_sha256=file_sha256)
    if not isinstance(recorded, str) or not matches(expected, recorded):
        raise SignatureMismatchError(
            f"Refusing to load {uri}: the store's signature recorded with it does not match "
            "its manifest and model file. The version's files or its row were changed after "
            "registration. Nothing was loaded.",
            hint="Register the model again from a trusted process.",
            model=uri,
        )
    return True


@contextlib.contextmanager
def _naming(uri: str, artifact: st.ArtifactRecord) -> Iterator[None]:
    """Re-raise a checksum failure with the model version and artifact it concerns."""
    try:
        yield
    except ChecksumMismatchError as exc:
        if "artifact_id" in exc.fields:
            raise
        raise ChecksumMismatchError(
            f"{uri} (artifact {artifact.id}, sha256:{artifact.digest}) failed verification "
            f"and was not loaded: {exc.message}",
            hint=exc.hint,
            **{**exc.fields, "model": uri, "artifact_id": artifact.id},
        ) from exc


def _not_a_version(uri: str, why: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"Refusing to load {uri}: {why}. Nothing in it was used.",
        hint="Register the model with conveyor.registry.register_model.",
        model=uri,
    )


def _uri(name: str, record: st.ModelVersionRecord) -> str:
    return f"models:/{name}/{record.version}"
