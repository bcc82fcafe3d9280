"""The battle service on SQLite and PostgreSQL: start, stream, continue, vote, reveal."""

from math import comb

import pytest
from sqlalchemy import func, select

from arena.errors import Conflict, InvalidInput, NotFound, Unavailable
from arena.services.battles import Chunk, Finished, Started
from arena.store.schema import Battle, Vote

VOTER = "voter-aaaa-0001"
OTHER = "voter-bbbb-0002"


@pytest.fixture
async def ready(arena):
    await arena.voters.ensure(VOTER)
    await arena.voters.ensure(OTHER)
    return arena


def votes_stored(arena) -> int:
    with arena.store.read() as session:
        return session.scalar(select(func.count(Vote.id)))


async def test_text_battle_lifecycle_reveals_names_only_after_the_vote(ready):
    view = await ready.battles.start("text", "Tell me about rivers and the sea.", VOTER)
    assert view.status == "ready"
    assert view.model_a is None and view.model_b is None
    assert view.turns[0]["a"].text and view.turns[0]["b"].text

    result = await ready.battles.vote(view.id, VOTER, "model_a")
    assert result.model_a != result.model_b
    assert {result.model_a, result.model_b} <= set(await ready.battles.active_models("text"))

    again = await ready.battles.get(view.id, VOTER)
    assert again.model_a == result.model_a and again.votes == {"overall": "model_a"}
    with pytest.raises(Conflict):
        await ready.battles.vote(view.id, VOTER, "model_b")
    with pytest.raises(Conflict, match="locked"):
        await ready.battles.continue_(view.id, VOTER, "one more thing")
    assert votes_stored(ready) == 1


async def test_uniform_sampler_records_the_pair_probability(ready):
    view = await ready.battles.start("text", "hello there", VOTER)
    with ready.store.read() as session:
        battle = session.get(Battle, view.id)
    n = len(await ready.battles.active_models("text"))
    assert battle.pair_probability == pytest.approx(1 / comb(n, 2))
    assert battle.mode == "anonymous" and battle.model_a != battle.model_b


async def test_multi_turn_text_battle_keeps_the_pair(ready):
    view = await ready.battles.start("text", "Describe a garden.", VOTER)
    view = await ready.battles.continue_(view.id, VOTER, "Now describe it at night.")
    view = await ready.battles.continue_(view.id, VOTER, "And in winter?")
    assert view.conversation == ["Describe a garden.", "Now describe it at night.", "And in winter?"]
    assert len(view.turns) == 3 and all(turn["a"].text and turn["b"].text for turn in view.turns)
    first = await ready.battles.vote(view.id, VOTER, "tie")
    with ready.store.read() as session:
        battle = session.get(Battle, view.id)
    assert (battle.model_a, battle.model_b) == (first.model_a, first.model_b)


async def test_streaming_sends_both_sides_before_the_result(ready):
    events = [event async for event in ready.battles.start_stream("text", "Say something kind.", VOTER)]
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    chunks = [e for e in events if isinstance(e, Chunk)]
    assert {c.side for c in chunks} == {"a", "b"}
    final = events[-1].battle
    for side in "ab":
        assert "".join(c.text for c in chunks if c.side == side) == final.turns[0][side].text


@pytest.mark.parametrize("modality", ["image", "3d"])
async def test_image_and_3d_battles_store_artifacts_and_take_dimension_votes(ready, modality):
    view = await ready.battles.start(modality, "a red house under a yellow sun", VOTER)
    assert view.status == "ready"
    for side in "ab":
        output = view.turns[0][side]
        assert output.artifact_sha256 and ready.artifacts.get(output.artifact_sha256)
        assert output.media_type == ("image/png" if modality == "image" else "model/gltf-binary")
    dimension = "aesthetics" if modality == "image" else "geometry"
    await ready.battles.vote(view.id, VOTER, "model_b", dimension)
    await ready.battles.vote(view.id, VOTER, "model_a", "overall")
    assert (await ready.battles.get(view.id, VOTER)).votes == {dimension: "model_b", "overall": "model_a"}
    with pytest.raises(InvalidInput, match="dimension"):
        await ready.battles.vote(view.id, VOTER, "model_a", "texture" if modality == "image" else "detail")


async def test_bad_votes_are_refused_and_write_nothing(ready):
    view = await ready.battles.start("text", "What is a prime number?", VOTER)
    with pytest.raises(NotFound):
        await ready.battles.vote("00000000-0000-4000-8000-000000000000", VOTER, "model_a")
    with pytest.raises(NotFound):
        await ready.battles.vote("not-a-uuid", VOTER, "model_a")
    with pytest.raises(NotFound):  # another voter's battle answers as a missing one
        await ready.battles.vote(view.id, OTHER, "model_a")
    with pytest.raises(InvalidInput, match="winner"):
        await ready.battles.vote(view.id, VOTER, "left")
    with pytest.raises(InvalidInput, match="dimension"):
        await ready.battles.vote(view.id, VOTER, "model_a", "aesthetics")
    assert votes_stored(ready) == 0


async def test_bad_prompts_and_modalities_are_refused(ready):
    with pytest.raises(InvalidInput, match="empty"):
        await ready.battles.start("text", "   ", VOTER)
    with pytest.raises(InvalidInput, match="longer than 8000"):
        await ready.battles.start("text", "x" * 8001, VOTER)
    with pytest.raises(InvalidInput, match="modality"):
        await ready.battles.start("audio", "hello", VOTER)
    with ready.store.read() as session:
        assert session.scalar(select(func.count(Battle.id))) == 0


async def test_a_vote_while_generating_is_refused(ready):
    stream = ready.battles.start_stream("text", "Count to ten.", VOTER)
    started = await anext(stream)
    with pytest.raises(Conflict, match="still being generated"):
        await ready.battles.vote(started.battle_id, VOTER, "model_a")
    async for _ in stream:
        pass
    assert (await ready.battles.vote(started.battle_id, VOTER, "model_a")).model_a


async def test_an_abandoned_stream_leaves_a_failed_battle(ready):
    stream = ready.battles.start_stream("text", "Write a long story.", VOTER)
    started = await anext(stream)
    await stream.aclose()
    assert (await ready.battles.get(started.battle_id, VOTER)).status == "failed"
    with pytest.raises(Conflict, match="failed"):
        await ready.battles.vote(started.battle_id, VOTER, "model_a")


async def test_named_mode_votes_are_stored_but_not_anonymous(ready):
    a, b = sorted(await ready.battles.active_models("text"))[:2]
    view = await ready.battles.start("text", "Hello!", VOTER, models=(a, b))
    assert (view.model_a, view.model_b) == (a, b)  # named: visible from the start
    await ready.battles.vote(view.id, VOTER, "model_b")
    with ready.store.read() as session:
        vote = session.scalars(select(Vote)).one()
    assert vote.anonymous is False
    with pytest.raises(InvalidInput):
        await ready.battles.start("text", "Hello!", VOTER, models=(a, a))
    with pytest.raises(InvalidInput, match="not an active"):
        await ready.battles.start("text", "Hello!", VOTER, models=(a, "no-such-model"))


async def test_no_battle_when_a_modality_has_too_few_models(ready):
    for name in list(ready.generators):
        if ready.generators[name].modality == "3d":
            del ready.generators.from_file[name]
    with pytest.raises(Unavailable):
        await ready.battles.start("3d", "a chair", VOTER)
