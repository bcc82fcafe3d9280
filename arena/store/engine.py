"""Database engines, schema upgrades and the one SQL gateway, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

from arena.errors import Unavailable
from arena.store.events import Event, EventBus, LocalBus
from arena.store.writer import Batch, SQLiteWriter

P = ParamSpec("P")
T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")

# How long a client is asked to wait when the database is briefly away: a PostgreSQL restart
# or failover takes seconds; SQLite's lock was already waited on for busy_timeout.
RETRY_AFTER_S = 2.0
CONNECT_TIMEOUT_S = 5  # PostgreSQL: a connect to a server that does not answer
POOL_TIMEOUT_S = 10.0  # PostgreSQL: the wait for a free pooled connection
# Disk errors that pass once an operator frees space or remounts the data dir read-write.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO})

log = logging.getLogger("arena.store")


def unavailable(error: BaseException) -> Unavailable | None:
    """The 503 to answer when `error` means the database (or the data dir) is briefly away, else None.

    Maps in one place what a restart, a failover, a lock held past the timeout, a full or
    read-only disk raise: SQLAlchemy's OperationalError (the driver's connection and resource
    errors, on PostgreSQL and SQLite alike), any DBAPI error that invalidated its connection,
    the pool's own timeout, and the disk's OSErrors. Integrity and data errors are not here:
    they are bugs or bad input, never a reason to retry.
    """
    if isinstance(error, exc.OperationalError | exc.TimeoutError) or (
        isinstance(error, exc.DBAPIError) and error.connection_invalidated
    ):
        log.warning("database unavailable: %s", error.__class__.__name__)
        return Unavailable("the database is briefly unavailable; nothing was saved, try again shortly", RETRY_AFTER_S)
    if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
        log.warning("data dir unavailable: %s", errno.errorcode.get(error.errno or 0, "?"))
        return Unavailable("storage is briefly unavailable; nothing was saved, try again shortly", RETRY_AFTER_S)
    return None


def make_engine(url: str) -> Engine:
    """An engine whose errors never quote parameters (voter ids, prompts) unless logging is at DEBUG."""
    hide = not logging.getLogger("arena").isEnabledFor(logging.DEBUG)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=16, hide_parameters=hide
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # pre-ping: a connection the server dropped (a restart) is replaced, not handed out; a server
    # that does not answer at all fails a connect in CONNECT_TIMEOUT_S (503), never hangs a request;
    # a request waits at most POOL_TIMEOUT_S for a free connection
    return create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        hide_parameters=hide,
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Leave transaction control to SQLAlchemy's "begin" hook below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: every commit reaches the disk before the vote is acknowledged, so an
    # acknowledged vote survives a power cut too (NORMAL in WAL mode may lose the last ones).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # A write transaction takes the lock at BEGIN, so two writers never deadlock on
    # a read-to-write upgrade; readers in WAL mode are not blocked.
    immediate = connection.get_execution_options().get("sqlite_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SchemaOutOfDate(RuntimeError):
    pass


def check_schema(engine: Engine, *, upgrade_sqlite: bool = False) -> None:
    """Make sure the schema is current before using a database; raises SchemaOutOfDate.

    SQLite databases may upgrade themselves (`upgrade_sqlite`, for whoever starts the arena);
    a server database is upgraded only by its operator (`arena db upgrade`), so replicas and
    one-off commands never race on a migration.
    """
    if upgrade_sqlite and engine.dialect.name == "sqlite":
        upgrade(engine)
    elif current_revision(engine) != head_revision():
        raise SchemaOutOfDate("the database schema is not up to date: run `arena db upgrade` first")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (used at start and by `arena db upgrade`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver = connection.connection.driver_connection
        if sqlite and driver is not None:  # a table rebuild must not cascade: foreign keys off, checked before commit
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the upgrade would break a foreign key; nothing was changed")
        finally:
            if sqlite and driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")


class Store:
    """The SQL gateway: sessions, the write rule, the thread pool and the event bus.

    Writes on SQLite go through one lock: SQLite allows one writer at a time, and
    queuing writers in-process is cheaper and fairer than letting them spin on the
    file lock; BEGIN IMMEDIATE makes a writer in another process wait instead of
    failing. Async code (request handlers, page callbacks) reaches the database only
    through `run` (reads) and `run_write` (anything that writes), owned by the
    application's start and stop (datasette's execute and execute_write_fn): reads on
    a bounded pool; writes on a pool too (PostgreSQL, whose concurrent commits overlap)
    or, on SQLite, on one writer thread that commits queued writes together (see
    writer.py). A slow or locked database never stalls the event loop, and writers
    queued behind a lock never take the threads that reads need.
    """

    def __init__(self, engine: Engine, *, threads: int = 8, events: EventBus | None = None):
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.events: EventBus = events if events is not None else LocalBus()
        self.threads = threads
        self._write_engine = engine.execution_options(sqlite_write=True)
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._local = threading.local()  # the writer thread's open batch, if any
        self._writer = (
            SQLiteWriter(self._write_engine, self._write_lock, self.events, self._local)
            if self._write_lock is not None
            else None
        )

    def start(self) -> None:
        kinds = ("read",) if self._writer is not None else ("read", "write")
        for kind in kinds:
            if kind not in self._pools:
                self._pools[kind] = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"arena-{kind}")
        if self._writer is not None:
            self._writer.start()

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.stop()
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=True)

    def announce(self, event: Event) -> None:
        """Publish `event` once the write that caused it is committed (at once outside a batch)."""
        batch = self._batch()
        if batch is not None:
            batch.events.append(event)
        else:
            self.events.publish(event)

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database reads on the gateway's read threads and await the result."""
        return await self._submit("read", functools.partial(function, *args, **kwargs))

    async def run_write(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run database work that writes off the event loop and await the result, once committed."""
        call = functools.partial(function, *args, **kwargs)
        if self._writer is not None:
            try:
                result: T = await self._writer.submit(call)
            except Exception as error:
                if (mapped := unavailable(error)) is None:
                    raise
                raise mapped from error
            return result
        return await self._submit("write", call)

    async def _submit(self, kind: str, call: Callable[[], T]) -> T:
        """Raises Unavailable (with a retry-after) when the database is briefly away."""
        pool = self._pools.get(kind)
        if pool is None:
            raise RuntimeError("the store is not started")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, call)
        except Exception as error:
            if (mapped := unavailable(error)) is None:
                raise
            raise mapped from error

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reads() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error.

        Inside the SQLite writer's batch it joins the batch's transaction (a savepoint).
        """
        batch = self._batch()
        if batch is not None:
            with (
                Session(
                    bind=batch.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
                ) as session,
                session.begin(),
            ):
                yield session
            return
        with self._serialised(), self._writes.begin() as session:
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction, for hot paths that skip the ORM."""
        batch = self._batch()
        if batch is not None:
            yield batch.connection  # the writer wraps each write in a savepoint
            return
        with self._serialised(), self._write_engine.begin() as connection:
            yield connection

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around several store functions: their `write` and `write_connection`
        join it, and the events they announce go out once it committed (none if it rolled back).

        For an action and its record that must stand or fall together (an operator's ban, the
        votes it invalidates and the audit-log row). Inside the SQLite writer's batch the
        writer's savepoint around the call already makes it one unit.
        """
        if self._batch() is not None:
            yield
            return
        with self._serialised(), self._write_engine.connect() as connection:
            batch = Batch(connection)
            with connection.begin():
                self._local.batch = batch
                try:
                    yield
                finally:
                    self._local.batch = None
        for announced in batch.events:
            self.events.publish(announced)

    def ping(self) -> None:
        """One round trip to the database; raises whatever the driver raises when it is away."""
        with self.read() as session:
            session.execute(text("SELECT 1"))

    def _batch(self) -> Batch | None:
        batch: Batch | None = getattr(self._local, "batch", None)
        return batch

    def _serialised(self) -> AbstractContextManager:
        return self._write_lock if self._write_lock is not None else nullcontext()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head
