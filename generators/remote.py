"""`openai`: any OpenAI-compatible endpoint (an author's server, vLLM, an `arena worker`).

The endpoint is untrusted: it may be slow, down, answer garbage, answer gigabytes or
echo our credentials back. Every such case ends as a GeneratorError with a short
message, within the request's time limit. The API key is read from the environment
at call time, sent only in the Authorization header and scrubbed from any text of
the endpoint's that ends up in an error message.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx

from generators.config import OpenAIEntry
from generators.net_guard import check_url
from generators.protocol import (
    ConfigError,
    GenerationRequest,
    Generator,
    GeneratorError,
    ImageOutput,
    MeshOutput,
    Usage,
)
from generators.sse import iter_sse_data

MAX_PIXELS = 4096 * 4096
_MAX_BACKOFF_S = 8.0
_MAX_RETRY_AFTER_S = 30.0
_MAX_ERROR_BODY = 4096
_MAX_MESSAGE = 200


class OpenAIGenerator(Generator):
    def __init__(self, entry: OpenAIEntry):
        super().__init__(entry.name, entry.modality)
        self.options = entry.options
        self.model_id = entry.options.model or entry.name
        parts = urlsplit(entry.options.base_url)
        self._where = f"{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._client: httpx.AsyncClient | None = None

    async def load(self) -> None:
        env = self.options.api_key_env
        if env and not os.environ.get(env):
            raise ConfigError(f"model {self.name!r}: options.api_key_env: environment variable {env} is not set")
        self._client_or_new()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- modalities -------------------------------------------------------------

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
                text, usage = _parse_completion(await self._json(response))
                yield text
                if usage:
                    yield usage
                return
            if media != "text/event-stream":
                raise GeneratorError(f"{self.name}: the endpoint answered {media or 'no content type'}, "
                                     "expected text/event-stream")
            async for data in iter_sse_data(self._limited(response), self.options.max_response_bytes):
                if data.strip() == "[DONE]":
                    return
                for item in _parse_chunk(data, self._scrub):
                    yield item

    async def _generate(self, request: GenerationRequest) -> ImageOutput | MeshOutput:
        if request.modality == "image":
            return await self._generate_image(request)
        return await self._generate_mesh(request)

    async def _generate_image(self, request: GenerationRequest) -> ImageOutput:
        options = {**self.options.defaults, **request.options}
        payload = {"model": self.model_id, "prompt": request.prompt, "n": 1, "response_format": "b64_json",
                   **_pick(options, "steps", "guidance", "negative_prompt", "quality", "style")}
        if options.get("width") and options.get("height"):
            payload["size"] = f"{options['width']}x{options['height']}"
        elif options.get("size"):
            payload["size"] = options["size"]
        if request.seed is not None:
            payload["seed"] = request.seed
        async with self._post("/images/generations", payload) as response:
            item = _first_item(await self._json_of(response))
            return decode_image(_b64(item, "b64_json"))

    async def _generate_mesh(self, request: GenerationRequest) -> MeshOutput:
        options = {**self.options.defaults, **request.options}
        payload = {"model": self.model_id, "prompt": request.prompt, "response_format": "b64_glb",
                   **_pick(options, "steps", "guidance")}
        if request.image is not None:
            payload["image"] = base64.b64encode(request.image).decode()
        if request.seed is not None:
            payload["seed"] = request.seed
        async with self._post("/3d/generations", payload) as response:
            item = _first_item(await self._json_of(response))
            return decode_glb(_b64(item, "b64_glb"))

    # ---- transport ---------------------------------------------------------------

    def _client_or_new(self) -> httpx.AsyncClient:
        if self._client is None:
            options = self.options
            timeout = httpx.Timeout(connect=options.connect_timeout_s, read=options.read_timeout_s,
                                    write=options.read_timeout_s, pool=options.connect_timeout_s)
            # no redirects (they could lead past the address check) and no proxies from
            # the environment (a proxy would make the address check meaningless)
            self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)
        return self._client

    def _url(self, path: str) -> str:
        base = self.options.base_url
        return base + path if base.endswith("/v1") else f"{base}/v1{path}"

    def _api_key(self) -> str | None:
        env = self.options.api_key_env
        if not env:
            return None
        key = os.environ.get(env)
        if not key:
            raise GeneratorError(f"{self.name}: environment variable {env} is not set")
        return key

    def _scrub(self, text: str) -> str:
        """Endpoint-supplied text made safe for an error message: no key, short, one line."""
        env = self.options.api_key_env
        key = os.environ.get(env) if env else None
        if key:
            text = text.replace(key, "***")
        text = " ".join(text.split())
        return text[:_MAX_MESSAGE] + ("..." if len(text) > _MAX_MESSAGE else "")

    @asynccontextmanager
    async def _post(self, path: str, payload: dict):
        """POST with bounded retries (connection failures, 429, 5xx); yields a 2xx streaming response."""
        url = self._url(path)
        await check_url(url, self.options.allow_private)
        headers = {"Content-Type": "application/json"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        client = self._client_or_new()
        body = json.dumps(payload).encode()
        for attempt in range(self.options.max_retries + 1):
            retry_after = None
            try:
                response = await client.send(client.build_request("POST", url, content=body, headers=headers),
                                             stream=True)
            except httpx.ConnectTimeout:
                problem = f"{self.name}: timed out connecting to {self._where}"
            except httpx.TimeoutException:
                raise GeneratorError(f"{self.name}: {self._where} did not answer within "
                                     f"{self.options.read_timeout_s:g} s") from None
            except httpx.TransportError:
                problem = f"{self.name}: could not connect to {self._where}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        yield response
                    finally:
                        await response.aclose()
                    return
                detail = await self._error_detail(response)
                await response.aclose()
                problem = f"{self.name}: the endpoint answered HTTP {status}" + (f": {detail}" if detail else "")
                if status != 429 and status < 500:
                    raise GeneratorError(problem)
                retry_after = _retry_after(response)
            if attempt == self.options.max_retries:
                raise GeneratorError(problem)
            delay = retry_after if retry_after is not None else min(_MAX_BACKOFF_S, 0.25 * 2**attempt)
            await asyncio.sleep(delay + random.uniform(0, 0.05))

    async def _error_detail(self, response: httpx.Response) -> str:
        """The endpoint's own error message, if it sent a small JSON one."""
        try:
            raw = await _read_limited(response, _MAX_ERROR_BODY)
            error = json.loads(raw).get("error")
            message = error.get("message") if isinstance(error, dict) else error
            return self._scrub(str(message)) if message else ""
        except Exception:
            return ""

    async def _limited(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's bytes, failing once more than max_response_bytes have arrived."""
        limit = self.options.max_response_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise GeneratorError(f"{self.name}: the response is larger than the {limit}-byte limit")
        received = 0
        try:
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise GeneratorError(f"{self.name}: the response is larger than the {limit}-byte limit")
                yield chunk
        except httpx.TimeoutException:
            raise GeneratorError(f"{self.name}: {self._where} stalled for more than "
                                 f"{self.options.read_timeout_s:g} s") from None
        except httpx.TransportError:
            raise GeneratorError(f"{self.name}: the connection to {self._where} broke off") from None

    async def _json(self, response: httpx.Response) -> dict:
        raw = b"".join([chunk async for chunk in self._limited(response)])
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GeneratorError(f"{self.name}: the endpoint answered malformed JSON") from None
        if not isinstance(data, dict):
            raise GeneratorError(f"{self.name}: the endpoint answered JSON that is not an object")
        return data

    async def _json_of(self, response: httpx.Response) -> dict:
        media = _media_type(response)
        if media != "application/json":
            raise GeneratorError(f"{self.name}: the endpoint answered {media or 'no content type'}, "
                                 "expected application/json")
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


def _parse_chunk(data: str, scrub) -> list[str | Usage]:
    """Text deltas and usage from one chat.completion.chunk."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise GeneratorError("the endpoint sent a malformed stream chunk") from None
    if not isinstance(chunk, dict):
        raise GeneratorError("the endpoint sent a stream chunk that is not a JSON object")
    if chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise GeneratorError(f"the endpoint reported an error: {scrub(str(message))}")
    items: list[str | Usage] = []
    choices = chunk.get("choices") or []
    if not isinstance(choices, list):
        raise GeneratorError("the endpoint sent a stream chunk with invalid choices")
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            items.append(content)
    usage = _usage(chunk.get("usage"))
    if usage:
        items.append(usage)
    return items


def _parse_completion(data: dict) -> tuple[str, Usage | None]:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise GeneratorError("the endpoint answered a chat completion without choices[0].message") from None
    if not isinstance(content, str):
        raise GeneratorError("the endpoint answered a chat completion without text content")
    return content, _usage(data.get("usage"))


def _usage(raw) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int) and prompt >= 0 and completion >= 0:
        return Usage(prompt, completion)
    return None


def _first_item(data: dict) -> dict:
    items = data.get("data")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        if data.get("error"):
            raise GeneratorError("the endpoint reported an error instead of a result")
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
        scene = trimesh.load(io.BytesIO(raw), file_type="glb", force="scene")
    except Exception:
        raise GeneratorError("the endpoint's GLB could not be read") from None
    meshes = [geometry for geometry in scene.geometry.values() if isinstance(geometry, trimesh.Trimesh)]
    vertices = sum(len(mesh.vertices) for mesh in meshes)
    faces = sum(len(mesh.faces) for mesh in meshes)
    if vertices == 0 or faces == 0:
        raise GeneratorError("the endpoint's GLB holds an empty mesh")
    return MeshOutput(raw, vertices, faces)
