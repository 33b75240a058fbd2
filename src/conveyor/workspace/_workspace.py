"""``Workspace``: open a project folder (or explicit settings) and hold its handles."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import ArtifactStore, open_artifact_store
from ..core import CONFIG_FILE, Config, ProjectNotFoundError
from ..store import Store, open_store_from_config, upgrade_store


@dataclass
class Workspace:
    """A project opened for work. Use :meth:`open`; close it (or use ``with``) when done.

    Attributes:
        config: The validated settings, relative paths resolved under the project folder.
        store: The metadata store, scoped to the project.
        artifacts: The content-addressed artifact store.
    """

    config: Config
    store: Store
    artifacts: ArtifactStore

    @classmethod
    def open(
        cls,
        project: str | os.PathLike[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        migrate: bool = True,
    ) -> Workspace:
        """Open the project at ``project`` (default: the nearest ``conveyor.toml`` upwards).

        Raises:
            ProjectNotFoundError: no project folder was found, or ``project`` has no
                ``conveyor.toml``.
            ConfigError: its settings are invalid.
        """
        root = Path(project) if project is not None else Config.find(Path.cwd())
        if not (root / CONFIG_FILE).is_file():
            # Never lay a new store into a folder that is not a project (a typo in --project).
            raise ProjectNotFoundError(
                f"No {CONFIG_FILE} in {root.resolve()}: it is not a conveyor project.",
                hint=f"Create one with: conveyor init {root}",
                path=str(root),
            )
        config = Config.load(root, env=env)
        return cls.from_config(config, migrate=migrate)

    @classmethod
    def from_config(cls, config: Config, *, migrate: bool = True) -> Workspace:
        store = open_store_from_config(config, migrate=migrate)
        try:
            artifacts = open_artifact_store(config.artifacts.url, config.artifacts.storage_options)
        except BaseException:
            store.close()
            raise
        return cls(config=config, store=store, artifacts=artifacts)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def upgrade_schema(config: Config) -> tuple[str | None, str]:
    """Migrate the store ``config`` names to the newest schema; return (before, head).

    Safe to run from several processes at once: migrations run under a lock.
    """
    return upgrade_store(config.store.url, busy_timeout=config.store.busy_timeout)
