"""A model that hangs or dies mid-stream: the battle fails with a clear message within the
generation time limit, and the voter can start a new battle at once (SQLite; the database
plays no part)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from arena.services.battles import HUNG_GRACE_S
from generators import GenerationRequest, Generator
from tests.conftest import write_models_file

LIMIT_S = 1.5
STALLS = "stalling-text"
DIES = "dying-text"
DEAF = "deaf-text"


class Stalls(Generator):
    """Streams a few words, then waits for ever (an endpoint that stopped sending)."""

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str]:
        yield "Owls "
        yield "are "
        await asyncio.Event().wait()
        yield "never"


class IgnoresCancel(Generator):
    """Streams a word, then hangs, swallowing every cancellation, until well past the time limit
    and its grace (a badly written backend; it lets go in the end so the test server can stop)."""

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str]:
        yield "Owls "
        loop = asyncio.get_running_loop()
        let_go = loop.time() + LIMIT_S + HUNG_GRACE_S + 3
        while loop.time() < let_go:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue


class Dies(Generator):
    """Streams a few words, then its connection drops."""

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str]:
        yield "Owls "
        await asyncio.sleep(0.05)
        raise ConnectionResetError("peer went away")
        yield "never"  # pragma: no cover


@pytest.fixture
def database_url():
    return None


@pytest.fixture
def models_file(tmp_path):
    extra = [{"name": name, "modality": "text", "backend": "demo"} for name in (STALLS, DIES, DEAF)]
    return write_models_file(tmp_path / "models.yaml", extra=extra)


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, generation_timeout_s=LIMIT_S)


@pytest.fixture
def doubles(server):
    generators = server.arena.generators.from_file
    generators[STALLS] = Stalls(STALLS, "text")
    generators[DIES] = Dies(DIES, "text")
    generators[DEAF] = IgnoresCancel(DEAF, "text")
    return server


def healthy(client) -> list[str]:
    names = [m["name"] for m in client.get("/api/v1/models", params={"modality": "text"}).json()]
    return [name for name in names if name not in (STALLS, DIES, DEAF)]


@pytest.mark.parametrize(
    "broken,message", [(STALLS, "did not answer in time"), (DIES, "could not answer"), (DEAF, "did not answer in time")]
)
def test_a_model_that_hangs_or_dies_mid_stream_fails_the_battle_in_time(doubles, client, broken, message):
    other, another = healthy(client)[:2]
    started = time.monotonic()
    response = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Owls?", "models": [broken, other]})
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.text
    battle = response.json()
    assert elapsed < LIMIT_S + HUNG_GRACE_S + 1.0
    assert battle["status"] == "failed" and battle["error"] == f"Model A {message}"
    assert broken not in battle["error"] and battle["outputs"]["b"]["text"]
    again = client.get(f"/api/v1/battles/{battle['id']}")
    assert again.status_code == 200 and again.json()["status"] == "failed"
    assert client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "model_b"}).status_code == 409
    # the voter goes on at once
    fresh = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Cats?", "models": [other, another]})
    assert fresh.status_code == 201 and fresh.json()["status"] == "ready"
