"""Vote-time checks over HTTP: rate limits per voter and per address, minting, dwell.

An over-limit request gets 429, a JSON error and Retry-After, and writes nothing.
Limits live in the process, or in Redis so that two servers share them; when Redis
goes away the arena keeps answering under its own limits and says so once.
"""

import dataclasses
import logging
import shutil
import subprocess
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from arena.server import create_app
from arena.store.limits import Limit, RedisLimiter
from arena.store.schema import Battle, Vote, Voter
from arena.store.votes import DwellPolicy
from tests.conftest import ON_CI, LiveServer, eventually, free_port, ready_arena

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(
        settings, battles_per_minute=2, votes_per_minute=2, ip_battles_per_minute=50, new_voters_per_hour=3
    )


def rows(server, table) -> int:
    with server.arena.store.read() as session:
        return session.scalar(select(func.count()).select_from(table))


def start(http, voter="voter-one-0001"):
    return http.post(
        "/api/v1/battles", json={"modality": "text", "prompt": "Tell me about owls."}, headers={"X-Arena-Voter": voter}
    )


def assert_refused(response, words):
    assert response.status_code == 429, response.text
    assert words in response.json()["error"]
    assert int(response.headers["Retry-After"]) >= 1


def test_a_voter_over_the_battle_and_vote_limits_gets_429_and_nothing_is_written(server, client):
    battles = [start(client).json() for _ in range(2)]
    assert_refused(start(client), "too many battles")
    assert rows(server, Battle) == 2

    for battle in battles:
        assert client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "tie"}).status_code == 201
    other = start(client, "voter-two-0002").json()  # another voter's allowance is their own
    response = client.post(
        f"/api/v1/battles/{other['id']}/votes", json={"winner": "tie"}, headers={"X-Arena-Voter": "voter-two-0002"}
    )
    assert response.status_code == 201
    third = start(client, "voter-two-0002").json()
    client.post(
        f"/api/v1/battles/{third['id']}/votes", json={"winner": "tie"}, headers={"X-Arena-Voter": "voter-two-0002"}
    )
    assert_refused(
        client.post(
            f"/api/v1/battles/{third['id']}/votes",
            json={"winner": "model_a"},
            headers={"X-Arena-Voter": "voter-two-0002"},
        ),
        "too many votes",
    )
    assert rows(server, Vote) == 4


def test_one_address_cannot_mint_voter_ids_and_reads_store_no_voter(server):
    with httpx.Client(base_url=server.url, timeout=30) as stranger:
        for _ in range(20):  # cookie-less reads: each gets a cookie, none is stored
            for path in ("/api/v1/voter/profile", "/api/v1/leaderboard"):
                stranger.cookies.clear()
                assert stranger.get(path).status_code == 200
        assert rows(server, Voter) == 0
        for i in range(3):
            assert start(stranger, f"fresh-voter-{i:04d}").status_code == 201
        assert_refused(start(stranger, "fresh-voter-0009"), "too many new voters")
    assert rows(server, Voter) == 3


def test_a_vote_cast_before_anyone_could_read_both_answers_is_stored_but_not_counted(tmp_path, settings):
    slow = dataclasses.replace(settings, min_dwell_ms=60_000)
    with LiveServer(create_app(ready_arena(slow))) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        battle = start(http).json()
        vote = http.post(
            f"/api/v1/battles/{battle['id']}/votes",
            json={"winner": "model_a"},
            headers={"X-Arena-Voter": "voter-one-0001"},
        ).json()
        assert (vote["counted"], vote["reason"]) == (False, "too_fast")
        with live.arena.store.read() as session:
            stored = session.scalars(select(Vote)).one()
        assert (stored.valid, stored.invalid_reason, stored.source) == (False, "too_fast", "live")


def test_reading_time_grows_with_the_shorter_answer_and_is_capped():
    policy = DwellPolicy(min_ms=1000, per_char_ms=4, max_ms=8000)
    assert policy.required_ms(0) == 1000  # images and 3D: the base only
    assert policy.required_ms(500) == 3000
    assert policy.required_ms(100_000) == 8000


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def shared_settings(settings):
    if not redis_available():
        if ON_CI:
            pytest.fail(f"CI=true but Redis at {REDIS_URL} does not answer")
        pytest.skip(f"Redis tests skipped: no server answers at {REDIS_URL} (set CI=true to require it)")
    # a fresh salt: this run's IP hashes (and so its Redis keys) are its own
    return dataclasses.replace(settings, redis_url=REDIS_URL, secret_key=uuid.uuid4().hex)


def test_two_servers_share_their_limits_through_redis(tmp_path, shared_settings):
    first = dataclasses.replace(shared_settings, data_dir=tmp_path / "one")
    second = dataclasses.replace(shared_settings, data_dir=tmp_path / "two")
    voter = f"shared-{uuid.uuid4().hex[:12]}"
    with LiveServer(create_app(ready_arena(first))) as one, LiveServer(create_app(ready_arena(second))) as two:
        with httpx.Client(base_url=one.url, timeout=30) as a, httpx.Client(base_url=two.url, timeout=30) as b:
            assert start(a, voter).status_code == 201
            assert start(b, voter).status_code == 201
            assert_refused(start(a, voter), "too many battles")  # the third, counted across both servers
            assert_refused(start(b, voter), "too many battles")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server binary to run a private one")
async def test_when_redis_goes_away_limits_fall_back_to_the_process_and_say_so_once(caplog):
    port = free_port()
    private = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    probe = redis.Redis.from_url(url, socket_connect_timeout=1, retry_on_timeout=True)
    assert eventually(lambda: _answers(probe), timeout=20), "the private redis-server did not start"
    limiter = RedisLimiter(url)
    limit = Limit("test", 2, 60)
    try:
        assert (await limiter.hit("k", limit)).allowed
        assert limiter._down_until == 0.0  # counted in Redis
    finally:
        private.terminate()
        private.wait(timeout=30)
    with caplog.at_level(logging.WARNING, logger="arena.limits"):
        verdicts = [await limiter.hit("k", limit) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]  # the process's own count takes over
    assert sum("Redis is unavailable" in r.message for r in caplog.records) == 1
    await limiter.close()


def _answers(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
