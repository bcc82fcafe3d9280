"""Model authors over real HTTP: submit an endpoint (a real `arena worker` on loopback),
see it probed, get it approved, battled and ranked; bad submissions, limits, health, the key."""

import logging

import httpx
import pytest
from sqlalchemy import select

from arena.runtime import prepare
from arena.services.exports import export, export_options
from arena.services.leaderboards import board_key
from arena.store.schema import Model, Submission
from tests.conftest import LiveServer, eventually, ready_arena
from tests.generators.conftest import WorkerThread

TOKEN = "admin-token-for-submissions-1c9e"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
KEY = "sk-author-Zq7x3LmN9pQ2rT5vW8yB"
KEY_ENV = "TEST_AUTHOR_ENDPOINT_KEY"
REMOTE = [{"name": "author-base", "modality": "text", "backend": "demo", "options": {"quality": 3}}]


@pytest.fixture
def settings(settings):
    settings.admin_token = TOKEN
    settings.submission_trusted_hosts = "127.0.0.1"  # the test-only allow-list: loopback endpoints
    settings.battles_per_minute = settings.ip_battles_per_minute = 1000
    settings.health_every_s = 0  # checks run when a test asks
    return settings


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with WorkerThread(REMOTE, api_key_env=KEY_ENV) as running:
        yield running


@pytest.fixture
def server(settings):
    from arena.server import create_app

    with LiveServer(create_app(ready_arena(settings))) as live:
        yield live


def form(worker_url: str, **changes) -> dict:
    body = {
        "name": "author-model-v1",
        "modality": "text",
        "base_url": f"{worker_url}/v1",
        "model": "author-base",
        "api_key": KEY,
        "contact": "author@example.org",
        "organisation": "Example Lab",
        "license": "Apache-2.0",
        "open_weights": True,
        "parameters": "7B",
        "description": "A test model behind an OpenAI-compatible worker.",
    }
    body.update(changes)
    return body


def call(server, method, path, body=None, headers=None) -> httpx.Response:
    response = httpx.request(method, f"{server.url}{path}", json=body, headers=headers or {}, timeout=60)
    server.seen.append(response.text + str(dict(response.headers)))
    return response


@pytest.fixture(autouse=True)
def _record_answers(server):
    server.seen = []


def waiting(server, submission_id, token) -> dict:
    def probed():
        answer = call(
            server, "GET", f"/api/v1/submissions/{submission_id}", headers={"Authorization": f"Bearer {token}"}
        )
        return answer.json() if answer.json().get("status") != "probing" else None

    found = eventually(probed, timeout=60)
    assert found, "the probe did not finish"
    return found


