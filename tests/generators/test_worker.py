"""`arena worker` over HTTP, and the `openai` backend talking to it on loopback."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import trimesh
import yaml
from PIL import Image

from generators.config import parse_models
from generators.protocol import GenerationRequest, GeneratorError, Message
from generators.registry import build_generator
from generators.worker import add_worker_parser, run_worker

from .conftest import WorkerThread, free_port, local_entries

DEMO_TEXT = {"name": "demo-text", "modality": "text", "backend": "demo", "options": {"quality": 2}}
DEMO_3D = {"name": "demo-3d", "modality": "3d", "backend": "demo"}
WORKER_KEY = "worker-secret-key-42"


@pytest.fixture(scope="module")
def worker(tiny_models):
    with WorkerThread(local_entries(tiny_models) + [DEMO_TEXT, DEMO_3D]) as running:
        yield running


def via(worker, name: str, modality: str, **options):
    entry = {
        "name": name,
        "modality": modality,
        "backend": "openai",
        "options": {"base_url": worker.url, "allow_private": True, "max_retries": 0, **options},
    }
    return build_generator(parse_models({"models": [entry]})[0])


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_models_and_health(worker):
    models = httpx.get(f"{worker.url}/v1/models").json()
    served = {item["id"]: item["modality"] for item in models["data"]}
    assert served == {
        "tiny-lm": "text",
        "tiny-sd": "image",
        "tiny-shap-e": "3d",
        "tiny-shap-e-img": "3d",
        "tiny-shap-e-empty": "3d",
        "demo-text": "text",
        "demo-3d": "3d",
    }
    health = httpx.get(f"{worker.url}/health").json()
    assert health["status"] == "ok" and health["models"]["tiny-lm"]["modality"] == "text"


async def test_text_through_the_worker_streaming_and_not(worker):
    remote = via(worker, "tiny-lm", "text")
    request = GenerationRequest(
        "text",
        [Message("system", "be brief"), Message("user", "a red cube")],
        seed=11,
        max_tokens=9,
        options={"temperature": 0.9},
    )
    stream = remote.stream(request)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 1 and stream.output.text == "".join(chunks)
    assert stream.output.completion_tokens == 9 and stream.output.prompt_tokens > 0
    whole = httpx.post(
        f"{worker.url}/v1/chat/completions",
        timeout=30,
        json={
            "model": "tiny-lm",
            "seed": 11,
            "max_tokens": 9,
            "temperature": 0.9,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "a red cube"}],
        },
    ).json()
    assert whole["object"] == "chat.completion"
    assert whole["choices"][0]["message"]["content"] == stream.output.text
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 9
    await remote.close()


def test_sse_follows_the_openai_chunk_format(worker):
    body = {
        "model": "tiny-lm",
        "stream": True,
        "max_tokens": 5,
        "seed": 1,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.stream("POST", f"{worker.url}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5


async def test_image_through_the_worker(worker):
    remote = via(worker, "tiny-sd", "image", defaults={"width": 64, "height": 64})
    output = await remote.generate(GenerationRequest.from_prompt("image", "a red cube", seed=2))
    image = Image.open(io.BytesIO(output.png))
    assert image.format == "PNG" and image.size == (64, 64)
    again = await remote.generate(GenerationRequest.from_prompt("image", "a red cube", seed=2))
    assert again.png == output.png
    await remote.close()


async def test_3d_through_the_worker_text_and_image(worker):
    text_to_3d = via(worker, "tiny-shap-e", "3d")
    mesh = await text_to_3d.generate(GenerationRequest.from_prompt("3d", "a red cube", seed=2))
    loaded = trimesh.load(io.BytesIO(mesh.glb), file_type="glb", force="mesh")
    assert mesh.faces == len(loaded.faces) > 0
    image_to_3d = via(worker, "tiny-shap-e-img", "3d")
    mesh = await image_to_3d.generate(GenerationRequest.from_prompt("3d", "", seed=2, image=png_bytes()))
    assert mesh.vertices > 0
    demo = via(worker, "demo-3d", "3d")
    assert (await demo.generate(GenerationRequest.from_prompt("3d", "a red cube", seed=1))).faces > 0
    empty = via(worker, "tiny-shap-e-empty", "3d")
    with pytest.raises(GeneratorError, match=r"^the model failed to generate an answer \(HTTP 422\)$") as raised:
        await empty.generate(GenerationRequest.from_prompt("3d", "a red cube", seed=2))
    assert "the model produced an empty mesh" in raised.value.detail and "generation_failed" in raised.value.detail
    for generator in (text_to_3d, image_to_3d, demo, empty):
        await generator.close()


async def test_demo_models_are_served_too(worker):
    remote = via(worker, "demo-text", "text")
    output = await remote.generate(GenerationRequest.from_prompt("text", "tell me about the sea", seed=3))
    assert output.text.strip()
    await remote.close()


@pytest.mark.parametrize(
    "path, body, status, param, code, message",
    [
        (
            "/v1/chat/completions",
            {"model": "nope", "messages": [{"role": "user", "content": "x"}]},
            404,
            "model",
            "model_not_found",
            "does not exist",
        ),
        (
            "/v1/images/generations",
            {"model": "tiny-lm", "prompt": "x"},
            400,
            "model",
            "invalid_value",
            "is a text model",
        ),
        ("/v1/chat/completions", {"model": "tiny-lm", "messages": []}, 400, "messages", "invalid_value", "messages"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "x"}]},
            400,
            "model",
            "missing_required_parameter",
            "model",
        ),
        (
            "/v1/images/generations",
            {"model": "tiny-sd", "prompt": "x", "response_format": "url"},
            400,
            "response_format",
            "invalid_value",
            "response_format",
        ),
        (
            "/v1/images/generations",
            {"model": "tiny-sd", "prompt": "x", "size": "65x64"},
            400,
            "size",
            "invalid_value",
            "multiples of 8",
        ),
        (
            "/v1/3d/generations",
            {"model": "tiny-shap-e", "prompt": " "},
            400,
            "prompt",
            "missing_required_parameter",
            "prompt or image",
        ),
        ("/v1/3d/generations", {"model": "tiny-shap-e-img", "image": "%%%"}, 400, "image", "invalid_value", "base64"),
        (
            "/v1/3d/generations",
            {"model": "tiny-shap-e-img", "prompt": "a cube"},
            400,
            "image",
            "invalid_value",
            "needs an input image",
        ),
        (
            "/v1/3d/generations",
            {"model": "tiny-shap-e-empty", "prompt": "a cube", "seed": 2},
            422,
            None,
            "generation_failed",
            "empty mesh",
        ),
        (
            "/v1/chat/completions",
            {
                "model": "tiny-lm",
                "stream": True,
                "max_tokens": 4,
                "messages": [{"role": "user", "content": "word " * 300}],
            },
            400,
            "messages",
            "context_length_exceeded",
            "too long",
        ),
        (
            "/v1/chat/completions",
            {"model": "tiny-lm", "stop": [""], "messages": [{"role": "user", "content": "x"}]},
            400,
            "stop",
            "invalid_value",
            "stop",
        ),
        (
            "/v1/chat/completions",
            {
                "model": "tiny-lm",
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "x"}],
            },
            400,
            "stream_options",
            "invalid_value",
            "only allowed when stream",
        ),
        (
            "/v1/chat/completions",
            {"model": "tiny-lm", "messages": [{"role": "tool", "content": "x"}]},
            400,
            "messages[0].role",
            "unsupported_value",
            "tool",
        ),
    ],
)
def test_errors_are_openai_shaped_with_a_status(worker, path, body, status, param, code, message):
    response = httpx.post(f"{worker.url}{path}", json=body, timeout=30)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["param"], error["code"]) == (param, code)
    assert error["type"] == {400: "invalid_request_error", 404: "not_found_error", 422: "server_error"}[status]
    assert message in error["message"]
    assert response.headers["x-request-id"]


def test_the_body_limit_is_configurable(tiny_models):
    with WorkerThread([DEMO_TEXT], max_body_bytes=300) as small:
        fits = httpx.post(
            f"{small.url}/v1/chat/completions",
            timeout=30,
            json={"model": "demo-text", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert fits.status_code == 200
        refused = httpx.post(
            f"{small.url}/v1/chat/completions",
            timeout=30,
            json={"model": "demo-text", "messages": [{"role": "user", "content": "x" * 400}]},
        )
        assert refused.status_code == 413 and "300 bytes" in refused.json()["error"]["message"]


async def test_worker_api_key(tiny_models, monkeypatch):
    monkeypatch.setenv("ARENA_TEST_WORKER_KEY", WORKER_KEY)
    with WorkerThread([DEMO_TEXT], api_key_env="ARENA_TEST_WORKER_KEY") as keyed:
        refused = httpx.get(f"{keyed.url}/v1/models")
        assert refused.status_code == 401 and WORKER_KEY not in refused.text
        assert refused.json()["error"]["code"] == "invalid_api_key" and refused.headers["x-request-id"]
        assert httpx.get(f"{keyed.url}/health").status_code == 200
        remote = via(keyed, "demo-text", "text", api_key_env="ARENA_TEST_WORKER_KEY")
        assert (await remote.generate(GenerationRequest.from_prompt("text", "hello", seed=1))).text
        await remote.close()


def test_worker_subcommand_registers_on_a_cli():
    parser = argparse.ArgumentParser(prog="arena")
    add_worker_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["worker", "--models", "m.yaml", "--host", "0.0.0.0", "--port", "9001", "--max-body-bytes", "4096"]
    )
    assert (args.models, args.host, args.port, args.func) == ("m.yaml", "0.0.0.0", 9001, run_worker)
    assert args.max_body_bytes == 4096
    assert parser.parse_args(["worker"]).max_body_bytes == 1024 * 1024


def test_worker_refuses_to_start_with_a_missing_model(tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "gone",
                        "modality": "text",
                        "backend": "hf-text",
                        "options": {"path": str(tmp_path / "missing")},
                    }
                ]
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "generators.worker", "--models", str(models)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    assert "model 'gone': options.path: directory" in result.stderr and "Traceback" not in result.stderr


def test_python_m_worker_serves_a_models_file(tiny_models, tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump({"models": local_entries(tiny_models)[:1] + [DEMO_TEXT]}))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "generators.worker", "--models", str(models), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.2)
        assert set(health.json()["models"]) == {"tiny-lm", "demo-text"}
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            timeout=30,
            json={"model": "tiny-lm", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert answer.json()["usage"]["completion_tokens"] == 3
    finally:
        process.terminate()
        process.wait(timeout=30)
