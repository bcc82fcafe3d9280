"""The style-controlled text board over HTTP: fitted in the background from every vote's answers."""

import asyncio

from arena import simulate
from arena.vocabulary import Modality
from tests.conftest import eventually


def test_the_style_controlled_board_reports_ratings_and_style_coefficients(server, client):
    asyncio.run(simulate.simulate(server.arena, 40, [Modality.TEXT], seed=5, concurrency=4))

    def controlled():
        board = client.get("/api/v1/leaderboard", params={"modality": "text", "style": "controlled"}).json()
        return board if board["status"] != "pending" and board["votes"] == 40 else None

    board = eventually(controlled, timeout=60)
    assert board is not None and board["status"] == "ok"
    plain = eventually(lambda: client.get("/api/v1/leaderboard", params={"modality": "text"}).json())
    assert {row["model"] for row in board["rows"]} == {row["model"] for row in plain["rows"]}
    assert board["style"] and "length" in board["style"]  # the demo models answer at different lengths
    length = board["style"]["length"]
    assert length["ci_low"] <= length["coef"] <= length["ci_high"]
    assert plain["style"] is None


def test_style_control_is_refused_where_it_does_not_apply(client):
    for params in (
        {"modality": "image", "style": "controlled"},
        {"modality": "text", "style": "controlled", "group": "category", "value": "coding"},
        {"modality": "text", "style": "fancy"},
    ):
        response = client.get("/api/v1/leaderboard", params=params)
        assert response.status_code == 422 and "error" in response.json()
