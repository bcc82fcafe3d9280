"""Boards are cached only for slices that exist, and the cache is bounded.

Junk group values and categories answer 404 (as a value under k-anonymity does) and
never enter the cache or the board job's work; boards by group beyond the bound leave
the cache least recently read first. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pytest

from arena import simulate
from arena.services import leaderboards as leaderboards_module
from arena.services.leaderboards import Leaderboards, board_key, main_keys
from arena.settings import Settings
from arena.store.engine import Store, make_engine
from arena.store.events import VoterProfileChanged, VotesInvalidated, VotesRecorded
from arena.vocabulary import Dimension, Modality, VoteSource
from tests.conftest import eventually


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, ip_requests_per_minute=100_000)  # the junk here is not a flood


def test_junk_group_values_answer_404_and_do_not_grow_the_cache(server, client):
    arena = server.arena
    simulate.bulk(arena, 400, [Modality.TEXT], seed=11, chunk=400)
    arena.leaderboards.refit(board_key("text"))
    assert eventually(lambda: client.get("/api/v1/leaderboard").json()["status"] == "ok")
    cached = set(arena.leaderboards._boards)
    for i in range(300):
        for group in ("country", "category", "language", "expertise"):
            answer = client.get("/api/v1/leaderboard", params={"modality": "text", "group": group, "value": f"junk{i}"})
            assert answer.status_code == 404, answer.text
            assert set(answer.json()) == {"error"}
    too_long = client.get("/api/v1/leaderboard", params={"group": "country", "value": "x" * 65})
    assert too_long.status_code in (400, 422)
    assert set(arena.leaderboards._boards) == cached
    assert all(key.value is None or not key.value.startswith("junk") for key in arena.leaderboards.stale())


@pytest.fixture
def boards(tmp_path, monkeypatch):
    monkeypatch.setattr(leaderboards_module, "MAX_CACHED_BOARDS", 5)
    store = Store(make_engine(f"sqlite:///{tmp_path / 'unused.db'}"))  # no query runs here
    leaderboards = Leaderboards(store, Settings(data_dir=tmp_path, secret_key="s"))
    monkeypatch.setattr(leaderboards, "_fit", lambda key: object())
    return leaderboards


def test_the_cache_keeps_the_main_boards_and_the_most_recently_read_group_boards(boards):
    keys = [board_key("text", group=("country", f"C{i}")) for i in range(12)]
    for key in [*main_keys(), *keys[:5]]:
        boards.refit(key)
    boards.get(keys[0])  # read: now the most recent
    for key in keys[5:8]:
        boards.refit(key)
    cached = set(boards._boards)
    assert set(main_keys()) <= cached
    assert cached - set(main_keys()) == {keys[0], keys[5], keys[6], keys[7], keys[4]}
    assert set(boards.stale()) <= cached  # an evicted board is no longer refitted after votes


def test_new_votes_alone_refresh_the_k_anonymity_values_at_a_bounded_rate(boards, monkeypatch):
    """The distinct-voter count behind k-anonymity reads the votes: after new votes only (which can
    add a value, never take one under k) it is not redone at every refit; after an invalidation, a
    profile change or changes from another process it is."""
    calls = []

    def publishable_values(*args):
        calls.append(args)
        time.sleep(0.002)  # a slow refresh, as with millions of votes (scaled down below)
        return {}

    monkeypatch.setattr(leaderboards_module, "GROUPS_REFRESH_ALWAYS_S", 0.001)
    monkeypatch.setattr(leaderboards_module, "GROUPS_REFRESH_SHARE", 1e-6)
    monkeypatch.setattr(leaderboards_module, "publishable_values", publishable_values)
    monkeypatch.setattr(leaderboards_module, "vote_counts", lambda *args: pd.DataFrame())
    monkeypatch.setattr(leaderboards_module, "excluded_counts", lambda *args: {})
    monkeypatch.setattr(boards, "_fit", Leaderboards._fit.__get__(boards))
    main, slice_ = board_key("text"), (Modality.TEXT, Dimension.OVERALL)
    events = boards.store.events

    boards.refit(main)
    events.publish(VotesRecorded(frozenset({slice_}), 1, VoteSource.LIVE))
    boards.refit(main)
    assert len(calls) == 1
    events.publish(VotesInvalidated(frozenset({slice_}), 1))
    boards.refit(main)
    assert len(calls) == 2
    events.publish(VoterProfileChanged("voter-x-0001"))
    boards.refit(main)
    assert len(calls) == 3
    boards.invalidate_all()
    boards.refit(main)
    assert len(calls) == 4
