"""Battles left "generating" by a process that died are failed at start and by the periodic
sweep; a battle whose turn may still be running (younger than the time limit plus a margin)
is left alone. On SQLite and PostgreSQL."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from arena.services.stale import STALE_MARGIN_S, STALE_MESSAGE
from arena.store.schema import Battle, Model, Voter
from arena.vocabulary import BattleStatus
from tests.conftest import ready_arena

VOTER = "stale-voter-0001"


def plant(store, *, created_ago_s: float, updated_ago_s: float, status: str = BattleStatus.GENERATING) -> str:
    """A battle as a process that died would have left it."""
    now = datetime.now(UTC)
    battle_id = str(uuid.uuid4())
    with store.write() as session:
        model_a, model_b = session.scalars(select(Model.name).where(Model.modality == "text").limit(2)).all()
        if session.get(Voter, VOTER) is None:
            session.add(Voter(id=VOTER))
            session.flush()
        session.add(
            Battle(
                id=battle_id,
                modality="text",
                prompt="hello",
                conversation=["hello"],
                model_a=model_a,
                model_b=model_b,
                status=status,
                voter_id=VOTER,
                created_at=now - timedelta(seconds=created_ago_s),
                updated_at=now - timedelta(seconds=updated_ago_s),
            )
        )
    return battle_id


def status_of(store, battle_id: str) -> tuple[str, str | None]:
    with store.read() as session:
        battle = session.get(Battle, battle_id)
        assert battle is not None
        return battle.status, battle.error


async def test_battles_a_dead_process_left_generating_are_failed_at_start(settings):
    arena = ready_arena(settings)
    limit = settings.generation_timeout_s + STALE_MARGIN_S
    old = plant(arena.store, created_ago_s=limit + 600, updated_ago_s=limit + 600)
    young = plant(arena.store, created_ago_s=5, updated_ago_s=5)
    # a follow-up turn started a moment ago on a battle created long ago: still running
    follow_up = plant(arena.store, created_ago_s=limit * 10, updated_ago_s=5)
    ready = plant(arena.store, created_ago_s=limit * 10, updated_ago_s=limit * 10, status=BattleStatus.READY)
    await arena.start(jobs=False)
    try:
        assert status_of(arena.store, old) == (BattleStatus.FAILED, STALE_MESSAGE)
        assert status_of(arena.store, young) == (BattleStatus.GENERATING, None)
        assert status_of(arena.store, follow_up) == (BattleStatus.GENERATING, None)
        assert status_of(arena.store, ready) == (BattleStatus.READY, None)
        view = await arena.battles.get(old, VOTER)
        assert view.status == BattleStatus.FAILED and "start a new battle" in (view.error or "")
    finally:
        await arena.stop()


async def test_the_periodic_sweep_fails_battles_another_process_left(settings):
    arena = ready_arena(settings)
    arena.stale_job.every_s = 0.1
    await arena.start()
    try:
        limit = settings.generation_timeout_s + STALE_MARGIN_S
        left = plant(arena.store, created_ago_s=limit + 30, updated_ago_s=limit + 30)
        young = plant(arena.store, created_ago_s=1, updated_ago_s=1)
        for _ in range(100):
            if status_of(arena.store, left)[0] == BattleStatus.FAILED:
                break
            await asyncio.sleep(0.1)
        assert status_of(arena.store, left) == (BattleStatus.FAILED, STALE_MESSAGE)
        assert status_of(arena.store, young) == (BattleStatus.GENERATING, None)
    finally:
        await arena.stop()
