"""The vote counts table equals a full GROUP BY over the votes, and boards from it equal boards from the votes.

Ground truth (style.md, item 9): after live and bulk votes, an invalidation, a
restore, a quarantine, a ban, a release and a profile erasure, the counts table
holds exactly the GROUP BY over the votes (votes, Σ 1/p and Σ 1/p², with votes of
unequal weight in one row), and every board (main, by category, language and voter
group, the "not counted" line, the robust fit, the inverse-propensity fit) read from
it equals the one read from the votes. `arena db check-counts` finds a tampered table
and repairs it; the migration that added Σ 1/p² fills it from the votes and goes back.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pandas as pd
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, func, inspect, select, text, update

from arena import simulate
from arena.services.catalog import active_models
from arena.services.leaderboards import (
    BoardKey,
    counts_from_votes,
    excluded_counts,
    excluded_from_votes,
    main_keys,
    rank_options,
    vote_counts,
)
from arena.store import counts
from arena.store.engine import MIGRATIONS, upgrade
from arena.store.groups import GROUP_COLUMNS
from arena.store.schema import Battle, Vote, VoteCount
from arena.store.votes import invalidate_votes, restore_votes
from arena.vocabulary import InvalidReason, Modality, Winner
from ranking import rank
from tests.conftest import arena_command


def board_keys(arena) -> list[BoardKey]:
    """Every main board and every board by group value that has votes, plus one value nobody has."""
    keys = list(main_keys())
    with arena.store.read() as session:
        for field_, column in GROUP_COLUMNS.items():
            values = session.scalars(
                select(column).distinct().select_from(Vote).join(Battle, Battle.id == Vote.battle_id)
            ).all()
            for value in [*values, "no-such-value"]:
                if value is not None:
                    keys += [BoardKey(Modality.TEXT, main.dimension, field_, value) for main in main_keys()[:1]]
                    keys.append(BoardKey(Modality.IMAGE, main_keys()[1].dimension, field_, value))
    return keys


def assert_counts_equal_the_votes(arena) -> None:
    assert [difference.line() for difference in counts.check(arena.store)] == []
    for key in board_keys(arena):
        for weight in (0.0, 0.25):
            for ipw in (False, True):
                from_table = vote_counts(arena.store, key, quarantine_weight=weight, inverse_propensity=ipw)
                from_votes = counts_from_votes(arena.store, key, quarantine_weight=weight, inverse_propensity=ipw)
                pd.testing.assert_frame_equal(from_table, from_votes, check_dtype=False)
        assert excluded_counts(arena.store, key) == excluded_from_votes(arena.store, key)
    for key in main_keys():  # the fitted board itself
        frame = counts_from_votes(arena.store, key)
        board = arena.leaderboards.refit(key)
        if board.status == "ok":
            expected = rank(frame, rank_options(arena.settings)).records()
            assert [
                {name: got[name] for name in row} for row, got in zip(expected, board.rows, strict=True)
            ] == expected


def voters_with_votes(arena, count: int) -> list[str]:
    with arena.store.read() as session:
        return list(session.scalars(select(Vote.voter_id).distinct().order_by(Vote.voter_id)).all())[:count]


async def test_the_counts_table_follows_every_change_to_the_votes(arena):
    arena.settings.sampler = "active"  # pair probabilities far apart, changing at each refit
    simulate.bulk(arena, 1500, [Modality.TEXT, Modality.IMAGE], seed=7, chunk=400)  # batch path
    await simulate.simulate(arena, 24, [Modality.TEXT, Modality.IMAGE], seed=8, concurrency=4)  # checked path
    with arena.store.read() as session:  # probabilities changed between chunks: rows hold votes of unequal weight
        unequal = VoteCount.weight2 * VoteCount.votes > 1.001 * VoteCount.weight * VoteCount.weight
        assert session.scalar(select(func.count()).where(unequal))
    assert_counts_equal_the_votes(arena)

    first, second, third = voters_with_votes(arena, 3)
    assert invalidate_votes(arena.store, [first, second], InvalidReason.QUARANTINED) > 0
    assert_counts_equal_the_votes(arena)
    assert restore_votes(arena.store, [second], InvalidReason.QUARANTINED) > 0
    assert_counts_equal_the_votes(arena)

    await arena.integrity.ban(third, "admin")  # quarantined votes become banned ones
    assert_counts_equal_the_votes(arena)
    await arena.integrity.release(third, "admin")
    assert_counts_equal_the_votes(arena)

    with arena.store.read() as session:
        profiled = session.scalar(select(Vote.voter_id).where(Vote.country.is_not(None)).limit(1))
    assert profiled is not None
    await arena.voters.delete_profile(profiled)  # the snapshot leaves every past vote, and its counts move
    with arena.store.read() as session:
        assert session.scalar(select(Vote.country).where(Vote.voter_id == profiled).limit(1)) is None
    assert_counts_equal_the_votes(arena)


async def test_one_upsert_per_key_and_no_empty_rows(arena):
    simulate.bulk(arena, 300, [Modality.TEXT], seed=3, chunk=300)
    models = len(active_models(arena.store, Modality.TEXT))
    with arena.store.read() as session:
        main = session.execute(select(VoteCount.votes).where(VoteCount.group_field == "")).scalars().all()
        slices = session.execute(select(VoteCount.group_field, VoteCount.group_value).distinct()).all()
        rows = session.scalar(select(func.count()).select_from(VoteCount))
    assert sum(main) == 300
    assert len(main) <= models * (models - 1) * len(Winner)  # per slice: O(models²), whatever the votes
    assert rows <= len(slices) * models * (models - 1) * len(Winner)
    voters = voters_with_votes(arena, 100)
    invalidate_votes(arena.store, voters, InvalidReason.BANNED)
    restore_votes(arena.store, voters, InvalidReason.BANNED)
    with arena.store.read() as session:
        assert session.scalar(select(VoteCount.votes).where(VoteCount.votes <= 0).limit(1)) is None
        assert session.scalar(select(VoteCount.votes).where(~VoteCount.valid).limit(1)) is None
    assert_counts_equal_the_votes(arena)


async def test_the_migration_fills_the_table_from_the_votes_already_stored(arena):
    simulate.bulk(arena, 500, [Modality.TEXT, Modality.IMAGE], seed=9, chunk=500)
    invalidate_votes(arena.store, voters_with_votes(arena, 2), InvalidReason.QUARANTINED)
    await arena.voters.delete_profile(voters_with_votes(arena, 3)[-1])
    with arena.store.write_connection() as connection:  # the database as revision 0005 left it
        connection.execute(text("DROP TABLE vote_counts"))
        connection.execute(text("ALTER TABLE voters DROP COLUMN terms_accepted_at"))  # revision 0007
        connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    upgrade(arena.engine)
    assert counts.check(arena.store) == []
    with arena.store.read() as session:
        assert session.scalar(select(func.sum(VoteCount.votes)).where(VoteCount.group_field == "")) == 500


async def test_the_weight2_migration_fills_the_squares_from_the_votes_and_goes_back(arena):
    arena.settings.sampler = "active"  # pair probabilities far apart, changing at each refit
    simulate.bulk(arena, 600, [Modality.TEXT], seed=4)
    invalidate_votes(arena.store, voters_with_votes(arena, 2), InvalidReason.QUARANTINED)
    with arena.store.read() as session:
        before = session.execute(select(VoteCount).order_by(*(getattr(VoteCount, k) for k in counts.KEY))).all()
    downgrade(arena.engine, "0007")
    with arena.engine.connect() as connection:
        assert "weight2" not in {c["name"] for c in inspect(connection).get_columns("vote_counts")}
        assert connection.scalar(select(func.sum(VoteCount.votes)).where(VoteCount.group_field == "")) == 600
    upgrade(arena.engine)
    assert counts.check(arena.store) == []
    with arena.store.read() as session:
        after = session.execute(select(VoteCount).order_by(*(getattr(VoteCount, k) for k in counts.KEY))).all()
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert (_key(new[0]), new[0].votes) == (_key(old[0]), old[0].votes)
        assert (new[0].weight, new[0].weight2) == pytest.approx((old[0].weight, old[0].weight2), rel=1e-9)


def test_check_counts_finds_a_tampered_table_and_repairs_it(arena, settings):
    simulate.bulk(arena, 200, [Modality.TEXT], seed=5, chunk=200)
    env = {"ARENA_SECRET_KEY": "test-secret"}
    if settings.database_url:
        env["ARENA_DATABASE_URL"] = settings.database_url
    args = ("db", "check-counts", "--data-dir", str(settings.data_dir))
    clean = arena_command(*args, env=env)
    assert (clean.returncode, clean.stdout.strip()) == (0, "0 differences between counts and votes"), clean.stderr

    with arena.store.write_connection() as connection:
        row = connection.execute(select(VoteCount).limit(1)).one()
        connection.execute(update(VoteCount).where(*_same(row)).values(votes=row.votes + 2))
        second = connection.execute(select(VoteCount).offset(1).limit(1)).one()
        connection.execute(delete(VoteCount).where(*_same(second)))
        third = connection.execute(select(VoteCount).offset(2).limit(1)).one()
        connection.execute(update(VoteCount).where(*_same(third)).values(weight2=third.weight2 + 1000))
    found = arena_command(*args, env=env)
    lines = found.stdout.strip().splitlines()
    assert found.returncode == 1, found.stderr
    assert len(lines) == 4 and lines[-1] == "3 differences between counts and votes"
    assert f"counts table {row.votes + 2} votes" in "\n".join(lines)
    assert "counts table 0 votes" in "\n".join(lines)  # the deleted row
    assert f"weight2 {third.weight2 + 1000:.6g}), votes table {third.votes} votes" in "\n".join(lines)

    repaired = arena_command(*args, "--repair", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.strip().splitlines()[-1] == "counts table rewritten from the votes; 0 differences left"
    assert counts.check(arena.store) == []
    assert arena_command(*args, env=env).returncode == 0


def _same(row) -> list:
    return [getattr(VoteCount, name) == getattr(row, name) for name in counts.KEY]


def _key(row) -> tuple:
    return tuple(getattr(row, name) for name in counts.KEY)


def downgrade(engine, revision: str) -> None:
    """Take the schema back to `revision` (Alembic's downgrade, as `upgrade` runs the upgrade)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
