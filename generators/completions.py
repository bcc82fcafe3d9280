"""What an OpenAI request asks for beyond one plain generation: stop strings and n choices.

Built above the engine, on any Generator's text stream, so it works the same whichever
engine produces the tokens (the step loop in hf_text today, transformers' continuous
batching later, a demo model, a remote endpoint):

- `StopCutter` cuts the text at the first stop string, also when the string arrives
  split across chunks: text that could still be the start of a stop string is held
  back until the next chunk decides, so nothing past a stop is ever emitted.
- `Choice` is one generation with its stop strings applied; when a stop string is
  found it closes the engine's stream (the engine stops that row) and reports
  `finish_reason` "stop" with the tokens made so far.
- `derive_seed` gives choice i of a request its own seed: choice 0 uses the request's
  seed (so n=1 and the first of n agree), the others a hash of (seed, i).
- `merge` interleaves the choices' chunks for one SSE stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from generators.protocol import FinishReason, GenerationRequest, Generator, TextStream

T = TypeVar("T")

SEED_BITS = 63


class StopCutter:
    """Feed chunks in, get back the text that may be emitted; `stopped` once a stop string was seen."""

    def __init__(self, stops: Sequence[str]):
        self.stops = [stop for stop in stops if stop]
        self.stopped = False
        self._held = ""

    def feed(self, chunk: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return chunk
        text = self._held + chunk
        found = [index for index in (text.find(stop) for stop in self.stops) if index >= 0]
        if found:
            self.stopped = True
            self._held = ""
            return text[: min(found)]
        hold = self._partial_stop_at_end(text)
        self._held = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """The held-back text, once the stream ended without completing a stop string."""
        held, self._held = self._held, ""
        return held

    def _partial_stop_at_end(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest


def derive_seed(seed: int, index: int) -> int:
    """Choice `index`'s seed: the request's own for choice 0, a stable hash for the others."""
    if index == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)


def choice_requests(request: GenerationRequest, n: int) -> list[GenerationRequest]:
    """n copies of a request with derived seeds (a random base seed when the request has none,
    so the choices differ even on backends that are deterministic without a seed)."""
    if n == 1:
        return [request]
    base = request.seed if request.seed is not None else random.getrandbits(SEED_BITS)
    return [replace(request, seed=derive_seed(base, index)) for index in range(n)]


@dataclass
class ChoiceResult:
    index: int
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


class Choice:
    """One generation of a request, with its stop strings applied.

    `start()` waits for the first chunk, so a request the model refuses (a prompt over
    its context window) fails there, before an HTTP stream has begun; `chunks()` then
    yields the text; `result` is set once it has ended.
    """

    def __init__(self, generator: Generator, request: GenerationRequest, stops: Sequence[str] = (), index: int = 0):
        self.index = index
        self._stream: TextStream = generator.stream(request)
        self._cutter = StopCutter(stops)
        self._first: str | None = None
        self._started = False
        self._exhausted = False
        self._consumed: list[str] = []
        self.result: ChoiceResult | None = None

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            self._first = await anext(self._stream)
        except StopAsyncIteration:
            self._exhausted = True
        except BaseException:
            await self.aclose()
            raise

    async def chunks(self) -> AsyncIterator[str]:
        await self.start()
        try:
            async for raw in self._raw():
                self._consumed.append(raw)
                text = self._cutter.feed(raw)
                if text:
                    yield text
                if self._cutter.stopped:
                    self._finish(FinishReason.STOP, early=True)
                    return
            tail = self._cutter.flush()
            if tail:
                yield tail
            self._finish(None, early=False)
        finally:
            await self.aclose()

    async def collect(self) -> ChoiceResult:
        parts = [text async for text in self.chunks()]
        assert self.result is not None
        self.result.text = "".join(parts)
        return self.result

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def _raw(self) -> AsyncIterator[str]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        if self._exhausted:
            return
        async for chunk in self._stream:
            yield chunk

    def _finish(self, reason: FinishReason | None, early: bool) -> None:
        output = self._stream.output
        if not early and output is not None:
            self.result = ChoiceResult(
                self.index, "", reason or output.finish_reason, output.prompt_tokens, output.completion_tokens
            )
            return
        usage = self._stream.usage  # the engine's running count, when it keeps one
        consumed = "".join(self._consumed)
        self.result = ChoiceResult(
            self.index,
            "",
            reason or FinishReason.STOP,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else len(consumed.split()),
        )


async def merge(choices: Sequence[Choice]) -> AsyncGenerator[tuple[int, str | None], None]:
    """(index, text) as any choice produces text, and (index, None) when a choice has ended.

    The first failure of any choice is raised here, and the other choices are stopped.
    """
    queue: asyncio.Queue[tuple[int, str | None | BaseException]] = asyncio.Queue()

    async def pump(choice: Choice) -> None:
        try:
            async for text in choice.chunks():
                await queue.put((choice.index, text))
            await queue.put((choice.index, None))
        except Exception as exc:
            await queue.put((choice.index, exc))

    tasks = [asyncio.create_task(pump(choice)) for choice in choices]
    try:
        running = len(tasks)
        while running:
            index, item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                running -= 1
            yield index, item
    finally:
        await _cancel(tasks)


async def gather_or_cancel(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        await _cancel(tasks)


async def _cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    # their failures were reported already (or they were cancelled here); our own cancellation is not swallowed
    await asyncio.gather(*tasks, return_exceptions=True)
