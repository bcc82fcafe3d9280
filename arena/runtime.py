"""Wire the parts together once per process: database, artifacts, generators, services."""
from __future__ import annotations

import asyncio
import logging
import random

from arena.store.artifacts import ArtifactStore
from arena.services.battles import BattleService
from arena.services.catalog import sync_models
from arena.store.engine import Store, current_revision, head_revision, make_engine, upgrade
from arena.services.leaderboards import Leaderboards
from arena.settings import Settings
from arena.services.voters import Voters
from generators import Generator, ModelEntry, build_generator, load_models

log = logging.getLogger("arena")


class SchemaOutOfDate(RuntimeError):
    pass


class Arena:
    """Everything a server, the CLI or a test needs, built from one Settings."""

    def __init__(self, settings: Settings, *, entries: list[ModelEntry] | None = None,
                 rng: random.Random | None = None):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.entries = entries if entries is not None else load_models(settings.models_file)
        self.engine = make_engine(settings.sqlalchemy_url)
        if self.engine.dialect.name == "sqlite":
            upgrade(self.engine)  # SQLite databases upgrade themselves at start
        elif current_revision(self.engine) != head_revision():
            raise SchemaOutOfDate("the database schema is not up to date: run `arena db upgrade` first")
        self.store = Store(self.engine)
        sync_models(self.store, self.entries)
        self.artifacts = ArtifactStore(settings.artifacts_dir)
        self.generators: dict[str, Generator] = {
            entry.name: build_generator(entry) for entry in self.entries if entry.status == "active"
        }
        self.voters = Voters(self.store, settings.secret_key)
        self.battles = BattleService(self.store, self.artifacts, self.generators, settings, rng)
        self.leaderboards = Leaderboards(self.store, settings)

    async def start(self) -> None:
        """Load every generator; a model that cannot load stops the start with its reason."""
        await asyncio.gather(*(generator.load() for generator in self.generators.values()))
        self.leaderboards.start()

    async def stop(self) -> None:
        self.leaderboards.stop()
        await asyncio.gather(*(g.close() for g in self.generators.values()), return_exceptions=True)
        self.engine.dispose()
