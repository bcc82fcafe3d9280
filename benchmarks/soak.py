"""Soak: N `arena serve` replicas on one PostgreSQL (+ Redis for the shared limits) under
mixed load for a while, optionally with faults; run through benchmarks/votes.py:

    python benchmarks/votes.py --replicas 3 --clients 64 --duration 600
    python benchmarks/votes.py --replicas 3 --clients 64 --duration 600 --faults

Each client plays a voter: start a text battle, vote on it, and every fifth round read the
leaderboard. Clients are spread over the replicas as a load balancer would spread
connections; a client whose replica stops answering moves to the next one (what a load
balancer's health check does), and one answered 503 waits its Retry-After (at most 1 s).

With --faults the database is a private PostgreSQL cluster (tests/arena/private_postgres.py:
root and the server binaries needed) that is restarted once at a third of the run (stopped
for 3 s), and replica 0 is SIGKILLed at two thirds and restarted at once, as a supervisor
would. Reported per minute: votes/s and p50/p99 latency of every request; over the run:
answers by status, requests lost at the connection level, acknowledged votes missing from
the database (goal 0), and seconds from each fault until votes are acknowledged again.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from votes import POSTGRES_ADMIN, ROOT, Connection, admin, fast_models, free_port, server_env


@dataclass
class Tally:
    started: float = field(default_factory=time.perf_counter)
    statuses: Counter = field(default_factory=Counter)
    connection_errors: Counter = field(default_factory=Counter)  # minute -> requests lost on the wire
    latencies: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))  # minute -> ms
    votes: Counter = field(default_factory=Counter)  # minute -> acknowledged votes
    acknowledged: set[str] = field(default_factory=set)
    last_vote: float = 0.0  # when the latest vote was acknowledged (perf_counter)

    def minute(self) -> int:
        return int((time.perf_counter() - self.started) // 60)


class Replicas:
    """The `arena serve` processes, by port; `kill` and `start` play the fault and the supervisor."""

    def __init__(self, count: int, env: dict[str, str], workdir: Path, models: Path):
        self.env, self.workdir, self.models = env, workdir, models
        self.ports = [free_port() for _ in range(count)]
        self.processes: dict[int, subprocess.Popen] = {}
        for port in self.ports:
            self.start(port)
        for port in self.ports:
            self.wait_ready(port)

    def start(self, port: int) -> None:
        command = [sys.executable, "-m", "arena", "serve", "--port", str(port)]
        command += ["--data-dir", str(self.workdir / "data"), "--models", str(self.models)]
        log = (self.workdir / f"replica-{port}.log").open("ab")
        self.processes[port] = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)

    def wait_ready(self, port: int, timeout: float = 600) -> float:
        """Seconds until the replica answers its health check."""
        began = time.perf_counter()
        while time.perf_counter() - began < timeout:
            if self.processes[port].poll() is not None:
                log = (self.workdir / f"replica-{port}.log").read_text()[-2000:]
                raise RuntimeError(f"replica on port {port} exited: {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    return time.perf_counter() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"replica on port {port} did not start")

    def kill(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=60)


async def voter(index: int, ports: list[int], tally: Tally, until: float) -> None:
    """One client: battle, vote, sometimes the leaderboard; moves replica when its own is gone."""
    turn = itertools.count(index)
    port = ports[next(turn) % len(ports)]
    connection = Connection("127.0.0.1", port)
    headers = {"X-Arena-Voter": f"soak-voter-{index:04d}"}
    rounds = 0

    async def call(method: str, path: str, body: dict | None) -> tuple[int, dict, dict]:
        began = time.perf_counter()
        status, data, answer_headers = await connection.exchange(method, path, body, headers)
        tally.latencies[tally.minute()].append((time.perf_counter() - began) * 1000)
        tally.statuses[status] += 1
        if status == 503:
            await asyncio.sleep(min(float(answer_headers.get("retry-after", "1")), 1.0))
        return status, data, answer_headers

    while time.perf_counter() < until:
        rounds += 1
        try:
            if rounds % 5 == 0:
                await call("GET", "/api/v1/leaderboard?modality=text", None)
            status, battle, _ = await call(
                "POST", "/api/v1/battles", {"modality": "text", "prompt": f"prompt {rounds}"}
            )
            if status != 201:
                continue
            status, _, _ = await call("POST", f"/api/v1/battles/{battle['id']}/votes", {"winner": "model_a"})
            if status == 201:
                tally.acknowledged.add(battle["id"])
                tally.votes[tally.minute()] += 1
                tally.last_vote = time.perf_counter()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally.connection_errors[tally.minute()] += 1
            connection.close()
            port = ports[next(turn) % len(ports)]
            connection = Connection("127.0.0.1", port)
            await asyncio.sleep(0.05)
    connection.close()


async def recovered_after(tally: Tally, moment: float, timeout: float = 120) -> float:
    """Seconds from `moment` until a vote is acknowledged after it."""
    while tally.last_vote <= moment and time.perf_counter() - moment < timeout:
        await asyncio.sleep(0.05)
    return tally.last_vote - moment if tally.last_vote > moment else float("nan")


async def faults(replicas: Replicas, cluster, tally: Tally, duration: float, lines: list[str]) -> None:
    await asyncio.sleep(duration / 3)
    moment = time.perf_counter()
    await asyncio.to_thread(cluster.stop, "fast")
    await asyncio.sleep(3)
    await asyncio.to_thread(cluster.start)
    restarted = time.perf_counter() - moment
    lines.append(
        f"PostgreSQL restart: down {restarted:.1f} s, votes acknowledged again "
        f"{await recovered_after(tally, time.perf_counter()):.2f} s after it was back"
    )
    await asyncio.sleep(max(0.0, duration / 3 - (time.perf_counter() - moment)))
    port = replicas.ports[0]
    moment = time.perf_counter()
    replicas.kill(port)
    replicas.start(port)
    try:
        ready = await asyncio.to_thread(replicas.wait_ready, port)
        lines.append(f"replica SIGKILLed and restarted: answering again after {ready:.1f} s")
    except RuntimeError as error:
        lines.append(f"replica SIGKILLed, its restart failed: {error}")


async def run(replicas: Replicas, cluster, clients: int, duration: float) -> tuple[Tally, list[str]]:
    tally, lines = Tally(), []
    until = time.perf_counter() + duration
    tasks = [voter(i, replicas.ports, tally, until) for i in range(clients)]
    if cluster is not None:
        tasks.append(faults(replicas, cluster, tally, duration, lines))
    await asyncio.gather(*tasks)
    return tally, lines


def report(args: argparse.Namespace, tally: Tally, lines: list[str], lost: int, stored: int) -> None:
    print(
        f"soak: {args.replicas} replicas, {args.clients} clients, {args.duration:g} s, PostgreSQL"
        f"{' with faults' if args.faults else ''}, board refresh {args.refresh:g} s, {os.cpu_count()} cores "
        "(load generator on the same machine)"
    )
    for minute in sorted(tally.latencies):
        p50, p99 = np.percentile(tally.latencies[minute], [50, 99])
        seconds = min(60.0, args.duration - 60 * minute)
        if seconds <= 0:  # requests sent before the end that answered after it
            print(f"after the end: {len(tally.latencies[minute])} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            continue
        print(
            f"minute {minute + 1:2d}: {tally.votes[minute] / seconds:6.1f} votes/s, {len(tally.latencies[minute]):6d} "
            f"requests, p50 {p50:6.1f} ms, p99 {p99:7.1f} ms, connection errors {tally.connection_errors[minute]}"
        )
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(tally.statuses.items()))
    print(f"answers by status: {answers}")
    print(f"requests lost at the connection level: {sum(tally.connection_errors.values())}")
    print("\n".join(lines))
    print(f"acknowledged votes {len(tally.acknowledged)}, stored {stored}, lost {lost}")


def soak_main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="arena-soak-"))
    env = server_env() | {
        "ARENA_LEADERBOARD_REFRESH_S": str(args.refresh),
        "ARENA_REDIS_URL": os.environ.get("ARENA_REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    cluster = None
    database = f"arena_soak_{uuid.uuid4().hex[:10]}"
    if args.faults:
        sys.path.insert(0, str(ROOT))
        from tests.arena.private_postgres import PrivatePostgres

        cluster = PrivatePostgres()
        cluster.start()
        env["ARENA_DATABASE_URL"] = cluster.create_database(database)
    else:
        admin(f'CREATE DATABASE "{database}"')
        base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        env["ARENA_DATABASE_URL"] = f"{base}/{database}"
    replicas = None
    try:
        subprocess.run([sys.executable, "-m", "arena", "db", "upgrade"], env=env, check=True, capture_output=True)
        replicas = Replicas(args.replicas, env, workdir, fast_models(workdir / "models.yaml", "text"))
        tally, lines = asyncio.run(run(replicas, cluster, args.clients, args.duration))
        engine = create_engine(env["ARENA_DATABASE_URL"])
        with engine.connect() as connection:
            stored_ids = set(connection.scalars(text("SELECT battle_id FROM votes WHERE dimension = 'overall'")))
        engine.dispose()
    finally:
        if replicas is not None:
            replicas.stop_all()
        if cluster is not None:
            cluster.close()
        else:
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    lost = len(tally.acknowledged - stored_ids)
    report(args, tally, lines, lost, len(stored_ids))
    bad = sum(n for status, n in tally.statuses.items() if status >= 500 and status != 503)
    return 0 if lost == 0 and bad == 0 else 1
