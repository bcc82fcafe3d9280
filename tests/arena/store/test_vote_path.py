"""One vote path: every vote enters through record_votes, carries its source and moves the boards.

Ground truth (as arena-rank's worked examples): after votes from the API, a
simulation, a bulk load, an invalidation and a restore, the board counts exactly
the valid anonymous votes in the table. On SQLite and PostgreSQL.
"""

import ast
import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena import simulate
from arena.errors import InvalidInput
from arena.services.catalog import active_models
from arena.services.leaderboards import board_key
from arena.store.schema import Vote
from arena.store.votes import Ballot, invalidate_votes, record_votes, restore_votes
from arena.vocabulary import InvalidReason, Modality, VoteSource, Winner
from tests.conftest import eventually

ARENA = Path(__file__).resolve().parents[3] / "arena"
VOTE_PATH = ARENA / "store" / "votes.py"


def test_no_module_but_the_vote_path_writes_vote_rows():
    """No insert(Vote), update(Vote), Vote(...) or raw INSERT/UPDATE of votes anywhere else."""
    offenders = []
    for path in ARENA.rglob("*.py"):
        if path == VOTE_PATH or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                args = [getattr(arg, "id", None) for arg in node.args]
                if (name in ("insert", "update", "delete") and "Vote" in args) or name == "Vote":
                    offenders.append(f"{path.relative_to(ARENA.parent)}:{node.lineno}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = " ".join(node.value.upper().split())
                if "INTO VOTES" in text or "UPDATE VOTES" in text:
                    offenders.append(f"{path.relative_to(ARENA.parent)}:{node.lineno}")
    assert offenders == [], f"vote rows written outside arena/store/votes.py: {offenders}"


def counted(arena) -> int:
    board = arena.leaderboards.get(board_key("text"))
    return board.votes if board.status in ("ok", "too_few_votes") else -1


def valid_in_table(arena) -> int:
    with arena.store.read() as session:
        return session.scalar(select(func.count(Vote.id)).where(Vote.valid, Vote.anonymous))


def sources(arena) -> dict[str, int]:
    with arena.store.read() as session:
        return dict(session.execute(select(Vote.source, func.count()).group_by(Vote.source)).all())


def test_votes_from_the_api_a_simulation_a_bulk_load_and_an_invalidation_each_move_the_board(server, client):
    arena = server.arena
    battle = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Tell me about owls."}).json()
    assert client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "model_a"}).status_code == 201
    assert eventually(lambda: counted(arena) == 1), "an API vote refits the board"

    async def simulated() -> simulate.Report:
        return await simulate.simulate(arena, 6, [Modality.TEXT], seed=2, concurrency=2)

    asyncio.run(simulated())
    assert eventually(lambda: counted(arena) == valid_in_table(arena) == 7), "simulated votes refit the board"

    simulate.bulk(arena, 40, [Modality.TEXT], seed=3, chunk=15)  # three batches through the vote path
    assert eventually(lambda: counted(arena) == valid_in_table(arena) == 47), "bulk votes refit the board"
    assert sources(arena) == {"live": 1, "simulate": 6, "bulk": 40}

    voters = ["voter-one-0001"]  # the API client: one counted vote
    assert invalidate_votes(arena.store, voters, InvalidReason.WITHDRAWN) == 1
    assert eventually(lambda: counted(arena) == 46), "an invalidation refits the board"
    with arena.store.read() as session:
        withdrawn = session.scalars(select(Vote).where(Vote.voter_id == voters[0])).one()
    assert (withdrawn.valid, withdrawn.invalid_reason) == (False, "withdrawn")  # kept, with its reason

    assert restore_votes(arena.store, voters, InvalidReason.WITHDRAWN) == 1
    assert eventually(lambda: counted(arena) == 47), "a restore refits the board"
    assert restore_votes(arena.store, voters, InvalidReason.WITHDRAWN) == 0  # nothing left to restore


def test_a_batch_with_one_bad_ballot_writes_nothing(server):
    arena = server.arena
    asyncio.run(arena.voters.ensure("voter-one-0001"))
    ids = [str(uuid.uuid4()) for _ in range(3)]
    now = datetime.now(UTC)
    arena.battles.write_ready(
        [
            {
                "id": battle_id,
                "modality": "text",
                "mode": "anonymous",
                "prompt": "p",
                "conversation": ["p"],
                "category": "other",
                "model_a": pair[0],
                "model_b": pair[1],
                "status": "ready",
                "voter_id": "voter-one-0001",
                "created_at": now,
                "ready_at": now,
                "updated_at": now,
            }
            for battle_id, pair in zip(ids, [sorted(active_models(arena.store, Modality.TEXT))[:2]] * 3)
        ]
    )
    good = [Ballot(battle_id, "voter-one-0001", Winner.TIE) for battle_id in ids]
    missing = Ballot(str(uuid.uuid4()), "voter-one-0001", Winner.TIE)
    with pytest.raises(InvalidInput, match="no such battle"):
        record_votes(arena.store, [*good, missing], VoteSource.IMPORT)
    assert valid_in_table(arena) == 0
    recorded = record_votes(arena.store, good, VoteSource.IMPORT)
    assert [vote.source for vote in recorded] == [VoteSource.IMPORT] * 3
    assert valid_in_table(arena) == 3


def test_a_vote_keeps_the_profile_it_was_cast_with_and_a_deleted_profile_leaves_no_trace(server, client):
    arena = server.arena
    voter = "voter-one-0001"
    assert client.put("/api/v1/voter/profile", json={"age_band": "25-34", "country": "FR"}).status_code == 200
    battle = client.post("/api/v1/battles", json={"modality": "text", "prompt": "Tell me about owls."}).json()
    assert client.post(f"/api/v1/battles/{battle['id']}/votes", json={"winner": "tie"}).status_code == 201

    def snapshot() -> tuple:
        with arena.store.read() as session:
            vote = session.scalars(select(Vote).where(Vote.voter_id == voter)).one()
            return vote.age_band, vote.country

    assert snapshot() == ("25-34", "FR")
    assert client.put("/api/v1/voter/profile", json={"age_band": "65+", "country": "DE"}).status_code == 200
    assert snapshot() == ("25-34", "FR")  # an edit does not rewrite history
    assert client.delete("/api/v1/voter/profile").status_code == 200
    assert snapshot() == (None, None)  # a deletion erases it from past votes too
