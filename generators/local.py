"""What every in-process backend (hf-text, hf-image, hf-3d) shares: loading and its thread.

A local model loads under LOAD_LOCK, then owns one worker thread so its GPU work
runs in order and off the event loop; batched backends also put a DynamicBatcher in
front of that thread. A backend supplies only what is its own: how it loads its
weights, how it drops them, and how it runs a batch (or a request).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import torch

from generators.batching import DynamicBatcher, Job
from generators.config import LocalEntry
from generators.devices import LOAD_LOCK, load_error, prepare_local
from generators.protocol import ConfigError, GenerationRequest, Generator, GeneratorError

P = TypeVar("P")


class LocalGenerator(Generator, ABC, Generic[P]):
    """A model in this process, with one worker thread named after it.

    `P` is the payload a batched backend's `_spec` makes from a request and its
    `_run_batch` reads back.
    """

    # the worker thread is named f"{thread_prefix}-{name}", so a stack dump says whose it is
    thread_prefix: ClassVar[str]
    # whether requests gather in a DynamicBatcher (then `_spec` and `_run_batch` are needed)
    batched: ClassVar[bool] = False

    def __init__(self, entry: LocalEntry):
        super().__init__(entry.name, entry.modality)
        self.entry = entry
        self.stats = {"requests": 0, "batches": 0, "forward_passes": 0}
        self._executor: ThreadPoolExecutor | None = None
        self._batcher: DynamicBatcher[P] | None = None

    async def load(self) -> None:
        await asyncio.to_thread(self._load_locked)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.thread_prefix}-{self.name}")
        if self.batched:
            options = self.entry.options
            self._batcher = DynamicBatcher(
                self._run_batch,
                self._executor,
                options.max_batch_size,
                options.batch_wait_ms,
                max_queue=options.max_queue,
                name=self.name,
            )

    def health(self) -> dict[str, Any]:
        """Counters since start; for batched backends also the queue and last minute's wait and compute."""
        return {**self.stats, **(self._batcher.health() if self._batcher is not None else {})}

    def _load_locked(self) -> None:
        with LOAD_LOCK:
            self._load_sync(*prepare_local(self.entry))

    @abstractmethod
    def _load_sync(self, model_dir: Path, device: torch.device, dtype: torch.dtype) -> None:
        """Load the weights onto `device` (in a thread, under LOAD_LOCK); raise ConfigError if impossible."""

    @contextmanager
    def _load_errors(self) -> Iterator[None]:
        """Turn a library's failure to load the weights into a ConfigError naming the model."""
        try:
            yield
        except ConfigError:
            raise
        except Exception as exc:
            raise load_error(self.name, exc) from None

    @abstractmethod
    def _unload(self) -> None:
        """Drop the references to the weights, so emptying the CUDA cache frees them."""

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        # a closed model refuses new work as "not loaded" rather than queueing it on a dead thread
        self._batcher = self._executor = None
        self._unload()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _require_loaded(self) -> None:
        """Refuse a request before load() succeeded or after close(), instead of failing deep in a library."""
        if self._executor is None:
            raise GeneratorError(f"{self.name} is not loaded")

    async def _submit(self, request: GenerationRequest) -> Job[P]:
        """Queue a request for the next batch; its results come back through the returned job."""
        self._require_loaded()
        assert self._batcher is not None  # made with the executor when `batched`
        job = Job(self._spec(request))
        await self._batcher.submit(job)
        self.stats["requests"] += 1
        return job

    def _spec(self, request: GenerationRequest) -> P:
        """The payload a batch needs from a request, checked (batched backends only)."""
        raise NotImplementedError(f"{type(self).__name__} is batched but defines no _spec")

    def _run_batch(self, jobs: list[Job[P]]) -> None:
        """Run jobs together on the model's thread, answering each (batched backends only)."""
        raise NotImplementedError(f"{type(self).__name__} is batched but defines no _run_batch")
