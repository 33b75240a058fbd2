"""S04: path traversal in names and paths, against every artifact entry point.

Each vector is tried on: ``safe_join`` directly; every store method that takes a digest
(local and ``memory://``); a crafted manifest blob read by ``get_dir`` (local and memory);
a tar member and a zip member given to ``extract_archive``; and, where the vector is a
legal Linux file name, a file of that name given to ``put_dir``. Every probe must be
rejected with a message, the canary outside the roots must hash the same afterwards, and
no file may appear outside the roots.
"""

from __future__ import annotations

import functools
import io
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from artifacts_helpers import Canary, drop_memory, memory_url

from conveyor.artifacts import (
    ArtifactStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    extract_archive,
)
from conveyor.core import (
    InvalidNameError,
    UnsafeArchiveError,
    canonical_json,
    safe_join,
    sha256_bytes,
)

VECTORS = [
    "../escape",
    "../../escape",
    "../../../../../../escape",
    "a/../../escape",
    "a/b/../../../escape",
    "./../escape",
    "..",
    "../",
    "..\\escape",
    "a\\..\\..\\escape",
    "\\\\server\\share\\escape",
    "%2e%2e%2fescape",
    "%2e%2e/escape",
    "..%2fescape",
    "%2e%2e%5cescape",
    "..%5cescape",
    "%252e%252e%252fescape",
    "%25252e%25252e%25252fescape",
    "%2E%2E/escape",
    "%2E%2e%2Fescape",
    ";/../escape",
    "#/../escape",
    "?/../escape",
    "..;/../escape",
    "escape\x00.txt",
    "a/\x00/b",
    "\x00",
    "/etc/passwd",
    "/escape",
    "//escape",
    "/",
    "file:///etc/passwd",
    "file:escape",
    "s3://bucket/escape",
    "http://169.254.169.254/latest/meta-data",
    "C:\\escape",
    "C:/escape",
    "c:escape",
    "\uff0e\uff0e/escape",  # full-width dots
    "\uff0e\uff0e\uff0fescape",  # full-width dots and slash
    "\uff0e\uff0e\\escape",
    "x" * 5000,
    "a/" + "b" * 300,
    "a/\n/b",
    "",
    ".",
]
IDS = [f"v{i:02d}" for i in range(len(VECTORS))]
PAYLOAD = b"pwned"

# Probes per vector: safe_join; 8 digest methods x (bare, "sha256:") x 2 backends; a crafted
# manifest via get_dir and read_manifest x 2 backends; a tar member; a zip member.
DIGEST_METHODS = 8
N_PROBES = len(VECTORS) * (1 + DIGEST_METHODS * 2 * 2 + 2 * 2 + 2)


def test_enough_vectors() -> None:
    assert len(VECTORS) >= 30
    assert N_PROBES >= 90


@pytest.fixture
def roots(canary: Canary) -> tuple[Path, Path]:
    return canary.allowed[0], canary.allowed[1]


@pytest.fixture(params=["local", "memory"])
def backend(request: pytest.FixtureRequest, roots: tuple[Path, Path]) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalArtifactStore(roots[0])
        return
    url = memory_url()
    yield FsspecArtifactStore(url)
    drop_memory(url)


def rejected(call: Callable[[], object], *errors: type[BaseException]) -> BaseException:
    with pytest.raises(errors or (InvalidNameError,)) as info:
        call()
    assert len(str(info.value)) > 20, "rejections carry a message"
    return info.value


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_safe_join(vector: str, roots: tuple[Path, Path], canary: Canary) -> None:
    rejected(lambda: safe_join(roots[0], vector))
    canary.check()


