"""A database that is briefly away answers 503 with Retry-After and `{"error"}`, never a 500,
keeps the HTTP connection usable, and recovers by itself; no acknowledged vote is lost.

PostgreSQL: a private cluster (tests/arena/private_postgres.py) stopped and started under a
live server with clients voting throughout. SQLite: another connection holds the write lock
past the (shortened) busy timeout.
"""

from __future__ import annotations

import dataclasses
import errno
import sqlite3
import threading
import time

import httpx
import pytest
from sqlalchemy import event, exc, select

from arena.errors import Unavailable
from arena.server import create_app
from arena.store.engine import make_engine, unavailable, upgrade
from arena.store.schema import Vote
from tests.arena.private_postgres import private_postgres  # noqa: F401 (a fixture)
from tests.conftest import LiveServer, eventually, ready_arena


@dataclasses.dataclass
class Tally:
    statuses: list[int] = dataclasses.field(default_factory=list)
    unavailable_without_retry_after: int = 0
    not_json: int = 0
    transport_errors: list[str] = dataclasses.field(default_factory=list)
    acknowledged_votes: set[str] = dataclasses.field(default_factory=set)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def record(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses.append(response.status_code)
            if response.status_code >= 400:
                try:
                    assert isinstance(response.json()["error"], str)
                except Exception:
                    self.not_json += 1
            if response.status_code == 503 and "retry-after" not in response.headers:
                self.unavailable_without_retry_after += 1


def vote_loop(url: str, voter: str, tally: Tally, stop: threading.Event) -> None:
    """Start a battle and vote on it, over and over, on one keep-alive connection."""
    with httpx.Client(base_url=url, headers={"X-Arena-Voter": voter}, timeout=30) as http:
        while not stop.is_set():
            try:
                started = http.post("/api/v1/battles", json={"modality": "text", "prompt": "Name a bird."})
                tally.record(started)
                if started.status_code != 201:
                    time.sleep(0.05)
                    continue
                battle = started.json()["id"]
                voted = http.post(f"/api/v1/battles/{battle}/votes", json={"winner": "model_a"})
                tally.record(voted)
                if voted.status_code == 201:
                    with tally.lock:
                        tally.acknowledged_votes.add(battle)
            except httpx.TransportError as error:  # the server dropped the connection without a word
                with tally.lock:
                    tally.transport_errors.append(repr(error))


def test_a_postgresql_restart_answers_503_with_retry_after_and_loses_no_acknowledged_vote(
    private_postgres,  # noqa: F811
    settings,
):
    url = private_postgres.create_database("arena")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    arena = ready_arena(dataclasses.replace(settings, database_url=url))
    tally, stop = Tally(), threading.Event()
    with LiveServer(create_app(arena)) as server:
        workers = [
            threading.Thread(target=vote_loop, args=(server.url, f"outage-voter-{i:04d}", tally, stop))
            for i in range(4)
        ]
        for worker in workers:
            worker.start()
        try:
            assert eventually(lambda: len(tally.acknowledged_votes) >= 4, timeout=60)
            private_postgres.stop("fast")
            during = len(tally.statuses)
            assert eventually(lambda: tally.statuses[during:].count(503) >= 8, timeout=30)
            with httpx.Client(base_url=server.url, timeout=30) as http:
                health = http.get("/api/v1/health")
                assert health.status_code == 200 and health.json()["database"] == "unavailable"
                models = http.get("/api/v1/models")
                assert models.status_code == 503 and int(models.headers["retry-after"]) >= 1
                assert "try again" in models.json()["error"]
            private_postgres.start()
            before = len(tally.acknowledged_votes)
            # the pool recovers without restarting the app
            assert eventually(lambda: len(tally.acknowledged_votes) >= before + 8, timeout=60)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
        with arena.store.read() as session:
            stored = set(session.scalars(select(Vote.battle_id)).all())
    assert tally.transport_errors == []
    assert not [status for status in tally.statuses if status >= 500 and status != 503]
    assert tally.statuses.count(503) >= 8 and tally.unavailable_without_retry_after == 0
    assert tally.not_json == 0
    assert tally.acknowledged_votes <= stored


@pytest.fixture
def database_url():
    return None  # the tests below are SQLite's (or need no database)


def test_sqlite_locked_past_the_timeout_answers_503_and_then_recovers(settings):
    arena = ready_arena(settings)

    @event.listens_for(arena.engine, "connect")
    def short_wait(dbapi_connection, _record):  # after the store's own pragmas: wait 0.3 s, not 30
        dbapi_connection.execute("PRAGMA busy_timeout=300")

    with LiveServer(create_app(arena)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        http.headers["X-Arena-Voter"] = "locked-voter-0001"
        battle = http.post("/api/v1/battles", json={"modality": "text", "prompt": "Name a fish."}).json()
        holder = sqlite3.connect(settings.data_dir / "arena.db", isolation_level=None, timeout=1)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            for _ in range(3):
                response = http.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "tie"})
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "2" and "try again" in response.json()["error"]
            assert http.get("/api/v1/models").status_code == 200  # reads go on in WAL mode
        finally:
            holder.rollback()
            holder.close()
        # the same keep-alive connection, once the lock is gone
        voted = http.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "tie"})
        assert voted.status_code == 201, voted.text
    with arena.store.read() as session:
        assert session.scalars(select(Vote.battle_id)).all() == [battle["id"]]


