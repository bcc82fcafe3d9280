"""The worker's endpoints, one small function each."""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from generators.completions import Choice, ChoiceResult, choice_requests, gather_or_cancel, merge
from generators.errors import ErrorCode
from generators.protocol import GenerationRequest, Generator, GeneratorError, ImageOutput, MeshOutput, Message
from generators.sse import sse_event
from generators.worker.errors import WorkerError, from_generator_error
from generators.worker.schemas import (
    MAX_STOP_CHARS,
    MAX_STOPS,
    MAX_TOKENS_CAP,
    UNSUPPORTED_CHAT,
    UNSUPPORTED_IMAGE,
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChatRequest,
    ChunkChoice,
    ChunkDelta,
    CompletionUsage,
    ErrorResponse,
    Health,
    ImageData,
    ImageRequest,
    ImagesResponse,
    MeshData,
    MeshRequest,
    MeshResponse,
    ModelCard,
    ModelList,
)

log = logging.getLogger("generators.worker")


@dataclass
class WorkerState:
    """What the routes share: the loaded models and the per-request time limit."""

    generators: dict[str, Generator]
    request_timeout_s: float
    started: int

    def pick(self, name: str, modality: str) -> Generator:
        generator = self.generators.get(name)
        if generator is None:
            raise WorkerError(
                404, f"the model {name!r} does not exist on this worker", code=ErrorCode.MODEL_NOT_FOUND, param="model"
            )
        if generator.modality != modality:
            raise WorkerError(
                400,
                f"the model {name!r} is a {generator.modality} model, not {modality}",
                code=ErrorCode.INVALID_VALUE,
                param="model",
            )
        return generator

    def card(self, name: str, generator: Generator) -> ModelCard:
        return ModelCard(id=name, created=self.started, modality=generator.modality)


def worker_state(request: Request) -> WorkerState:
    state: WorkerState = request.app.state.worker
    return state


_ERROR_DESCRIPTIONS = {
    400: "the request cannot be served as asked; `param` names the field, `code` says why",
    401: "missing or wrong API key (`--api-key-env`)",
    404: "no such model (`model_not_found`)",
    413: "the request body is over the worker's limit (`request_too_large`)",
    422: "the model failed to generate (`generation_failed`); trying again gives the same",
    429: "the model's queue is full (`rate_limit_exceeded`); try again after `Retry-After` seconds",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses}


router = APIRouter()
Worker = Depends(worker_state)


@router.get("/health", response_model=Health)
async def health(worker: WorkerState = Worker) -> Health:
    return Health(
        models={
            name: {"modality": generator.modality, **generator.health()}
            for name, generator in worker.generators.items()
        }
    )


@router.get("/v1/models", response_model=ModelList, responses=_errors(401))
async def list_models(worker: WorkerState = Worker) -> ModelList:
    return ModelList(data=[worker.card(name, generator) for name, generator in worker.generators.items()])


@router.get("/v1/models/{model_id:path}", response_model=ModelCard, responses=_errors(401, 404))
async def retrieve_model(model_id: str, worker: WorkerState = Worker) -> ModelCard:
    generator = worker.generators.get(model_id)
    if generator is None:
        raise WorkerError(
            404, f"the model {model_id!r} does not exist on this worker", code=ErrorCode.MODEL_NOT_FOUND, param="model"
        )
    return worker.card(model_id, generator)


