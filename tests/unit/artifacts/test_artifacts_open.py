"""Choosing a store from the ``artifacts`` setting, and the errors a bad URL gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from artifacts_helpers import drop_memory, memory_url

from conveyor.artifacts import FsspecArtifactStore, LocalArtifactStore, open_artifact_store
from conveyor.artifacts._fsspec import redact_url
from conveyor.core import ArtifactError, ConfigError, InvalidNameError


def test_plain_paths_and_file_urls_open_local_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url, expected in [
        (str(tmp_path / "a"), tmp_path / "a"),
        ("relative/store", tmp_path / "relative" / "store"),
        (f"file://{tmp_path}/b", tmp_path / "b"),
        (f"file://localhost{tmp_path}/c", tmp_path / "c"),
        (f"file:{tmp_path}/d", tmp_path / "d"),
        (f"local://{tmp_path}/e%20f", tmp_path / "e f"),
    ]:
        store = open_artifact_store(url)
        assert isinstance(store, LocalArtifactStore), url
        assert store.root == expected and store.url == str(expected)
    assert isinstance(open_artifact_store(tmp_path / "g"), LocalArtifactStore)


def test_other_urls_open_fsspec_stores() -> None:
    url = memory_url()
    try:
        store = open_artifact_store(url)
        assert isinstance(store, FsspecArtifactStore) and store.url == url
        chained = open_artifact_store("simplecache::" + url)
        assert isinstance(chained, FsspecArtifactStore)
    finally:
        drop_memory(url)
    s3 = open_artifact_store("s3://bucket/prefix/", {"anon": True})  # no request is made
    assert isinstance(s3, FsspecArtifactStore) and s3.url == "s3://bucket/prefix"


def test_fsspec_is_imported_only_when_chosen(tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys; import conveyor.artifacts as a; a.open_artifact_store(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fsspec', 's3fs', 'botocore', 'sqlalchemy', 'numpy', 'pandas', 'sklearn')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unknown_protocol_names_the_setting() -> None:
    with pytest.raises(ArtifactError, match="unknown protocol 'nosuchproto'") as info:
        open_artifact_store("nosuchproto://bucket/x")
    assert "CONVEYOR_ARTIFACTS" in str(info.value)


@pytest.mark.parametrize(
    ("url", "command"),
    [("gs://bucket/x", "pip install gcsfs"), ("abfs://container/x", "pip install adlfs")],
)
def test_missing_driver_names_the_install_command(url: str, command: str) -> None:
    pytest.importorskip("fsspec")
    if any(name in sys.modules for name in ("gcsfs", "adlfs")):  # pragma: no cover
        pytest.fail("gcsfs/adlfs must not be installed for this test")
    with pytest.raises(ArtifactError, match="not installed") as info:
        open_artifact_store(url)
    assert info.value.hint == f"Install it with: {command}"


def test_s3_install_hint_is_the_conveyor_extra() -> None:
    from conveyor.artifacts._fsspec import _INSTALL

    assert _INSTALL["s3"] == "pip install 'conveyor[s3]'"


def test_storage_options_for_a_local_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apply only to fsspec URLs"):
        open_artifact_store(str(tmp_path), {"key": "x"})


@pytest.mark.parametrize("url", ["", "store\x00evil"])
def test_empty_or_nul_url(url: str) -> None:
    with pytest.raises(InvalidNameError, match="empty or contains a NUL"):
        open_artifact_store(url)


def test_remote_file_url_is_refused() -> None:
    with pytest.raises(ArtifactError, match="must be local"):
        open_artifact_store("file://fileserver/share/store")


def test_credentials_never_appear_in_the_url() -> None:
    assert redact_url("s3://AKIA:secret@bucket/p/?X-Amz-Signature=abc#frag") == "s3://bucket/p"
    assert redact_url("https://user:pw@host:9000/x") == "https://host:9000/x"
    assert redact_url("memory://name/store/") == "memory://name/store"
