"""The health job: every ARENA_HEALTH_EVERY_S, each remote model that is active (or that
health disabled) answers GET /v1/models or counts a failure (arena/services/health.py).

It runs on the event loop, where the generators live; a check is bounded by the model's
connect and read timeouts. With several replicas each checks on its own schedule, so a
dead endpoint is disabled sooner, never later.
"""

from __future__ import annotations

import asyncio
import logging

from arena.services.catalog import submitted_endpoint
from arena.services.endpoints import Endpoints, build_endpoint
from arena.services.health import Health, checked_models
from arena.settings import Settings
from arena.store.engine import Store
from generators import GeneratorError
from generators.remote import OpenAIGenerator

log = logging.getLogger("arena.jobs.health")


class HealthJob:
    def __init__(self, store: Store, settings: Settings, endpoints: Endpoints, health: Health):
        self.store = store
        self.settings = settings
        self.endpoints = endpoints
        self.health = health
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None and self.settings.health_every_s > 0:
            self._task = asyncio.create_task(self._loop(), name="health-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check_once(self) -> dict[str, bool]:
        """Check every remote model once; model name -> whether it answered."""
        answered: dict[str, bool] = {}
        for name in await self.store.run(checked_models, self.store):
            generator = self.endpoints.get(name)
            own = None
            if not isinstance(generator, OpenAIGenerator):  # a submitted model health disabled: no generator here
                endpoint = await self.store.run(submitted_endpoint, self.store, name=name)
                if endpoint is None:
                    continue
                try:
                    generator = own = build_endpoint(endpoint, self.settings)
                except ValueError as exc:
                    await self.health.failed(name, str(exc))
                    answered[name] = False
                    continue
            try:
                await generator.check()
            except GeneratorError as exc:
                await self.health.failed(name, f"health check: {exc.detail}")
                answered[name] = False
            else:
                await self.health.passed(name, checked=True)
                answered[name] = True
            finally:
                if own is not None:
                    await own.close()
        return answered

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.health_every_s)
            try:
                await self.check_once()
            except Exception:  # the next period tries again
                log.exception("health checks failed")
