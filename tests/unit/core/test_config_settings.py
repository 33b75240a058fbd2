"""Every setting: its environment variable, its bad values and their messages, and how paths
resolve. (The basics of loading are in ``test_config.py``.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from conveyor.core import (
    Config,
    ConfigError,
    NotifyChannelSettings,
    TriggerSettings,
    settings_reference,
)

# One valid override per setting, as text (the environment only holds strings), and the
# value it must become. A new setting without a row here fails the completeness test.
OVERRIDES: dict[str, tuple[str, Any]] = {
    "project.name": ("churn-2", "churn-2"),
    "store.url": ("postgresql://u@db:5432/meta", "postgresql://u@db:5432/meta"),
    "store.busy_timeout": ("2s", 2.0),
    "store.retries": ("3", 3),
    "store.pool_size": ("12", 12),
    "artifacts.url": ("s3://bucket/prefix", "s3://bucket/prefix"),
    "artifacts.storage_options": ('{"endpoint_url": "http://s3"}', {"endpoint_url": "http://s3"}),
    "executor.kind": ("ray", "ray"),
    "executor.max_workers": ("4", 4),
    "executor.address": ("ray://head:10001", "ray://head:10001"),
    "pipelines.modules": ("jobs.nightly, pipelines ,", ["jobs.nightly", "pipelines"]),
    "pipelines.lease": ("2m", 120.0),
    "pipelines.params": ('{"train": {"n_rows": 500}}', {"train": {"n_rows": 500}}),
    "features.online_store": ("redis://cache:6379/1", "redis://cache:6379/1"),
    "features.online_prefix": ("team-a", "team-a"),
    "registry.champion_alias": ("production", "production"),
    "registry.require_evaluation": ("false", False),
    "serve.host": ("0.0.0.0", "0.0.0.0"),
    "serve.port": ("9000", 9000),
    "serve.workers": ("2", 2),
    "serve.max_body_bytes": ("1048576", 1048576),
    "serve.max_rows": ("500", 500),
    "serve.max_batch_rows": ("64", 64),
    "serve.latency_budget": ("20ms", 0.02),
    "serve.follow_interval": ("2s", 2.0),
    "serve.check_interval": ("1m", 60.0),
    "serve.grace": ("10s", 10.0),
    "serve.log_predictions": ("false", False),
    "serve.log_scores": ("false", False),
    "serve.token": ("s3cret", SecretStr("s3cret")),
    "serve.admin_token": ("adm1n", SecretStr("adm1n")),
    "serve.allowed_hosts": ("api.example.com, 10.0.0.5", ["api.example.com", "10.0.0.5"]),
    "monitor.window": ("15m", 900.0),
    "monitor.window_rows": ("5000", 5000),
    "monitor.grace": ("2m", 120.0),
    "monitor.min_rows": ("200", 200),
    "monitor.reference": ("datasets:/flights/3", "datasets:/flights/3"),
    "monitor.reference_rows": ("20000", 20000),
    "monitor.warning_every": ("48", 48.0),
    "monitor.warning_persistence": ("1, 2", (1, 2)),
    "monitor.drift_every": ("2000", 2000.0),
    "monitor.drift_persistence": ("2,4", (2, 4)),
    "monitor.cooldown": ("0", 0),
    "monitor.methods": ('{"age": "psi"}', {"age": "psi"}),
    "notify.channels": ('{"ops": {"kind": "log"}}', {"ops": NotifyChannelSettings(kind="log")}),
    "notify.dedupe_window": ("5m", 300.0),
    "notify.rate_limit": ("10", 10),
    "notify.rate_period": ("30m", 1800.0),
    "notify.retry_attempts": ("3", 3),
    "notify.retry_backoff": ("500ms", 0.5),
    "notify.retry_max_time": ("2m", 120.0),
    "notify.timeout": ("5s", 5.0),
    "notify.max_age": ("6h", 21600.0),
    "notify.dispatch_interval": ("10s", 10.0),
    "notify.allowed_hosts": ("hooks.internal, 127.0.0.1", ["hooks.internal", "127.0.0.1"]),
    "notify.allowed_networks": ("10.20.0.0/16,::1/128", ["10.20.0.0/16", "::1/128"]),
    "monitor.label_horizon": ("2d", 172800.0),
    "monitor.min_labels": ("250", 250),
    "monitor.estimate_reference": ("datasets:/holdout/2", "datasets:/holdout/2"),
    "automate.triggers": (
        '{"drifted": {"kind": "drift", "deployment": "churn", "pipeline": "retrain"}}',
        {
            "drifted": TriggerSettings(kind="drift", deployment="churn", pipeline="retrain"),
        },
    ),
    "automate.lease": ("1m", 60.0),
    "automate.rollback": ("false", False),
    "automate.rollback_metric": ("roc_auc", "roc_auc"),
    "automate.rollback_margin": ("0.01", 0.01),
    "automate.rollback_min_labels": ("500", 500),
    "automate.rollback_baseline": ("1d", 86400.0),
    "train.gate": ("strict", "strict"),
    "train.gates": (
        '{"strict": {"thresholds": {"roc_auc": ">= 0.8"}}}',
        {"strict": {"thresholds": {"roc_auc": ">= 0.8"}}},
    ),
}

REFERENCE = {key: env for key, env, _, _ in settings_reference()}


def load(root: Path, text: str = "", **env: str) -> Config:
    (root / "conveyor.toml").write_text(text)
    return Config.load(root, env=env)


def value(config: Config, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)


def test_every_setting_has_an_override_case() -> None:
    assert set(OVERRIDES) == set(REFERENCE)


@pytest.mark.parametrize("key", sorted(OVERRIDES))
def test_every_setting_is_overridden_by_its_environment_variable(tmp_path: Path, key: str) -> None:
    text, expected = OVERRIDES[key]
    config = load(tmp_path, **{REFERENCE[key]: text})
    assert value(config, key) == expected


def test_environment_names_are_the_shortcuts_or_section_and_key() -> None:
    assert REFERENCE["store.url"] == "CONVEYOR_STORE"
    assert REFERENCE["artifacts.url"] == "CONVEYOR_ARTIFACTS"
    assert REFERENCE["executor.kind"] == "CONVEYOR_EXECUTOR"
    assert REFERENCE["store.busy_timeout"] == "CONVEYOR_STORE_BUSY_TIMEOUT"
    assert REFERENCE["pipelines.params"] == "CONVEYOR_PIPELINES_PARAMS"


def test_the_reference_gives_each_default_as_python_text() -> None:
    defaults = {key: default for key, _, default, _ in settings_reference()}
    assert defaults["store.busy_timeout"] == "5.0"
    assert defaults["executor.kind"] == "'local'"
    assert defaults["pipelines.modules"] == "['pipelines']"
    assert defaults["pipelines.params"] == "{}"


def test_the_environment_wins_over_the_file_key_by_key(tmp_path: Path) -> None:
    text = (
        '[store]\nurl = "sqlite:///from-file.db"\nretries = 9\n'
        "[pipelines.params.train]\nn_rows = 1\n"
    )
    config = load(
        tmp_path,
        text,
        CONVEYOR_STORE_RETRIES="2",
        CONVEYOR_PIPELINES_PARAMS='{"score": {"k": 3}}',
    )
    assert config.store.retries == 2
    assert config.store.url == f"sqlite:///{tmp_path.resolve()}/from-file.db"  # kept
    assert config.pipelines.params == {"score": {"k": 3}}  # a key's value is replaced whole


def test_variables_that_name_no_setting_are_ignored(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        CONVEYOR_STORE_ULR="x",  # no such key in [store]
        CONVEYOR_NOSECTION_KEY="x",
        CONVEYOR_TEST_POSTGRES_URL="postgresql://elsewhere",  # the test suite's own
        OTHER_STORE="x",
    )
    assert config == load(tmp_path)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[store]\nretries = 51\n", ["key 'store.retries'", "less than or equal to 50", "Got 51"]),
        ("[store]\nretries = -1\n", ["greater than or equal to 0", "Got -1"]),
        ("[store]\npool_size = 0\n", ["key 'store.pool_size'", "greater than or equal to 1"]),
        ("[store]\npool_size = 101\n", ["key 'store.pool_size'", "Got 101"]),
        ("[store]\nbusy_timeout = -5\n", ["busy_timeout must not be negative. Got -5."]),
        ("[store]\nbusy_timeout = true\n", ["busy_timeout must be a duration such as '30m'"]),
        ('[store]\nurl = "redis://x"\n', ["'postgresql://postgres@127.0.0.1:5432/conveyor'"]),
        ("[executor]\nmax_workers = 1025\n", ["key 'executor.max_workers'", "Got 1025"]),
        ('[executor]\nmax_workers = "many"\n', ["key 'executor.max_workers'", "Got 'many'"]),
        ('[pipelines]\nlease = "100ms"\n', ["key 'pipelines.lease'", "at least 500ms"]),
        ('[pipelines]\nlease = "soon"\n', ["lease must be a duration such as '30m'"]),
        ("[pipelines]\nmodules = 3\n", ["key 'pipelines.modules'", "Got 3"]),
        ("[pipelines.params]\ntrain = 5\n", ["key 'pipelines.params.train'", "Got 5"]),
        ('[project]\nname = ""\n', ["The project name '' is not valid"]),
        ("[artifacts]\nstorage_options = 3\n", ["key 'artifacts.storage_options'"]),
        (
            '[features]\nonline_store = "mysql://x"\n',
            ["key 'features.online_store'", "'redis://127.0.0.1:6379/0'"],
        ),
        ('[registry]\nchampion_alias = "../prod"\n', ["The alias '../prod' is not valid"]),
        ('[registry]\nrequire_evaluation = "maybe"\n', ["key 'registry.require_evaluation'"]),
        ('[monitor]\nwindow = "0s"\n', ["key 'monitor.window'", "positive duration"]),
        (
            '[automate.triggers.t]\nkind = "drift"\npipeline = "retrain"\n',
            ["a 'drift' trigger needs `deployment`"],
        ),
        (
            '[automate.triggers.t]\nkind = "cron"\npipeline = "retrain"\n',
            ["automate.triggers.t.kind", "'schedule', 'new_data', 'drift'"],
        ),
        (
            '[automate.triggers.t]\nkind = "schedule"\ncron = "61 * * * *"\npipeline = "r"\n',
            ["'61 * * * *' is not a cron expression", "@hourly"],
        ),
        (
            '[automate.triggers.t]\nkind = "schedule"\ncron = "@daily"\ntimezone = "Mars/Base"\n'
            'pipeline = "r"\n',
            ["'Mars/Base' is not an IANA time zone"],
        ),
        (
            '[automate.triggers.t]\nkind = "schedule"\npipeline = "r"\n',
            ["a 'schedule' trigger needs `cron`"],
        ),
        ("[monitor]\nwarning_persistence = [3, 2]\n", ["needs 1 <= k <= n <= 12", "k=3, n=2"]),
        ("[monitor]\ndrift_persistence = [1]\n", ["two whole numbers [k, n]"]),
        ("[monitor]\ndrift_every = 1\n", ["key 'monitor.drift_every'", "greater than 1"]),
        ("[notify]\nrate_limit = 0\n", ["key 'notify.rate_limit'", "Got 0"]),
        ('[notify]\ndedupe_window = "0s"\n', ["key 'notify.dedupe_window'", "positive"]),
        ('[notify]\nallowed_networks = ["10.0.0.0/33"]\n', ["'10.0.0.0/33' is not a network"]),
        ('[notify.channels.ops]\nkind = "sms"\n', ["key 'notify.channels.ops.kind'", "'sms'"]),
        ('[notify.channels."a/b"]\nkind = "log"\n', ["The channel name 'a/b' is not valid"]),
        ('[monitor]\nlabel_horizon = "0s"\n', ["key 'monitor.label_horizon'", "positive"]),
        ("[monitor]\nmin_labels = 0\n", ["key 'monitor.min_labels'", "greater than or equal"]),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = info.value.message
    assert message.startswith(f"Invalid settings in {tmp_path.resolve()}/conveyor.toml")
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
    assert info.value.hint == "See the configuration reference in the README."


@pytest.mark.parametrize(
    ("var", "text", "fragment"),
    [
        ("CONVEYOR_ARTIFACTS_STORAGE_OPTIONS", "anon=true", "must be a JSON object such as"),
        ("CONVEYOR_PIPELINES_PARAMS", "train.n=5", '\'{"train": {"n_rows": 500}}\''),
        ("CONVEYOR_STORE_RETRIES", "five", "key 'store.retries'"),
        ("CONVEYOR_PIPELINES_LEASE", "1 fortnight", "lease must be a duration"),
        ("CONVEYOR_PROJECT_NAME", "a/b", "project name 'a/b'"),
        ("CONVEYOR_REGISTRY_REQUIRE_EVALUATION", "perhaps", "key 'registry.require_evaluation'"),
    ],
)
def test_bad_environment_values_are_reported_like_file_values(
    tmp_path: Path, var: str, text: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, **{var: text})
    assert fragment in info.value.message
    assert "(or CONVEYOR_* environment)" in info.value.message


def test_without_a_file_the_message_names_the_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={"CONVEYOR_STORE_POOL_SIZE": "0"})
    assert info.value.message.startswith("Invalid settings in the configuration ")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = '[store]\nretries = 99\nulr = "x"\n[executor]\nkind = "k8s"\n'
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    problems = info.value.message.split(": ", 1)[1].split("; ")
    assert len(problems) == 3
    assert any("store.retries" in p for p in problems)
    assert any("unknown key 'store.ulr'. Did you mean 'url'?" in p for p in problems)
    assert any("executor.kind" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[stor]\nurl = "x"\n', ["unknown key 'stor'. Did you mean 'store'?", "'pipelines'"]),
        ("[executor]\nworkers = 2\n", ["Did you mean 'max_workers'?", "'kind', 'max_workers'"]),
        ('[pipelines]\nmodule = ["a"]\n', ["Did you mean 'modules'?"]),
        ('[project]\nname = "x"\nowner = "me"\n', ["unknown key 'project.owner'.", "'name'"]),
    ],
)
def test_unknown_sections_and_keys_list_the_known_ones(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    for fragment in fragments:
        assert fragment in info.value.message
    assert "'root'" not in info.value.message  # not a setting


def test_a_file_that_is_not_utf8_is_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_bytes(b'[project]\nname = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={})
    assert "is not valid TOML" in info.value.message
    assert info.value.hint is not None and "conveyor init" in info.value.hint
    assert info.value.path == str(tmp_path.resolve() / "conveyor.toml")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///state/meta.db", "sqlite:///{root}/state/meta.db"),
        ("sqlite:////abs/meta.db", "sqlite:////abs/meta.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_store_urls_resolve_relative_sqlite_paths_only(
    tmp_path: Path, url: str, expected: str
) -> None:
    config = load(tmp_path, f'[store]\nurl = "{url}"\n')
    assert config.store.url == expected.format(root=tmp_path.resolve())


def test_a_relative_sqlite_online_store_resolves_under_the_project(tmp_path: Path) -> None:
    default = load(tmp_path)
    assert default.features.online_store == f"sqlite:///{tmp_path.resolve()}/.conveyor/online.db"
    redis = load(tmp_path, '[features]\nonline_store = "redis://h:6379/2"\n')
    assert redis.features.online_store == "redis://h:6379/2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("blobs", "{root}/blobs"),
        ("../shared/blobs", "{root}/../shared/blobs"),
        ("/abs/blobs", "/abs/blobs"),
        ("file:///abs/blobs", "file:///abs/blobs"),
        ("memory://x", "memory://x"),
    ],
)
def test_artifact_urls_resolve_relative_folders_only(
    tmp_path: Path, url: str, expected: str
) -> None:
    config = load(tmp_path, f'[artifacts]\nurl = "{url}"\n')
    assert config.artifacts.url == expected.format(root=tmp_path.resolve())


def test_the_state_folder_is_under_the_project(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.state_dir == tmp_path.resolve() / ".conveyor"
    assert config.root == tmp_path.resolve()


def test_settings_are_frozen(tmp_path: Path) -> None:
    config = load(tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        config.store.retries = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("lease", "busy", "retries", "ok"),
    [
        ("47s", "5s", 5, True),  # 1.5 x (6 x 5 s + 1.24 s back-off) = 46.9 s
        ("46s", "5s", 5, False),
        ("2s", "500ms", 1, True),  # 1.5 x (2 x 0.5 s + 0.04 s) = 1.56 s
        ("1500ms", "500ms", 1, False),
        ("1s", "1s", 0, False),
    ],
)
def test_the_lease_must_outlast_a_heartbeat_through_every_retry(
    tmp_path: Path, lease: str, busy: str, retries: int, ok: bool
) -> None:
    text = (
        f'[store]\nbusy_timeout = "{busy}"\nretries = {retries}\n[pipelines]\nlease = "{lease}"\n'
    )
    if ok:
        config = load(tmp_path, text)
        worst = (retries + 1) * config.store.busy_timeout
        assert config.pipelines.lease >= 1.5 * worst
    else:
        with pytest.raises(ConfigError, match="is too short for the store"):
            load(tmp_path, text)