# ---- chat ------------------------------------------------------------------------


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/ChatCompletionChunk"}}},
            "description": "a chat.completion, or with `stream` server-sent chat.completion.chunk events "
            "ending with `data: [DONE]`",
        },
        **_errors(400, 401, 404, 413, 422, 429),
    },
)
async def chat_completions(body: ChatRequest, request: Request, worker: WorkerState = Worker) -> Any:
    generator = worker.pick(body.model, "text")
    refuse_unsupported(body, UNSUPPORTED_CHAT)
    if body.stream_options is not None and not body.stream:
        raise WorkerError(
            400,
            "stream_options: only allowed when stream is true",
            code=ErrorCode.INVALID_VALUE,
            param="stream_options",
        )
    generation = GenerationRequest(
        modality="text",
        messages=chat_messages(body.messages),
        seed=body.seed,
        max_tokens=body.max_completion_tokens or body.max_tokens or MAX_TOKENS_CAP,
        timeout_s=worker.request_timeout_s,
        options={
            key: value for key, value in (("temperature", body.temperature), ("top_p", body.top_p)) if value is not None
        },
    )
    stops = stop_strings(body.stop)
    choices = [
        Choice(generator, choice_request, stops, index)
        for index, choice_request in enumerate(choice_requests(generation, body.n or 1))
    ]
    meta = _Meta(f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), body.model)
    if not body.stream:
        results = await gather_or_cancel([choice.collect() for choice in choices])
        return ChatCompletion(
            id=meta.id,
            created=meta.created,
            model=meta.model,
            usage=_usage(results),
            choices=[
                ChatChoice(index=r.index, finish_reason=r.finish_reason, message=AssistantMessage(content=r.text))
                for r in results
            ],
        )
    try:  # fail with a status code, not inside a 200 stream, when the model refuses from the start
        await gather_or_cancel([choice.start() for choice in choices])
    except BaseException:
        for choice in choices:
            await choice.aclose()
        raise
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    events = chat_events(choices, meta, include_usage, getattr(request.state, "request_id", None))
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def refuse_unsupported(body: BaseModel, neutral: dict[str, tuple[Any, ...]]) -> None:
    """400 naming the first parameter set to something this worker cannot do."""
    for param, allowed in neutral.items():
        value = getattr(body, param)
        if not any(value is ok or (value == ok and not isinstance(value, bool)) for ok in allowed):
            raise WorkerError(
                400,
                f"{param}: not supported by this worker (the model cannot honour {param}={value!r})",
                code=ErrorCode.UNSUPPORTED_PARAMETER,
                param=param,
            )


def chat_messages(messages: list[ChatMessage]) -> list[Message]:
    converted = []
    for index, message in enumerate(messages):
        if message.role in ("tool", "function"):
            raise WorkerError(
                400,
                f"messages[{index}].role: {message.role} messages are not supported by this worker (it has no tools)",
                code=ErrorCode.UNSUPPORTED_VALUE,
                param=f"messages[{index}].role",
            )
        if isinstance(message.content, list):
            for part_index, part in enumerate(message.content):
                param = f"messages[{index}].content[{part_index}]"
                if part.type != "text":
                    raise WorkerError(
                        400,
                        f"{param}.type: only text content is supported, not {part.type!r}",
                        code=ErrorCode.UNSUPPORTED_VALUE,
                        param=f"{param}.type",
                    )
                if part.text is None:
                    raise WorkerError(
                        400,
                        f"{param}.text: a text part needs its text",
                        code=ErrorCode.MISSING_REQUIRED_PARAMETER,
                        param=f"{param}.text",
                    )
        converted.append(Message(_ROLES[message.role], message.text()))
    return converted


