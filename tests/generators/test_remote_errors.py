"""The `openai` backend reads OpenAI's, vLLM's and TGI's error payloads, and tells a voter nothing identifying.

The payloads (fixtures/upstream_errors.json) are the engines' documented shapes, served
on loopback; no live vLLM or TGI runs here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generators.errors import NEUTRAL_MESSAGES, UpstreamError, classify, parse_error
from generators.protocol import GenerationRequest, GeneratorError, InvalidRequestError

from .test_remote import SECRET, Misbehaving, http, remote, sse

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "upstream_errors.json").read_text())["cases"]
REMOTE_ID = "acme-secret-model-7"
NEUTRAL = re.compile("^(" + "|".join(re.escape(m) for m in NEUTRAL_MESSAGES.values()) + r")( \(HTTP \d{3}\))?$")


def _payload(case: dict) -> str:
    return json.dumps(case["body"]).replace("{KEY}", SECRET)


def _answer(case: dict) -> bytes:
    if case.get("stream"):
        delta = json.dumps(
            {
                "object": "chat.completion.chunk",
                "model": REMOTE_ID,
                "choices": [{"index": 0, "delta": {"content": "Once upon"}, "finish_reason": None}],
            }
        )
        return http(200, sse(delta, _payload(case), "[DONE]"), "text/event-stream")
    return http(case["status"], _payload(case))


@pytest.mark.parametrize("case", FIXTURES, ids=lambda case: f"{case['engine']}: {case['case']}")
async def test_upstream_errors_are_read_and_neutralised(case, monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    async with Misbehaving(lambda request: _answer(case)) as server:
        generator = remote(server.url, modality="text", max_retries=0, model=REMOTE_ID, api_key_env="ARENA_TEST_KEY")
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(GenerationRequest.from_prompt("text", "hello", timeout_s=30))
        await generator.close()
    error = raised.value
    public = str(error)
    # a voter sees one of a handful of sentences: no model name or id, no host, no key, no upstream text
    assert NEUTRAL.match(public), public
    assert NEUTRAL_MESSAGES[case["expect"]] in public
    for secret in ("remote-model", REMOTE_ID, "127.0.0.1", SECRET):
        assert secret not in public
    # an operator's log line says which model, where, and what the endpoint said (key scrubbed)
    assert "remote-model" in error.detail and REMOTE_ID in error.detail and "127.0.0.1" in error.detail
    assert SECRET not in error.detail
    upstream_words = (
        case["body"]["error"]
        if isinstance(case["body"].get("error"), str)
        else (case["body"].get("error") or case["body"])["message"]
    )
    assert upstream_words.replace("{KEY}", "***")[:40] in error.detail
    if case["expect"] == "context_length_exceeded":
        assert isinstance(error, InvalidRequestError)
        assert (error.code, error.param) == ("context_length_exceeded", "messages")
    else:
        assert not isinstance(error, InvalidRequestError)


@pytest.mark.parametrize("case", FIXTURES, ids=lambda case: f"{case['engine']}: {case['case']}")
def test_parse_error_reads_every_shape(case):
    status = None if case.get("stream") else case["status"]
    error = parse_error(case["body"], status)
    assert isinstance(error, UpstreamError) and error.message
    assert classify(error) == case["expect"]


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "x"}}]},
        {"error": None, "choices": []},
        {"error": ""},
        [1, 2],
        "error",
    ],
)
def test_parse_error_ignores_what_is_not_an_error(payload):
    assert parse_error(payload) is None


async def test_a_non_json_error_body_is_not_shown(monkeypatch):
    page = "<html><body>nginx: upstream acme-secret-model-7 at 10.1.2.3 is down</body></html>"
    async with Misbehaving(lambda request: http(502, page, "text/html")) as server:
        generator = remote(server.url, max_retries=0)
        with pytest.raises(GeneratorError) as raised:
            await generator.generate(GenerationRequest.from_prompt("image", "x", timeout_s=30))
        await generator.close()
    assert str(raised.value) == "the model failed to generate an answer (HTTP 502)"
    assert "10.1.2.3 is down" in raised.value.detail


async def test_an_error_in_a_200_json_answer_is_read_too():
    body = json.dumps(
        {
            "error": {
                "message": f"{REMOTE_ID} refused",
                "type": "invalid_request_error",
                "param": "prompt",
                "code": "content_policy_violation",
            }
        }
    )
    async with Misbehaving(lambda request: http(200, body)) as server:
        for modality in ("image", "text"):
            generator = remote(server.url, modality=modality, max_retries=0)
            with pytest.raises(GeneratorError) as raised:
                await generator.generate(GenerationRequest.from_prompt(modality, "x", timeout_s=30))
            await generator.close()
            assert str(raised.value) == "the model's endpoint refused the request"
            assert REMOTE_ID in raised.value.detail


async def test_finish_reason_is_read_from_the_stream():
    chunks = [
        json.dumps({"choices": [{"index": 0, "delta": {"content": "a b"}, "finish_reason": None}]}),
        json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}),
        json.dumps({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}),
    ]
    for events in (chunks, chunks[:2]):  # with and without a usage chunk
        async with Misbehaving(
            lambda request, events=events: http(200, sse(*events, "[DONE]"), "text/event-stream")
        ) as server:
            generator = remote(server.url, modality="text")
            output = await generator.generate(GenerationRequest.from_prompt("text", "x", timeout_s=30))
            await generator.close()
        assert output.text == "a b" and output.finish_reason == "length" and output.completion_tokens == 2
