"""The REST API over real HTTP on loopback, on SQLite and PostgreSQL.

Every bad request gets a 4xx with {"error": ...} and leaves the vote count as it was.
"""

import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import trimesh
from PIL import Image
from sqlalchemy import func, select

from arena.services.leaderboards import board_key
from arena.store.schema import Vote
from tests.conftest import eventually


def start(client, modality="text", prompt="Tell me a short fact about owls."):
    response = client.post("/api/v1/battles", json={"modality": modality, "prompt": prompt})
    assert response.status_code == 201, response.text
    return response.json()


def total_votes(server) -> int:
    with server.arena.store.read() as session:
        return session.scalar(select(func.count(Vote.id)))


def test_battle_then_vote_reveals_names(client):
    battle = start(client)
    assert battle["status"] == "ready"
    assert battle["model_a"] is None and battle["model_b"] is None
    assert battle["outputs"]["a"]["text"] and battle["outputs"]["b"]["text"]
    assert "model" not in str(battle["outputs"]).lower()

    fetched = client.get(f"/api/v1/battles/{battle['id']}").json()
    assert fetched["outputs"] == battle["outputs"] and fetched["model_a"] is None

    vote = client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "model_a"})
    assert vote.status_code == 201, vote.text
    names = vote.json()
    assert names["model_a"] and names["model_b"] and names["model_a"] != names["model_b"]
    assert client.get(f"/api/v1/battles/{battle['id']}").json()["model_a"] == names["model_a"]


def test_follow_up_messages_go_to_the_same_pair(client):
    battle = start(client, prompt="Name a colour.")
    follow = client.post(f"/api/v1/battles/{battle['id']}/messages", json={"prompt": "And another?"})
    assert follow.status_code == 200
    assert follow.json()["conversation"] == ["Name a colour.", "And another?"]
    assert len(follow.json()["turns"]) == 2


