"""Input the database cannot store is refused with a 4xx before anything is written.

PostgreSQL text cannot hold NUL; neither database can encode a lone UTF-16 surrogate
(JSON lets a client send one as an escape). A voter id must be exactly the allowed
characters: a trailing newline is not "almost valid". On SQLite and PostgreSQL.
"""

import socket

import httpx
import pytest
from sqlalchemy import func, select

from arena.services.voters import valid_voter_id
from arena.store.schema import Battle, Output, Voter

BAD_PROMPTS = {
    "nul": '{"modality": "text", "prompt": "owls\\u0000 and cats"}',
    "lone-surrogate": '{"modality": "text", "prompt": "owls \\ud800 and cats"}',
    "lone-low-surrogate": '{"modality": "text", "prompt": "owls \\udc00"}',
}


def rows(server) -> tuple[int, int, int]:
    with server.arena.store.read() as session:
        return (
            session.scalar(select(func.count(Battle.id))),
            session.scalar(select(func.count(Output.id))),
            session.scalar(select(func.count(Voter.id))),
        )


def post_json(client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("kind", sorted(BAD_PROMPTS))
def test_a_prompt_the_database_cannot_store_is_refused_and_writes_nothing(server, client, kind):
    before = rows(server)
    response = post_json(client, "/api/v1/battles", BAD_PROMPTS[kind])
    assert response.status_code == 422, response.text
    assert "prompt" in response.json()["error"]
    assert rows(server) == before
    assert client.post("/api/v1/battles", json={"modality": "text", "prompt": "hi"}).status_code == 201


@pytest.mark.parametrize("kind", sorted(BAD_PROMPTS))
def test_a_follow_up_the_database_cannot_store_leaves_the_battle_as_it_was(server, client, kind):
    battle = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Name a colour."}).json()
    before = rows(server)
    body = BAD_PROMPTS[kind].replace('"modality": "text", ', "")
    response = post_json(client, f"/api/v1/battles/{battle['id']}/messages", body)
    assert response.status_code == 422, response.text
    assert "prompt" in response.json()["error"]
    assert rows(server) == before
    again = client.get(f"/api/v1/battles/{battle['id']}")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "ready" and again.json()["conversation"] == ["Name a colour."]
    follow = client.post(f"/api/v1/battles/{battle['id']}/messages", json={"prompt": "And another?"})
    assert follow.status_code == 200, follow.text
    vote = client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "tie"})
    assert vote.status_code == 201, vote.text


def test_a_voter_cookie_ending_in_a_newline_is_replaced_and_never_stored(server):
    # a cookie can carry a newline: an RFC 2109 quoted string's octal escape, which Starlette unquotes
    longest = "v" * 64
    for value in ("voter-one-0002", longest):
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.cookies.set("arena_voter", f'"{value}\\012"')
            started = http.post("/api/v1/battles", json={"modality": "text", "prompt": "hi"})
            assert started.status_code == 201, started.text
            minted = started.cookies.get("arena_voter")
            assert minted and minted != value  # treated as no cookie: a fresh id is minted
    with server.arena.store.read() as session:
        ids = session.scalars(select(Voter.id)).all()
    assert ids and all(voter_id.strip() == voter_id for voter_id in ids)


def raw_request(server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_voter_header_must_be_exactly_a_voter_id(server):
    assert not valid_voter_id("voter-one-0001\n") and valid_voter_id("voter-one-0001")
    before = rows(server)
    for header in (b"voter-one-0001 \t", b"voter-one-0001\n\t", b"v" * 64 + b"\r\n "):
        answer = raw_request(
            server,
            b"GET /api/v1/voter/profile HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Arena-Voter: "
            + header
            + b"\r\n\r\n",
        )
        status = int(answer.split(b" ", 2)[1])
        assert status in (200, 400, 422), answer  # trimmed by the HTTP layer, or refused: never a 500
    assert rows(server) == before


def test_a_nul_in_an_api_url_is_refused(server, client):
    for path in (
        "/api/v1/leaderboard?group=country&value=F%00R",
        "/api/v1/leaderboard/compare?group=country&a=%00&b=x",
    ):
        response = client.get(path)
        assert response.status_code == 400 and "NUL" in response.json()["error"], response.text
