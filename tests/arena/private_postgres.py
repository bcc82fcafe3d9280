"""A private PostgreSQL cluster for fault tests: its own data dir and a spare port, so a test
may stop, kill and restart it without touching the shared server other tests use.

Needs root (the cluster runs as the `postgres` user, through runuser) and the server's
binaries under /usr/lib/postgresql/<version>/bin; without them, tests using it are skipped
(on CI they must run).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ON_CI, free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """initdb + pg_ctl on a spare loopback port, in a temporary directory removed by `close`."""

    def __init__(self) -> None:
        binaries = _binaries()
        reason = None
        if binaries is None:
            reason = "no PostgreSQL server binaries under /usr/lib/postgresql"
        elif os.geteuid() != 0 or shutil.which("runuser") is None:
            reason = "a private PostgreSQL cluster needs root and runuser"
        if reason is not None:
            if ON_CI:
                pytest.fail(f"CI=true but {reason}")
            pytest.skip(reason)
        assert binaries is not None
        self.bin = binaries
        self.root = Path(tempfile.mkdtemp(prefix="arena-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.data.mkdir()
        shutil.chown(self.data, "postgres", "postgres")
        self.port = free_port()
        self.sockets = self.root / "run"
        self.sockets.mkdir()
        shutil.chown(self.sockets, "postgres", "postgres")
        self.log = self.root / "server.log"
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} "
            "-c fsync=off -c shared_buffers=16MB -c max_connections=100"
        )
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` rolls back open transactions and closes every connection; `immediate` is a crash."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)

    def _as_postgres(self, program: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / program), *args],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.root,
        )


@pytest.fixture
def private_postgres():
    cluster = PrivatePostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.close()