def test_safe_join_through_symlinked_subdir(roots: tuple[Path, Path], canary: Canary) -> None:
    (roots[0] / "link").symlink_to(canary.area, target_is_directory=True)
    error = rejected(lambda: safe_join(roots[0], "link/escape"))
    assert "outside its root" in str(error)
    rejected(lambda: safe_join(roots[0], "link/canary.bin"))
    canary.check()


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_digest_methods(
    vector: str, backend: ArtifactStore, roots: tuple[Path, Path], canary: Canary
) -> None:
    dest = roots[1] / "out"

    def open_it(digest: str) -> None:
        with backend.open_verified(digest, tmp_dir=roots[1]):
            pass

    calls: list[Callable[[str], object]] = [
        backend.get_bytes,
        lambda name: backend.get_file(name, dest),
        lambda name: backend.get_dir(name, dest),
        backend.read_manifest,
        backend.exists,
        backend.stat,
        backend.delete,
        open_it,
    ]
    assert len(calls) == DIGEST_METHODS
    for name in (vector, "sha256:" + vector):
        for call in calls:
            error = rejected(functools.partial(call, name))
            assert "not a sha256 digest" in str(error)
    assert list(roots[1].iterdir()) == []
    canary.check()


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_crafted_manifest(
    vector: str, backend: ArtifactStore, roots: tuple[Path, Path], canary: Canary
) -> None:
    """A manifest blob naming a hostile member path is refused before anything is written."""
    member = backend.put_bytes(PAYLOAD)
    manifest = canonical_json(
        {
            "conveyor_manifest": 1,
            "files": [
                {"digest": member.digest, "path": "ok.txt", "size": member.size},
                {"digest": member.digest, "path": vector, "size": member.size},
            ],
        }
    )
    digest = backend.put_bytes(manifest).digest
    assert digest == sha256_bytes(manifest)
    rejected(lambda: backend.get_dir(digest, roots[1] / "out"))
    rejected(lambda: backend.read_manifest(digest))
    assert list(roots[1].iterdir()) == []  # not even ok.txt: all or nothing
    canary.check()


def _tar_with(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(PAYLOAD)
        tar.addfile(info, io.BytesIO(PAYLOAD))
    return buffer.getvalue()


def _zip_with(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name), PAYLOAD)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["tar", "zip"])
@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_archive_member(vector: str, kind: str, roots: tuple[Path, Path], canary: Canary) -> None:
    archive = roots[0] / f"hostile.{kind}"
    archive.write_bytes(_tar_with(vector) if kind == "tar" else _zip_with(vector))
    dest = roots[1] / "out"
    if "\x00" in vector:
        # Both formats cut names at NUL when writing; what is left must still be contained.
        try:
            extracted = extract_archive(archive, dest)
        except UnsafeArchiveError:
            pass
        else:
            assert all(p.resolve().is_relative_to(dest.resolve()) for p in extracted)
    else:
        error = rejected(lambda: extract_archive(archive, dest), UnsafeArchiveError)
        assert "unsafe member name" in str(error)
        assert not dest.exists()
    assert [p.name for p in roots[1].iterdir()] in ([], ["out"])  # no staging left behind
    canary.check()


LEGAL_FILE_NAMES = [
    v for v in VECTORS if v not in ("", ".", "..") and "/" not in v and "\x00" not in v
]


@pytest.mark.parametrize("vector", [v for v in LEGAL_FILE_NAMES if len(v) <= 255])
def test_put_dir_refuses_names_that_would_not_read_back(
    vector: str, backend: ArtifactStore, roots: tuple[Path, Path], canary: Canary
) -> None:
    source = roots[1] / "src"
    source.mkdir()
    (source / "fine.txt").write_bytes(b"fine")
    (source / vector).write_bytes(PAYLOAD)
    rejected(lambda: backend.put_dir(source))
    assert list(backend.iter_blobs()) == []  # checked before anything is stored
    canary.check()


def test_put_dir_refuses_links_out_and_special_files(
    backend: ArtifactStore, roots: tuple[Path, Path], canary: Canary
) -> None:
    def fresh(name: str) -> Path:
        source = roots[1] / name
        source.mkdir()
        (source / "fine.txt").write_bytes(b"fine")
        return source

    cases: list[tuple[Path, str]] = []
    link_file = fresh("link-file")
    (link_file / "secret").symlink_to(canary.path)
    cases.append((link_file, "outside its root"))
    link_dir = fresh("link-dir")
    (link_dir / "sub").symlink_to(canary.area, target_is_directory=True)
    cases.append((link_dir, "outside its root"))
    link_up = fresh("link-up")
    (link_up / "up").symlink_to("../../../../../../canary.bin")
    cases.append((link_up, "outside its root"))
    inner_dir_link = fresh("inner-dir-link")
    (inner_dir_link / "d").mkdir()
    (inner_dir_link / "again").symlink_to("d", target_is_directory=True)
    cases.append((inner_dir_link, "link to a directory"))
    dangling = fresh("dangling")
    (dangling / "gone").symlink_to("nowhere")
    cases.append((dangling, "dangling"))
    fifo = fresh("fifo")
    os.mkfifo(fifo / "pipe")
    cases.append((fifo, "special file"))
    for source, reason in cases:
        error = rejected(lambda source=source: backend.put_dir(source))  # type: ignore[misc]
        assert reason in str(error), (source.name, str(error))
    assert list(backend.iter_blobs()) == []
    canary.check()
