"""Dynamic batching: concurrent requests for one model run as one batch on its GPU.

A GPU spends about as long on one sequence as on thirty-two, so a worker that runs
requests one at a time wastes most of it. Requests wait here until `max_batch_size`
have gathered or `batch_wait_ms` has passed since the first arrived, then run together
on the model's single thread (one thread per model keeps GPU work in order). While a
batch runs, newcomers gather for the next one, which starts as soon as the running one
ends when its first request already waited the window: a request that arrives during a
batch waits at most that batch (with fewer than `max_batch_size` ahead of it). Images
and 3D use this; text is batched per decode step (`generators.continuous`).

At most `max_queue` requests wait; one more is refused with OverloadedError (429).
Queue wait and compute are timed separately for `/health`.

The batch function runs in that thread and answers each job through `Job.put`, which
is safe to call from any thread; the waiting coroutine reads with `Job.get`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from generators.latency import LatencyWindow
from generators.protocol import OverloadedError

P = TypeVar("P")

DONE = object()  # the last event of a job that streams


class Job(Generic[P]):
    """One request's payload plus the channel its results come back on."""

    def __init__(self, payload: P):
        self.payload = payload
        # set by the waiting side when its consumer goes away; read by the batch thread
        self.cancelled = False
        self.submitted = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue = asyncio.Queue()

    def put(self, event: Any) -> None:
        """Deliver a result, a chunk, an exception or DONE (from any thread)."""
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    async def get(self) -> Any:
        """The next event; an exception delivered by the batch thread is raised here."""
        event = await self._events.get()
        if isinstance(event, BaseException):
            raise event
        return event


class DynamicBatcher(Generic[P]):
    """Gathers jobs for one model and hands them to `run_batch` in batches."""

    def __init__(
        self,
        run_batch: Callable[[list[Job[P]]], None],
        executor: ThreadPoolExecutor,
        max_batch_size: int,
        batch_wait_ms: float,
        max_queue: int = 1 << 30,
        name: str = "this model",
    ):
        self._run_batch = run_batch
        self._executor = executor
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_ms / 1000.0
        self._queue: asyncio.Queue[Job[P]] | None = None
        self._task: asyncio.Task | None = None
        self.max_queue = max_queue
        self.name = name
        self.batches = 0
        self.jobs = 0
        self.refused = 0
        self.pending = 0  # submitted, not yet started
        self._last_batch_end = float("-inf")
        self.queue_wait = LatencyWindow()
        self.compute = LatencyWindow()

    def health(self) -> dict[str, Any]:
        return {
            "queued": self.pending,
            "max_queue": self.max_queue,
            "refused": self.refused,
            **self.queue_wait.summary("queue_wait"),
            **self.compute.summary("compute"),
        }

    def retry_after_s(self) -> int:
        """About when the queue has room: the batches ahead times the median batch time (1 to 60 s)."""
        times = sorted(self.compute.values())
        typical = times[len(times) // 2] if times else 1.0
        return min(60, max(1, math.ceil(typical * math.ceil(self.pending / self.max_batch_size))))

    async def submit(self, job: Job[P]) -> None:
        """Queue `job`; OverloadedError when `max_queue` jobs are already waiting."""
        if self.pending >= self.max_queue:
            self.refused += 1
            raise OverloadedError(
                f"{self.name} is busy: {self.pending} requests are waiting; try again shortly",
                retry_after_s=self.retry_after_s(),
            )
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._collect())
        assert self._queue is not None
        self.pending += 1
        self._queue.put_nowait(job)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _collect(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            # one that arrived while the last batch ran has gathered long enough: start at once
            waited_a_batch = batch[0].submitted < self._last_batch_end
            deadline = time.monotonic() if waited_a_batch else batch[0].submitted + self.batch_wait_s
            while len(batch) < self.max_batch_size:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            self.pending -= len(batch)
            batch = [job for job in batch if not job.cancelled]
            if batch:
                self.batches += 1
                self.jobs += len(batch)
                started = time.monotonic()
                for job in batch:
                    self.queue_wait.add(started - job.submitted)
                await loop.run_in_executor(self._executor, self._run_guarded, batch)
                self._last_batch_end = time.monotonic()
                self.compute.add(self._last_batch_end - started)

    def _run_guarded(self, batch: list[Job[P]]) -> None:
        try:
            self._run_batch(batch)
        except Exception as exc:  # every job hears about it; the collector lives on
            for job in batch:
                job.put(exc)
