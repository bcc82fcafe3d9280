"""The worker's request and response bodies, as OpenAI's clients send and expect them.

Requests forbid fields this worker does not know (a 400 naming the field, instead of
silently ignoring it). Parameters OpenAI defines that the worker cannot honour are
declared with the values that change nothing (`presence_penalty: 0`, `tools: []`,
`response_format: {"type": "text"}`, ...): those are accepted, anything else is
refused by name (see `UNSUPPORTED_CHAT`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from generators.protocol import FinishReason

MAX_TOKENS_CAP = 8192  # also the default: generate until the model stops or its context window is full
MAX_CHOICES = 16
MAX_IMAGES = 8
MAX_STOPS = 16
MAX_STOP_CHARS = 256
INT64 = 2**63


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- chat ------------------------------------------------------------------------


class ContentPart(BaseModel):
    """A part of a message's content; only `text` parts are understood (others are refused by type)."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None  # a participant's name: accepted, not shown to the model

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content)
        return self.content or ""


class StreamOptions(_Request):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None  # padding against length side channels; none is added


class ChatRequest(_Request):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_CAP)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_CAP)
    n: int | None = Field(None, ge=1, le=MAX_CHOICES)
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    # bookkeeping a worker has no use for: accepted, changes nothing
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    metadata: dict[str, str] | None = None
    # defined by OpenAI, not honoured here: only their neutral values pass (UNSUPPORTED_CHAT)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None
    service_tier: str | None = None
    store: bool | None = None


#: parameter -> the values that ask for nothing this worker cannot do
UNSUPPORTED_CHAT: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (None, 0),
    "presence_penalty": (None, 0),
    "logit_bias": (None, {}),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "response_format": (None, {"type": "text"}),
    "tools": (None, []),
    "tool_choice": (None, "none", "auto"),
    "functions": (None, []),
    "function_call": (None, "none", "auto"),
    "audio": (None,),
    "modalities": (None, ["text"]),
    "prediction": (None,),
    "reasoning_effort": (None,),
    "verbosity": (None,),
    "web_search_options": (None,),
    "service_tier": (None, "auto", "default"),
    "store": (None, False),
}


class CompletionUsage(_Response):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(_Response):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChatChoice(_Response):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: None = None


class ChatCompletion(_Response):
    """The answer to a chat request without `stream`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: CompletionUsage


class ChunkDelta(_Response):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(_Response):
    index: int
    delta: ChunkDelta
    finish_reason: FinishReason | None = None
    logprobs: None = None


class ChatCompletionChunk(_Response):
    """One `data:` event of a streamed chat answer (the stream ends with `data: [DONE]`).

    Each choice opens with a delta carrying the role, then content deltas, then one with
    its `finish_reason`; with `stream_options.include_usage` a last chunk has no choices
    and the `usage` of all of them.
    """

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None


# ---- images and 3D ---------------------------------------------------------------


class ImageRequest(_Request):
    model: str
    prompt: str = Field(min_length=1, max_length=32_000)
    n: int | None = Field(None, ge=1, le=MAX_IMAGES)
    size: str | None = Field(None, pattern=r"^(\d{2,4}x\d{2,4}|auto)$")
    response_format: Literal["b64_json"] | None = None
    output_format: Literal["png"] | None = None
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    user: str | None = None
    # this project's extensions (diffusers pipelines' knobs)
    steps: int | None = Field(None, ge=1, le=200)
    guidance: float | None = Field(None, ge=0, le=50)
    negative_prompt: str | None = Field(None, max_length=32_000)
    # defined by OpenAI, not honoured here: only their neutral values pass (UNSUPPORTED_IMAGE)
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    moderation: str | None = None
    output_compression: int | None = None
    partial_images: int | None = None
    stream: bool | None = None


UNSUPPORTED_IMAGE: dict[str, tuple[Any, ...]] = {
    "quality": (None, "auto", "standard"),
    "style": (None,),
    "background": (None, "auto", "opaque"),
    "moderation": (None, "auto"),
    "output_compression": (None, 100),
    "partial_images": (None, 0),
    "stream": (None, False),
}


class ImageData(_Response):
    b64_json: str = Field(description="the PNG, base64")
    width: int
    height: int


class ImagesResponse(_Response):
    created: int
    data: list[ImageData]


class MeshRequest(_Request):
    """This project's extension: text- or image-to-3D, a binary glTF back."""

    model: str
    prompt: str = Field("", max_length=32_000)
    image: str | None = Field(None, description="base64 PNG or JPEG, for image-to-3D")
    response_format: Literal["b64_glb"] | None = None
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    user: str | None = None
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0, le=50)


class MeshData(_Response):
    b64_glb: str = Field(description="the GLB (binary glTF), base64")
    vertices: int
    faces: int


class MeshResponse(_Response):
    created: int
    data: list[MeshData]


# ---- models, health, errors ------------------------------------------------------


class ModelCard(_Response):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "open-arena"
    modality: str = Field(description="text, image or 3d (this project's extension)")


class ModelList(_Response):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(_Response):
    status: Literal["ok"] = "ok"
    models: dict[str, dict[str, Any]] = Field(
        description="per model: modality, request and forward-pass counts, queue length (`queued`) and refusals "
        "(`refused`); over the last minute p50/p99 of time to first token (`ttft_*`, text), queue wait "
        "(`queue_wait_*`) and batch compute (`compute_*`, images and 3D)"
    )


class ErrorDetail(_Response):
    message: str
    type: str = Field(description="invalid_request_error, not_found_error, server_error, ...")
    param: str | None = Field(None, description="the request field at fault, if one is")
    code: str | None = Field(None, description="context_length_exceeded, unsupported_parameter, ...")


class ErrorResponse(_Response):
    """Every error, as an HTTP body and as an event inside a stream."""

    error: ErrorDetail
