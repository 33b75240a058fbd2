"""S05: hostile tar and zip archives given to ``extract_archive``.

Every hostile archive must be refused with a message naming the problem, create nothing
outside the extraction directory (canary hashed before and after, files listed before and
after), and leave no half-extracted state behind.
"""

from __future__ import annotations

import functools
import io
import stat
import struct
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from artifacts_helpers import Canary

from conveyor.artifacts import MAX_ARCHIVE_FILES, extract_archive
from conveyor.core import AlreadyExistsError, ArtifactError, NotFoundError, UnsafeArchiveError

MiB = 1024 * 1024
Member = tuple[tarfile.TarInfo, bytes]


# -- archive builders -----------------------------------------------------------------------


def tar_member(name: str, data: bytes = b"", **fields: object) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def build_tar(path: Path, members: list[Member]) -> Path:
    mode = "w:gz" if path.name.endswith((".tgz", ".tar.gz")) else "w"
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def zip_member(name: str, data: bytes = b"", mode: int = stat.S_IFREG | 0o644) -> Member:
    info = tarfile.TarInfo(name)  # reused as a carrier of (name, mode)
    info.mode = mode
    return info, data


def build_zip(path: Path, members: list[Member]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for carrier, data in members:
            info = zipfile.ZipInfo(carrier.name)
            info.external_attr = carrier.mode << 16
            archive.writestr(info, data)
    return path


@functools.cache
def zeros_deflate(n_mib: int, head: bytes = b"") -> tuple[bytes, int]:
    """Raw deflate of ``head`` + ``n_mib`` MiB of zeros, built in milliseconds.

    After a full flush the compressor's output for another MiB of zeros is the same bytes
    every time, so the stream is one block repeated. Returns ``(stream, crc32)``.
    """
    zeros = bytes(MiB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == block
    stream = start + block * n_mib + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(n_mib):
        crc = zlib.crc32(zeros, crc)
    return stream, crc


def gzip_bomb(path: Path, n_mib: int) -> Path:
    """A .tar.gz of one member of ``n_mib`` MiB of zeros (minus the end blocks): ~1000:1."""
    size = n_mib * MiB - 1024
    header = tar_member("zeros.bin")[0]
    header.size = size
    head = header.tobuf(tarfile.USTAR_FORMAT)
    stream, crc = zeros_deflate(n_mib, head)
    total = len(head) + n_mib * MiB
    path.write_bytes(
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + stream
        + struct.pack("<LL", crc, total & 0xFFFFFFFF)
    )
    return path


def zip_bomb(path: Path, n_mib: int) -> Path:
    """A .zip of one deflated member of ``n_mib`` MiB of zeros: ~1000:1."""
    stream, crc = zeros_deflate(n_mib)
    name = b"zeros.bin"
    size = n_mib * MiB
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(stream), size,
                        len(name), 0)  # fmt: skip
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                          len(stream), size, len(name), 0, 0, 0, 0, 0, 0)  # fmt: skip
    offset = len(local) + len(name) + len(stream)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), offset, 0)
    path.write_bytes(local + name + stream + central + name + end)
    return path


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def work(canary: Canary) -> tuple[Path, Path]:
    """``(folder for archives, extraction dest)``, both inside the allowed roots."""
    return canary.allowed[0], canary.allowed[1] / "out"


def refused(call: Callable[[], object], match: str, canary: Canary, dest: Path) -> None:
    with pytest.raises(UnsafeArchiveError, match=match):
        call()
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no staging directory left
    canary.check()


# -- a good archive -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".zip"])
def test_extracts_a_normal_archive(suffix: str, work: tuple[Path, Path], canary: Canary) -> None:
    files = {"model/weights.bin": b"\x01" * 5000, "model/config.json": b"{}", "README": b"hi"}
    path = work[0] / f"good{suffix}"
    if suffix == ".zip":
        build_zip(path, [zip_member("model/", mode=stat.S_IFDIR | 0o755)]
                  + [zip_member(k, v) for k, v in files.items()])  # fmt: skip
    else:
        build_tar(path, [tar_member("model", type=tarfile.DIRTYPE)]
                  + [tar_member(k, v) for k, v in files.items()])  # fmt: skip
    extracted = extract_archive(path, work[1])
    assert [p.relative_to(work[1]).as_posix() for p in extracted] == list(files)
    for rel, data in files.items():
        assert (work[1] / rel).read_bytes() == data
        assert stat.S_IMODE((work[1] / rel).stat().st_mode) == 0o600
    assert stat.S_IMODE((work[1] / "model").stat().st_mode) == 0o700
    canary.check()


