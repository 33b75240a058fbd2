"""Artifact store edges the backend suite does not reach: archives told apart by content,
a zip64 end record that hides a bomb, a manifest whose sizes lie, and writes into the wrong
kind of destination."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from conveyor.artifacts import LocalArtifactStore, extract_archive
from conveyor.artifacts._manifest import encode_manifest
from conveyor.artifacts._types import DirEntry
from conveyor.core import (
    AlreadyExistsError,
    ArtifactError,
    ChecksumMismatchError,
    NotFoundError,
    UnsafeArchiveError,
)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


MEMBERS = {"model/weights.bin": b"\x00\x01" * 50, "README": b"read me"}


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("upload", zip_bytes(MEMBERS)),
        ("upload.bin", tar_bytes(MEMBERS)),
        ("upload", tar_bytes(MEMBERS, "w:gz")),
        ("bundle.tar.xz", tar_bytes(MEMBERS, "w:xz")),
        ("bundle.tbz2", tar_bytes(MEMBERS, "w:bz2")),
    ],
)
def test_archives_are_told_apart_by_suffix_or_content(
    tmp_path: Path, name: str, data: bytes
) -> None:
    archive = tmp_path / name
    archive.write_bytes(data)
    written = extract_archive(archive, tmp_path / "out")
    assert tree(tmp_path / "out") == MEMBERS
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == sorted(MEMBERS)


def test_a_suffix_that_lies_is_a_damaged_archive_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "really-a-tar.zip"
    archive.write_bytes(tar_bytes(MEMBERS))
    with pytest.raises(ArtifactError) as info:
        extract_archive(archive, tmp_path / "out")
    assert "is damaged, encrypted or not a tar or zip file: BadZipFile" in info.value.message
    assert info.value.hint == "Re-create the archive as .tar, .tar.gz or .zip."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["really-a-tar.zip"]


def test_an_archive_of_folders_only_extracts_them_and_returns_no_files(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for folder in ("a", "a/b", "c"):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
    (tmp_path / "dirs.tar").write_bytes(buffer.getvalue())
    assert extract_archive(tmp_path / "dirs.tar", tmp_path / "out") == []
    assert sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    ) == [
        "a",
        "a/b",
        "c",
    ]
    assert ((tmp_path / "out" / "a").stat().st_mode & 0o777) == 0o700


def with_zip64_count(data: bytes, declared: int) -> bytes:
    """``data`` (a small zip) whose end records claim ``declared`` entries, zip64 style."""
    eocd = data.rindex(b"PK\x05\x06")
    fields = list(struct.unpack("<4s4H2LH", data[eocd : eocd + 22]))
    _, _, _, _, _, cd_size, cd_offset, _ = fields
    record = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, declared, declared, cd_size, cd_offset
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    fields[3] = fields[4] = 0xFFFF  # "see the zip64 record"
    return data[:eocd] + record + locator + struct.pack("<4s4H2LH", *fields)


def test_a_zip64_end_record_declaring_too_many_entries_is_refused_before_parsing(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(with_zip64_count(zip_bytes(MEMBERS), 5_000_000))
    with pytest.raises(UnsafeArchiveError) as info:
        extract_archive(archive, tmp_path / "out", max_files=1000)
    assert "more than max_files=1000 members" in info.value.message
    assert "<end record: 5000000 entries>" in info.value.message
    assert info.value.limit == "max_files"
    assert not (tmp_path / "out").exists()


def test_a_zip_whose_end_record_is_cut_off_is_damaged(tmp_path: Path) -> None:
    data = zip_bytes(MEMBERS)
    archive = tmp_path / "cut.zip"
    archive.write_bytes(data[: data.rindex(b"PK\x05\x06") + 10])
    with pytest.raises(ArtifactError, match="is damaged"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_byte_limit_counts_what_is_written_across_members(tmp_path: Path) -> None:
    archive = tmp_path / "many.tar"
    archive.write_bytes(tar_bytes({f"part{i}": b"x" * 400 for i in range(5)}))
    with pytest.raises(UnsafeArchiveError) as info:
        extract_archive(archive, tmp_path / "out", max_bytes=1000)
    assert "expands to more than max_bytes=1000 (1.0 kB)" in info.value.message
    assert not (tmp_path / "out").exists()
    assert len(extract_archive(archive, tmp_path / "out", max_bytes=2000)) == 5


# -- the local store -----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "store")


def test_repr_names_the_store_and_where_it_is(store: LocalArtifactStore) -> None:
    assert repr(store) == f"LocalArtifactStore({store.url!r})"


def test_get_file_refuses_a_directory_as_destination(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    digest = store.put_bytes(b"weights").digest
    (tmp_path / "folder").mkdir()
    with pytest.raises(AlreadyExistsError) as info:
        store.get_file(digest, tmp_path / "folder")
    assert f"Cannot write blob sha256:{digest[:12]}" in info.value.message
    assert "it is a directory; expected a file path" in info.value.message
    assert list((tmp_path / "folder").iterdir()) == []


def test_put_dir_of_something_that_is_not_a_directory(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("x")
    for path in (tmp_path / "missing", tmp_path / "file.txt"):
        with pytest.raises(NotFoundError) as info:
            store.put_dir(path)
        assert "does not exist or is not a directory" in info.value.message
        assert info.value.hint == "Pass the path of a directory to store."
    assert list(store.iter_blobs()) == []


def test_a_manifest_whose_sizes_lie_is_refused_and_leaves_nothing(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    member = store.put_bytes(b"twelve bytes").digest
    manifest = store.put_bytes(
        encode_manifest([DirEntry(path="a/file.bin", digest=member, size=11)])
    ).digest
    dest = tmp_path / "dest"
    with pytest.raises(ChecksumMismatchError) as info:
        store.get_dir(manifest, dest)
    assert "Member 'a/file.bin'" in info.value.message
    assert "has 12 bytes" in info.value.message and "the manifest says 11" in info.value.message
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["store"]  # no staging folder left


def test_a_manifest_that_names_a_missing_member_leaves_nothing(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    present = store.put_bytes(b"here").digest
    absent = "ab" * 32
    manifest = store.put_bytes(
        encode_manifest(
            [DirEntry(path="a", digest=present, size=4), DirEntry(path="b", digest=absent, size=1)]
        )
    ).digest
    with pytest.raises(NotFoundError, match=f"No blob sha256:{absent}"):
        store.get_dir(manifest, tmp_path / "dest")
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


def test_opening_a_store_in_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(ArtifactError) as info:
        LocalArtifactStore(tmp_path / "taken")
    assert info.value.message.startswith(f"Cannot open the artifact store at {tmp_path / 'taken'}")
    assert "CONVEYOR_ARTIFACTS" in (info.value.hint or "")