@pytest.mark.parametrize("modality,media_type", [("image", "image/png"), ("3d", "model/gltf-binary")])
def test_artifacts_are_served_with_their_content_type(client, modality, media_type):
    battle = start(client, modality, "a blue car next to a green tree")
    for side in "ab":
        output = battle["outputs"][side]
        assert "text" not in output
        response = client.get(output["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        if modality == "image":
            assert Image.open(io.BytesIO(response.content)).format == "PNG"
        else:
            assert trimesh.load(io.BytesIO(response.content), file_type="glb").geometry


def test_models_lists_public_metadata_per_modality(client):
    models = client.get("/api/v1/models", params={"modality": "image"}).json()
    assert len(models) >= 3 and {m["modality"] for m in models} == {"image"}
    assert all("backend" not in m and "options" not in m for m in models)
    assert client.get("/api/v1/models", params={"modality": "audio"}).status_code == 422


def test_leaderboard_counts_votes(client):
    for winner in ("model_a", "model_b", "tie"):
        battle = start(client)
        client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": winner})

    def board():
        found = client.get("/api/v1/leaderboard", params={"modality": "text", "dimension": "overall"}).json()
        return found if found["votes"] == 3 else None

    board = eventually(board)  # refitted in the background after the votes
    assert board is not None
    assert sum(row["votes"] for row in board["rows"]) == 6  # each vote counts for two models


def test_openapi_is_published(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/battles/{battle_id}/votes" in spec["paths"]


def test_cookie_voter_is_created_and_owns_battles(server):
    with httpx.Client(base_url=server.url) as browser:
        battle = browser.post("/api/v1/battles", json={"modality": "text", "prompt": "hi"})
        assert "arena_voter" in battle.cookies
        battle_id = battle.json()["id"]
        assert browser.get(f"/api/v1/battles/{battle_id}").status_code == 200
    with httpx.Client(base_url=server.url) as stranger:
        response = stranger.get(f"/api/v1/battles/{battle_id}")
        assert response.status_code == 404 and response.json() == {"error": "no such battle"}  # not even told it exists


BAD_STARTS = [
    ({"modality": "text", "prompt": ""}, 422, "empty"),
    ({"modality": "text", "prompt": "x" * 8001}, 422, "8000"),
    ({"modality": "audio", "prompt": "hi"}, 422, "modality"),
    ({"prompt": "hi"}, 422, "modality"),
    ({"modality": "text", "prompt": 5}, 422, "prompt"),
    ({"modality": "text", "prompt": "hi", "extra": 1}, 422, "extra"),
]


@pytest.mark.parametrize("body,status,words", BAD_STARTS)
def test_bad_battle_requests_get_a_json_error(client, body, status, words):
    response = client.post("/api/v1/battles", json=body)
    assert response.status_code == status
    assert words in response.json()["error"].lower()


def test_malformed_json_gets_a_json_error(client):
    response = client.post("/api/v1/battles", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "json" in response.json()["error"].lower()
    for body in (b"[1, 2]", b'"hello"'):
        response = client.post("/api/v1/battles", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422 and response.json()["error"] == "request body must be a JSON object"


def test_bad_votes_get_a_json_error_and_write_nothing(client, server):
    battle = start(client)
    url = f"/api/v1/battles/{battle['id']}/votes"
    cases = [
        (client.post("/api/v1/battles/00000000-0000-4000-8000-000000000000/votes", json={"winner": "tie"}), 404),
        (client.post("/api/v1/battles/nope/votes", json={"winner": "tie"}), 404),
        (client.post(url, json={"winner": "left"}), 422),
        (client.post(url, json={"winner": "tie", "dimension": "texture"}), 422),
        (client.post(url, content=b"[", headers={"content-type": "application/json"}), 422),
        (client.post(url, json={"winner": "tie"}, headers={"X-Arena-Voter": "someone-else-1"}), 404),
        (client.post(url, json={"winner": "tie"}, headers={"X-Arena-Voter": "bad id!"}), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]
    assert total_votes(server) == 0
    assert client.post(url, json={"winner": "tie"}).status_code == 201
    second = client.post(url, json={"winner": "model_a"})
    assert second.status_code == 409 and "already" in second.json()["error"]
    assert total_votes(server) == 1


def test_unknown_routes_and_artifacts_are_json_404s(client):
    assert client.get("/api/v1/nothing-here").json() == {"error": "Not Found"}
    response = client.get("/api/v1/artifacts/" + "0" * 64)
    assert response.status_code == 404 and response.json()["error"]
    assert client.get("/api/v1/leaderboard", params={"modality": "text", "dimension": "geometry"}).status_code == 422


def test_twenty_concurrent_votes_on_one_battle_store_exactly_one(client, server):
    battle = start(client)
    url = f"{server.url}/api/v1/battles/{battle['id']}/votes"

    def cast(i):
        with httpx.Client(headers={"X-Arena-Voter": "voter-one-0001"}, timeout=30) as http:
            return http.post(url, json={"winner": ("model_a", "model_b", "tie")[i % 3]}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(cast, range(20)))
    assert statuses.count(201) == 1 and statuses.count(409) == 19
    assert total_votes(server) == 1


def test_profile_can_be_saved_and_deleted(client):
    saved = client.put("/api/v1/voter/profile", json={"country": "fr", "age_band": "25-34"}).json()
    assert saved["country"] == "FR" and saved["consent_at"]
    assert client.put("/api/v1/voter/profile", json={"age_band": "ancient"}).status_code == 422
    client.delete("/api/v1/voter/profile")
    assert client.get("/api/v1/voter/profile").json()["country"] is None


def test_a_new_sub_board_is_computed_in_the_background_not_in_the_request(server, client):
    server.arena.settings.k_anonymity = 1  # one voter is enough here: k-anonymity is tested in test_groups.py
    assert client.put("/api/v1/voter/profile", json={"country": "FR"}).status_code == 200
    battle = start(client)
    assert client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "model_a"}).status_code == 201
    server.arena.leaderboards.refit(board_key("text", "overall"))  # as the board job does: the groups' values too
    params = {"modality": "text", "group": "country", "value": "FR"}
    first = client.get("/api/v1/leaderboard", params=params).json()
    assert first["status"] == "pending" and "being computed" in first["message"]
    later = eventually(lambda: client.get("/api/v1/leaderboard", params=params).json()["status"] != "pending")
    assert later
    board = client.get("/api/v1/leaderboard", params=params).json()
    assert board["status"] == "too_few_votes" and board["group"] == {"field": "country", "value": "FR"}