# -- hostile members ------------------------------------------------------------------------


def hostile_tar_cases(canary: Canary) -> dict[str, tuple[list[Member], str]]:
    outside = str(canary.area)
    return {
        "dotdot": ([tar_member("../../../../../../../evil.txt", b"x")], "unsafe member name"),
        "absolute": ([tar_member(f"{outside}/evil.txt", b"x")], "unsafe member name"),
        "symlink-then-write-through": (
            [
                tar_member("link", type=tarfile.SYMTYPE, linkname=outside),
                tar_member("link/evil.txt", b"x"),
            ],
            "link member 'link'",
        ),
        "symlink-inside": (
            [tar_member("a.txt", b"x"), tar_member("b", type=tarfile.SYMTYPE, linkname="a.txt")],
            "link member 'b'",
        ),
        "hardlink-out": (
            [tar_member("hard", type=tarfile.LNKTYPE, linkname=str(canary.path))],
            "link member 'hard'",
        ),
        "hardlink-relative": (
            [tar_member("hard", type=tarfile.LNKTYPE, linkname="../../../../../../../canary.bin")],
            "link member",
        ),
        "char-device": (
            [tar_member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)],
            "special-file",
        ),
        "block-device": (
            [tar_member("sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)],
            "special-file",
        ),
        "fifo": ([tar_member("pipe", type=tarfile.FIFOTYPE)], "special-file"),
        "duplicate": ([tar_member("a", b"1"), tar_member("a", b"2")], "twice"),
        "file-then-dir": (
            [tar_member("a", b"1"), tar_member("a/b", b"2")],
            "in the way|twice",
        ),
    }


TAR_CASES = [
    "dotdot",
    "absolute",
    "symlink-then-write-through",
    "symlink-inside",
    "hardlink-out",
    "hardlink-relative",
    "char-device",
    "block-device",
    "fifo",
    "duplicate",
    "file-then-dir",
]


@pytest.mark.parametrize("suffix", [".tar", ".tgz"])
@pytest.mark.parametrize("case", TAR_CASES)
def test_hostile_tar(case: str, suffix: str, work: tuple[Path, Path], canary: Canary) -> None:
    members, match = hostile_tar_cases(canary)[case]
    path = build_tar(work[0] / f"{case}{suffix}", members)
    refused(lambda: extract_archive(path, work[1]), match, canary, work[1])


def hostile_zip_cases(canary: Canary) -> dict[str, tuple[list[Member], str]]:
    outside = str(canary.area)
    return {
        "dotdot": ([zip_member("../../../../../../../evil.txt", b"x")], "unsafe member name"),
        "absolute": ([zip_member(f"{outside}/evil.txt", b"x")], "unsafe member name"),
        "backslash": ([zip_member("..\\..\\evil.txt", b"x")], "unsafe member name"),
        "symlink-then-write-through": (
            [
                zip_member("link", outside.encode(), mode=stat.S_IFLNK | 0o777),
                zip_member("link/evil.txt", b"x"),
            ],
            "link member 'link'",
        ),
        "char-device": ([zip_member("null", mode=stat.S_IFCHR | 0o666)], "special-file"),
        "fifo": ([zip_member("pipe", mode=stat.S_IFIFO | 0o666)], "special-file"),
        "duplicate": ([zip_member("a", b"1"), zip_member("a", b"2")], "twice"),
    }


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
@pytest.mark.parametrize(
    "case",
    ["dotdot", "absolute", "backslash", "symlink-then-write-through", "char-device", "fifo",
     "duplicate"],
)  # fmt: skip
def test_hostile_zip(case: str, work: tuple[Path, Path], canary: Canary) -> None:
    members, match = hostile_zip_cases(canary)[case]
    path = build_zip(work[0] / f"{case}.zip", members)
    refused(lambda: extract_archive(path, work[1]), match, canary, work[1])


def test_zip_symlink_member_is_not_followed_even_inside(
    work: tuple[Path, Path], canary: Canary
) -> None:
    path = build_zip(
        work[0] / "inner-link.zip",
        [zip_member("a.txt", b"x"), zip_member("b", b"a.txt", mode=stat.S_IFLNK | 0o777)],
    )
    refused(lambda: extract_archive(path, work[1]), "link member 'b'", canary, work[1])


# -- bombs ----------------------------------------------------------------------------------


def many_files_tar(path: Path, n_files: int) -> Path:
    return build_tar(path, [tar_member(f"f/{i:05d}") for i in range(n_files)])


def many_files_zip(path: Path, n_files: int) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n_files):
            archive.writestr(f"f/{i:05d}", b"")
    return path


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_file_count_bomb_at_the_default_limit(
    kind: str, work: tuple[Path, Path], canary: Canary
) -> None:
    n_files = MAX_ARCHIVE_FILES + 1
    build = many_files_tar if kind == "tar" else many_files_zip
    path = build(work[0] / f"bomb.{kind}", n_files)
    started = time.monotonic()
    refused(lambda: extract_archive(path, work[1]), "max_files=10000", canary, work[1])
    print(f"{kind} bomb of {n_files} files refused in {time.monotonic() - started:.2f} s")


