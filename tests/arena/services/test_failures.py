"""A model that fails: the battle fails clearly, takes no vote, and keeps the names hidden."""

import pytest

from arena.errors import Conflict
from tests.conftest import FAILING_TEXT, write_models_file

VOTER = "voter-aaaa-0001"


@pytest.fixture
def models_file(tmp_path):
    return write_models_file(tmp_path / "models.yaml", extra=[FAILING_TEXT])


async def test_a_failing_side_fails_the_battle_without_revealing_it(arena):
    ready = arena
    await ready.voters.ensure(VOTER)
    healthy = next(name for name in await ready.battles.active_models("text") if name != "broken-text")
    view = await ready.battles.start("text", "Hi", VOTER, models=("broken-text", healthy))
    assert view.status == "failed"
    assert "Model A" in view.error and "broken-text" not in view.error
    with pytest.raises(Conflict, match="failed"):
        await ready.battles.vote(view.id, VOTER, "model_b")
    assert (await ready.battles.get(view.id, VOTER)).votes == {}
