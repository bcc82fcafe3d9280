"""The stale-battle job: every `every_s`, fail battles left "generating" by a dead process
(arena/services/stale.py). It runs on the event loop; the sweep's SQL runs on the gateway."""

from __future__ import annotations

import asyncio
import logging

from arena.services.stale import StaleBattles

log = logging.getLogger("arena.jobs.stale")


class StaleBattleJob:
    def __init__(self, stale: StaleBattles, every_s: float | None = None):
        """`every_s`: the sweep's period, by default the margin a battle gets past the time limit."""
        self.stale = stale
        self.every_s = every_s
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="stale-battle-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        every_s = self.every_s if self.every_s is not None else max(10.0, self.stale.older_than_s / 2)
        while True:
            await asyncio.sleep(every_s)
            try:
                failed = await self.stale.sweep(everything=False)
            except Exception as exc:  # the database away: try again next time
                log.warning("stale-battle sweep failed: %s", exc.__class__.__name__)
                continue
            if failed:
                log.warning("marked %d stale battles failed", len(failed))
