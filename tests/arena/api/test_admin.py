"""The admin API over real HTTP, on SQLite and PostgreSQL: the token, flagged voters, models, the audit log."""

import dataclasses

import httpx
import pytest
from sqlalchemy import func, select

from arena.runtime import prepare
from arena.services.leaderboards import board_key
from arena.store.schema import AdminLogEntry, Battle, Model, VoterFlag
from tests.arena.simulated import attackers, named, simulation, trust_models_file, write_votes
from tests.conftest import LiveServer, ready_arena

TOKEN = "admin-token-for-tests-7f3a"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ROUTES = [
    ("GET", "/api/v1/admin/flags", None),
    ("POST", "/api/v1/admin/voters/voter-00001/release", None),
    ("POST", "/api/v1/admin/voters/voter-00001/ban", None),
    ("POST", "/api/v1/admin/models/quill-mini/disable", {"reason": "rigged"}),
    ("POST", "/api/v1/admin/models/quill-mini/enable", None),
    ("GET", "/api/v1/admin/audit-log", None),
]


@pytest.fixture
def models_file(tmp_path):
    return trust_models_file(tmp_path / "models.yaml")


@pytest.fixture
def settings(settings):
    settings.admin_token = TOKEN
    settings.battles_per_minute = settings.ip_battles_per_minute = 1000  # the sampler test starts many battles
    return settings


def request(server, method, path, body=None, headers=None) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", json=body, headers=headers or {}, timeout=30)


def table_counts(arena) -> tuple[int, int, list[str]]:
    with arena.store.read() as session:
        flags = session.scalar(select(func.count()).select_from(VoterFlag))
        actions = session.scalar(select(func.count()).select_from(AdminLogEntry))
        statuses = list(session.scalars(select(Model.status).order_by(Model.name)))
    return flags, actions, statuses


def test_with_no_token_set_every_admin_route_answers_like_an_unknown_path(settings):
    from arena.server import create_app

    with LiveServer(create_app(ready_arena(dataclasses.replace(settings, admin_token="")))) as server:
        unknown = request(server, "GET", "/api/v1/no-such-thing")
        assert unknown.status_code == 404
        for method, path, body in ROUTES:
            for headers in ({}, ADMIN, {"Authorization": "Bearer x"}):
                answer = request(server, method, path, body, headers)
                assert (answer.status_code, answer.json()) == (404, unknown.json()), (method, path, headers)
                assert "www-authenticate" not in answer.headers
        assert table_counts(server.arena)[:2] == (0, 0)


def test_a_missing_or_wrong_token_is_401_with_a_bearer_challenge_and_nothing_changes(server):
    before = table_counts(server.arena)
    for method, path, body in ROUTES:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": TOKEN},
        ):
            answer = request(server, method, path, body, headers)
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert set(answer.json()) == {"error"} and TOKEN not in answer.text
    assert table_counts(server.arena) == before


def test_flagged_voters_with_evidence_then_release_and_ban_over_http(server):
    arena = server.arena
    sim = simulation()
    write_votes(arena, named(sim, arena))
    arena.integrity.scan()

    flags = request(server, "GET", "/api/v1/admin/flags", headers=ADMIN).json()
    assert {flag["voter_id"] for flag in flags} == attackers(sim)
    assert [flag["score"] for flag in flags] == sorted((flag["score"] for flag in flags), reverse=True)
    first = flags[0]
    assert first["state"] == "quarantined" and first["reasons"] and first["votes_affected"] == first["votes"]
    assert first["evidence"]["boards"]["text/overall"]["tests"]
    counted = arena.leaderboards.refit(board_key("text")).votes

    released = request(server, "POST", f"/api/v1/admin/voters/{first['voter_id']}/release", headers=ADMIN)
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "released" and released.json()["decided_by"] == "admin"
    assert arena.leaderboards.refit(board_key("text")).votes == counted + first["votes"]

    honest = next(voter for voter, label in sim.labels.items() if label == "honest")
    banned = request(server, "POST", f"/api/v1/admin/voters/{honest}/ban", headers=ADMIN).json()
    assert banned["state"] == "banned" and banned["votes_affected"] > 0 and arena.integrity.is_banned(honest)
    board = request(server, "GET", "/api/v1/leaderboard?modality=text").json()
    assert "excluded" in board

    missing = request(server, "POST", "/api/v1/admin/voters/nobody-at-all/ban", headers=ADMIN)
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
    never = request(server, "POST", f"/api/v1/admin/voters/{honest[:-1]}9/release", headers=ADMIN)
    assert never.status_code == 404

    only = request(server, "GET", "/api/v1/admin/flags?state=banned", headers=ADMIN).json()
    assert [flag["voter_id"] for flag in only] == [honest]

    log = request(server, "GET", "/api/v1/admin/audit-log", headers=ADMIN).json()
    assert [(entry["actor"], entry["action"], entry["target"]) for entry in log[:2]] == [
        ("admin", "ban", honest),
        ("admin", "release", first["voter_id"]),
    ]
    assert {entry["target"] for entry in log if entry["actor"] == "detector"} == attackers(sim)
    assert all(entry["action"] == "quarantine" for entry in log if entry["actor"] == "detector")
    page = request(server, "GET", f"/api/v1/admin/audit-log?limit=2&before={log[1]['id']}", headers=ADMIN).json()
    assert [entry["id"] for entry in page] == [log[2]["id"], log[3]["id"]]
    assert TOKEN not in httpx.get(f"{server.url}/api/v1/admin/audit-log", headers=ADMIN).text


