"""SQLite group commit: writes queued while one commits are committed together, each in its
own savepoint, acknowledged only after the commit, and one write's error stays its own."""

import asyncio

import pytest
from sqlalchemy import event, func, select

from arena.errors import Conflict
from arena.store.events import VotesRecorded
from arena.store.schema import Vote

VOTER = "voter-batch-0001"


@pytest.mark.parametrize("database_url", [None])  # SQLite only: PostgreSQL commits overlap on a pool
async def test_queued_votes_commit_together_and_a_duplicate_fails_alone(arena):
    await arena.voters.ensure(VOTER)
    battles = [await arena.battles.start("text", f"Tell me about rivers, {i}.", VOTER) for i in range(12)]
    heard: list[VotesRecorded] = []
    arena.store.events.subscribe(lambda e: heard.append(e) if isinstance(e, VotesRecorded) else None)
    commits = []
    event.listen(arena.engine, "commit", lambda connection: commits.append(1))

    lock = arena.store._write_lock
    lock.acquire()  # a commit in progress: what arrives now queues behind it
    try:
        votes = [asyncio.ensure_future(arena.battles.vote(b.id, VOTER, "model_a")) for b in battles]
        duplicate = asyncio.ensure_future(arena.battles.vote(battles[3].id, VOTER, "tie"))
        await asyncio.sleep(0)  # let every submission reach the writer's queue
        assert not any(v.done() for v in votes), "nothing is acknowledged before its commit"
    finally:
        lock.release()
    results = await asyncio.gather(*votes)
    with pytest.raises(Conflict):
        await duplicate

    assert [r.winner for r in results] == ["model_a"] * 12
    with arena.store.read() as session:
        stored = dict(session.execute(select(Vote.battle_id, Vote.winner)).all())
        assert session.scalar(select(func.count(Vote.id))) == 12
    assert stored[battles[3].id] == "model_a"  # the duplicate was rolled back, the first vote stands
    assert len(commits) <= 2, f"12 queued votes took {len(commits)} commits"
    assert sum(e.votes for e in heard) == 12  # announced once each, only the committed ones
