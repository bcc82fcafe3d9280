"""Shared fixtures: databases (SQLite and a throwaway PostgreSQL database), an arena, a live server.

PostgreSQL tests use the server at ARENA_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/postgres). With CI=true they must run; without
CI they are skipped, with the reason, only when no server answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from arena.runtime import Arena, prepare
from arena.settings import DEMO_MODELS_FILE, Settings
from arena.store.engine import make_engine, upgrade

POSTGRES_ADMIN = os.environ.get("ARENA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3) as connection:
        connection.execute(statement)


@pytest.fixture(scope="session")
def postgres_template():
    """A migrated template database for the run; dropped at the end."""
    import psycopg

    try:
        _admin("SELECT 1")
    except psycopg.OperationalError as exc:
        if ON_CI:
            pytest.fail(f"CI=true but PostgreSQL at {POSTGRES_ADMIN} does not answer: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: no server answers at {POSTGRES_ADMIN} (set CI=true to require it)")
    name = f"arena_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    engine = make_engine(_psycopg_url(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"))
    upgrade(engine)
    engine.dispose()
    yield name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_template):
    """A fresh database per test, copied from the migrated template, dropped afterwards."""
    name = f"{postgres_template}_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield _psycopg_url(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return None  # the default: a file under the data dir
    return request.getfixturevalue("postgres_url")


def write_models_file(path: Path, extra: list[dict] | None = None, fast: bool = True) -> Path:
    """The shipped demo models (without streaming delay, for speed) plus test entries."""
    data = yaml.safe_load(DEMO_MODELS_FILE.read_text())
    if fast:
        for entry in data["models"]:
            if entry["modality"] == "text":
                entry.setdefault("options", {})["token_delay_ms"] = 0
    data["models"].extend(extra or [])
    path.write_text(yaml.safe_dump(data))
    return path


FAILING_TEXT = {"name": "broken-text", "modality": "text", "backend": "demo", "options": {"fail": True}}


@pytest.fixture
def models_file(tmp_path) -> Path:
    return write_models_file(tmp_path / "models.yaml")


@pytest.fixture
def settings(tmp_path, database_url, models_file) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models_file=models_file,
        database_url=database_url,
        secret_key="test-secret",
        leaderboard_refresh_s=3600,
        min_dwell_ms=0,  # tests vote at once
    )


@pytest.fixture
async def arena(settings):
    instance = ready_arena(settings)
    await instance.start()
    yield instance
    await instance.stop()


def ready_arena(settings: Settings) -> Arena:
    """An arena after the start-up steps (schema, models file), as `arena serve` builds it."""
    return Arena(settings, entries=prepare(settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The real app under uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app):
        self.arena = app.state.arena
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def server(settings):
    from arena.server import create_app

    with LiveServer(create_app(ready_arena(settings))) as live:
        yield live


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, headers={"X-Arena-Voter": "voter-one-0001"}, timeout=30) as http:
        yield http


def eventually(check, timeout: float = 30.0, interval: float = 0.05):
    """Poll `check` until it returns something truthy (background work such as a leaderboard refit)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def arena_command(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the `arena` CLI as a user would (same interpreter, installed entry point module)."""
    return subprocess.run(
        [sys.executable, "-m", "arena", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        **kwargs,
    )
