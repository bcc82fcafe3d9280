"""The event loop never waits on the database: while another connection holds the lock a
vote needs, and that vote sits waiting for it, the cached leaderboard, the OpenAPI page,
the models list and the health check still answer, before the lock is released.

Not a timing assertion: the lock holder keeps the lock until the reads have answered (or
a generous deadline passes), and the test checks the reads answered while it still held it.
"""

from __future__ import annotations

import sqlite3
import threading

import httpx
import psycopg

from arena.server import create_app
from tests.conftest import LiveServer, eventually, ready_arena

HOLD_AT_MOST_S = 60.0  # the holder's deadline: far past any answer that did not wait on the lock


def hold_write_lock(settings, held: threading.Event, release: threading.Event, outcome: dict) -> None:
    """Take the lock a vote needs, keep it until `release` (or the deadline); record which ended it."""
    if settings.database_url:
        url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
        connection = psycopg.connect(url)
        connection.execute("LOCK TABLE vote_counts IN ACCESS EXCLUSIVE MODE")  # every vote updates it
    else:
        connection = sqlite3.connect(settings.data_dir / "arena.db", isolation_level=None, timeout=5)
        connection.execute("BEGIN IMMEDIATE")  # SQLite's single writer lock
    held.set()
    outcome["released_by_test"] = release.wait(HOLD_AT_MOST_S)
    connection.rollback()
    connection.close()


def lock_waiters(database_url: str) -> int:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return int(found[0]) if found else 0


def test_reads_answer_while_a_vote_waits_on_a_locked_database(settings):
    arena = ready_arena(settings)
    with LiveServer(create_app(arena)) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        http.headers["X-Arena-Voter"] = "loop-voter-0001"
        battles = [
            http.post("/api/v1/battles", json={"modality": "text", "prompt": f"Name a river {i}."}).json()
            for i in range(2)
        ]
        http.post(f"/api/v1/battles/{battles[0]['id']}/votes", json={"winner": "model_a"})
        assert eventually(lambda: http.get("/api/v1/leaderboard", params={"modality": "text"}).json()["votes"] == 1)

        held, release, outcome = threading.Event(), threading.Event(), {}
        holder = threading.Thread(target=hold_write_lock, args=(settings, held, release, outcome))
        holder.start()
        assert held.wait(30)
        waiting: dict[str, httpx.Response] = {}

        def vote() -> None:
            with httpx.Client(base_url=server.url, timeout=120, headers=http.headers) as other:
                waiting["vote"] = other.post(f"/api/v1/battles/{battles[1]['id']}/votes", json={"winner": "tie"})

        voter = threading.Thread(target=vote)
        voter.start()
        try:
            if settings.database_url:  # the vote has reached PostgreSQL and waits for the lock
                assert eventually(lambda: lock_waiters(settings.database_url) >= 1)
            board = http.get("/api/v1/leaderboard", params={"modality": "text"})
            docs = http.get("/openapi.json")
            models = http.get("/api/v1/models")
            health = http.get("/api/v1/health")
            answered_while_locked = not release.is_set() and holder.is_alive() and "vote" not in waiting
        finally:
            release.set()
            holder.join(HOLD_AT_MOST_S + 10)
            voter.join(120)
    assert outcome["released_by_test"], "the lock holder's deadline passed first"
    assert answered_while_locked, "the reads waited for the database lock"
    assert board.status_code == 200 and board.json()["votes"] == 1
    assert docs.status_code == 200 and "paths" in docs.json()
    assert models.status_code == 200 and health.status_code == 200
    # the vote that waited is stored once the lock is gone (or was refused with 503, never a 500)
    assert waiting["vote"].status_code in (201, 503), waiting["vote"].text