def test_a_submission_is_probed_approved_battled_and_ranked_and_its_key_never_leaks(
    server, worker, settings, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    created = call(server, "POST", "/api/v1/submissions", form(worker.url))
    assert created.status_code == 201, created.text
    submission_id, token = created.json()["id"], created.json()["token"]
    author = {"Authorization": f"Bearer {token}"}
    assert created.json()["submission"]["status"] == "probing" and created.json()["submission"]["has_api_key"]

    status = waiting(server, submission_id, token)
    assert status["status"] == "pending" and status["probe"]["ok"], status
    assert status["reason"].startswith("the probe passed")
    assert all(result["latency_ms"] is not None and result["format"] for result in status["probe"]["results"])
    # not in battles before an operator approves
    assert "author-model-v1" not in [
        m["name"] for m in call(server, "GET", "/api/v1/models").json() if m["status"] == "active"
    ]

    listed = call(server, "GET", "/api/v1/admin/submissions?status=pending", headers=ADMIN).json()
    assert [item["id"] for item in listed] == [submission_id]
    approved = call(server, "POST", f"/api/v1/admin/submissions/{submission_id}/approve", headers=ADMIN)
    assert approved.status_code == 200 and approved.json()["status"] == "active"

    # enters battles without a restart (the new-model boost draws it often) and reaches the board
    voter = {"X-Arena-Voter": "voter-author-test-01"}
    arena = server.arena
    drawn = 0
    for _ in range(120):
        battle = call(server, "POST", "/api/v1/battles", {"modality": "text", "prompt": "Name a colour."}, voter).json()
        vote = call(server, "POST", f"/api/v1/battles/{battle['id']}/votes", {"winner": "model_a"}, voter).json()
        if "author-model-v1" in (vote["model_a"], vote["model_b"]):
            assert battle["status"] == "ready", battle
            drawn += 1
        if drawn >= 5 and "author-model-v1" in [r["model"] for r in arena.leaderboards.refit(board_key("text")).rows]:
            break
    else:
        pytest.fail(f"the approved model was drawn {drawn} times and is not on the board")
    mine = call(server, "GET", f"/api/v1/submissions/{submission_id}", headers=author).json()
    assert mine["battles"] >= 1 and mine["votes"] >= 1 and mine["failed_battles"] == 0
    assert mine["board"]["model"] == "author-model-v1" and mine["board"]["provisional"] is True
    board = call(server, "GET", "/api/v1/leaderboard?modality=text").json()
    assert "author-model-v1" in [row["model"] for row in board["rows"]]

    dump = tmp_path / "votes.jsonl"
    export(arena.store, settings, export_options("jsonl"), dump)
    with arena.engine.connect() as connection:
        stored = connection.execute(select(Submission.api_key)).scalar_one()
    assert KEY not in stored  # encrypted at rest
    everything = "\n".join(
        [*server.seen, caplog.text, dump.read_text(), dump.with_name("votes.manifest.json").read_text()]
    )
    assert KEY not in everything and KEY.upper() not in everything and KEY[3:15] not in everything


@pytest.mark.parametrize(
    "changes, status, words",
    [
        ({"base_url": "http://example.com/v1"}, 422, "https"),
        ({"base_url": "https://user:pw@example.com/v1"}, 422, "no user"),
        ({"base_url": "ftp://example.com/v1"}, 422, "https"),
        ({"base_url": "https://10.1.2.3/v1"}, 422, "refused"),
        ({"base_url": "https://169.254.169.254/v1"}, 422, "refused"),
        ({"base_url": "https://[::ffff:127.0.0.1]/v1"}, 422, "refused"),
        ({"base_url": "https://2130706433/v1"}, 422, "refused"),
        ({"name": "bad name with spaces"}, 422, "name"),
        ({"name": "quill-pro"}, 409, "already exists"),
        ({"modality": "video"}, 422, "modality"),
        ({"contact": "not-an-email"}, 422, "e-mail"),
        ({"model": "has space"}, 422, "model"),
        ({"description": "x" * 2001}, 422, "description"),
        ({"organisation": ""}, 422, "organisation"),
        ({"unknown": 1}, 422, "unknown"),
    ],
)
def test_a_bad_submission_gets_a_clear_4xx_and_stores_nothing(server, changes, status, words):
    body = form("http://127.0.0.1:9", **changes)
    answer = call(server, "POST", "/api/v1/submissions", body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]
    with server.arena.engine.connect() as connection:
        assert connection.execute(select(Submission.id)).first() is None
        assert (
            connection.execute(select(Model.id).where(Model.name == body["name"], Model.origin == "submission")).first()
            is None
        )


def test_keys_are_refused_when_the_secret_is_the_generated_one(server):
    server.arena.settings.secret_kept = True
    answer = call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9"))
    assert answer.status_code == 422 and "ARENA_SECRET_KEY" in answer.json()["error"]
    answer = call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None))
    assert answer.status_code == 201


