"""The engine and its error boundary: SQLite settings, network-FS refusal, wrapped errors."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from conveyor import store as st
from conveyor.core import StoreError, StoreUnavailableError
from conveyor.store import _engine


def _mounts(monkeypatch: pytest.MonkeyPatch, content: str | None) -> None:
    """Make ``_refuse_network_fs`` read ``content`` as /proc/mounts (None: unreadable)."""

    def fake_open(path: str, *args: Any, **kwargs: Any) -> io.StringIO:
        assert path == "/proc/mounts"
        if content is None:
            raise PermissionError(path)
        return io.StringIO(content)

    monkeypatch.setattr(_engine, "open", fake_open, raising=False)


def test_sqlite_on_nfs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path.resolve()
    _mounts(monkeypatch, f"/dev/sda1 / ext4 rw 0 0\nsrv:/export {real} nfs4 rw,vers=4.2 0 0\n")
    with pytest.raises(StoreError, match=f"network file system \\(nfs4 at {real}\\)") as info:
        st.open_store(f"sqlite:///{tmp_path}/sub/conveyor.db")
    assert "postgresql://" in str(info.value)
    assert not (tmp_path / "sub" / "conveyor.db").exists()


@pytest.mark.parametrize("fstype", ["cifs", "9p", "fuse.sshfs", "glusterfs", "ceph", "smb3"])
def test_every_network_fs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fstype: str
) -> None:
    _mounts(monkeypatch, f"/dev/sda1 / ext4 rw 0 0\nx {tmp_path.resolve()} {fstype} rw 0 0\n")
    with pytest.raises(StoreError, match=fstype):
        _engine._refuse_network_fs(tmp_path / "conveyor.db")


def test_the_longest_mount_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A local disk mounted inside an NFS tree is fine.
    _mounts(monkeypatch, f"srv:/ / nfs rw 0 0\n/dev/sdb1 {tmp_path.resolve()} ext4 rw 0 0\n")
    _engine._refuse_network_fs(tmp_path / "conveyor.db")


def test_a_mount_is_matched_by_path_not_by_string_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path.resolve()
    (tmp_path / "share2").mkdir()
    _mounts(monkeypatch, f"/dev/sda1 / ext4 rw 0 0\nsrv:/x {real}/share nfs rw 0 0\n")
    _engine._refuse_network_fs(tmp_path / "share2" / "conveyor.db")  # not under /share


def test_escaped_mount_points_are_understood(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /proc/mounts writes a space in a mount point as \040.
    shared = tmp_path / "team share"
    shared.mkdir()
    escaped = str(shared.resolve()).replace(" ", "\\040")
    _mounts(monkeypatch, f"/dev/sda1 / ext4 rw 0 0\nsrv:/x {escaped} nfs rw 0 0\n")
    with pytest.raises(StoreError, match="network file system"):
        _engine._refuse_network_fs(shared / "conveyor.db")


def test_unreadable_mounts_do_not_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _mounts(monkeypatch, None)
    _engine._refuse_network_fs(tmp_path / "conveyor.db")


def test_sqlite_settings(sqlite_store: st.Store) -> None:
    def pragmas(conn: Any) -> tuple[Any, ...]:
        return tuple(
            conn.execute(text(f"PRAGMA {p}")).scalar()
            for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        )

    assert sqlite_store.query(pragmas) == ("wal", 1, 5_000, 1)


def test_write_transactions_take_the_lock_up_front(tmp_path: Path) -> None:
    """``BEGIN IMMEDIATE``: a second writer waits from its first statement; readers never do.
    A writer that waits past its busy timeout and retries gets one clear StoreUnavailableError."""
    path = f"sqlite:///{tmp_path}/conveyor.db"
    with st.open_store(path) as holder, st.open_store(path, busy_timeout=0.05, retries=1) as other:
        st.emit_event(other, "io.conveyor.test.emitted")
        with holder.write():  # no statement yet: the lock is already held
            assert len(st.read_events(other)) == 1  # WAL: reads go on
            with pytest.raises(StoreUnavailableError) as info:
                st.emit_event(other, "io.conveyor.test.emitted")
        message = str(info.value)
        assert "database is locked" in message and "after bounded retries" in message
        assert "\n" not in message and info.value.hint is not None
        assert isinstance(info.value.__cause__, sqlalchemy.exc.OperationalError)
        st.emit_event(other, "io.conveyor.test.emitted")  # and works once the lock is gone


def test_unsupported_url(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Unsupported store URL scheme 'mysql'") as info:
        st.open_store("mysql://localhost/db")
    assert "sqlite:///" in str(info.value.hint)


def test_unreachable_postgres_is_unavailable() -> None:
    # Port 1 on loopback refuses at once; "cannot connect" is StoreUnavailableError.
    with pytest.raises(StoreUnavailableError, match="Connection refused") as info:
        st.open_store("postgresql://nobody:s3cret@127.0.0.1:1/conveyor", retries=0)
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)


def test_sqlite_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError, match="file"):
        st.open_store(f"sqlite:///{tmp_path}/file/conveyor.db")


def test_display_url_hides_the_password(sqlite_store: st.Store) -> None:
    s = st.Store(
        url="postgresql://u:s3cret@db:5432/conveyor",
        engine=sqlite_store.engine,
        project_id=1,
        project="p",
    )
    assert s.display_url == "postgresql://u:***@db:5432/conveyor"


def _sqlite_error(cls: type[sqlalchemy.exc.DBAPIError], message: str) -> Any:
    return cls("SELECT 1", {}, sqlite3.OperationalError(message))


def test_transient_classification() -> None:
    transient = _engine.is_transient
    assert transient(_sqlite_error(sqlalchemy.exc.OperationalError, "database is locked"))
    assert transient(_sqlite_error(sqlalchemy.exc.OperationalError, "database table is locked"))
    assert not transient(_sqlite_error(sqlalchemy.exc.IntegrityError, "UNIQUE constraint failed"))
    assert not transient(_sqlite_error(sqlalchemy.exc.OperationalError, "no such table: runs"))
