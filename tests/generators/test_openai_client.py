"""The worker as a new user meets it: through the official `openai` Python client.

A real worker on loopback serves a tiny random Llama (tokenizer, chat template, the
batched step loop), a tiny Stable Diffusion pipeline, a demo text model and a model
that fails halfway through its answer.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from generators.protocol import GenerationRequest, Generator, GeneratorError, Usage

from .conftest import WorkerThread, local_entries

openai = pytest.importorskip("openai")

DEMO_TEXT = {"name": "demo-text", "modality": "text", "backend": "demo", "options": {"quality": 3}}
CONTEXT = 256  # the tiny Llama's max_position_embeddings


class FailsMidway(Generator):
    """Says a few words, then fails the way a backend does (an OOM, a dead GPU)."""

    def __init__(self) -> None:
        super().__init__("fails-midway", "text")

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        yield "It begins "
        yield "well, "
        raise GeneratorError("fails-midway ran out of memory", detail="CUDA OOM on cuda:0 (operator detail)")


@pytest.fixture(scope="module")
def worker(tiny_models):
    with WorkerThread(local_entries(tiny_models)[:2] + [DEMO_TEXT], extra={"fails-midway": FailsMidway()}) as running:
        yield running


@pytest.fixture(scope="module")
def client(worker):
    return openai.OpenAI(base_url=f"{worker.url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# ---- models ------------------------------------------------------------------------


def test_models_list_and_retrieve(client):
    listed = {model.id: model for model in client.models.list()}
    assert set(listed) == {"tiny-lm", "tiny-sd", "demo-text", "fails-midway"}
    assert listed["tiny-lm"].object == "model" and listed["tiny-lm"].owned_by == "open-arena"
    model = client.models.retrieve("tiny-sd")
    assert model.id == "tiny-sd" and model.model_extra["modality"] == "image"


def test_models_retrieve_miss(client):
    with pytest.raises(openai.NotFoundError) as error:
        client.models.retrieve("no-such-model")
    assert error.value.code == "model_not_found" and error.value.param == "model"
    assert error.value.type == "not_found_error"
    with pytest.raises(openai.NotFoundError) as error:  # the chat route says the same
        client.chat.completions.create(model="no-such-model", messages=ask("hi"))
    assert error.value.code == "model_not_found"


# ---- chat --------------------------------------------------------------------------


def test_chat_without_streaming(client):
    answer = client.chat.completions.create(model="tiny-lm", messages=ask("a red cube"), max_tokens=7, seed=3)
    assert answer.object == "chat.completion" and answer.model == "tiny-lm" and answer.id.startswith("chatcmpl-")
    assert len(answer.choices) == 1 and answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content and answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 7 and answer.usage.prompt_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 7


def test_chat_streaming_with_usage_matches_the_whole_answer_for_a_seed(client):
    kwargs = {
        "model": "tiny-lm",
        "messages": ask("the quick brown fox"),
        "max_tokens": 12,
        "seed": 11,
        "temperature": 0.9,
    }
    whole = client.chat.completions.create(**kwargs)
    again = client.chat.completions.create(**kwargs)
    assert again.choices[0].message.content == whole.choices[0].message.content  # seed reproducibility
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    deltas = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len([delta for delta in deltas if delta]) > 1
    assert "".join(deltas) == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    without_usage = list(client.chat.completions.create(**kwargs, stream=True))
    assert all(chunk.usage is None for chunk in without_usage)


def _stop_across_a_boundary(chunks: list[str]) -> tuple[str, str]:
    """A stop string that first occurs split between two chunks, and the text before it."""
    full = "".join(chunks)
    boundary = 0
    for chunk in chunks[:-1]:
        boundary += len(chunk)
        stop = full[boundary - 2 : boundary + 2]
        if (
            boundary >= 4
            and len(stop) == 4
            and stop.isascii()
            and stop.isprintable()
            and full.find(stop) == boundary - 2
        ):
            return stop, full[: boundary - 2]
    raise AssertionError(f"no usable chunk boundary in {chunks!r}")


@pytest.mark.parametrize("model, temperature", [("demo-text", None), ("tiny-lm", 0.9)])
def test_stop_strings_cut_the_text_even_across_chunks(client, model, temperature):
    kwargs = {"model": model, "messages": ask("tell me about the sea and the sky"), "max_tokens": 40, "seed": 5}
    if temperature is not None:
        kwargs["temperature"] = temperature
    free = [
        c.choices[0].delta.content or "" for c in client.chat.completions.create(**kwargs, stream=True) if c.choices
    ]
    stop, before = _stop_across_a_boundary([chunk for chunk in free if chunk])

    cut = client.chat.completions.create(**kwargs, stop=[stop, "never-appears-zq"])
    assert cut.choices[0].message.content == before and cut.choices[0].finish_reason == "stop"
    assert 0 < cut.usage.completion_tokens < 40

    streamed = [c for c in client.chat.completions.create(**kwargs, stop=stop, stream=True) if c.choices]
    deltas = [c.choices[0].delta.content or "" for c in streamed]
    assert "".join(deltas) == before and stop not in "".join(deltas)
    assert streamed[-1].choices[0].finish_reason == "stop"


def test_a_stop_string_stops_the_models_row(client, worker):
    kwargs = {"model": "tiny-lm", "messages": ask("a red cube"), "seed": 8, "temperature": 0.9}
    free = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(**kwargs, max_tokens=30, stream=True)
        if c.choices
    ]
    stop, before = _stop_across_a_boundary([chunk for chunk in free if chunk])
    passes = httpx.get(f"{worker.url}/health").json()["models"]["tiny-lm"]["forward_passes"]
    answer = client.chat.completions.create(**kwargs, max_tokens=230, stop=stop)
    assert answer.choices[0].message.content == before and answer.choices[0].finish_reason == "stop"
    spent = httpx.get(f"{worker.url}/health").json()["models"]["tiny-lm"]["forward_passes"] - passes
    assert spent < 150, f"the row ran on for {spent} steps after its stop string"


def test_n_returns_n_choices_with_seeds_derived_from_the_request(client):
    kwargs = {"model": "tiny-lm", "messages": ask("hello world"), "max_tokens": 10, "seed": 21, "temperature": 1.0}
    single = client.chat.completions.create(**kwargs)
    pair = client.chat.completions.create(**kwargs, n=2)
    assert [choice.index for choice in pair.choices] == [0, 1]
    texts = [choice.message.content for choice in pair.choices]
    assert texts[0] == single.choices[0].message.content and texts[0] != texts[1]
    assert pair.usage.completion_tokens == 20 and pair.usage.prompt_tokens == single.usage.prompt_tokens
    assert client.chat.completions.create(**kwargs, n=2).choices[1].message.content == texts[1]

    streamed: dict[int, str] = {0: "", 1: ""}
    finished = set()
    for chunk in client.chat.completions.create(**kwargs, n=2, stream=True):
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert streamed == {0: texts[0], 1: texts[1]} and finished == {0, 1}

    demo = client.chat.completions.create(model="demo-text", messages=ask("the sea"), n=3)  # no seed: still differ
    assert len({choice.message.content for choice in demo.choices}) == 3


@pytest.mark.parametrize(
    "param, value",
    [
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("response_format", {"type": "json_object"}),
        ("presence_penalty", 0.5),
        ("frequency_penalty", -0.3),
        ("logit_bias", {"42": 5}),
        ("reasoning_effort", "high"),
    ],
)
def test_parameters_the_model_cannot_honour_are_refused_by_name(client, param, value):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="demo-text", messages=ask("hi"), **{param: value})
    assert error.value.param == param and error.value.code == "unsupported_parameter"
    assert error.value.type == "invalid_request_error" and param in error.value.message


def test_neutral_values_of_unsupported_parameters_are_accepted(client):
    answer = client.chat.completions.create(
        model="demo-text",
        messages=ask("hi"),
        max_tokens=5,
        presence_penalty=0,
        frequency_penalty=0.0,
        logit_bias={},
        logprobs=False,
        response_format={"type": "text"},
        tool_choice="none",
        user="someone",
    )
    assert answer.choices[0].message.content


def test_unknown_parameters_and_content_are_refused_by_name(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="demo-text", messages=ask("hi"), extra_body={"top_k": 5})
    assert (error.value.param, error.value.code) == ("top_k", "unsupported_parameter")
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="demo-text", messages=[{"role": "user", "content": image}])
    assert error.value.param == "messages[0].content[0].type"
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="demo-text", messages=ask("hi"), n=99)
    assert (error.value.param, error.value.code) == ("n", "invalid_value")


def test_context_overflow_is_a_400_with_openais_code(client):
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as error:
            client.chat.completions.create(model="tiny-lm", messages=ask("word " * 300), max_tokens=4, stream=stream)
        assert error.value.code == "context_length_exceeded" and error.value.param == "messages"
        assert "too long" in error.value.message


def test_finish_reason_is_length_when_the_context_window_fills(client):
    answer = client.chat.completions.create(model="tiny-lm", messages=ask("hello world"))  # no max_tokens
    assert answer.usage.prompt_tokens + answer.usage.completion_tokens == CONTEXT
    assert answer.choices[0].finish_reason == "length"
    chunks = list(
        client.chat.completions.create(
            model="tiny-lm", messages=ask("hello world"), stream=True, stream_options={"include_usage": True}
        )
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.total_tokens == CONTEXT


def test_demo_finish_reasons(client):
    cut = client.chat.completions.create(model="demo-text", messages=ask("the sea"), max_tokens=3, seed=1)
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 3
    whole = client.chat.completions.create(model="demo-text", messages=ask("the sea"), seed=1)
    assert whole.choices[0].finish_reason == "stop" and whole.usage.completion_tokens > 3


def test_an_error_inside_a_stream_has_openais_shape(client, worker):
    stream = client.chat.completions.create(model="fails-midway", messages=ask("hi"), stream=True)
    received = []
    with pytest.raises(openai.APIError) as error:
        for chunk in stream:
            received.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(received) == "It begins well, "
    assert error.value.code == "generation_failed" and error.value.type == "server_error"
    assert "ran out of memory" in error.value.message and "operator detail" not in error.value.message
    body = {"model": "fails-midway", "stream": True, "messages": ask("hi")}
    with httpx.stream("POST", f"{worker.url}/v1/chat/completions", json=body, timeout=30) as response:
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2]) == {
        "error": {
            "message": "fails-midway ran out of memory",
            "type": "server_error",
            "param": None,
            "code": "generation_failed",
        }
    }


def test_a_failure_before_the_first_token_is_an_http_status(worker):
    response = httpx.post(
        f"{worker.url}/v1/images/generations", timeout=30, json={"model": "tiny-sd", "prompt": "x", "size": "65x64"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "width and height must be multiples of 8 between 64 and 2048",
        "type": "invalid_request_error",
        "param": "size",
        "code": "invalid_value",
    }


# ---- images ------------------------------------------------------------------------


def test_images(client):
    result = client.images.generate(
        model="tiny-sd", prompt="a red cube", size="64x64", response_format="b64_json", extra_body={"seed": 2}
    )
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
    assert image.format == "PNG" and image.size == (64, 64)
    pair = client.images.generate(model="tiny-sd", prompt="a red cube", size="64x64", n=2, extra_body={"seed": 2})
    assert len(pair.data) == 2 and pair.data[0].b64_json == result.data[0].b64_json
    assert pair.data[1].b64_json != pair.data[0].b64_json
    with pytest.raises(openai.BadRequestError) as error:
        client.images.generate(model="tiny-sd", prompt="a red cube", response_format="url")
    assert error.value.param == "response_format"
    with pytest.raises(openai.BadRequestError) as error:
        client.images.generate(model="tiny-sd", prompt="a red cube", style="vivid")
    assert (error.value.param, error.value.code) == ("style", "unsupported_parameter")
    with pytest.raises(openai.BadRequestError) as error:
        client.images.generate(model="tiny-lm", prompt="a red cube")
    assert error.value.param == "model"


# ---- transport: size limit, request ids, schema ------------------------------------


def test_oversized_bodies_are_refused_with_413(client, worker):
    with pytest.raises(openai.APIStatusError) as error:
        client.chat.completions.create(model="demo-text", messages=ask("x" * 2_000_000))
    assert error.value.status_code == 413 and error.value.code == "request_too_large"
    assert error.value.request_id

    def chunked():  # no Content-Length: the cap holds while reading
        for _ in range(40):
            yield b" " * 65536

    response = httpx.post(f"{worker.url}/v1/chat/completions", content=chunked(), timeout=30)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_every_response_has_a_request_id(client, worker):
    raw = client.chat.completions.with_raw_response.create(model="demo-text", messages=ask("hi"), max_tokens=3)
    assert raw.headers["x-request-id"].startswith("req_")
    echoed = client.models.with_raw_response.list(extra_headers={"X-Request-ID": "trace-42.a:b"})
    assert echoed.headers["x-request-id"] == "trace-42.a:b"
    for insane in ("has spaces in it", "x" * 300, "<script>"):
        response = httpx.get(f"{worker.url}/v1/models", headers={"x-request-id": insane})
        assert response.headers["x-request-id"].startswith("req_")
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="demo-text", messages=ask("hi"), logprobs=True)
    assert error.value.request_id.startswith("req_")
    assert httpx.get(f"{worker.url}/nowhere").headers["x-request-id"]
    with httpx.stream(
        "POST",
        f"{worker.url}/v1/chat/completions",
        timeout=30,
        json={"model": "demo-text", "stream": True, "messages": ask("hi")},
    ) as response:
        assert response.headers["x-request-id"].startswith("req_")


def test_openapi_documents_the_bodies(worker):
    schema = httpx.get(f"{worker.url}/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {
        "ChatRequest",
        "ChatCompletion",
        "ChatCompletionChunk",
        "ImagesResponse",
        "MeshResponse",
        "ModelList",
        "ModelCard",
        "ErrorResponse",
    } <= set(components)
    assert "HTTPValidationError" not in components
    chat = schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert chat["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatCompletion")
    assert chat["200"]["content"]["text/event-stream"]["schema"]["$ref"].endswith("/ChatCompletionChunk")
    for status in ("400", "404", "413", "422"):
        assert chat[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert set(components["ErrorDetail"]["properties"]) == {"message", "type", "param", "code"}
