"""3D battles are pairing-aware: the demo's untextured mesh (kiln-block) never meets a
vertex-coloured one (kiln-facet, kiln-forge) unless the operator mixes formats."""

import dataclasses

import pytest

from arena.services.formats import same_format_pairs
from arena.vocabulary import VoteSource
from tests.conftest import ready_arena

VOTER = "format-voter-0001"


async def pairs_drawn(settings, battles: int = 12) -> set[frozenset[str]]:
    arena = ready_arena(settings)
    await arena.start(jobs=False)
    try:
        drawn = set()
        for i in range(battles):
            view = await arena.battles.start("3d", f"a red chair {i}", VOTER, source=VoteSource.SIMULATE)
            drawn.add(frozenset(await arena.battles.pair_of(view.id)))
        return drawn
    finally:
        await arena.stop()


async def test_an_untextured_mesh_meets_only_untextured_ones(settings):
    drawn = await pairs_drawn(settings)
    assert drawn == {frozenset({"kiln-facet", "kiln-forge"})}


async def test_the_operator_may_mix_formats(settings):
    drawn = await pairs_drawn(dataclasses.replace(settings, mix_3d_formats=True))
    assert any("kiln-block" in pair for pair in drawn)


def test_the_kept_pairs_are_renormalised_and_an_empty_choice_is_refused():
    pairs = {("a", "b"): 0.5, ("a", "c"): 0.25, ("b", "c"): 0.25}
    assert same_format_pairs(pairs, {"a"}, {"b", "c"}) == {("b", "c"): 1.0}
    assert same_format_pairs(pairs, set(), {"a", "b", "c"}) == pairs
    with pytest.raises(ValueError):
        same_format_pairs({("a", "b"): 1.0}, {"a"}, {"b"})
