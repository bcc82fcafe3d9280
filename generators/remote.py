"""`openai`: any OpenAI-compatible endpoint (an author's server, vLLM, an `arena worker`).

The endpoint is untrusted: it may be slow, down, answer garbage, answer gigabytes or
echo our credentials back. Every such case ends as a GeneratorError within the
request's time limit. Its message (what a voter may see) is neutral: never the model's
name or remote id, the host, the key or the endpoint's own words. Its `detail` (for
operators' logs) says which model, which host and what the endpoint said, with the
API key scrubbed in every spelling (generators/redact.py). The key is read from the
environment at call time and sent only in the Authorization header; an answer that
carries it (text, image or mesh) is refused rather than shown.

Connections go through the net guard's pinned transport: the host is resolved once
per connection and only the public address that was checked is dialled (no DNS
rebinding), unless the entry says `allow_private: true`. Redirects are not followed.

Errors are read in every shape OpenAI-compatible servers send (OpenAI, vLLM old and
new, TGI; see generators/errors.py), as HTTP bodies and as events inside a stream. An
endpoint's "context length exceeded" becomes an InvalidRequestError with OpenAI's code,
so an `arena worker` in front of it answers 400 as OpenAI would.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import os
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit

import httpcore
import httpx

from generators.config import OpenAIEntry
from generators.errors import ErrorCode, UpstreamError, neutral_message, parse_error
from generators.net_guard import BlockedAddressError, PinnedBackend, PinnedTransport, split_url
from generators.protocol import (
    ConfigError,
    FinishReason,
    GenerationRequest,
    Generator,
    GeneratorError,
    ImageOutput,
    InvalidRequestError,
    MeshOutput,
    Usage,
)
from generators.redact import Secret
from generators.sse import iter_sse_data

MAX_PIXELS = 4096 * 4096
_MAX_BACKOFF_S = 8.0
_MAX_RETRY_AFTER_S = 30.0
_MAX_ERROR_BODY = 4096
_MAX_MESSAGE = 200
_MAX_DETAIL = 600


class OpenAIGenerator(Generator):
    def __init__(self, entry: OpenAIEntry, api_key: str | None = None):
        """`api_key`: the key itself (a submitted model's, decrypted by the arena), else options.api_key_env."""
        super().__init__(entry.name, entry.modality)
        self._key = api_key
        self.options = entry.options
        self.model_id = entry.options.model or entry.name
        parts = urlsplit(entry.options.base_url)
        self._where = f"{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._client: httpx.AsyncClient | None = None
        # what the client dials through (tests put in a resolver and a dialler of their own)
        self.network_backend: httpcore.AsyncNetworkBackend = PinnedBackend(allow_private=entry.options.allow_private)

    async def load(self) -> None:
        env = self.options.api_key_env
        if env and not self._key and not os.environ.get(env):
            raise ConfigError(f"model {self.name!r}: options.api_key_env: environment variable {env} is not set")
        self._client_or_new()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- modalities -------------------------------------------------------------

    # ---- errors ---------------------------------------------------------------------

    def _fail(self, message: str, detail: str) -> GeneratorError:
        """A neutral message for voters; the model, host and specifics (key scrubbed) for operators."""
        return GeneratorError(message, detail=self._detail(detail))

    def _detail(self, detail: str) -> str:
        return f"{self.name} ({self.model_id} at {self._where}): {self._scrub(detail, limit=_MAX_DETAIL)}"

    def _upstream_failure(self, error: UpstreamError) -> GeneratorError:
        """What the endpoint reported, as a GeneratorError: neutral message, its own words in `detail`."""
        said = " ".join(
            part
            for part in (
                f"HTTP {error.status}" if error.status else "an error event",
                f"type={error.type}" if error.type else "",
                f"code={error.code}" if error.code else "",
                f"param={error.param}" if error.param else "",
            )
            if part
        )
        detail = self._detail(f"the endpoint answered {said}: {error.message}")
        if error.category == "context_length_exceeded":
            return InvalidRequestError(
                neutral_message(error), param="messages", code=ErrorCode.CONTEXT_LENGTH_EXCEEDED, detail=detail
            )
        return GeneratorError(neutral_message(error), detail=detail)

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        payload = {
            **self.options.defaults,
            "model": self.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            **_pick(request.options, "temperature", "top_p"),
        }
        if request.seed is not None:
            payload["seed"] = request.seed
        async with self._post("/chat/completions", payload) as response:
            media = _media_type(response)
            if media == "application/json":  # a server that does not stream: one whole answer
                data = await self._json(response)
                self._raise_reported(data)
                text, usage = _parse_completion(data)
                secret = self._secret()
                if secret is not None and secret.leaks(text):
                    raise self._leak()
                yield text
                if usage:
                    yield usage
                return
            if media != "text/event-stream":
                raise self._fail(
                    "the model's endpoint answered an unexpected content type",
                    f"the endpoint answered {media or 'no content type'}, expected text/event-stream",
                )
            finish: FinishReason | None = None
            usage_seen = False
            words = 0
            # text is passed on a few characters late, so a piece of the key split across
            # chunks is caught before any of it reaches a voter
            secret = self._secret()
            hold = secret.holdback if secret is not None else 0
            sent_tail = pending = ""
            async for event in iter_sse_data(self._limited(response), self.options.max_response_bytes):
                if event.strip() == "[DONE]":
                    break
                chunk = _chunk_object(event)
                self._raise_reported(chunk)
                items, reason = _parse_chunk(chunk)
                finish = reason or finish
                for item in items:
                    if isinstance(item, Usage):
                        usage_seen = True
                        item = Usage(item.prompt_tokens, item.completion_tokens, finish)
                        yield item
                        continue
                    words += len(item.split())
                    pending += item
                    if secret is not None and secret.leaks(sent_tail + pending):
                        raise self._leak()
                    if len(pending) > hold:
                        ready, pending = pending[: len(pending) - hold], pending[len(pending) - hold :]
                        sent_tail = (sent_tail + ready)[-hold:] if hold else ""
                        yield ready
            if pending:
                yield pending
            if finish is not None and not usage_seen:  # the endpoint said why it ended but not how much
                yield Usage(0, words, finish)

    def _raise_reported(self, data: dict) -> None:
        """Raise if a JSON answer or stream event is an error report, in any engine's shape."""
        error = parse_error(data)
        if error is not None:
            raise self._upstream_failure(error)

    async def _generate(self, request: GenerationRequest) -> ImageOutput | MeshOutput:
        if request.modality == "image":
            return await self._generate_image(request)
        return await self._generate_mesh(request)

    async def _generate_image(self, request: GenerationRequest) -> ImageOutput:
        options = {**self.options.defaults, **request.options}
        payload = {
            "model": self.model_id,
            "prompt": request.prompt,
            "n": 1,
            "response_format": "b64_json",
            **_pick(options, "steps", "guidance", "negative_prompt", "quality", "style"),
        }
        if options.get("width") and options.get("height"):
            payload["size"] = f"{options['width']}x{options['height']}"
        elif options.get("size"):
            payload["size"] = options["size"]
        if request.seed is not None:
            payload["seed"] = request.seed
        async with self._post("/images/generations", payload) as response:
            item = _first_item(await self._json_of(response), self._raise_reported)
            return decode_image(self._unleaked(_b64(item, "b64_json")))

    async def _generate_mesh(self, request: GenerationRequest) -> MeshOutput:
        options = {**self.options.defaults, **request.options}
        payload = {
            "model": self.model_id,
            "prompt": request.prompt,
            "response_format": "b64_glb",
            **_pick(options, "steps", "guidance"),
        }
        if request.image is not None:
            payload["image"] = base64.b64encode(request.image).decode()
        if request.seed is not None:
            payload["seed"] = request.seed
        async with self._post("/3d/generations", payload) as response:
            item = _first_item(await self._json_of(response), self._raise_reported)
            return decode_glb(self._unleaked(_b64(item, "b64_glb")))

    # ---- transport ---------------------------------------------------------------

    def _client_or_new(self) -> httpx.AsyncClient:
        if self._client is None:
            options = self.options
            timeout = httpx.Timeout(
                connect=options.connect_timeout_s,
                read=options.read_timeout_s,
                write=options.read_timeout_s,
                pool=options.connect_timeout_s,
            )
            # no redirects (they could lead past the address check) and no proxies from
            # the environment (a proxy would make the address check meaningless); the
            # transport checks each connection's address and dials only that address
            self._client = httpx.AsyncClient(
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
                transport=PinnedTransport(self.network_backend),
            )
        return self._client

    def _url(self, path: str) -> str:
        base = self.options.base_url
        return base + path if base.endswith("/v1") else f"{base}/v1{path}"

    def _api_key(self) -> str | None:
        env = self.options.api_key_env
        if self._key:
            return self._key
        if not env:
            return None
        key = os.environ.get(env)
        if not key:
            raise self._fail(
                "the arena has no API key for the model's endpoint", f"environment variable {env} is not set"
            )
        return key

    def _secret(self) -> Secret | None:
        """The API key as a Secret to look for (any case, prefix or 8+ character piece); None if none."""
        env = self.options.api_key_env
        key = self._key or (os.environ.get(env) if env else None)
        return Secret(key) if key else None

    def _scrub(self, text: str, limit: int = _MAX_MESSAGE) -> str:
        """Endpoint-supplied text made safe for a log line: no key in any spelling, bounded, one line."""
        secret = self._secret()
        if secret is not None:
            text = secret.scrub(text)
        text = " ".join(text.split())
        if secret is not None:
            text = secret.scrub(text)  # a key once split by whitespace
        return text[:limit] + ("..." if len(text) > limit else "")

    def _leak(self) -> GeneratorError:
        return self._fail(
            "the model's answer was withheld", "the endpoint's answer contains the arena's API key for it"
        )

    def _unleaked(self, data: bytes) -> bytes:
        """`data` (a decoded image or mesh), refused if it carries the API key."""
        secret = self._secret()
        if secret is not None and secret.leaks_bytes(data):
            raise self._leak()
        return data

    async def check(self) -> None:
        """A health check: the endpoint lists its models (GET /v1/models). Raises GeneratorError."""
        async with self._send("GET", "/models", None) as response:
            data = await self._json_of(response)
        if not isinstance(data.get("data"), list):
            raise self._fail("the model's endpoint did not answer as expected", "GET /v1/models: no data list")

    def _post(self, path: str, payload: dict):
        return self._send("POST", path, payload)

    @asynccontextmanager
    async def _send(self, method: str, path: str, payload: dict | None):
        """A request with bounded retries (connection failures, 429, 5xx); yields a 2xx streaming response."""
        url = self._url(path)
        try:
            split_url(url)  # scheme, credentials, numeric spellings; the transport checks the address
        except BlockedAddressError as exc:
            raise self._blocked(exc) from None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        client = self._client_or_new()
        body = json.dumps(payload).encode() if payload is not None else None
        for attempt in range(self.options.max_retries + 1):
            retry_after = None
            try:
                response = await client.send(
                    client.build_request(method, url, content=body, headers=headers), stream=True
                )
            except BlockedAddressError as exc:  # the transport refused the address it resolved
                raise self._blocked(exc) from None
            except httpx.ConnectTimeout:
                problem = self._fail(
                    "timed out connecting to the model's endpoint", f"timed out connecting to {self._where}"
                )
            except httpx.TimeoutException:
                wait = f"{self.options.read_timeout_s:g} s"
                raise self._fail(
                    f"the model's endpoint did not answer within {wait}", f"{self._where} did not answer within {wait}"
                ) from None
            except httpx.TransportError as exc:
                problem = self._fail(
                    "could not connect to the model's endpoint",
                    f"could not connect to {self._where} ({type(exc).__name__})",
                )
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        yield response
                    finally:
                        await response.aclose()
                    return
                problem = self._upstream_failure(await self._error_of(response))
                await response.aclose()
                if status != 429 and status < 500:
                    raise problem
                retry_after = _retry_after(response)
            if attempt == self.options.max_retries:
                raise problem
            delay = retry_after if retry_after is not None else min(_MAX_BACKOFF_S, 0.25 * 2**attempt)
            await asyncio.sleep(delay + random.uniform(0, 0.05))

    def _blocked(self, exc: BlockedAddressError) -> BlockedAddressError:
        return BlockedAddressError(
            "the model's endpoint address is refused (it must be a public address that resolves)",
            detail=self._detail(str(exc)),
        )

    async def _error_of(self, response: httpx.Response) -> UpstreamError:
        """What a non-2xx answer says went wrong: its JSON error in any known shape, else its text."""
        status = response.status_code
        try:
            raw = await _read_limited(response, _MAX_ERROR_BODY)
        except (httpx.HTTPError, OSError):
            raw = b""
        try:
            error = parse_error(json.loads(raw), status)
        except ValueError:
            error = None
        if error is None:
            text = raw.decode("utf-8", errors="replace")
            error = UpstreamError(status=status, type=None, code=None, param=None, message=text)
        return error

    async def _limited(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's bytes, failing once more than max_response_bytes have arrived."""
        limit = self.options.max_response_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise self._fail(
                f"the response is larger than the {limit}-byte limit",
                f"Content-Length {declared} is over max_response_bytes {limit}",
            )
        received = 0
        try:
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise self._fail(
                        f"the response is larger than the {limit}-byte limit",
                        f"more than max_response_bytes {limit} arrived",
                    )
                yield chunk
        except httpx.TimeoutException:
            wait = f"{self.options.read_timeout_s:g} s"
            raise self._fail(
                f"the model's endpoint stalled for more than {wait}", f"{self._where} stalled for more than {wait}"
            ) from None
        except httpx.TransportError as exc:
            raise self._fail(
                "the connection to the model's endpoint broke off",
                f"the connection to {self._where} broke off ({type(exc).__name__})",
            ) from None

    async def _json(self, response: httpx.Response) -> dict:
        raw = b"".join([chunk async for chunk in self._limited(response)])
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise self._fail("the model's endpoint answered malformed JSON", "malformed JSON") from None
        if not isinstance(data, dict):
            raise self._fail(
                "the model's endpoint answered JSON that is not an object", f"JSON {type(data).__name__}, not an object"
            )
        return data

    async def _json_of(self, response: httpx.Response) -> dict:
        media = _media_type(response)
        if media != "application/json":
            raise self._fail(
                "the model's endpoint answered an unexpected content type",
                f"the endpoint answered {media or 'no content type'}, expected application/json",
            )
        return await self._json(response)


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    raw = b""
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) > limit:
            break
    return raw[:limit]


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(_MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        return None


def _pick(options: dict, *keys: str) -> dict:
    return {key: options[key] for key in keys if options.get(key) is not None}


def _chunk_object(data: str) -> dict:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise GeneratorError("the endpoint sent a malformed stream chunk") from None
    if not isinstance(chunk, dict):
        raise GeneratorError("the endpoint sent a stream chunk that is not a JSON object")
    return chunk


def _parse_chunk(chunk: dict) -> tuple[list[str | Usage], FinishReason | None]:
    """Text deltas, usage and the finish reason (if any) from one chat.completion.chunk."""
    items: list[str | Usage] = []
    finish = None
    choices = chunk.get("choices") or []
    if not isinstance(choices, list):
        raise GeneratorError("the endpoint sent a stream chunk with invalid choices")
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            items.append(content)
        if isinstance(choice, dict) and choice.get("finish_reason") in ("stop", "length"):
            finish = FinishReason(choice["finish_reason"])
    usage = _usage(chunk.get("usage"))
    if usage:
        items.append(usage)
    return items, finish


def _parse_completion(data: dict) -> tuple[str, Usage | None]:
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise GeneratorError("the endpoint answered a chat completion without choices[0].message") from None
    if not isinstance(content, str):
        raise GeneratorError("the endpoint answered a chat completion without text content")
    usage = _usage(data.get("usage"))
    reason = choice.get("finish_reason")
    if reason in ("stop", "length"):
        usage = Usage(
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else len(content.split()),
            FinishReason(reason),
        )
    return content, usage


def _usage(raw) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int) and prompt >= 0 and completion >= 0:
        return Usage(prompt, completion)
    return None


def _first_item(data: dict, raise_reported: Callable[[dict], None]) -> dict:
    raise_reported(data)  # a 200 that is an error report after all
    items = data.get("data")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise GeneratorError("the endpoint's answer has no data[0]")
    return items[0]


def _b64(item: dict, field: str) -> bytes:
    value = item.get(field)
    if not isinstance(value, str) or not value:
        raise GeneratorError(f"the endpoint's answer has no data[0].{field}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise GeneratorError(f"data[0].{field} is not valid base64") from None


def decode_image(raw: bytes) -> ImageOutput:
    """Check an image really is one (and not a decompression bomb); re-encode non-PNG as PNG."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(raw))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise GeneratorError(f"the image is too large ({width}x{height})")
        image.load()
    except GeneratorError:
        raise
    except Exception:
        raise GeneratorError("the endpoint's image could not be decoded") from None
    if image.format != "PNG":
        buffer = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(buffer, format="PNG")
        raw = buffer.getvalue()
    return ImageOutput(raw, width, height)


def decode_glb(raw: bytes) -> MeshOutput:
    """Check the bytes are a GLB holding a non-empty mesh; count its vertices and faces."""
    import trimesh

    if raw[:4] != b"glTF":
        raise GeneratorError("data[0].b64_glb is not a GLB file")
    try:
        scene = cast(trimesh.Scene, trimesh.load(io.BytesIO(raw), file_type="glb", force="scene"))
    except Exception:
        raise GeneratorError("the endpoint's GLB could not be read") from None
    meshes = [geometry for geometry in scene.geometry.values() if isinstance(geometry, trimesh.Trimesh)]
    vertices = sum(len(mesh.vertices) for mesh in meshes)
    faces = sum(len(mesh.faces) for mesh in meshes)
    if vertices == 0 or faces == 0:
        raise GeneratorError("the endpoint's GLB holds an empty mesh")
    return MeshOutput(raw, vertices, faces)
