"""Manifest encoding and validation, with property tests for containment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.artifacts import MANIFEST_PREFIX, DirEntry, LocalArtifactStore
from conveyor.artifacts._manifest import check_member_path, decode_manifest, encode_manifest
from conveyor.core import ArtifactError, InvalidNameError, safe_join, sha256_bytes

DIGEST = sha256_bytes(b"x")
SEGMENT = st.text(alphabet="abcXYZ019_-. ", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..") and s.strip() == s
)
PATHS = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)


def decode(value: object) -> tuple[DirEntry, ...]:
    return decode_manifest(json.dumps(value).encode(), digest=DIGEST, url="mem")


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_member_path_is_refused_or_contained(path: str) -> None:
    root = Path("/srv/root")
    try:
        checked = check_member_path(path, manifest=DIGEST)
    except InvalidNameError:
        return
    assert safe_join(root, checked).is_relative_to(root)
    assert checked == path  # accepted paths are already in normal form


@given(st.lists(st.tuples(PATHS, st.integers(0, 10**12)), max_size=8))
def test_encode_decode_round_trip(items: list[tuple[str, int]]) -> None:
    paths = {p for p, _ in items}
    clash = any(p.startswith(q + "/") for p in paths for q in paths)
    entries = [DirEntry(path=p, digest=DIGEST, size=n) for p, n in dict(items).items()]
    data = encode_manifest(entries)
    assert data.startswith(MANIFEST_PREFIX)
    if clash or any(check_member_path_fails(p) for p in paths):
        with pytest.raises(InvalidNameError):
            decode_manifest(data, digest=DIGEST, url="mem")
        return
    assert decode_manifest(data, digest=DIGEST, url="mem") == tuple(
        sorted(entries, key=lambda e: e.path)
    )


def check_member_path_fails(path: str) -> bool:
    try:
        check_member_path(path, manifest=DIGEST)
    except InvalidNameError:
        return True
    return False


def entry(**fields: object) -> dict[str, object]:
    return {"digest": DIGEST, "path": "a.txt", "size": 1, **fields}


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ({"conveyor_manifest": 2, "files": []}, ArtifactError, "not a directory manifest"),
        ({"conveyor_manifest": 1, "files": {}}, ArtifactError, "not a directory manifest"),
        ({"conveyor_manifest": 1, "files": [], "x": 1}, ArtifactError, "not a directory"),
        ({"conveyor_manifest": 1, "files": [["a"]]}, ArtifactError, "malformed"),
        ({"conveyor_manifest": 1, "files": [{"path": "a"}]}, ArtifactError, "malformed"),
        ({"conveyor_manifest": 1, "files": [entry(extra=1)]}, ArtifactError, "malformed"),
        ({"conveyor_manifest": 1, "files": [entry(size=-1)]}, ArtifactError, "non-negative"),
        ({"conveyor_manifest": 1, "files": [entry(size=True)]}, ArtifactError, "non-negative"),
        ({"conveyor_manifest": 1, "files": [entry(size="1")]}, ArtifactError, "non-negative"),
        ({"conveyor_manifest": 1, "files": [entry(digest="../x")]}, InvalidNameError, "sha256"),
        ({"conveyor_manifest": 1, "files": [entry(path=7)]}, InvalidNameError, "not a string"),
        ({"conveyor_manifest": 1, "files": [entry(path="a//b")]}, InvalidNameError, "normal"),
        ({"conveyor_manifest": 1, "files": [entry(path="./a")]}, InvalidNameError, "normal"),
        ({"conveyor_manifest": 1, "files": [entry(path="a%41")]}, InvalidNameError, "normal"),
        ({"conveyor_manifest": 1, "files": [entry(), entry()]}, InvalidNameError, "twice"),
        (
            {"conveyor_manifest": 1, "files": [entry(path="a"), entry(path="a/b")]},
            InvalidNameError,
            "as a file and also",
        ),
    ],
)
def test_decode_rejects(value: object, error: type[Exception], match: str) -> None:
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(error, match=match):
        decode_manifest(data, digest=DIGEST, url="mem")


def test_decode_rejects_non_json() -> None:
    for data in (b"", b"\xff\xfe", MANIFEST_PREFIX + b"\xff", MANIFEST_PREFIX):
        with pytest.raises(ArtifactError, match="not a directory manifest"):
            decode_manifest(data, digest=DIGEST, url="mem")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path_factory.mktemp("hypothesis-store"))


@given(data=st.binary(max_size=5000))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_local_bytes_round_trip_property(shared_store: LocalArtifactStore, data: bytes) -> None:
    store = shared_store  # content-addressed: sharing one store across examples is safe
    info = store.put_bytes(data)
    assert info.digest == sha256_bytes(data) and store.get_bytes(info.digest) == data
