"""A vote racing a follow-up message on PostgreSQL: exactly one of them wins.

The follow-up locks the battle row and takes it back to 'generating'; a vote that
arrives meanwhile waits for that lock and is then refused, instead of landing on a
battle that just got another turn.
"""

import asyncio
import threading

from sqlalchemy import text

from arena.errors import Conflict
from arena.settings import Settings
from tests.conftest import eventually, ready_arena

VOTER = "voter-race-0001"


async def test_a_vote_waits_for_a_concurrent_follow_up_and_is_refused(tmp_path, postgres_url, models_file):
    arena = ready_arena(Settings(data_dir=tmp_path, models_file=models_file, database_url=postgres_url, secret_key="s"))
    await arena.start(jobs=False)
    await arena.voters.ensure(VOTER)
    view = await arena.battles.start("text", "Tell me about tides.", VOTER)
    outcome = {}

    with arena.engine.connect() as follow_up:
        # What a follow-up message does first: lock the battle and take it back to generating.
        follow_up.execute(text("SELECT id FROM battles WHERE id = :id FOR UPDATE"), {"id": view.id})
        follow_up.execute(text("UPDATE battles SET status = 'generating' WHERE id = :id"), {"id": view.id})

        def vote():
            try:
                outcome["result"] = asyncio.run(arena.battles.vote(view.id, VOTER, "model_a"))
            except Conflict as exc:
                outcome["error"] = str(exc)

        voter = threading.Thread(target=vote)
        voter.start()
        # autocommit: pg_stat_activity is a snapshot per transaction
        with arena.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as observer:
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO votes%'"
            assert eventually(lambda: observer.execute(text(waiting)).scalar() == 1), "the vote did not wait"
        follow_up.commit()
        voter.join(timeout=30)

    assert "result" not in outcome and "still being generated" in outcome["error"]
    with arena.store.read() as session:
        assert session.execute(text("SELECT count(*) FROM votes")).scalar() == 0
    await arena.stop()