def drawn(server, client, battles: int) -> set[str]:
    """The models the sampler put into `battles` new battles (read from the battles table)."""
    ids = []
    for _ in range(battles):
        battle = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Tell me about owls."})
        assert battle.status_code == 201, battle.text
        ids.append(battle.json()["id"])
    with server.arena.store.read() as session:
        pairs = session.execute(select(Battle.model_a, Battle.model_b).where(Battle.id.in_(ids))).all()
    assert len(pairs) == battles
    return {name for pair in pairs for name in pair}


def test_a_disabled_model_leaves_new_battles_at_once_and_comes_back_when_enabled(server, client, settings):
    disabled = request(server, "POST", "/api/v1/admin/models/quill-mini/disable", {"reason": "probing a leak"}, ADMIN)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {
        "name": "quill-mini",
        "modality": "text",
        "status": "disabled",
        "disabled_reason": "probing a leak",
        "disabled_by": "operator",
    }
    assert "quill-mini" not in drawn(server, client, 12)
    public = {model["name"]: model["status"] for model in client.get("/api/v1/models").json()}
    assert public["quill-mini"] == "disabled"

    prepare(settings)  # a restart: the models file (which lists quill-mini as active) does not undo an operator
    with server.arena.store.read() as session:
        model = session.scalars(select(Model).where(Model.name == "quill-mini")).one()
        assert (model.status, model.disabled_by) == ("disabled", "operator")

    enabled = request(server, "POST", "/api/v1/admin/models/quill-mini/enable", headers=ADMIN)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert enabled.json()["disabled_by"] is None and enabled.json()["disabled_reason"] is None
    assert "quill-mini" in drawn(server, client, 40)

    log = request(server, "GET", "/api/v1/admin/audit-log?target=quill-mini", headers=ADMIN).json()
    assert [entry["action"] for entry in log] == ["enable_model", "disable_model"]
    assert log[1]["details"]["reason"] == "probing a leak"

    assert (
        request(server, "POST", "/api/v1/admin/models/no-such-model/disable", {"reason": "x"}, ADMIN).status_code == 404
    )
    empty = request(server, "POST", "/api/v1/admin/models/quill-mini/disable", {"reason": ""}, ADMIN)
    assert empty.status_code == 422 and set(empty.json()) == {"error"}


def test_the_models_file_governs_only_what_it_disabled(server, settings, tmp_path):
    """A model dropped from the file is disabled by the file; only the file brings it back."""
    import yaml

    data = yaml.safe_load(settings.models_file.read_text())
    full = list(data["models"])
    data["models"] = [entry for entry in full if entry["name"] != "quill-extra-0"]
    settings.models_file.write_text(yaml.safe_dump(data))
    prepare(settings)
    with server.arena.store.read() as session:
        model = session.scalars(select(Model).where(Model.name == "quill-extra-0")).one()
        assert (model.status, model.disabled_by, model.disabled_reason) == (
            "disabled",
            "file",
            "no longer in the models file",
        )
    refused = request(server, "POST", "/api/v1/admin/models/quill-extra-0/enable", headers=ADMIN)
    assert refused.status_code == 409 and "models file" in refused.json()["error"]

    data["models"] = full
    settings.models_file.write_text(yaml.safe_dump(data))
    prepare(settings)
    with server.arena.store.read() as session:
        model = session.scalars(select(Model).where(Model.name == "quill-extra-0")).one()
        assert (model.status, model.disabled_by) == ("active", None)


def test_a_banned_voter_can_neither_start_a_battle_nor_vote(server):
    voter = {"X-Arena-Voter": "banned-voter-0001"}
    battle = request(server, "POST", "/api/v1/battles", {"modality": "text", "prompt": "hello"}, voter).json()
    assert request(server, "POST", "/api/v1/admin/voters/banned-voter-0001/ban", headers=ADMIN).status_code == 200
    refused = request(server, "POST", f"/api/v1/battles/{battle['id']}/votes", {"winner": "tie"}, voter)
    assert refused.status_code == 403 and "may no longer" in refused.json()["error"]
    refused = request(server, "POST", "/api/v1/battles", {"modality": "text", "prompt": "again"}, voter)
    assert refused.status_code == 403
    with server.arena.store.read() as session:
        assert session.scalar(select(func.count(Battle.id))) == 1
    assert request(server, "POST", "/api/v1/admin/voters/banned-voter-0001/release", headers=ADMIN).status_code == 200
    assert request(server, "POST", f"/api/v1/battles/{battle['id']}/votes", {"winner": "tie"}, voter).status_code == 201


def test_the_token_is_checked_before_the_body_is_read(server, settings):
    """A stranger's malformed body gets the token's answer (401), never a validation error."""
    url = f"{server.url}/api/v1/admin/models/quill-mini/disable"
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = httpx.post(url, content=b"not json", headers={"content-type": "application/json", **headers})
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert (
        httpx.post(url, content=b"not json", headers={"content-type": "application/json", **ADMIN}).status_code == 422
    )
