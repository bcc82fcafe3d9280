"""LMArena's rule: an anonymous text answer that names a model spoils the vote.

The vote is stored (nothing is silently dropped) but marked invalid with its reason,
and the leaderboard does not count it.
"""

import pytest
import yaml
from sqlalchemy import select

from arena.services.leaderboards import board_key
from arena.store.schema import Vote

VOTER = "voter-leak-0001"


@pytest.fixture
def models_file(tmp_path):
    # A model called "the" names itself in nearly every English answer.
    path = tmp_path / "models.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {"name": "the", "modality": "text", "backend": "demo", "options": {"quality": 3}},
                    {"name": "zzqx-model", "modality": "text", "backend": "demo", "options": {"quality": 1}},
                ]
            }
        )
    )
    return path


async def test_a_vote_on_a_battle_whose_answer_names_a_model_is_kept_but_not_counted(arena):
    await arena.voters.ensure(VOTER)
    view = await arena.battles.start("text", "Tell me about the sea and the wind.", VOTER)
    assert any("the" in view.turns[0][side].text.lower() for side in "ab")
    result = await arena.battles.vote(view.id, VOTER, "model_a")
    assert (result.valid, result.invalid_reason) == (False, "identity_leak")
    with arena.store.read() as session:
        stored = session.scalars(select(Vote)).one()
    assert stored.valid is False and stored.invalid_reason == "identity_leak"
    assert arena.leaderboards.refit(board_key("text")).votes == 0


async def test_named_battles_are_not_checked_for_identity(arena):
    await arena.voters.ensure(VOTER)
    view = await arena.battles.start("text", "the sea", VOTER, models=("the", "zzqx-model"))
    assert (await arena.battles.vote(view.id, VOTER, "model_a")).valid is True
