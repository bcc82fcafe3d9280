"""Voter-group boards that are safe to publish: k-anonymity, the vote's own demographic
snapshot, and the comparison of two groups. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from arena.services.leaderboards import board_key, vote_counts
from arena.ui.leaderboard_tab import _value_dropdown, compare_html
from tests.arena.simulated import text_models, trust_models_file, write_votes
from tests.conftest import eventually


@pytest.fixture
def models_file(tmp_path):
    return trust_models_file(tmp_path / "models.yaml")  # eight text models


def seed_group(arena, country: str, voters: int, votes: int, strengths: dict[str, float], seed: int) -> None:
    """`votes` Bradley-Terry votes (no ties) by `voters` voters whose profile says `country`."""
    rng = np.random.default_rng(seed)
    models = sorted(strengths)
    ids = [f"voter-{country.lower()}-{uuid.uuid4().hex[:12]}" for _ in range(voters)]
    now = datetime.now(UTC)
    arena.voters.create_many(
        [{"id": voter, "created_at": now, "ip_hash": f"ip-{voter}", "country": country} for voter in ids]
    )
    a = rng.integers(0, len(models), votes)
    b = (a + rng.integers(1, len(models), votes)) % len(models)
    theta = np.array([strengths[m] for m in models]) * math.log(10) / 400
    wins = rng.random(votes) < 1 / (1 + np.exp(theta[b] - theta[a]))
    frame = pd.DataFrame(
        {
            "model_a": [models[i] for i in a],
            "model_b": [models[i] for i in b],
            "winner": np.where(wins, "model_a", "model_b"),
            "voter": [ids[i % voters] for i in range(votes)],  # every voter votes
            "tstamp": now.timestamp(),
            "ip_hash": "x",
        }
    )
    write_votes(arena, frame, new_voters=False)


def test_a_value_under_k_voters_does_not_exist_and_one_with_k_does(server, client):
    arena = server.arena
    k = arena.settings.k_anonymity
    strengths = dict.fromkeys(text_models(arena), 0.0)
    seed_group(arena, "AA", k - 1, 60, strengths, seed=1)
    seed_group(arena, "BB", k, 60, strengths, seed=2)

    def listed():  # the board job refreshes the publishable values when it refits the main board
        answer = client.get("/api/v1/leaderboard/groups", params={"modality": "text"})
        return answer if answer.json()["groups"]["country"] else None

    groups = eventually(listed)
    assert groups is not None and groups.status_code == 200
    assert groups.json()["k"] == k and groups.json()["groups"]["country"] == ["BB"]
    assert _value_dropdown("text", "country", arena).choices == [("BB", "BB")]  # the page offers only BB

    under = client.get("/api/v1/leaderboard", params={"group": "country", "value": "AA"})
    nobody = client.get("/api/v1/leaderboard", params={"group": "country", "value": "ZZ"})
    assert under.status_code == nobody.status_code == 404
    assert under.json() == nobody.json() and "groups" in under.json()["error"]
    for value in ("AA", "ZZ"):  # the cache holds no junk
        key = board_key("text", "overall", ("country", value))
        assert key not in arena.leaderboards._boards and key not in arena.leaderboards._requested

    published = client.get("/api/v1/leaderboard", params={"group": "country", "value": "BB"})
    assert published.status_code == 200 and published.json()["group"] == {"field": "country", "value": "BB"}
    compared = client.get("/api/v1/leaderboard/compare", params={"group": "country", "a": "BB", "b": "AA"})
    assert compared.status_code == 404 and compared.json() == nobody.json()
    assert compare_html(arena, "text", "overall", "country", "BB", "AA") == compare_html(
        arena, "text", "overall", "country", "BB", "ZZ"
    )  # the page, too, answers alike


def test_a_group_board_follows_the_votes_snapshot_not_the_current_profile(server, client):
    arena = server.arena
    assert client.put("/api/v1/voter/profile", json={"country": "FR"}).status_code == 200
    battle = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Name a bird."}).json()
    assert client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "model_a"}).status_code == 201
    assert client.put("/api/v1/voter/profile", json={"country": "DE"}).status_code == 200

    def counted(country: str) -> int:
        frame = vote_counts(arena.store, board_key("text", "overall", ("country", country)))
        return int(frame["count"].sum()) if len(frame) else 0

    assert counted("FR") == 1 and counted("DE") == 0  # the edit did not move the vote
    client.delete("/api/v1/voter/profile")
    assert counted("FR") == 0 and counted("DE") == 0  # a deleted profile leaves the group


def test_compare_flags_the_model_that_truly_differs_and_no_other(server, client):
    arena = server.arena
    models = text_models(arena)
    base = {model: 40.0 * i for i, model in enumerate(models)}
    different = models[2]
    seed_group(arena, "AA", 20, 4000, base, seed=3)
    seed_group(arena, "BB", 20, 4000, {**base, different: base[different] + 250.0}, seed=4)
    arena.leaderboards.refit(board_key("text", "overall"))  # as the board job does: the groups' values too
    for value in ("AA", "BB"):
        arena.leaderboards.refit(board_key("text", "overall", ("country", value)))

    params = {"modality": "text", "dimension": "overall", "group": "country", "a": "AA", "b": "BB"}
    answer = eventually(
        lambda: (r := client.get("/api/v1/leaderboard/compare", params=params).json()).get("rows") and r
    )
    assert answer["status"] == "ok", answer
    flagged = [row["model"] for row in answer["rows"] if row["significant"]]
    assert flagged == [different]
    assert answer["rows"][0]["model"] == different and answer["rows"][0]["difference"] > 150
    assert answer["correction"] == "holm" and answer["correlation"]["method"] == "spearman"
    correlation = answer["correlation"]
    assert (
        correlation["models"] == len(models) and correlation["ci_low"] <= correlation["value"] <= correlation["ci_high"]
    )

    same = client.get("/api/v1/leaderboard/compare", params={**params, "b": "AA"})
    assert same.status_code == 422

    page = compare_html(arena, "text", "overall", "country", "AA", "BB")  # the Leaderboard tab's section
    assert "Rank correlation (Spearman)" in page and page.count("<td>yes</td>") == 1
    assert f"<td>{different}</td>" in page
