"""The `openai` backend against endpoints that misbehave in every way we could think of.

The server here is a raw asyncio HTTP responder so each test controls the exact bytes:
lies in Content-Length, streams that stall, bodies that never end.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re

import pytest
from PIL import Image

from generators.config import parse_models
from generators.net_guard import BlockedAddressError
from generators.protocol import ConfigError, GenerationRequest, GeneratorError
from generators.registry import build_generator

from .conftest import free_port

SECRET = "sk-test-0123456789abcdef-SECRET"


def png_b64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (1, 2, 3)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def http(
    status: int, body: bytes | str = b"", content_type: str = "application/json", headers: dict | None = None
) -> bytes:
    body = body.encode() if isinstance(body, str) else body
    head = [
        f"HTTP/1.1 {status} X",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


IMAGE_OK = http(200, json.dumps({"created": 1, "data": [{"b64_json": png_b64()}]}))


class Misbehaving:
    """Answers each request with `respond(request)`: raw bytes, an async byte iterator, or None (hang)."""

    def __init__(self, respond):
        self.respond = respond
        self.requests: list[dict] = []

    async def __aenter__(self) -> Misbehaving:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            lines = head.split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            request = {"path": lines[0].split()[1], "headers": headers, "json": json.loads(body or b"null")}
            self.requests.append(request)
            answer = self.respond(request)
            if answer is None:
                await asyncio.Event().wait()
            elif isinstance(answer, bytes):
                writer.write(answer)
            else:
                async for part in answer:
                    writer.write(part)
                    await writer.drain()
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def remote(url: str, modality: str = "image", **options):
    options = {"base_url": url, "allow_private": True, "read_timeout_s": 5, "max_retries": 2, **options}
    entry = {"name": "remote-model", "modality": modality, "backend": "openai", "options": options}
    return build_generator(parse_models({"models": [entry]})[0])


def image_request(**kwargs):
    return GenerationRequest.from_prompt("image", "a red cube", timeout_s=30, **kwargs)


def text_request(**kwargs):
    return GenerationRequest.from_prompt("text", "hello", timeout_s=30, **kwargs)


async def test_image_success_sends_the_protocol_fields():
    async with Misbehaving(lambda request: IMAGE_OK) as server:
        generator = remote(server.url, defaults={"width": 64, "height": 32})
        output = await generator.generate(image_request(seed=5))
        await generator.close()
    assert (output.width, output.height) == (8, 6) and output.png[:4] == b"\x89PNG"
    sent = server.requests[0]
    assert sent["path"] == "/v1/images/generations"
    assert sent["json"] == {
        "model": "remote-model",
        "prompt": "a red cube",
        "n": 1,
        "response_format": "b64_json",
        "size": "64x32",
        "seed": 5,
    }


async def test_slow_endpoint_times_out_without_retrying():
    async with Misbehaving(lambda request: None) as server:
        generator = remote(server.url, read_timeout_s=0.3)
        with pytest.raises(GeneratorError, match="did not answer within 0.3 s"):
            await generator.generate(image_request())
        await generator.close()
    assert len(server.requests) == 1


async def test_request_time_limit_bounds_everything():
    async with Misbehaving(lambda request: None) as server:
        generator = remote(server.url, read_timeout_s=600)
        with pytest.raises(GeneratorError, match="timed out"):
            await generator.generate(GenerationRequest.from_prompt("image", "x", timeout_s=0.3))
        await generator.close()


async def test_server_error_is_retried_a_bounded_number_of_times():
    answer = http(500, json.dumps({"error": {"message": "GPU on fire"}}), headers={"Retry-After": "0"})
    async with Misbehaving(lambda request: answer) as server:
        generator = remote(server.url, max_retries=2)
        with pytest.raises(GeneratorError, match=r"^the model failed to generate an answer \(HTTP 500\)$") as raised:
            await generator.generate(image_request())
        assert "HTTP 500" in raised.value.detail and "GPU on fire" in raised.value.detail
        await generator.close()
    assert len(server.requests) == 3


async def test_rate_limited_then_success():
    answers = iter([http(429, "{}", headers={"Retry-After": "0"}), http(503, "oops", "text/plain"), IMAGE_OK])
    async with Misbehaving(lambda request: next(answers)) as server:
        generator = remote(server.url, max_retries=3)
        output = await generator.generate(image_request())
        await generator.close()
    assert output.width == 8 and len(server.requests) == 3


async def test_client_errors_are_not_retried():
    async with Misbehaving(lambda request: http(400, json.dumps({"error": {"message": "bad size"}}))) as server:
        generator = remote(server.url)
        with pytest.raises(GeneratorError, match=r"refused the request \(HTTP 400\)$") as raised:
            await generator.generate(image_request())
        assert "bad size" in raised.value.detail
        await generator.close()
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answer, message",
    [
        (http(200, "{not json"), "malformed JSON"),
        (http(200, "[1, 2]"), "not an object"),
        (http(200, "<html>hi</html>", "text/html"), "answered text/html, expected application/json"),  # detail
        (http(200, json.dumps({"data": []})), r"no data\[0\]"),
        (http(200, json.dumps({"data": [{"b64_json": "@@@"}]})), "not valid base64"),
        (
            http(200, json.dumps({"data": [{"b64_json": base64.b64encode(b"GIF89a-junk").decode()}]})),
            "could not be decoded",
        ),
        (http(302, "", headers={"Location": "http://169.254.169.254/"}), "HTTP 302"),
    ],
)
async def test_malformed_answers_are_clear_errors(answer, message):
    async with Misbehaving(lambda request: answer) as server:
        generator = remote(server.url)
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(image_request())
        await generator.close()
    assert re.search(message, f"{raised.value} | {raised.value.detail}")
    assert "127.0.0.1" not in str(raised.value) and "remote-model" not in str(raised.value)


async def test_oversized_bodies_are_cut_off():
    big = http(200, json.dumps({"data": [{"b64_json": "A" * 5000}]}))

    async def endless():  # chunked, no Content-Length: the limit must hold while reading
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in range(10_000):
            yield b"400\r\n" + b" " * 1024 + b"\r\n"

    for answer in (big, endless()):
        async with Misbehaving(lambda request, answer=answer: answer) as server:
            generator = remote(server.url, max_response_bytes=4096)
            with pytest.raises(GeneratorError, match="larger than the 4096-byte limit"):
                await generator.generate(image_request())
            await generator.close()


async def test_connection_refused():
    generator = remote(f"http://127.0.0.1:{free_port()}", max_retries=1)
    with pytest.raises(GeneratorError, match="^could not connect to the model's endpoint$") as raised:
        await generator.generate(image_request())
    await generator.close()
    assert "could not connect to 127.0.0.1" in raised.value.detail


async def test_loopback_is_refused_without_allow_private():
    async with Misbehaving(lambda request: IMAGE_OK) as server:
        generator = remote(server.url, allow_private=False)
        with pytest.raises(BlockedAddressError, match="must be a public address") as raised:
            await generator.generate(image_request())
        await generator.close()
    assert "private, loopback or link-local" in raised.value.detail and "127.0.0.1" not in str(raised.value)
    assert server.requests == []


async def test_api_key_is_sent_but_never_leaks(monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)

    def echo(request):
        auth = request["headers"].get("authorization", "")
        if request["path"].endswith("/chat/completions"):
            chunk = json.dumps({"error": {"message": f"stream says {auth}"}})
            return http(200, f"data: {chunk}\n\n", "text/event-stream")
        return http(401, json.dumps({"error": {"message": f"bad key {auth}"}}))

    async with Misbehaving(echo) as server:
        generator = remote(server.url, api_key_env="ARENA_TEST_KEY")
        await generator.load()
        with pytest.raises(GeneratorError) as image_error:
            await generator.generate(image_request())
        text = remote(server.url, modality="text", api_key_env="ARENA_TEST_KEY")
        with pytest.raises(GeneratorError) as text_error:
            await text.generate(text_request())
        await generator.close()
        await text.close()
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    for error in (image_error.value, text_error.value):
        assert SECRET not in str(error) and SECRET not in error.detail and "***" in error.detail
    assert SECRET not in json.dumps(server.requests[0]["json"])


async def test_missing_api_key_variable(monkeypatch):
    monkeypatch.delenv("ARENA_TEST_KEY", raising=False)
    generator = remote("http://127.0.0.1:9", api_key_env="ARENA_TEST_KEY")
    with pytest.raises(ConfigError, match="ARENA_TEST_KEY is not set"):
        await generator.load()
    with pytest.raises(GeneratorError, match="^the arena has no API key for the model's endpoint$") as raised:
        await generator.generate(image_request())
    assert "ARENA_TEST_KEY is not set" in raised.value.detail


def sse(*events: str) -> bytes:
    return "".join(f"data: {event}\n\n" for event in events).encode()


def delta(text: str) -> str:
    return json.dumps({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]})


async def test_text_stream_and_usage():
    usage = json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    body = sse(delta("Hel"), delta("lo"), usage, "[DONE]")
    async with Misbehaving(lambda request: http(200, body, "text/event-stream; charset=utf-8")) as server:
        generator = remote(server.url, modality="text")
        stream = generator.stream(text_request(seed=4))
        assert [chunk async for chunk in stream] == ["Hel", "lo"]
        await generator.close()
    assert (stream.output.text, stream.output.prompt_tokens, stream.output.completion_tokens) == ("Hello", 3, 2)
    sent = server.requests[0]["json"]
    assert sent["stream"] is True and sent["seed"] == 4 and sent["messages"] == [{"role": "user", "content": "hello"}]


async def test_text_endpoint_that_does_not_stream_is_accepted():
    body = json.dumps(
        {
            "choices": [{"message": {"role": "assistant", "content": "whole"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }
    )
    async with Misbehaving(lambda request: http(200, body)) as server:
        generator = remote(server.url, modality="text")
        output = await generator.generate(text_request())
        await generator.close()
    assert output.text == "whole"


async def test_text_stream_that_stalls_midway():
    async def stall():
        yield b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        yield sse(delta("partial"))
        await asyncio.Event().wait()

    async with Misbehaving(lambda request: stall()) as server:
        generator = remote(server.url, modality="text", read_timeout_s=0.3)
        with pytest.raises(GeneratorError, match="stalled"):
            await generator.generate(text_request())
        await generator.close()


@pytest.mark.parametrize(
    "answer, message",
    [
        (http(200, sse("{broken"), "text/event-stream"), "malformed stream chunk"),
        (http(200, sse('"a string"'), "text/event-stream"), "not a JSON object"),
        (http(200, "<html>", "text/html"), "expected text/event-stream"),
        (http(200, sse(json.dumps({"error": {"message": "overloaded"}})), "text/event-stream"), "overloaded"),
    ],
)
async def test_malformed_streams(answer, message):
    async with Misbehaving(lambda request: answer) as server:
        generator = remote(server.url, modality="text")
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(text_request())
        await generator.close()
    assert message in f"{raised.value} | {raised.value.detail}"


async def test_mesh_answers_are_validated():
    answers = iter(
        [
            http(200, json.dumps({"data": [{"b64_glb": base64.b64encode(b"not a glb").decode()}]})),
            http(200, json.dumps({"data": [{"b64_json": png_b64()}]})),
        ]
    )
    async with Misbehaving(lambda request: next(answers)) as server:
        generator = remote(server.url, modality="3d")
        with pytest.raises(GeneratorError, match="not a GLB"):
            await generator.generate(GenerationRequest.from_prompt("3d", "cube"))
        with pytest.raises(GeneratorError, match=r"no data\[0\].b64_glb"):
            await generator.generate(GenerationRequest.from_prompt("3d", "cube"))
        await generator.close()
