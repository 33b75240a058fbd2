from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core import Config, ConfigError, ProjectNotFoundError, settings_reference


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "conveyor.toml").write_text(text)
    return tmp_path


def test_defaults_resolve_relative_paths_under_the_project(tmp_path: Path) -> None:
    config = Config.load(write(tmp_path, '[project]\nname = "churn"\n'), env={})
    assert config.project.name == "churn"
    assert config.store.url == f"sqlite:///{tmp_path.resolve()}/.conveyor/conveyor.db"
    assert config.artifacts.url == f"{tmp_path.resolve()}/.conveyor/artifacts"
    assert config.executor.kind == "local"


def test_absolute_and_remote_urls_are_kept(tmp_path: Path) -> None:
    text = '[store]\nurl = "postgresql://u@h/db"\n[artifacts]\nurl = "s3://bucket/x"\n'
    config = Config.load(write(tmp_path, text), env={})
    assert config.store.url == "postgresql://u@h/db"
    assert config.artifacts.url == "s3://bucket/x"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "CONVEYOR_STORE": "sqlite:////abs/x.db",
        "CONVEYOR_ARTIFACTS": "memory://a",
        "CONVEYOR_EXECUTOR": "ray",
        "CONVEYOR_STORE_BUSY_TIMEOUT": "1m30s",
        "CONVEYOR_PIPELINES_LEASE": "5m",
        "CONVEYOR_ARTIFACTS_STORAGE_OPTIONS": '{"anon": true}',
        "CONVEYOR_UNRELATED": "ignored",
    }
    config = Config.load(write(tmp_path, '[store]\nurl = "sqlite:///a.db"\n'), env=env)
    assert config.store.url == "sqlite:////abs/x.db"
    assert config.artifacts.url == "memory://a"
    assert config.executor.kind == "ray"
    assert config.store.busy_timeout == 90.0
    assert config.artifacts.storage_options == {"anon": True}


def test_unknown_key_names_the_key_and_suggests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, '[store]\nulr = "x"\n'), env={})
    message = str(info.value)
    assert "'store.ulr'" in message and "Did you mean 'url'?" in message


def test_bad_value_names_key_value_and_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, '[executor]\nkind = "k8s"\n'), env={})
    message = str(info.value)
    assert "executor.kind" in message and "'k8s'" in message and "'local' or 'ray'" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[store]\nbusy_timeout = "30 minutes"\n', "such as '30m'"),
        ('[store]\nurl = "mysql://x"\n', "sqlite:/// or postgresql://"),
        ('[project]\nname = "../etc"\n', "project name"),
        ("[store]\nretries = -1\n", "store.retries"),
        ("[store\n", "not valid TOML"),
    ],
)
def test_invalid_settings_are_one_clear_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, text), env={})
    assert fragment in str(info.value)
    assert "Traceback" not in str(info.value)


def test_invalid_environment_value_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="executor.kind"):
        Config.load(write(tmp_path, ""), env={"CONVEYOR_EXECUTOR": "spark"})


def test_find_walks_up_and_fails_with_the_init_hint(tmp_path: Path) -> None:
    write(tmp_path, "")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert Config.find(nested) == tmp_path.resolve()
    with pytest.raises(ProjectNotFoundError) as info:
        Config.find(tmp_path.parent / "nowhere-at-all")
    assert "conveyor init" in str(info.value)


def test_settings_reference_covers_every_field() -> None:
    keys = {row[0] for row in settings_reference()}
    assert {"project.name", "store.url", "artifacts.url", "executor.kind"} <= keys
    assert all(row[3] for row in settings_reference()), "every setting needs a description"


def test_defaults_give_the_lease_room_for_a_busy_store(tmp_path: Path) -> None:
    config = Config.load(tmp_path, env={})
    assert (config.pipelines.lease, config.store.busy_timeout) == (60.0, 10.0)


def test_a_lease_shorter_than_three_busy_timeouts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, '[pipelines]\nlease = "20s"\n'), env={})
    message = str(info.value)
    assert "pipelines.lease (20s)" in message and "store.busy_timeout (10s)" in message
    assert "at least 30s" in message and "at most 6.67s" in message
    short = Config.load(tmp_path, env={"CONVEYOR_STORE_BUSY_TIMEOUT": "500ms"})
    assert short.pipelines.lease == 20.0
