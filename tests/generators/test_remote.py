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

import httpcore
import pytest
from PIL import Image

from generators.config import parse_models
from generators.net_guard import BlockedAddressError, PinnedBackend, check_url
from generators.protocol import ConfigError, GenerationRequest, GeneratorError
from generators.registry import build_generator

from .conftest import free_port
from .test_net_guard import FakeDNS, StubDialler

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
    assert "resolves to a loopback address" in raised.value.detail and "127.0.0.1" not in str(raised.value)
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


# ---- the pinned transport, through the backend ------------------------------------------


class ToLoopback(httpcore.AsyncNetworkBackend):
    """The final connect, stubbed: records the address the guard chose and connects to the
    test's loopback server instead, so nothing public is ever dialled."""

    def __init__(self, port: int):
        self.port = port
        self.dialled: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.dialled.append((host, port))
        return await httpcore.AnyIOBackend().connect_tcp("127.0.0.1", self.port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def public_remote(server: Misbehaving, modality: str = "image", **options):
    """A remote model at a public-looking name (no allow_private): the guard checks 8.8.8.8, the stub dials loopback."""
    generator = remote("http://models.example/v1", modality=modality, allow_private=False, **options)
    dialler = ToLoopback(int(server.url.rsplit(":", 1)[1]))
    generator.network_backend = PinnedBackend(resolver=lambda host, port: ["8.8.8.8"], inner=dialler)
    return generator, dialler


async def test_a_public_endpoint_is_dialled_at_the_address_that_was_checked():
    async with Misbehaving(lambda request: IMAGE_OK) as server:
        generator, dialler = public_remote(server)
        output = await generator.generate(image_request())
        await generator.close()
    assert output.width == 8
    assert dialler.dialled == [("8.8.8.8", 80)]
    assert server.requests[0]["headers"]["host"] == "models.example"


async def test_redirects_are_not_followed_through_the_guard():
    answer = http(302, "", headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    async with Misbehaving(lambda request: answer) as server:
        generator, dialler = public_remote(server)
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(image_request())
        await generator.close()
    assert "HTTP 302" in raised.value.detail and "169.254" not in str(raised.value)
    assert len(server.requests) == 1 and dialler.dialled == [("8.8.8.8", 80)]


async def test_size_and_time_caps_hold_through_the_guard():
    big = http(200, json.dumps({"data": [{"b64_json": "A" * 5000}]}))
    async with Misbehaving(lambda request: big) as server:
        generator, _ = public_remote(server, max_response_bytes=4096)
        with pytest.raises(GeneratorError, match="larger than the 4096-byte limit"):
            await generator.generate(image_request())
        await generator.close()
    async with Misbehaving(lambda request: None) as server:
        generator, _ = public_remote(server, read_timeout_s=0.3)
        with pytest.raises(GeneratorError, match="did not answer within 0.3 s"):
            await generator.generate(image_request())
        await generator.close()


async def test_a_rebinding_name_never_reaches_the_loopback_endpoint():
    async with Misbehaving(lambda request: IMAGE_OK) as server:
        port = int(server.url.rsplit(":", 1)[1])
        url = f"http://rebind.test:{port}/v1"
        dns = FakeDNS({"rebind.test": [["8.8.8.8"], ["127.0.0.1"]]})  # public first, loopback after
        await check_url(url, resolver=dns)  # what a submission sees: a public address
        generator = remote(url, allow_private=False)
        dialler = StubDialler()  # would dial loopback for real, were it asked to
        generator.network_backend = PinnedBackend(resolver=dns, inner=dialler)
        with pytest.raises(BlockedAddressError) as raised:
            await generator.generate(image_request())
        await generator.close()
    assert str(raised.value) == "the model's endpoint address is refused (it must be a public address that resolves)"
    assert "rebind.test resolves to a loopback address (127.0.0.1)" in raised.value.detail
    assert server.requests == [] and dialler.dialled == []


async def test_urls_with_credentials_or_numeric_spellings_are_refused_before_any_connection():
    for url in ("http://user:pw@models.example/v1", "http://2130706433/v1", "http://0x7f.1/v1"):
        generator = remote(url, allow_private=False)
        dialler = StubDialler()
        generator.network_backend = PinnedBackend(resolver=FakeDNS({}), inner=dialler)
        with pytest.raises(BlockedAddressError, match="^the model's endpoint address is refused"):
            await generator.generate(image_request())
        await generator.close()
        assert dialler.dialled == []


# ---- the key, in every spelling -------------------------------------------------------------


def key_pieces(text: str, key: str = SECRET) -> list[str]:
    """Every 8-character piece of the key (after its "sk-") found in `text`, ignoring case."""
    core = key.lower().removeprefix("sk-")
    return [core[i : i + 8] for i in range(len(core) - 7) if core[i : i + 8] in text.lower()]


ECHOES = [
    SECRET,
    SECRET.upper(),
    SECRET.lower(),
    f"Bearer {SECRET}",
    f"bearer {SECRET.upper()}",
    SECRET[:14] + "...",  # truncated
    SECRET[3:12],  # a 9-character piece without its prefix
    "..." + SECRET[-10:].swapcase(),
]


async def test_the_key_is_scrubbed_from_error_details_in_every_spelling(monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    body = json.dumps({"error": {"message": "bad key: " + " | ".join(ECHOES)}})
    async with Misbehaving(lambda request: http(401, body)) as server:
        generator = remote(server.url, api_key_env="ARENA_TEST_KEY")
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(image_request())
        await generator.close()
    error = raised.value
    assert str(error) == "the model's endpoint refused the arena's credentials (HTTP 401)"
    assert key_pieces(error.detail) == [] and key_pieces(str(error)) == []
    assert "bad key: ***" in error.detail and "Bearer ***" in error.detail


async def test_the_voter_message_names_no_model_host_or_address():
    page = json.dumps({"error": {"message": "secret-remote-model-v2 on gpu-node-7.internal.acme (10.1.2.3) is down"}})
    async with Misbehaving(lambda request: http(500, page)) as server:
        generator = remote(server.url, max_retries=0)
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(image_request())
        await generator.close()
    assert str(raised.value) == "the model failed to generate an answer (HTTP 500)"
    assert "gpu-node-7.internal.acme" in raised.value.detail  # for the operator's log
    generator = remote(f"http://127.0.0.1:{free_port()}", max_retries=0)
    with pytest.raises(GeneratorError) as raised:
        await generator.generate(image_request())
    await generator.close()
    assert str(raised.value) == "could not connect to the model's endpoint"


@pytest.mark.parametrize("echo", ECHOES[1:])
async def test_a_streamed_answer_carrying_the_key_is_withheld_before_any_piece_reaches_the_voter(echo, monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    text = f"Sure! The key you sent is {echo} - enjoy."
    chunks = [text[i : i + 3] for i in range(0, len(text), 3)]  # the key split across many chunks
    body = sse(*(delta(chunk) for chunk in chunks), "[DONE]")
    async with Misbehaving(lambda request: http(200, body, "text/event-stream")) as server:
        generator = remote(server.url, modality="text", api_key_env="ARENA_TEST_KEY")
        seen: list[str] = []
        with pytest.raises(GeneratorError, match="^the model's answer was withheld$") as raised:
            async for chunk in generator.stream(text_request()):
                seen.append(chunk)
        await generator.close()
    assert key_pieces("".join(seen)) == []
    assert "contains the arena's API key" in raised.value.detail


async def test_a_whole_answer_carrying_the_key_is_withheld_and_a_clean_one_passes(monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    answers = iter(
        [
            f"your key: {SECRET.upper()[:12]}",
            "keys look like sk-proj-... and begin with sk-; 0123 is no secret",
        ]
    )

    def respond(request):
        content = next(answers)
        return http(200, json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}))

    async with Misbehaving(respond) as server:
        generator = remote(server.url, modality="text", api_key_env="ARENA_TEST_KEY")
        with pytest.raises(GeneratorError, match="withheld"):
            await generator.generate(text_request())
        output = await generator.generate(text_request())
        await generator.close()
    assert output.text.startswith("keys look like sk-proj-")


async def test_a_clean_stream_arrives_whole_when_a_key_is_set(monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    body = sse(delta("Hel"), delta("lo, "), delta("world"), "[DONE]")
    async with Misbehaving(lambda request: http(200, body, "text/event-stream")) as server:
        generator = remote(server.url, modality="text", api_key_env="ARENA_TEST_KEY")
        output = await generator.generate(text_request())
        await generator.close()
    assert output.text == "Hello, world"


async def test_an_image_carrying_the_key_is_withheld(monkeypatch):
    from PIL import PngImagePlugin

    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.upper())
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6)).save(buffer, format="PNG", pnginfo=info)
    answer = http(200, json.dumps({"data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]}))
    async with Misbehaving(lambda request: answer) as server:
        generator = remote(server.url, api_key_env="ARENA_TEST_KEY")
        with pytest.raises(GeneratorError, match="withheld"):
            await generator.generate(image_request())
        await generator.close()
