"""url_filesystem: any fsspec URL as a file system and a path, its errors as ArtifactErrors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from conveyor.artifacts import url_filesystem
from conveyor.core import ArtifactError


def test_a_local_path_is_the_local_file_system(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")

    fs, path = url_filesystem(str(tmp_path / "a.csv"))

    assert "file" in fs.protocol
    assert fs.cat_file(path) == b"x\n1\n"


def test_a_file_url_and_a_glob_keep_their_path(tmp_path: Path) -> None:
    fs, path = url_filesystem(f"file://{tmp_path}/*.csv")

    assert path == f"{tmp_path}/*.csv"  # the caller expands the pattern
    assert fs.glob(path) == []


def test_a_memory_url_reaches_the_memory_file_system() -> None:
    url = f"memory://conveyor-urls-{uuid.uuid4().hex[:8]}/x.bin"
    fs, path = url_filesystem(url)
    try:
        fs.pipe_file(path, b"data")
        again, same = url_filesystem(url)
        assert again.cat_file(same) == b"data"
    finally:
        fs.rm(path)


def test_storage_options_reach_the_file_system() -> None:
    fs, _ = url_filesystem("memory://x", {"skip_instance_cache": True})

    assert "memory" in fs.protocol


def test_an_unknown_protocol_is_an_artifact_error() -> None:
    with pytest.raises(ArtifactError) as caught:
        url_filesystem("nosuchproto://bucket/key")

    assert "unknown protocol 'nosuchproto'" in caught.value.message
    assert caught.value.url == "nosuchproto://bucket/key"
    assert caught.value.hint


def test_a_missing_driver_names_its_install_command() -> None:
    with pytest.raises(ArtifactError) as caught:
        url_filesystem("gcs://bucket/key")

    assert "needs the 'gcs' file system" in caught.value.message
    assert caught.value.hint == "Install it with: pip install gcsfs"
    assert isinstance(caught.value.__cause__, ImportError)


def test_credentials_in_the_url_are_never_shown() -> None:
    with pytest.raises(ArtifactError) as caught:
        url_filesystem("nosuchproto://user:s3cret@host/key")

    assert "s3cret" not in str(caught.value)
    assert caught.value.url == "nosuchproto://host/key"


def test_a_file_system_that_fails_to_open_is_an_artifact_error(tmp_path: Path) -> None:
    url = f"zip://data.csv::file://{tmp_path}/missing.zip"  # the archive is opened at once

    with pytest.raises(ArtifactError) as caught:
        url_filesystem(url)

    assert caught.value.message.startswith(f"Cannot open the URL {url!r}: FileNotFoundError")
    assert "storage options" in (caught.value.hint or "")
