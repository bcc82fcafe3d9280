"""The `openai` backend drives vLLM's and TGI's OpenAI-compatible chat routes unchanged.

No live engine runs here (vLLM's wheel is CUDA-only, TGI needs Docker): each engine's
stream is replayed byte for byte on loopback, in the shape its server code writes it
(vLLM's `serving_chat.py` serialises chunks with `exclude_unset`, so `usage` appears only
on the last, choice-less chunk; TGI sends `"usage": null` on every chunk and a
`system_fingerprint`), with `stream_options.include_usage` as the backend asks.
"""

from __future__ import annotations

import json

import pytest

from generators.protocol import FinishReason, GenerationRequest

from .test_remote import Misbehaving, http, remote, sse

ROLE = {"role": "assistant", "content": ""}


def vllm(text: list[str], usage: dict) -> bytes:
    def chunk(choices: list, **extra) -> str:
        head = {"id": "chatcmpl-9f2c", "object": "chat.completion.chunk", "created": 1767225600, "model": "llama"}
        return json.dumps({**head, "choices": choices, **extra})

    def choice(delta: dict, finish: str | None = None) -> dict:
        body = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return body if finish is None else {**body, "stop_reason": None}

    events = [chunk([choice(ROLE)])]
    events += [chunk([choice({"content": piece})]) for piece in text]
    events += [chunk([choice({"content": ""}, "length")]), chunk([], usage=usage), "[DONE]"]
    return sse(*events)


def tgi(text: list[str], usage: dict) -> bytes:
    def chunk(choices: list, usage: dict | None = None) -> str:
        head = {"object": "chat.completion.chunk", "id": "", "created": 1767225600, "model": "tgi"}
        return json.dumps({**head, "system_fingerprint": "3.3.4-native", "choices": choices, "usage": usage})

    def choice(content: str, finish: str | None = None) -> dict:
        return {
            "index": 0,
            "delta": {"role": "assistant", "content": content},
            "logprobs": None,
            "finish_reason": finish,
        }

    events = [chunk([choice(piece)]) for piece in text[:-1]]
    events += [chunk([choice(text[-1], "length")]), chunk([], usage), "[DONE]"]
    return sse(*events)


@pytest.mark.parametrize("engine", [vllm, tgi], ids=["vllm", "tgi"])
async def test_the_openai_backend_streams_from_an_engine_with_its_usage(engine):
    usage = {"prompt_tokens": 9, "total_tokens": 13, "completion_tokens": 4}
    body = engine(["Once", " upon", " a", " time"], usage)
    async with Misbehaving(lambda request: http(200, body, "text/event-stream; charset=utf-8")) as server:
        generator = remote(server.url, modality="text", model="meta-llama/Llama-3.1-8B-Instruct")
        request = GenerationRequest.from_prompt("text", "tell me a story", seed=5, max_tokens=4, timeout_s=30)
        stream = generator.stream(request)
        assert "".join([chunk async for chunk in stream]) == "Once upon a time"
        await generator.close()
    output = stream.output
    assert (output.prompt_tokens, output.completion_tokens, output.finish_reason) == (9, 4, FinishReason.LENGTH)
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["json"]["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert sent["json"]["stream"] is True and sent["json"]["stream_options"] == {"include_usage": True}
    assert sent["json"]["max_tokens"] == 4 and sent["json"]["seed"] == 5
