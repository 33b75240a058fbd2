from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core import (
    Config,
    ConfigError,
    ProjectNotFoundError,
    settings_reference,
    worst_store_call,
)


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
        "CONVEYOR_PIPELINES_LEASE": "15m",
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
    assert (config.pipelines.lease, config.store.busy_timeout, config.store.retries) == (
        60.0,
        5.0,
        5,
    )
    worst = worst_store_call(config.store.busy_timeout, config.store.retries)
    assert config.pipelines.lease >= 1.5 * worst


def test_the_worst_store_call_counts_every_try_and_the_jittered_back_off() -> None:
    # 6 tries of 5 s, and back-off of 0.02+0.04+0.08+0.16+0.32 s, doubled for the jitter.
    assert worst_store_call(5.0, 5) == pytest.approx(30.0 + 2 * 0.62)
    # The back-off is capped at one second a wait.
    assert worst_store_call(0.0, 10) == pytest.approx(
        2 * (0.02 + 0.04 + 0.08 + 0.16 + 0.32 + 0.64 + 4 * 1.0)
    )
    assert worst_store_call(2.0, 0) == 2.0


def test_a_lease_a_retrying_heartbeat_could_outlive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, '[pipelines]\nlease = "40s"\n'), env={})
    message = str(info.value)
    assert "pipelines.lease (40s)" in message and "store.busy_timeout 5s" in message
    assert "store.retries 5" in message
    assert "at least 46.9s" in message and "at most 4.24s" in message
    short = Config.load(tmp_path, env={"CONVEYOR_STORE_BUSY_TIMEOUT": "4s"})
    assert short.pipelines.lease == 40.0
    fewer = Config.load(tmp_path, env={"CONVEYOR_STORE_RETRIES": "3"})
    assert fewer.pipelines.lease == 40.0


def test_a_lease_no_busy_timeout_can_save_says_to_lower_the_retries(tmp_path: Path) -> None:
    # The back-off of ten retries alone (5.26 s, doubled for the jitter) outlasts two thirds
    # of a 10 s lease, whatever the busy timeout.
    toml = '[pipelines]\nlease = "10s"\n[store]\nretries = 10\nbusy_timeout = "100ms"\n'
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, toml), env={})
    message = str(info.value)
    assert "lower store.busy_timeout" not in message and "lower store.retries" in message
