"""Request hygiene: bodies are capped, uploads closed, the page's events unpublished, the API
answers only its own origin, and every answer forbids framing and sniffing."""

import dataclasses

import httpx
import pytest
from sqlalchemy import func, select

from arena.store.schema import Battle

EVIL = "https://evil.example"
OURS = "https://arena.example"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, max_body_bytes=64 * 1024, public_url=OURS)


def battles(server) -> int:
    with server.arena.store.read() as session:
        return session.scalar(select(func.count(Battle.id)))


def test_a_body_over_the_cap_is_refused_before_it_is_read(server, client):
    big = {"modality": "text", "prompt": "x" * 200_000}
    response = client.post("/api/v1/battles", json=big)
    assert response.status_code == 413 and "larger than 65536 bytes" in response.json()["error"]

    def streamed():  # no Content-Length: the server stops reading at the cap
        yield b'{"modality": "text", "prompt": "'
        for _ in range(100):
            yield b"y" * 4096
        yield b'"}'

    response = client.post("/api/v1/battles", content=streamed(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert battles(server) == 0
    assert client.post("/api/v1/battles", json={"modality": "text", "prompt": "hi"}).status_code == 201


def test_uploads_are_closed_and_the_page_publishes_no_api(server):
    upload = httpx.post(f"{server.url}/gradio_api/upload", files={"files": ("a.bin", b"x" * 1000)}, timeout=10)
    assert upload.status_code == 404
    info = httpx.get(f"{server.url}/gradio_api/info", timeout=10).json()
    assert info.get("named_endpoints", {}) == {} and info.get("unnamed_endpoints", {}) == {}


def test_the_api_answers_browsers_only_from_its_own_origin(server):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    refused = httpx.options(f"{server.url}/api/v1/battles", headers={"Origin": EVIL, **preflight}, timeout=10)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    allowed = httpx.options(f"{server.url}/api/v1/battles", headers={"Origin": OURS, **preflight}, timeout=10)
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == OURS
    read = httpx.get(f"{server.url}/api/v1/models", headers={"Origin": EVIL}, timeout=10)
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


def test_every_answer_forbids_framing_and_sniffing_and_the_cookie_is_secure_on_https(server):
    for path in ("/", "/api/v1/models", "/api/v1/nothing-here"):
        response = httpx.get(f"{server.url}{path}", timeout=30)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    for path in ("/", "/api/v1/voter/profile"):  # the page's cookie and the API's alike
        minted = httpx.get(f"{server.url}{path}", timeout=30)
        assert "secure" in minted.headers["set-cookie"].lower()  # ARENA_PUBLIC_URL is https
