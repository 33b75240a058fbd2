"""Schema migration: empty store to head, no-op reopen, head bookkeeping, version checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from conveyor import store as st
from conveyor.core import Config, InvalidNameError, StoreVersionError
from conveyor.store import _migrate, _schema


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/conveyor.db"


def test_empty_store_is_migrated_to_head(tmp_path: Path) -> None:
    with st.open_store(url(tmp_path)) as store:
        assert store.query(st.current_revision) == st.HEAD
        tables = set(store.query(lambda c: inspect(c).get_table_names()))
    assert set(_schema.metadata.tables) | {"alembic_version"} == tables


def test_second_open_is_a_no_op(tmp_path: Path) -> None:
    st.open_store(url(tmp_path)).close()
    with st.open_store(url(tmp_path)) as store:
        assert _migrate.check_or_upgrade(store, migrate=True) is False
        rows = store.query(lambda c: c.execute(text("SELECT * FROM alembic_version")).all())
    assert [tuple(r) for r in rows] == [(st.HEAD,)]


def test_head_constant_matches_the_alembic_scripts() -> None:
    cfg = _migrate._alembic_config(None)  # type: ignore[arg-type]
    script = ScriptDirectory.from_config(cfg)
    assert script.get_heads() == [st.HEAD]
    assert _migrate.known_revisions()[0] == st.HEAD


def test_migrated_sqlite_schema_equals_the_metadata(tmp_path: Path) -> None:
    st.open_store(url(tmp_path)).close()
    engine = create_engine(url(tmp_path))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, _schema.metadata) == []
    finally:
        engine.dispose()


def test_default_project_and_named_projects(tmp_path: Path) -> None:
    with st.open_store(url(tmp_path)) as store:
        assert store.project == "default" and store.project_id > 0
        default_id = store.project_id
    with (
        st.open_store(url(tmp_path), project="churn") as a,
        st.open_store(url(tmp_path), project="churn") as b,
    ):
        assert a.project_id == b.project_id != default_id


def test_bad_project_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError, match="project name"):
        st.open_store(url(tmp_path), project="../x")


def _fake_revision(tmp_path: Path, revision: str) -> None:
    st.open_store(url(tmp_path)).close()
    engine = create_engine(url(tmp_path))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


@pytest.mark.parametrize("migrate", [True, False])
def test_store_newer_than_the_package_is_refused(tmp_path: Path, migrate: bool) -> None:
    _fake_revision(tmp_path, "9999_from_the_future")
    with pytest.raises(StoreVersionError, match="'9999_from_the_future', newer") as info:
        st.open_store(url(tmp_path), migrate=migrate)
    assert "pip install -U conveyor" in str(info.value)
    assert "\n" not in str(info.value)


def test_old_store_without_migrate_names_the_upgrade_command(tmp_path: Path) -> None:
    (tmp_path / "conveyor.db").touch()  # an empty (never migrated) store
    with pytest.raises(StoreVersionError, match="revision none, expected") as info:
        st.open_store(url(tmp_path), migrate=False)
    assert info.value.hint == "Upgrade it with: conveyor db upgrade"
    assert "conveyor db upgrade" in str(info.value)
    # Nothing was created behind the user's back.
    engine = create_engine(url(tmp_path))
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def test_migrated_store_opens_without_migrate(tmp_path: Path) -> None:
    st.open_store(url(tmp_path)).close()
    with st.open_store(url(tmp_path), migrate=False, project="new") as store:
        assert store.project == "new"


def test_open_store_from_config(tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_text(
        '[project]\nname = "churn"\n\n[store]\nurl = "sqlite:///state/meta.db"\n'
        'busy_timeout = "5s"\nretries = 2\n',
        encoding="utf-8",
    )
    config = Config.load(tmp_path, env={})
    with pytest.raises(StoreVersionError, match="conveyor db upgrade"):
        st.open_store_from_config(config, migrate=False)
    with st.open_store_from_config(config) as store:
        assert (store.project, store.retries) == ("churn", 2)
        assert store.query(lambda c: c.execute(text("PRAGMA busy_timeout")).scalar()) == 5_000
    assert (tmp_path / "state" / "meta.db").is_file()
