"""Group commit for SQLite: one writer thread commits every queued write in one transaction.

SQLite takes one writer at a time and, with synchronous=FULL, every commit waits for
the disk. Committing each vote on its own makes the disk the bottleneck; this writer
takes all the writes that queued up while the previous commit ran and runs them in
one transaction, each inside its own savepoint, so one write's error (a duplicate
vote, say) rolls back that write alone. A write is acknowledged (its future resolved)
only after the transaction committed, and the events it announced are published only
then: an acknowledged vote is on disk, and no listener hears of a write that was
rolled back. Under light load a batch is one write, so nothing waits for company.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from arena.store.events import Event, EventBus

log = logging.getLogger("arena.store.writer")

MAX_BATCH = 256


@dataclass
class Batch:
    """The transaction the writer thread is running; the store's write helpers join it."""

    connection: Connection
    events: list[Event] = field(default_factory=list)


@dataclass
class _Job:
    call: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    events: list[Event] = field(default_factory=list)


class SQLiteWriter:
    def __init__(self, engine: Engine, lock: threading.Lock, events: EventBus, local: threading.local):
        self._engine = engine
        self._lock = lock
        self._events = events
        self._local = local
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="arena-sqlite-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            self._thread = None

    def submit(self, call: Callable[[], Any]) -> asyncio.Future[Any]:
        if self._thread is None:
            raise RuntimeError("the store is not started")
        loop = asyncio.get_running_loop()
        job = _Job(call, loop, loop.create_future())
        self._queue.put(job)
        return job.future

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stopping = False
            while len(jobs) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            self._run(jobs)
            if stopping:
                return

    def _run(self, jobs: list[_Job]) -> None:
        try:
            with self._lock, self._engine.connect() as connection, connection.begin():
                batch = Batch(connection)
                self._local.batch = batch
                try:
                    for job in jobs:
                        self._run_job(connection, batch, job)
                finally:
                    self._local.batch = None
        except BaseException as exc:  # BEGIN or COMMIT failed (locked past the timeout, disk): nothing is written
            log.warning("a write batch of %d failed: %s", len(jobs), exc.__class__.__name__)
            for job in jobs:
                job.error, job.events = exc, []
        for job in jobs:
            for event in job.events:
                self._events.publish(event)
            job.loop.call_soon_threadsafe(_settle, job)

    @staticmethod
    def _run_job(connection: Connection, batch: Batch, job: _Job) -> None:
        savepoint = connection.begin_nested()
        batch.events = []
        try:
            job.result = job.call()
        except BaseException as exc:  # this write alone is rolled back; the others go on
            savepoint.rollback()
            job.error = exc
        else:
            savepoint.commit()
            job.events = batch.events


def _settle(job: _Job) -> None:
    if job.future.cancelled():
        return
    if job.error is not None:
        job.future.set_exception(job.error)
    else:
        job.future.set_result(job.result)