def test_file_count_bomb_with_a_lying_zip_end_record(
    work: tuple[Path, Path], canary: Canary
) -> None:
    """The end record claims 1 entry; the members are counted as they come anyway."""
    path = many_files_zip(work[0] / "liar.zip", 60)
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)
    path.write_bytes(bytes(data))
    refused(lambda: extract_archive(path, work[1], max_files=50), "max_files=50", canary, work[1])


def test_file_count_bomb_tgz_lowered_limit(work: tuple[Path, Path], canary: Canary) -> None:
    path = many_files_tar(work[0] / "bomb.tgz", 200)
    refused(lambda: extract_archive(path, work[1], max_files=100), "max_files=100", canary, work[1])


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_size_bomb_stopped_by_bytes_written(
    kind: str, work: tuple[Path, Path], canary: Canary
) -> None:
    """1.1 GB expanded from ~1 MB; stopped at a lowered max_bytes after ~8 MiB of writes."""
    build = gzip_bomb if kind == "tgz" else zip_bomb
    path = build(work[0] / f"bomb.{kind}", 1100)
    assert path.stat().st_size < 2 * MiB
    refused(
        lambda: extract_archive(path, work[1], max_bytes=8 * MiB),
        r"max_bytes=8388608 \(8.4 MB\)",
        canary,
        work[1],
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_size_bomb_at_the_default_limit(kind: str, work: tuple[Path, Path], canary: Canary) -> None:
    build = gzip_bomb if kind == "tgz" else zip_bomb
    path = build(work[0] / f"bomb.{kind}", 1100)
    refused(lambda: extract_archive(path, work[1]), r"max_bytes=1073741824", canary, work[1])


def test_bomb_archives_are_valid(tmp_path: Path) -> None:
    """The cheap bombs are real archives: their streams decompress to what they claim."""
    with tarfile.open(gzip_bomb(tmp_path / "b.tgz", 3), "r:gz") as archive:
        member = archive.next()
        assert member is not None and member.size == 3 * MiB - 1024
        reader = archive.extractfile(member)
        assert reader is not None and reader.read() == bytes(3 * MiB - 1024)
    with zipfile.ZipFile(zip_bomb(tmp_path / "b.zip", 3)) as archive:
        assert archive.read("zeros.bin") == bytes(3 * MiB)


# -- other refusals -------------------------------------------------------------------------


def test_other_refusals(work: tuple[Path, Path], canary: Canary) -> None:
    with pytest.raises(NotFoundError):
        extract_archive(work[0] / "missing.tar", work[1])
    junk = work[0] / "junk.bin"
    junk.write_bytes(b"not an archive at all" * 10)
    with pytest.raises(ArtifactError, match="neither a tar nor a zip"):
        extract_archive(junk, work[1])
    good = build_tar(work[0] / "good.tgz", [tar_member("a", b"1" * 10_000)])
    truncated = work[0] / "truncated.tgz"
    truncated.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ArtifactError, match="damaged"):
        extract_archive(truncated, work[1])
    assert not work[1].exists()
    work[1].mkdir()
    (work[1] / "mine.txt").write_bytes(b"keep")
    with pytest.raises(AlreadyExistsError, match="not empty"):
        extract_archive(good, work[1])
    assert [p.name for p in work[1].iterdir()] == ["mine.txt"]
    canary.check()
