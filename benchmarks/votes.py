"""Battles/s and votes/s under concurrent HTTP clients, and a check that no vote is lost.

Starts `arena serve` (demo models, streaming delay off) on a loopback port against
a fresh SQLite file or a fresh PostgreSQL database, then:
  1. N clients start battles as fast as they can (battles/s, p50/p99);
  2. N clients vote on those battles (votes/s, p50/p99);
  3. the stored votes are counted and compared with the acknowledged ones.

    python benchmarks/votes.py --clients 32 --battles 3000 --database sqlite
    python benchmarks/votes.py --clients 32 --battles 3000 --database postgresql

Soak mode (benchmarks/soak.py): N replicas on one PostgreSQL, mixed load for a duration,
optionally with faults:

    python benchmarks/votes.py --replicas 3 --clients 64 --duration 600 --faults
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN = os.environ.get("ARENA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fast_models(path: Path, modality: str) -> Path:
    data = yaml.safe_load((ROOT / "data" / "models.demo.yaml").read_text())
    data["models"] = [m for m in data["models"] if m["modality"] == modality]
    for entry in data["models"]:
        entry.setdefault("options", {})["token_delay_ms"] = 0
    path.write_text(yaml.safe_dump(data))
    return path


def admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(statement)


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    The load generator shares the server's two cores, so it must be cheap: a full
    client library costs more CPU per request than the server's vote handler.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, dict]:
        status, data, _ = await self.exchange(method, path, body, headers)
        return status, data

    async def exchange(self, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, dict, dict]:
        """One request: (status, JSON body, lower-cased headers). A server that says
        `Connection: close` gets a new connection for the next request."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(payload)}\r\n\r\n"
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection without an answer")
        found: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            found[name.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(found.get("content-length", "0")))
        if found.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), json.loads(data) if data else {}, found

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_phase(url: str, clients: int, jobs: list, make_request) -> tuple[list[float], list]:
    """Run jobs with `clients` concurrent keep-alive connections; return latencies (ms) and results."""
    host, port = url.removeprefix("http://").split(":")
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []
    results: list = []

    async def worker() -> None:
        connection = Connection(host, int(port))
        try:
            while not queue.empty():
                job = queue.get_nowait()
                started = time.perf_counter()
                result = await make_request(connection, job)
                latencies.append((time.perf_counter() - started) * 1000)
                results.append(result)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, results


def summary(name: str, latencies: list[float], seconds: float, count: int) -> str:
    p50, p99 = np.percentile(latencies, [50, 99])
    return (
        f"{name:8s} {count:7d} in {seconds:6.2f} s = {count / seconds:7.1f}/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
    )


async def bench(url: str, clients: int, battles: int, modality: str) -> tuple[int, list[str]]:
    voters = [f"bench-voter-{i:04d}" for i in range(clients)]
    lines = []

    async def start_battle(connection, i):
        status, body = await connection.request(
            "POST",
            "/api/v1/battles",
            {"modality": modality, "prompt": f"prompt {i}"},
            {"X-Arena-Voter": voters[i % clients]},
        )
        return (body["id"], voters[i % clients]) if status == 201 else None

    started = time.perf_counter()
    latencies, created = await run_phase(url, clients, list(range(battles)), start_battle)
    lines.append(summary("battles", latencies, time.perf_counter() - started, battles))
    created = [c for c in created if c]

    async def cast_vote(connection, battle):
        battle_id, voter = battle
        status, _ = await connection.request(
            "POST", f"/api/v1/battles/{battle_id}/votes", {"winner": "model_a"}, {"X-Arena-Voter": voter}
        )
        return status == 201

    started = time.perf_counter()
    latencies, acknowledged = await run_phase(url, clients, created, cast_vote)
    lines.append(summary("votes", latencies, time.perf_counter() - started, len(created)))
    return sum(acknowledged), lines


def server_env() -> dict[str, str]:
    """`arena serve`'s environment for a load test: every vote-time check stays on (limits,
    dwell: these instant votes are stored as too_fast), with the limits raised to fit this many
    clients on one address in one burst."""
    env = {**os.environ, "ARENA_SECRET_KEY": "bench", "ARENA_LEADERBOARD_REFRESH_S": "3600"}
    env.update(
        {
            f"ARENA_{name}": "1000000"
            for name in (
                "BATTLES_PER_MINUTE",
                "BATTLES_PER_DAY",
                "VOTES_PER_MINUTE",
                "VOTES_PER_DAY",
                "IP_BATTLES_PER_MINUTE",
                "IP_VOTES_PER_MINUTE",
                "IP_REQUESTS_PER_MINUTE",
                "NEW_VOTERS_PER_HOUR",
            )
        }
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--battles", type=int, default=3000)
    parser.add_argument("--modality", default="text", choices=["text", "image", "3d"])
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--replicas", type=int, default=1, help="soak mode: `arena serve` processes on one PostgreSQL")
    parser.add_argument("--duration", type=float, default=0, help="soak mode: seconds of mixed load (default: off)")
    parser.add_argument(
        "--faults", action="store_true", help="soak mode: restart PostgreSQL once, SIGKILL a replica once"
    )
    parser.add_argument("--refresh", type=float, default=5.0, help="soak mode: ARENA_LEADERBOARD_REFRESH_S")
    args = parser.parse_args()

    if args.duration:
        from soak import soak_main

        return soak_main(args)
    workdir = Path(tempfile.mkdtemp(prefix="arena-bench-"))
    env = server_env()
    database_name = None
    if args.database == "postgresql":
        database_name = f"arena_bench_{uuid.uuid4().hex[:10]}"
        admin(f'CREATE DATABASE "{database_name}"')
        env["ARENA_DATABASE_URL"] = (
            POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{database_name}"
        )
        subprocess.run([sys.executable, "-m", "arena", "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arena",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "data"),
            "--models",
            str(fast_models(workdir / "models.yaml", args.modality)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/api/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        acknowledged, lines = asyncio.run(bench(url, args.clients, args.battles, args.modality))
        db_url = env.get("ARENA_DATABASE_URL") or f"sqlite:///{workdir / 'data' / 'arena.db'}"
        engine = create_engine(db_url)
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM votes")).scalar()
        engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)
        if database_name:
            admin(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
    print(
        f"{args.database}, {args.clients} clients, {args.modality} demo models, {os.cpu_count()} cores "
        "(load generator on the same machine)"
    )
    print("\n".join(lines))
    print(f"acknowledged votes {acknowledged}, stored votes {stored}, lost {acknowledged - stored}")
    return 0 if acknowledged == stored else 1


if __name__ == "__main__":
    raise SystemExit(main())
