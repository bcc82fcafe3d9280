"""The one interface every generator speaks, local or remote.

The battle service and `arena worker` only ever see these types, so a backend can
move from an in-process demo model to a GPU host or an author's endpoint without
the callers changing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from generators.errors import ErrorCode


class Modality(StrEnum):
    """What a model makes; the values are the ones stored and sent over the wire."""

    TEXT = "text"
    IMAGE = "image"
    THREE_D = "3d"


MODALITIES: tuple[str, ...] = tuple(m.value for m in Modality)


class FinishReason(StrEnum):
    """Why a text generation ended: the model chose to (or a stop string), or a token limit."""

    STOP = "stop"
    LENGTH = "length"


class GeneratorError(Exception):
    """A generation failed; the message (`str(exc)`) is safe to show to a voter or operator.

    It never carries secrets (API keys, private URLs' credentials) or tracebacks, and
    for remote endpoints not the model's or host's name nor the endpoint's own words:
    those go to `detail`, which is for operators' logs (keys scrubbed all the same).
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message


class GenerationTimeout(GeneratorError):
    """The model did not finish within the request's time limit."""


class InvalidRequestError(GeneratorError):
    """The request, not the model, is at fault (a prompt over the context window, a size the
    model cannot make): the worker answers 400 naming `param` with this `code`."""

    def __init__(
        self, message: str, *, param: str | None = None, code: str = ErrorCode.INVALID_VALUE, detail: str | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.param = param
        self.code = code


class OverloadedError(GeneratorError):
    """The model's queue is full: the worker answers 429 with `Retry-After` instead of queueing
    without bound (a client that retries later, or another replica, is served sooner)."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConfigError(Exception):
    """A models file or backend option is wrong; raised at start, naming the entry."""


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass
class GenerationRequest:
    """What a battle asks one side for.

    `messages` is the whole conversation so far (multi-turn text); image and 3D
    requests use the last user message as the prompt. `image` is an optional PNG
    input (image-to-3D).
    """

    modality: str
    messages: list[Message]
    seed: int | None = None
    max_tokens: int = 256
    timeout_s: float = 60.0
    image: bytes | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    @classmethod
    def from_prompt(cls, modality: str, prompt: str, **kwargs: Any) -> GenerationRequest:
        return cls(modality=modality, messages=[Message("user", prompt)], **kwargs)


@dataclass
class TextOutput:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    media_type: str = "text/plain"
    finish_reason: FinishReason = FinishReason.STOP


@dataclass
class ImageOutput:
    png: bytes
    width: int
    height: int
    media_type: str = "image/png"


@dataclass
class MeshOutput:
    glb: bytes
    vertices: int
    faces: int
    media_type: str = "model/gltf-binary"


Output = TextOutput | ImageOutput | MeshOutput


@dataclass(frozen=True)
class Usage:
    """Token counts a text backend yields in its stream (not shown as text).

    A backend may yield one before a chunk (the running count, `finish_reason` None),
    so a consumer that stops early still knows how many tokens were made; the last one
    says why generation ended. A stream without one counts words.
    """

    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason | None = None


class TextStream:
    """An async iterator of text chunks that knows the final output once drained.

    Wraps a backend's chunk generator and enforces the request's time limit on the
    whole stream, so a stalled endpoint cannot hang a battle.
    """

    def __init__(self, chunks: AsyncIterator[str | Usage], timeout_s: float):
        self._chunks = chunks
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self.output: TextOutput | None = None

    @property
    def usage(self) -> Usage | None:
        """The latest token counts the backend reported (running until the stream ends)."""
        return self._usage

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        while True:
            remaining = self._deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # arrives as the chunk does, and a cancelled consumer would then stream on
                async with asyncio.timeout_at(self._deadline):
                    chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                text = "".join(self._parts)
                usage = self._usage or Usage(0, len(text.split()))
                self.output = TextOutput(
                    text,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    finish_reason=usage.finish_reason or FinishReason.STOP,
                )
                raise
            except TimeoutError:
                await self.aclose()
                raise GenerationTimeout("timed out while streaming text") from None
            if isinstance(chunk, Usage):
                self._usage = chunk
                continue
            self._parts.append(chunk)
            return chunk

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    async def collect(self) -> TextOutput:
        async for _ in self:
            pass
        assert self.output is not None
        return self.output


class Generator:
    """A named model of one modality.

    Subclasses implement `_stream_text` (text: yields str chunks, optionally a final
    `Usage`) or `_generate` (image, 3D); the
    public methods add the time limit and turn unexpected exceptions into
    `GeneratorError` so callers handle one failure type.
    """

    def __init__(self, name: str, modality: str):
        self.name = name
        self.modality = modality

    async def load(self) -> None:
        """Load weights or check reachability; raise ConfigError if impossible."""

    async def close(self) -> None:
        """Release weights, connections."""

    def health(self) -> dict[str, Any]:
        """What the worker's `/health` says about this model (counters, queue, latencies); none by default."""
        return {}

    def stream(self, request: GenerationRequest) -> TextStream:
        if self.modality != "text":
            raise GeneratorError(f"{self.name} is a {self.modality} model and does not stream text")
        return TextStream(self._guard_stream(request), request.timeout_s)

    async def generate(self, request: GenerationRequest) -> Output:
        if self.modality == "text":
            return await self.stream(request).collect()
        try:
            async with asyncio.timeout(request.timeout_s):
                return await self._generate(request)
        except GeneratorError:
            raise
        except TimeoutError:
            raise GenerationTimeout(f"{self.name} timed out after {request.timeout_s:g} s") from None
        except Exception as exc:  # a backend bug must not crash a battle
            raise GeneratorError(
                f"{self.name} failed: {type(exc).__name__}", detail=f"{self.name} failed: {exc!r}"
            ) from exc

    async def _guard_stream(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        chunks = self._stream_text(request)
        try:
            async for chunk in chunks:
                yield chunk
        except GeneratorError:
            raise
        except Exception as exc:
            raise GeneratorError(
                f"{self.name} failed: {type(exc).__name__}", detail=f"{self.name} failed: {exc!r}"
            ) from exc
        finally:
            # close the backend's generator now, not when it is garbage-collected: a consumer
            # that stops early (a stop string, a client gone) stops its row of the batch at once
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        raise GeneratorError(f"{self.name} does not generate text")
        yield ""  # pragma: no cover - makes this an async generator

    async def _generate(self, request: GenerationRequest) -> Output:
        raise GeneratorError(f"{self.name} does not generate {request.modality}")
