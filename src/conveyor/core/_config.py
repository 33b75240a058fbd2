"""Project configuration: `conveyor.toml` validated by pydantic, overridden by `CONVEYOR_*`."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from ._errors import ConfigError, ProjectNotFoundError
from ._names import did_you_mean
from ._settings import (
    STATE_DIR,
    ArtifactSettings,
    ExecutorSettings,
    FeaturesSettings,
    PipelinesSettings,
    ProjectSettings,
    RegistrySettings,
    StoreSettings,
    TrainSettings,
    _Section,
)
from ._settings_automate import AutomateSettings
from ._settings_loop import MonitorSettings, NotifySettings, ServeSettings

CONFIG_FILE = "conveyor.toml"

# Short environment names for the settings people change most; every other setting is
# CONVEYOR_<SECTION>_<KEY> (e.g. CONVEYOR_STORE_BUSY_TIMEOUT).
ENV_SHORTCUTS = {
    "CONVEYOR_STORE": ("store", "url"),
    "CONVEYOR_ARTIFACTS": ("artifacts", "url"),
    "CONVEYOR_EXECUTOR": ("executor", "kind"),
}


class Config(_Section):
    """A project's settings. Build with :meth:`Config.load`, which resolves relative paths."""

    project: ProjectSettings = Field(default_factory=lambda: ProjectSettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    artifacts: ArtifactSettings = Field(default_factory=lambda: ArtifactSettings())
    executor: ExecutorSettings = Field(default_factory=lambda: ExecutorSettings())
    pipelines: PipelinesSettings = Field(default_factory=lambda: PipelinesSettings())
    features: FeaturesSettings = Field(default_factory=lambda: FeaturesSettings())
    registry: RegistrySettings = Field(default_factory=lambda: RegistrySettings())
    train: TrainSettings = Field(default_factory=lambda: TrainSettings())
    monitor: MonitorSettings = Field(default_factory=lambda: MonitorSettings())
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings())
    notify: NotifySettings = Field(default_factory=lambda: NotifySettings())
    automate: AutomateSettings = Field(default_factory=lambda: AutomateSettings())
    root: Path = Field(Path("."), exclude=True, description="The project folder (not a setting).")

    @model_validator(mode="after")
    def _lease_outlasts_a_busy_store(self) -> Config:
        problem = lease_problem(self.pipelines.lease, self.store.busy_timeout, self.store.retries)
        if problem:
            raise ValueError(problem)
        return self

    @classmethod
    def load(cls, root: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
        """Read ``root/conveyor.toml`` (if present), apply ``CONVEYOR_*`` overrides, validate.

        Raises:
            ConfigError: naming the key, the bad value and what is allowed.
        """
        root_path = Path(root).resolve()
        path = root_path / CONFIG_FILE
        data: dict[str, Any] = {}
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"{path} is not valid TOML: {exc}.",
                    hint="Fix the syntax; `conveyor init` in an empty folder shows a valid file.",
                    path=str(path),
                ) from None
        data = _apply_env(data, os.environ if env is None else env)
        try:
            config = cls.model_validate({**data, "root": root_path})
        except ValidationError as exc:
            raise _config_error(exc, path) from None
        return config.resolved()

    @classmethod
    def find(cls, start: str | os.PathLike[str] = ".") -> Path:
        """Return the nearest folder at or above ``start`` holding a ``conveyor.toml``."""
        here = Path(start).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return folder
        raise ProjectNotFoundError(
            f"No {CONFIG_FILE} in {here} or any folder above it.",
            hint="Create a project with: conveyor init",
        )

    def resolved(self) -> Config:
        """Return a copy whose relative SQLite and artifact paths are absolute under ``root``."""
        art = self.artifacts.url
        if "://" not in art and not os.path.isabs(art):
            art = str(self.root / art)
        online = self._absolute_sqlite(self.features.online_store)
        return self.model_copy(
            update={
                "store": self.store.model_copy(
                    update={"url": self._absolute_sqlite(self.store.url)}
                ),
                "artifacts": self.artifacts.model_copy(update={"url": art}),
                "features": self.features.model_copy(update={"online_store": online}),
            }
        )

    def _absolute_sqlite(self, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and not rest.startswith(":memory:"):
                return prefix + str(self.root / rest)
        return url

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


# A store call that meets transient failures is tried ``retries + 1`` times, each waiting up
# to ``busy_timeout`` for a competing writer, with jittered exponential back-off between
# tries (``STORE_RETRY_BACKOFF`` doubling, capped at ``STORE_RETRY_MAX_DELAY``, times up to 2
# for the jitter). The store reads these constants, so the lease rule below cannot drift.
STORE_RETRY_BACKOFF = 0.02
STORE_RETRY_MAX_DELAY = 1.0


def worst_store_call(busy_timeout: float, retries: int) -> float:
    """The longest one store call may take before it lands or gives up, in seconds."""
    backoff = sum(min(STORE_RETRY_BACKOFF * 2.0**i, STORE_RETRY_MAX_DELAY) for i in range(retries))
    return (retries + 1) * busy_timeout + 2 * backoff


# Heartbeats come every third of the lease, each setting the expiry a full lease ahead when
# it lands. The renewal after a good one starts a third of the lease later, so it has the
# other two thirds to land: the lease must be at least 1.5 worst store calls.
LEASE_PER_WORST_CALL = 1.5


def lease_problem(lease: float, busy_timeout: float, retries: int) -> str | None:
    """Why a runner lease of ``lease`` seconds is unsafe for a store that waits up to
    ``busy_timeout`` per try and retries ``retries`` times, or None."""
    worst = worst_store_call(busy_timeout, retries)
    if lease >= LEASE_PER_WORST_CALL * worst:
        return None
    # The largest busy timeout this lease allows with these retries, for the hint.
    busy_max = (lease / LEASE_PER_WORST_CALL - (worst - (retries + 1) * busy_timeout)) / (
        retries + 1
    )
    fix = f"lower store.busy_timeout to at most {busy_max:.3g}s" if busy_max > 0 else ""
    return (
        f"pipelines.lease ({lease:g}s) is too short for the store: one heartbeat may take "
        f"{worst:.3g}s (store.retries {retries} + 1 tries of up to store.busy_timeout "
        f"{busy_timeout:g}s each, plus back-off), and the lease must be at least "
        f"{LEASE_PER_WORST_CALL:g} times that, or a heartbeat that waits on a busy store can "
        f"lose the run; raise pipelines.lease to at least "
        f"{LEASE_PER_WORST_CALL * worst:.3g}s"
        + (f", {fix}" if fix else "")
        + ", or lower store.retries"
    )


def settings_reference() -> list[tuple[str, str, str, str]]:
    """``(key, environment variable, default, description)`` for every setting, for docs."""
    rows = []
    shortcut = {v: k for k, v in ENV_SHORTCUTS.items()}
    for section, field in Config.model_fields.items():
        if field.exclude:
            continue
        model = _section_model(section)
        for key, sub in model.model_fields.items():
            env = shortcut.get((section, key), f"CONVEYOR_{section.upper()}_{key.upper()}")
            default = sub.get_default(call_default_factory=True)
            rows.append((f"{section}.{key}", env, repr(default), sub.description or ""))
    return rows


def _section_model(section: str) -> type[BaseModel]:
    annotation = Config.model_fields[section].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    sections = {name for name, f in Config.model_fields.items() if not f.exclude}
    for var, value in env.items():
        if not var.startswith("CONVEYOR_"):
            continue
        if var in ENV_SHORTCUTS:
            section, key = ENV_SHORTCUTS[var]
        else:
            rest = var[len("CONVEYOR_") :].lower()
            section = next((s for s in sections if rest.startswith(s + "_")), "")
            if not section:
                continue
            key = rest[len(section) + 1 :]
            if key not in _section_model(section).model_fields:
                continue
        target = merged.setdefault(section, {})
        if isinstance(target, dict):
            target[key] = value
    return merged


def _model_at(parts: list[str]) -> Any:
    """The settings model at a key path (through tables of models such as channels)."""
    model: Any = Config
    for part in parts:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part)
            model = field.annotation if field else None
        elif get_origin(model) is dict:
            model = get_args(model)[1]  # the table's key is a name: step to its value
        else:
            return None
    return model