def test_limits_per_author_and_per_organisation_and_the_token_is_the_authors_only(server, settings):
    settings.submissions_pending_max = 2
    first = call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None, name="lab-a1"))
    token = first.json()["token"]
    author = {"Authorization": f"Bearer {token}"}
    second = call(
        server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None, name="lab-a2"), author
    )
    assert second.status_code == 201 and second.json()["token"] == token
    third = call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None, name="lab-a3"), author)
    assert third.status_code == 429 and "waiting" in third.json()["error"] and third.headers["Retry-After"]
    settings.submissions_pending_max = 10
    settings.organisation_active_max = 2
    other = call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None, name="lab-b1"))
    assert other.status_code == 409 and "Example Lab" in other.json()["error"]
    # another author's token opens nothing; no token is a 401
    stranger = {"Authorization": f"Bearer {other.json().get('token', 'x' * 43)}"}
    assert call(server, "GET", f"/api/v1/submissions/{first.json()['id']}", headers=stranger).status_code in (403, 404)
    assert call(server, "GET", f"/api/v1/submissions/{first.json()['id']}").status_code == 401
    withdrawn = call(server, "DELETE", f"/api/v1/submissions/{first.json()['id']}", headers=author)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "retired"
    assert (
        call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None, name="lab-b1")).status_code
        == 201
    )


def test_a_failing_probe_leaves_it_pending_with_the_reason_and_approval_is_refused(server):
    created = call(server, "POST", "/api/v1/submissions", form("http://127.0.0.1:9", api_key=None)).json()
    status = waiting(server, created["id"], created["token"])
    assert status["status"] == "pending" and status["probe"]["ok"] is False
    assert status["reason"].startswith("the probe failed")
    refused = call(server, "POST", f"/api/v1/admin/submissions/{created['id']}/approve", headers=ADMIN)
    assert refused.status_code == 409 and "probe" in refused.json()["error"]
    rejected = call(server, "POST", f"/api/v1/admin/submissions/{created['id']}/reject", {"reason": "no answer"}, ADMIN)
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "no answer"


async def test_health_disables_a_dead_endpoint_and_enables_it_again_and_voters_see_no_details(settings, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    settings.health_failures = 2
    arena = ready_arena(settings)
    await arena.start(jobs=False)
    try:
        worker = WorkerThread(REMOTE, api_key_env=KEY_ENV)
        with worker:
            view, token = await arena.submissions.submit(_form(worker.url), None, None)
            await arena.submissions.probed(view.id)
            await arena.submissions.approve(view.id, "admin")
            assert (await arena.health_job.check_once())["author-model-v1"] is True
        # the worker is gone: a battle with it fails with a neutral message, checks fail
        battle = await arena.battles.start(
            "text", "Hello?", "voter-health-0001", models=("author-model-v1", "quill-pro")
        )
        side = battle.turns[-1]["a"]
        assert side.error == "Model A could not answer" and "127.0.0.1" not in (battle.error or "")
        assert (await arena.health_job.check_once())["author-model-v1"] is False
        status = await arena.submissions.status(view.id, token)
        assert status.status == "disabled" and "consecutive failures" in status.reason
        assert len(status.errors) == 2 and all(KEY not in e["error"] for e in status.errors)
        assert "author-model-v1" not in await arena.battles.active_models("text")
        restarted = WorkerThread(REMOTE, api_key_env=KEY_ENV)
        restarted.port, restarted.url = worker.port, worker.url
        with restarted:
            assert (await arena.health_job.check_once())["author-model-v1"] is True
            assert (await arena.submissions.status(view.id, token)).status == "active"
            assert "author-model-v1" in await arena.battles.active_models("text")
    finally:
        await arena.stop()


async def test_two_app_instances_share_the_models_table(settings, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    prepare(settings)
    first, second = ready_arena(settings), ready_arena(settings)
    await first.start(jobs=False)
    await second.start(jobs=False)
    try:
        with WorkerThread(REMOTE, api_key_env=KEY_ENV) as worker:
            view, _ = await first.submissions.submit(_form(worker.url), None, None)
            await first.submissions.probed(view.id)
            assert "author-model-v1" not in await second.battles.active_models("text")
            await first.submissions.approve(view.id, "admin")
            assert "author-model-v1" in await second.battles.active_models("text")
            battle = await second.battles.start(
                "text", "Hi", "voter-replica-0001", models=("author-model-v1", "quill-pro")
            )
            assert battle.status == "ready" and battle.turns[-1]["a"].text
    finally:
        await first.stop()
        await second.stop()


def _form(url: str):
    from arena.services.submissions import SubmissionForm

    body = form(url)
    return SubmissionForm(**body)
