"""Stale battles: those left "generating" by a process that died mid-generation.

A battle is "generating" only while a process runs its turn, and every turn ends (ready,
failed or cancelled) within the generation time limit. A process killed with SIGKILL, a
crash or a replica lost with its machine leaves its battles "generating" for ever, and no
other process would finish them: the sweep marks them failed once they are older than the
time limit plus a margin, so a turn still running on another replica is never touched.
It runs at start (every battle) and periodically (battles created in the last day, an
index range, so the sweep stays cheap at any table size); it is safe on every replica at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from arena.settings import Settings
from arena.store.engine import Store
from arena.store.events import BattleFinished
from arena.store.schema import Battle
from arena.vocabulary import BattleStatus, Modality

STALE_MARGIN_S = 60.0  # beyond ARENA_GENERATION_TIMEOUT_S
PERIODIC_WINDOW = timedelta(days=1)
STALE_MESSAGE = "generation did not finish (the server stopped or timed out); please start a new battle"


class StaleBattles:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings

    @property
    def older_than_s(self) -> float:
        """How long a battle may stay "generating" before the sweep fails it."""
        return self.settings.generation_timeout_s + STALE_MARGIN_S

    async def sweep(self, *, everything: bool = True) -> list[str]:
        """Mark failed the stale battles and announce each; returns their ids.

        `everything`: every battle (at start); otherwise those created in the last day.
        Raises Unavailable when the database is away.
        """
        now = datetime.now(UTC)
        cutoff = now - timedelta(seconds=self.older_than_s)
        since = None if everything else now - PERIODIC_WINDOW
        failed = await self.store.run_write(self._fail, cutoff, since)
        for battle_id, modality in failed:
            self.store.announce(BattleFinished(battle_id, Modality(modality), BattleStatus.FAILED))
        return [battle_id for battle_id, _ in failed]

    def _fail(self, cutoff: datetime, since: datetime | None) -> list[tuple[str, str]]:
        statement = update(Battle).where(Battle.status == BattleStatus.GENERATING, Battle.updated_at < cutoff)
        if since is not None:  # (modality, created_at) is indexed
            statement = statement.where(Battle.modality.in_([m.value for m in Modality]), Battle.created_at >= since)
        statement = statement.values(status=BattleStatus.FAILED, error=STALE_MESSAGE).returning(
            Battle.id, Battle.modality
        )
        with self.store.write() as session:
            rows = session.execute(statement, execution_options={"synchronize_session": False}).all()
            return [(battle_id, modality) for battle_id, modality in rows]
