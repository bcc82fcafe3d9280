"""Wire the parts together once per process: database, artifacts, generators, services, jobs.

Building an `Arena` does no work on the database. Start-up work is explicit:
`prepare` migrates SQLite (or checks a server database's revision) and seeds the
models table from the models file, once, by whoever starts the arena (`arena
serve`, `arena simulate`); `start` and `stop` own the gateway's threads, the
generators and the background jobs.
"""

from __future__ import annotations

import asyncio
import logging
import random

from arena.jobs.boards import BoardJob
from arena.jobs.dumps import DumpJob
from arena.jobs.health import HealthJob
from arena.jobs.integrity import IntegrityJob
from arena.jobs.stale import StaleBattleJob
from arena.services.battles import BattleService
from arena.services.catalog import sync_models
from arena.services.endpoints import Endpoints
from arena.services.gate import Gate
from arena.services.health import Health
from arena.services.integrity import Integrity
from arena.services.languages import preload as preload_language_model
from arena.services.leaderboards import Leaderboards, board_key
from arena.services.stale import StaleBattles
from arena.services.style_boards import StyleBoards
from arena.services.submissions import Submissions
from arena.services.voters import Voters
from arena.settings import Settings, ensure_secret
from arena.store.artifacts import ArtifactStore
from arena.store.engine import Store, check_schema, make_engine
from arena.store.limits import make_limiter
from arena.vocabulary import Modality, ModelStatus
from generators import Generator, ModelEntry, build_generator, load_models

log = logging.getLogger("arena")


def prepare(settings: Settings, entries: list[ModelEntry] | None = None) -> list[ModelEntry]:
    """Start-up steps, run once before serving: schema, then the models file into the database.

    SQLite databases upgrade themselves; a server database must be upgraded by the
    operator (`arena db upgrade`), so replicas never race on a migration. Returns the
    models file's entries. Raises SchemaOutOfDate, or ValueError for a server database
    without ARENA_SECRET_KEY (the secret is settled here: see settings.ensure_secret).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_secret(settings)
    entries = entries if entries is not None else load_models(settings.models_file)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        check_schema(engine, upgrade_sqlite=True)
        sync_models(Store(engine), entries)
    finally:
        engine.dispose()
    return entries


class Arena:
    """Everything a server, the CLI or a test needs, built from one Settings."""

    def __init__(
        self, settings: Settings, *, entries: list[ModelEntry] | None = None, rng: random.Random | None = None
    ):
        if not settings.secret_key:
            raise ValueError("no secret key: run prepare(settings) first, or set ARENA_SECRET_KEY")
        self.settings = settings
        self.entries = entries if entries is not None else load_models(settings.models_file)
        self.engine = make_engine(settings.sqlalchemy_url)
        self.store = Store(self.engine, threads=settings.db_threads)
        self.artifacts = ArtifactStore(settings.artifacts_dir)
        self.integrity = Integrity(self.store, settings)  # is_banned: for the vote path
        from_file: dict[str, Generator] = {
            entry.name: build_generator(entry) for entry in self.entries if entry.status == ModelStatus.ACTIVE
        }
        self.generators = Endpoints(from_file, settings)  # and submitted models', built as they become active
        self.limiter = make_limiter(settings.redis_url)
        self.voters = Voters(self.store, settings.subkey("ip-hash"), Gate(self.limiter, settings))
        self.health = Health(self.store, settings)
        self.leaderboards = Leaderboards(self.store, settings)
        self.battles = BattleService(
            self.store,
            self.artifacts,
            self.generators,
            settings,
            self.voters,
            rng,
            is_banned=self.integrity.is_banned,
            health=self.health,
            votes_of=self._votes_of,
            board_of=lambda modality: self.leaderboards.get(board_key(modality)),
        )
        self.submissions = Submissions(self.store, settings)
        self.health_job = HealthJob(self.store, settings, self.generators, self.health)
        self.style_boards = StyleBoards(self.store, settings, self.leaderboards.changed)
        self.board_job = BoardJob(self.leaderboards, settings, self.style_boards)
        self.integrity_job = IntegrityJob(self.integrity, settings)
        self.dump_job = DumpJob(self.store, settings)  # off unless ARENA_DUMP_EVERY is set
        self.stale_battles = StaleBattles(self.store, settings)
        self.stale_job = StaleBattleJob(self.stale_battles)

    async def start(self, *, jobs: bool = True) -> None:
        """Open the gateway and load every generator; a model that cannot load stops the start."""
        self.store.start()
        stale = await self.stale_battles.sweep()  # left "generating" by a process that died
        if stale:
            log.warning("marked %d battles failed that a stopped process left generating", len(stale))
        await asyncio.to_thread(preload_language_model)  # ~0.15 s once, not on a voter's first prompt
        await self.integrity.load()
        await asyncio.gather(*(generator.load() for generator in self.generators.from_file.values()))
        if jobs:
            self.board_job.start()
            self.integrity_job.start()
            self.dump_job.start()
            self.health_job.start()
            self.stale_job.start()
            await self.submissions.resume()

    def _votes_of(self, modality: Modality) -> dict[str, int]:
        """Each model's votes on the modality's overall board, from the cache (never a query)."""
        return {row["model"]: int(row["votes"]) for row in self.leaderboards.get(board_key(modality)).rows}

    async def stop(self) -> None:
        self.board_job.stop()
        self.integrity_job.stop()
        self.dump_job.stop()
        await self.health_job.stop()
        await self.stale_job.stop()
        await self.submissions.stop()
        await asyncio.gather(*(g.close() for g in self.generators.from_file.values()), return_exceptions=True)
        await self.generators.close()
        await self.limiter.close()
        self.store.stop()
        self.engine.dispose()