def _is_secret(loc: tuple[Any, ...]) -> bool:
    *parents, last = [str(p) for p in loc if p != "root"] or [""]
    model = _model_at(parents)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    field = model.model_fields.get(last)
    return field is not None and "SecretStr" in str(field.annotation)


def _config_error(exc: ValidationError, path: Path) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "root")
        if not loc:  # a rule across settings names its keys itself
            lines.append(err["msg"].removeprefix("Value error, ").rstrip(".") + ".")
        elif err["type"] == "extra_forbidden":
            *parents, last = [str(p) for p in err["loc"]]
            parent_model = _model_at(parents)
            known = [
                field.alias or name
                for name, field in getattr(parent_model, "model_fields", {}).items()
            ]
            lines.append(
                f"unknown key {loc!r}.{did_you_mean(last, known)} Known keys here: "
                + ", ".join(repr(k) for k in known if k != "root")
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            value = err.get("input")
            # Echo a plain value only: a table may hold secrets (a Slack URL is one), and
            # so does a secret setting itself.
            echo = not isinstance(value, dict | list) and not _is_secret(err["loc"])
            got = "" if "Got " in msg or not echo else f" Got {value!r}."
            lines.append(f"key {loc!r}: {msg.rstrip('.')}.{got}")
    where = str(path) if path.exists() else "the configuration"
    return ConfigError(
        f"Invalid settings in {where} (or CONVEYOR_* environment): " + "; ".join(lines),
        hint="See the configuration reference in the README.",
        path=str(path),
    )
