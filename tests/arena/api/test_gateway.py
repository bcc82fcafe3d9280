"""The SQL gateway keeps the event loop free: while another process holds the write lock,
a vote waits on a gateway thread and reads (GET a battle, the health route, the cached
leaderboard, the OpenAPI description, the models) are answered.

On SQLite the other process holds BEGIN IMMEDIATE on the database file; on PostgreSQL
it holds an EXCLUSIVE lock on the votes table (writes wait, reads do not).
"""

import subprocess
import sys
import threading

import httpx
from sqlalchemy import text

from tests.conftest import POSTGRES_ADMIN, eventually

SQLITE_LOCKER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""
POSTGRES_LOCKER = """
import psycopg, sys
with psycopg.connect(sys.argv[1]) as connection:
    connection.execute("LOCK TABLE votes IN EXCLUSIVE MODE")
    print("locked", flush=True)
    sys.stdin.read()
    connection.rollback()
"""


def hold_write_lock(server) -> subprocess.Popen:
    url = server.arena.engine.url
    if url.get_backend_name() == "sqlite":
        script, target = SQLITE_LOCKER, str(url.database)
    else:
        script = POSTGRES_LOCKER
        target = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{url.database}"
    locker = subprocess.Popen(
        [sys.executable, "-c", script, target], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def vote_is_waiting(server) -> bool:
    arena = server.arena
    if arena.store.is_sqlite:  # the vote holds the in-process write lock while SQLite makes it wait
        return arena.store._write_lock.locked()
    with arena.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as observer:
        waiting = observer.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO votes%'"
            )
        ).scalar()
    return waiting == 1


def test_reads_and_health_are_answered_while_a_vote_waits_for_the_write_lock(server, client):
    battle = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Tell me about owls."}).json()
    locker = hold_write_lock(server)
    outcome: dict[str, httpx.Response] = {}
    try:
        voter = threading.Thread(
            target=lambda: outcome.setdefault(
                "vote", client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "model_b"})
            )
        )
        voter.start()
        assert eventually(lambda: vote_is_waiting(server), timeout=20), "the vote never reached the lock"

        with httpx.Client(base_url=server.url, headers={"X-Arena-Voter": "voter-one-0001"}, timeout=10) as reader:
            fetched = reader.get(f"/api/v1/battles/{battle['id']}")
            health = reader.get("/api/v1/health")
            board = reader.get("/api/v1/leaderboard", params={"modality": "text"})
            docs = reader.get("/openapi.json")
            models = reader.get("/api/v1/models")
        assert fetched.status_code == 200 and fetched.json()["id"] == battle["id"]
        assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}
        assert board.status_code == 200 and board.json()["modality"] == "text"
        assert docs.status_code == 200 and docs.json()["paths"]
        assert models.status_code == 200 and models.json()
        assert voter.is_alive() and "vote" not in outcome, "the vote should still be waiting for the lock"
    finally:
        locker.communicate("", timeout=30)  # closing stdin releases the lock
    voter.join(timeout=60)
    assert outcome["vote"].status_code == 201, outcome["vote"].text