_ROLES: dict[str, Literal["system", "user", "assistant"]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def stop_strings(stop: str | list[str] | None) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > MAX_STOPS:
        raise WorkerError(400, f"stop: at most {MAX_STOPS} stop strings", code=ErrorCode.INVALID_VALUE, param="stop")
    if any(not text or len(text) > MAX_STOP_CHARS for text in stops):
        raise WorkerError(
            400,
            f"stop: each stop string must have 1 to {MAX_STOP_CHARS} characters",
            code=ErrorCode.INVALID_VALUE,
            param="stop",
        )
    return stops


@dataclass(frozen=True)
class _Meta:
    id: str
    created: int
    model: str

    def chunk(self, choices: list[ChunkChoice], usage: CompletionUsage | None = None) -> bytes:
        chunk = ChatCompletionChunk(
            id=self.id, object="chat.completion.chunk", created=self.created, model=self.model, choices=choices
        )
        if usage is not None:
            chunk.usage = usage
        return sse_event(chunk.model_dump_json(exclude_unset=True))


def _usage(results: list[ChoiceResult]) -> CompletionUsage:
    prompt = results[0].prompt_tokens if results else 0  # the same prompt for every choice
    completion = sum(result.completion_tokens for result in results)
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


async def chat_events(
    choices: list[Choice], meta: _Meta, include_usage: bool, request_id: str | None
) -> AsyncIterator[bytes]:
    """The SSE stream: role deltas, content deltas, each choice's finish, usage, [DONE]; errors in OpenAI's shape."""
    try:
        yield meta.chunk(
            [
                ChunkChoice(index=choice.index, delta=ChunkDelta(role="assistant", content=""), finish_reason=None)
                for choice in choices
            ]
        )
        async with aclosing(merge(choices)) as events:
            async for index, text in events:
                if text is not None:
                    yield meta.chunk([ChunkChoice(index=index, delta=ChunkDelta(content=text), finish_reason=None)])
                else:
                    result = choices[index].result
                    assert result is not None
                    yield meta.chunk([ChunkChoice(index=index, delta=ChunkDelta(), finish_reason=result.finish_reason)])
        if include_usage:
            results = [choice.result for choice in choices if choice.result is not None]
            yield meta.chunk([], usage=_usage(results))
        yield sse_event("[DONE]")
    except GeneratorError as exc:
        yield sse_event(from_generator_error(exc, request_id).body())
        yield sse_event("[DONE]")
    except Exception:
        log.exception("request %s: the stream failed", request_id or "-")
        yield sse_event(WorkerError(500, "the worker failed unexpectedly", code=ErrorCode.INTERNAL_ERROR).body())
        yield sse_event("[DONE]")
    finally:
        for choice in choices:  # a client that went away stops its rows of the batch
            await choice.aclose()


# ---- images and 3D ---------------------------------------------------------------


@router.post("/v1/images/generations", response_model=ImagesResponse, responses=_errors(400, 401, 404, 413, 422, 429))
async def images_generations(body: ImageRequest, worker: WorkerState = Worker) -> ImagesResponse:
    generator = worker.pick(body.model, "image")
    refuse_unsupported(body, UNSUPPORTED_IMAGE)
    options: dict[str, Any] = {
        key: value
        for key, value in (
            ("steps", body.steps),
            ("guidance", body.guidance),
            ("negative_prompt", body.negative_prompt),
        )
        if value is not None
    }
    if body.size and body.size != "auto":
        width, height = (int(side) for side in body.size.split("x"))
        options.update(width=width, height=height)
    request = GenerationRequest.from_prompt(
        "image", body.prompt, seed=body.seed, timeout_s=worker.request_timeout_s, options=options
    )
    outputs = await gather_or_cancel([generator.generate(one) for one in choice_requests(request, body.n or 1)])
    data = []
    for output in outputs:
        assert isinstance(output, ImageOutput)
        data.append(ImageData(b64_json=base64.b64encode(output.png).decode(), width=output.width, height=output.height))
    return ImagesResponse(created=int(time.time()), data=data)


@router.post("/v1/3d/generations", response_model=MeshResponse, responses=_errors(400, 401, 404, 413, 422, 429))
async def mesh_generations(body: MeshRequest, worker: WorkerState = Worker) -> MeshResponse:
    generator = worker.pick(body.model, "3d")
    image = None
    if body.image:
        try:
            image = base64.b64decode(body.image, validate=True)
        except (binascii.Error, ValueError):
            raise WorkerError(400, "image: not valid base64", code=ErrorCode.INVALID_VALUE, param="image") from None
    if not body.prompt.strip() and image is None:
        raise WorkerError(400, "prompt or image is required", code=ErrorCode.MISSING_REQUIRED_PARAMETER, param="prompt")
    options = {key: value for key, value in (("steps", body.steps), ("guidance", body.guidance)) if value is not None}
    request = GenerationRequest.from_prompt(
        "3d", body.prompt, seed=body.seed, image=image, timeout_s=worker.request_timeout_s, options=options
    )
    output = await generator.generate(request)
    assert isinstance(output, MeshOutput)
    return MeshResponse(
        created=int(time.time()),
        data=[MeshData(b64_glb=base64.b64encode(output.glb).decode(), vertices=output.vertices, faces=output.faces)],
    )
