"""Board keys and board versions, as pure logic: which boards exist, and which an event makes stale."""

import pytest

from arena.errors import InvalidInput
from arena.services.leaderboards import BoardKey, Leaderboards, board_key, main_keys
from arena.settings import Settings
from arena.store.engine import Store, make_engine
from arena.store.events import BattleFinished, VoterProfileChanged, VotesInvalidated, VotesRecorded
from arena.vocabulary import DIMENSIONS, BattleStatus, Dimension, GroupField, Modality, VoteSource


def test_a_key_is_normalised_to_the_vocabulary():
    assert board_key("image", "aesthetics") == BoardKey(Modality.IMAGE, Dimension.AESTHETICS)
    assert board_key("text", group=("country", "FR")) == BoardKey(
        Modality.TEXT, Dimension.OVERALL, GroupField.COUNTRY, "FR"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (("audio",), "modality must be one of: text, image, 3d"),
        (("text", "aesthetics"), "dimension for text must be one of: overall"),
        (("3d", "detail"), "dimension for 3d must be one of: overall, geometry, texture, alignment"),
        (("text", "overall", ("favourite_colour", "red")), "group must be one of: category, age_band"),
        (("text", "overall", ("country", "")), "group value must be 1-64 characters"),
        (("text", "overall", ("country", "x" * 65)), "group value must be 1-64 characters"),
    ],
)
def test_a_bad_key_names_what_is_allowed(args, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        board_key(*args)


def test_the_main_boards_are_every_dimension_of_every_modality():
    keys = main_keys()
    assert len(keys) == sum(len(dimensions) for dimensions in DIMENSIONS.values()) == 9
    assert all(key.group is None for key in keys)


@pytest.fixture
def boards(tmp_path):
    store = Store(make_engine(f"sqlite:///{tmp_path / 'unused.db'}"))  # no query runs in these tests
    return store, Leaderboards(store, Settings(data_dir=tmp_path, secret_key="s"))


def fit_everything(leaderboards, monkeypatch):
    """Pretend every stale board was refitted (the fit itself is tested against a database elsewhere)."""
    monkeypatch.setattr(leaderboards, "_fit", lambda key: None)
    for key in leaderboards.stale():
        leaderboards.refit(key)
    assert leaderboards.stale() == []


def test_a_vote_makes_only_its_own_board_and_sub_boards_stale(boards, monkeypatch):
    store, leaderboards = boards
    by_country = board_key("image", "detail", ("country", "FR"))
    by_category = board_key("image", "detail", ("category", "nature"))
    leaderboards.get(by_country), leaderboards.get(by_category)  # requested: now cached after a fit
    fit_everything(leaderboards, monkeypatch)

    store.events.publish(VotesRecorded(frozenset({(Modality.IMAGE, Dimension.DETAIL)}), 1, VoteSource.LIVE))
    assert set(leaderboards.stale()) == {board_key("image", "detail"), by_country, by_category}


def test_an_invalidation_and_a_profile_change_make_boards_stale(boards, monkeypatch):
    store, leaderboards = boards
    by_language = board_key("text", group=("first_language", "fr"))
    by_category = board_key("text", group=("category", "coding"))
    leaderboards.get(by_language), leaderboards.get(by_category)
    fit_everything(leaderboards, monkeypatch)

    store.events.publish(VotesInvalidated(frozenset({(Modality.THREE_D, Dimension.TEXTURE)}), 3))
    assert leaderboards.stale() == [board_key("3d", "texture")]
    fit_everything(leaderboards, monkeypatch)

    store.events.publish(VoterProfileChanged("voter-x-0001"))
    assert leaderboards.stale() == [by_language]  # a prompt category does not depend on profiles
    fit_everything(leaderboards, monkeypatch)

    store.events.publish(BattleFinished("b", Modality.TEXT, BattleStatus.READY))  # no vote, no refit
    assert leaderboards.stale() == []