def test_what_counts_as_briefly_unavailable():
    def operational(message: str) -> exc.OperationalError:
        return exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))

    for error in (
        operational("database is locked"),
        operational("database or disk is full"),
        operational("attempt to write a readonly database"),
        exc.TimeoutError("QueuePool limit reached"),
        exc.InterfaceError("SELECT 1", {}, Exception("connection closed"), connection_invalidated=True),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EROFS, "Read-only file system"),
    ):
        mapped = unavailable(error)
        assert isinstance(mapped, Unavailable) and mapped.retry_after_s, error
    for error in (
        exc.IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        exc.DataError("INSERT ...", {}, Exception("bad data")),
        OSError(errno.ENOENT, "No such file"),
        ValueError("a bug"),
    ):
        assert unavailable(error) is None, error


def test_an_unexpected_error_answers_json_500_and_says_the_connection_closes(server, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(server.arena.battles, "get", broken)
    with httpx.Client(base_url=server.url, headers={"X-Arena-Voter": "voter-one-0001"}, timeout=30) as http:
        response = http.get("/api/v1/battles/00000000-0000-0000-0000-000000000000")
        assert response.status_code == 500 and response.json() == {"error": "internal error; nothing was saved"}
        assert response.headers["connection"] == "close"  # uvicorn drops it after Starlette re-raises
        assert http.get("/api/v1/models").status_code == 200


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs for the data dir (root only; skipped where mounting is not allowed)."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16M", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path) -> None:
    """Write zeros into `path` until the disk refuses more."""
    with open(path, "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_full_data_disk_answers_503_writes_no_half_artifact_and_recovers(settings, small_disk, database, request):
    # SQLite: the database file is on the full disk too; PostgreSQL: only the artifacts are
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    settings = dataclasses.replace(settings, data_dir=small_disk / "data", database_url=url)
    arena = ready_arena(settings)
    with LiveServer(create_app(arena)) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        http.headers["X-Arena-Voter"] = "disk-voter-0001"
        assert http.post("/api/v1/battles", json={"modality": "image", "prompt": "a red kite"}).status_code == 201
        filler = small_disk / "filler"
        fill(filler)
        try:
            statuses = []
            for prompt in ("a green boat", "a blue house", "a yellow tree"):
                response = http.post("/api/v1/battles", json={"modality": "image", "prompt": prompt})
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert int(response.headers["retry-after"]) >= 1 and "try again" in response.json()["error"]
            assert set(statuses) == {503}, statuses
            assert http.get("/api/v1/models").status_code == 200  # reads go on
        finally:
            filler.unlink()
        assert not list((settings.data_dir / "artifacts").rglob(".tmp-*"))  # no half-written file
        again = http.post("/api/v1/battles", json={"modality": "image", "prompt": "a green boat"})
        assert again.status_code == 201 and again.json()["status"] == "ready", again.text
