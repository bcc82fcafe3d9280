"""`arena serve` killed with SIGKILL mid-load, on SQLite and PostgreSQL: every vote that got a
2xx is stored, the server starts again on the same data, and no battle the dead process left
"generating" stays so (the start-up sweep fails it once it is past the time limit and margin)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from sqlalchemy import select

from arena.services import stale
from arena.store.schema import Battle, Vote
from arena.vocabulary import BattleStatus
from tests.conftest import eventually, free_port, ready_arena, write_models_file


def serve(settings, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "ARENA_DATA_DIR": str(settings.data_dir),
        "ARENA_MODELS_FILE": str(settings.models_file),
        "ARENA_SECRET_KEY": settings.secret_key,
        "ARENA_MIN_DWELL_MS": "0",
        "ARENA_DATABASE_URL": settings.database_url or "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "arena", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    assert eventually(up, timeout=120) and process.poll() is None, "arena serve did not start"
    return process


def load(url: str, voter: str, acknowledged: set[str], lock: threading.Lock, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"X-Arena-Voter": voter}, timeout=30) as http:
        while not stop.is_set():
            try:
                battle = http.post("/api/v1/battles", json={"modality": "text", "prompt": "Name a tree."})
                if battle.status_code != 201:
                    continue
                battle_id = battle.json()["id"]
                if http.post(f"/api/v1/battles/{battle_id}/votes", json={"winner": "tie"}).status_code == 201:
                    with lock:
                        acknowledged.add(battle_id)
            except httpx.TransportError:
                return  # the server is gone


def test_a_server_killed_mid_load_loses_no_acknowledged_vote_and_leaves_no_battle_generating(
    settings, tmp_path, monkeypatch
):
    # streams paced like a real model, so battles are mid-generation when the kill comes
    models = write_models_file(tmp_path / "paced.yaml", fast=False)
    settings = dataclasses.replace(settings, models_file=models)
    ready_arena(settings)  # schema and models, as `arena serve` would
    port = free_port()
    process = serve(settings, port)
    acknowledged: set[str] = set()
    lock, stop = threading.Lock(), threading.Event()
    clients = [
        threading.Thread(
            target=load, args=(f"http://127.0.0.1:{port}", f"kill-voter-{i:04d}", acknowledged, lock, stop)
        )
        for i in range(6)
    ]
    try:
        for client in clients:
            client.start()
        assert eventually(lambda: len(acknowledged) >= 3, timeout=120)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)
        if process.poll() is None:
            process.kill()
    # the same data serves again, and every acknowledged vote is there
    process = serve(settings, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/api/v1/models").status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    arena = ready_arena(dataclasses.replace(settings, generation_timeout_s=0.1))
    with arena.store.read() as session:
        stored = set(session.scalars(select(Vote.battle_id)).all())
        generating = session.scalars(select(Battle.id).where(Battle.status == BattleStatus.GENERATING)).all()
    assert acknowledged and acknowledged <= stored
    # past the limit and margin (shortened here: the real margin is a minute), a start fails them
    monkeypatch.setattr(stale, "STALE_MARGIN_S", 0.5)
    time.sleep(1.0)

    async def start_and_stop() -> None:
        await arena.start(jobs=False)
        await arena.stop()

    asyncio.run(start_and_stop())
    with arena.store.read() as session:
        left = session.scalars(select(Battle.id).where(Battle.status == BattleStatus.GENERATING)).all()
        failed = set(session.scalars(select(Battle.id).where(Battle.error == stale.STALE_MESSAGE)).all())
    assert left == [] and set(generating) <= failed
