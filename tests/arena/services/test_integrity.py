"""Integrity on simulated voters with known labels, on SQLite and PostgreSQL.

Ground truth: the board after a scan equals a fit on the honest votes alone (the
detector flags exactly the attackers here), and after a release equals a fit on every
vote; quarantine, release and ban move exactly the votes they name, and every decision
is in the audit log.
"""

import dataclasses
import math
import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import func, select

from arena.jobs.integrity import IntegrityJob
from arena.services.integrity import detect
from arena.services.leaderboards import board_key
from arena.store.flags import list_flags
from arena.store.history import AUDIT_COLUMNS, audit_votes
from arena.store.schema import AdminLogEntry, Vote
from arena.vocabulary import FlagState
from ranking.fraud import AuditOptions, audit
from tests.arena.simulated import (
    attackers,
    create_voters,
    named,
    ratings_of,
    simulation,
    trust_models_file,
    write_votes,
)
from tests.conftest import eventually, ready_arena


@pytest.fixture
def models_file(tmp_path):
    return trust_models_file(tmp_path / "models.yaml")


@pytest.fixture(scope="module")
def sim():
    return simulation()


@pytest.fixture
async def filled(arena, sim):
    """The arena with the simulation's votes; returns (arena, votes with our model names)."""
    frame = named(sim, arena)
    write_votes(arena, frame)
    return arena, frame


def board(arena):
    return arena.leaderboards.refit(board_key("text"))


def assert_board_is_a_fit_on(arena, frame):
    fitted = board(arena)
    assert fitted.votes == len(frame)
    expected = ratings_of(frame, arena)
    assert {row["model"]: pytest.approx(row["rating"], abs=1e-6) for row in fitted.rows} == expected


def reasons_of(arena) -> dict[str | None, int]:
    with arena.store.read() as session:
        return dict(session.execute(select(Vote.invalid_reason, func.count()).group_by(Vote.invalid_reason)).all())


def log_rows(arena) -> list[tuple[str, str, str]]:
    with arena.store.read() as session:
        rows = session.execute(
            select(AdminLogEntry.actor, AdminLogEntry.action, AdminLogEntry.target).order_by(AdminLogEntry.id)
        ).all()
    return [tuple(row) for row in rows]


async def test_quarantine_takes_exactly_the_flagged_voters_votes_off_the_board(filled, sim):
    arena, frame = filled
    bad = attackers(sim)
    assert_board_is_a_fit_on(arena, frame)  # before: every vote counts

    result = arena.integrity.scan()
    assert set(result.quarantined) == bad, "exactly the attackers are flagged"
    honest = frame[~frame["voter"].isin(bad)]
    assert result.invalidated == len(frame) - len(honest)
    assert_board_is_a_fit_on(arena, honest)
    assert board(arena).excluded == {"quarantined": len(frame) - len(honest)}

    flags = {flag.voter_id: flag for flag in await arena.integrity.flags()}
    assert set(flags) == bad
    per_voter = frame["voter"].value_counts()
    for voter, flag in flags.items():
        assert flag.state == FlagState.QUARANTINED and flag.decided_by is None
        assert flag.votes_affected == flag.votes == per_voter[voter]
        assert flag.score >= 2 and flag.reasons
        assert flag.evidence["boards"]["text/overall"]["flagged"]
        if sim.labels[voter] == "always_left":
            assert any(reason.startswith("position bias") for reason in flag.reasons)
    assert sorted(log_rows(arena)) == sorted(("detector", "quarantine", voter) for voter in bad)

    again = arena.integrity.scan()  # the same evidence: nothing new
    assert again.quarantined == [] and again.invalidated == 0 and again.flagged == len(bad)
    assert len(log_rows(arena)) == len(bad)


async def test_release_restores_exactly_and_only_new_evidence_quarantines_again(filled, sim):
    arena, frame = filled
    arena.integrity.scan()
    bad = sorted(attackers(sim))
    for voter in bad:
        record = await arena.integrity.release(voter, "admin")
        assert record.state == FlagState.RELEASED and record.votes_affected == 0 and record.decided_by == "admin"
    assert_board_is_a_fit_on(arena, frame)
    assert board(arena).excluded == {}
    assert reasons_of(arena) == {None: len(frame)}

    rescan = arena.integrity.scan()
    assert rescan.quarantined == [] and rescan.invalidated == 0, "released on this evidence: stays released"
    assert {flag.state for flag in await arena.integrity.flags()} == {FlagState.RELEASED}

    # One released voter starts voting left every time: judged on the new votes alone, flagged again.
    voter, now = bad[0], datetime.now(UTC).timestamp()
    pairs = frame[["model_a", "model_b"]].sample(45, random_state=3).reset_index(drop=True)
    fresh = pairs.assign(winner="model_a", voter=voter, tstamp=now + pairs.index.to_numpy() * 30.0, ip_hash=None)
    write_votes(arena, fresh, new_voters=False)
    result = arena.integrity.scan()
    assert result.quarantined == [voter]
    flag = {flag.voter_id: flag for flag in await arena.integrity.flags()}[voter]
    total = int((frame["voter"] == voter).sum()) + len(fresh)
    assert flag.state == FlagState.QUARANTINED and flag.votes == len(fresh) and flag.votes_affected == total
    assert any("position bias" in reason for reason in flag.reasons)
    assert log_rows(arena)[-1] == ("detector", "quarantine", voter)
    assert [row[1] for row in log_rows(arena)].count("release") == len(bad)


async def test_ban_takes_every_vote_off_and_a_release_undoes_it(filled, sim):
    arena, frame = filled
    arena.integrity.scan()
    quarantined = sorted(attackers(sim))[0]
    honest = next(voter for voter, label in sim.labels.items() if label == "honest")
    assert not arena.integrity.is_banned(honest)

    record = await arena.integrity.ban(honest, "admin")
    assert record.state == FlagState.BANNED and record.votes_affected == int((frame["voter"] == honest).sum())
    assert arena.integrity.is_banned(honest)
    converted = await arena.integrity.ban(quarantined, "admin")  # quarantined votes become banned ones
    assert converted.votes_affected == int((frame["voter"] == quarantined).sum())
    excluded = board(arena).excluded
    assert excluded["banned"] == record.votes_affected + converted.votes_affected
    assert excluded["quarantined"] == int(frame["voter"].isin(attackers(sim)).sum()) - converted.votes_affected
    assert arena.integrity.scan().quarantined == [], "a scan never overrides a ban"
    assert arena.integrity.is_banned(quarantined)

    restored = await arena.integrity.release(honest, "admin")
    assert restored.state == FlagState.RELEASED and not arena.integrity.is_banned(honest)
    seen = audit_votes(arena.store)
    assert int(((seen["voter"] == honest) & seen["counted"]).sum()) == int((frame["voter"] == honest).sum())
    actions = [row for row in log_rows(arena) if row[0] == "admin"]
    assert actions == [("admin", "ban", honest), ("admin", "ban", quarantined), ("admin", "release", honest)]

    arena.integrity._banned = frozenset()  # another replica's view before its job's next pass
    arena.integrity.refresh()
    assert arena.integrity.is_banned(quarantined) and not arena.integrity.is_banned(honest)


async def test_with_quarantine_off_flags_are_listed_and_the_votes_still_count(filled, sim):
    arena, frame = filled
    arena.settings.quarantine = False
    result = arena.integrity.scan()
    assert result.quarantined == [] and result.flagged == len(attackers(sim))
    assert {flag.state for flag in await arena.integrity.flags()} == {FlagState.FLAGGED}
    assert_board_is_a_fit_on(arena, frame)

    arena.settings.quarantine = True  # turned on later: the next scan quarantines them
    assert set(arena.integrity.scan().quarantined) == attackers(sim)
    assert_board_is_a_fit_on(arena, frame[~frame["voter"].isin(attackers(sim))])


async def test_later_votes_of_a_quarantined_voter_leave_the_board_at_the_next_scan(filled, sim):
    arena, frame = filled
    arena.integrity.scan()
    voter = sorted(attackers(sim))[0]
    now = datetime.now(UTC).timestamp()
    more = frame[frame["voter"] == voter].head(5).assign(tstamp=now)
    write_votes(arena, more, new_voters=False)
    assert board(arena).votes == int((~frame["voter"].isin(attackers(sim))).sum()) + 5
    result = arena.integrity.scan()
    assert result.invalidated == 5 and result.quarantined == []
    flag = {flag.voter_id: flag for flag in await arena.integrity.flags()}[voter]
    assert flag.votes_affected == int((frame["voter"] == voter).sum()) + 5
    assert board(arena).votes == int((~frame["voter"].isin(attackers(sim))).sum())


def test_each_board_slice_is_audited_alone_and_a_voter_on_two_is_judged_on_their_mean():
    """Which votes the audit reads, and how each board slice is judged (pure: no database)."""
    sim = simulation(seed=2, honest=60)
    text = sim.frame.assign(modality="text", dimension="overall")
    one = detect(text, 0.01)
    reference = audit(sim.frame, AuditOptions(alpha=0.01))
    assert [(f.voter, f.score, f.reasons) for f in one.flags] == [
        (f.voter, round(f.score, 4), f.reasons) for f in reference.flags
    ]

    # The same votes judged again as a second board: each voter's evidence is the mean of its two e-values.
    both = pd.concat([text, text.assign(dimension="aesthetics", modality="image")], ignore_index=True)
    two = detect(both, 0.01)
    assert two.boards == ["image/aesthetics", "text/overall"]
    for voter, score in one.scores.items():
        assert two.scores[voter] == pytest.approx(score, abs=1e-9)  # mean of two equal e-values
    flag = two.flags[0]
    assert all(reason.startswith("[") for reason in flag.reasons) and len(flag.evidence["boards"]) == 2
    assert math.isfinite(flag.score)


async def test_audited_votes_leave_out_identity_leaks_and_keep_the_others(filled):
    arena, frame = filled
    from arena.store.votes import invalidate_votes
    from arena.vocabulary import InvalidReason

    voters = frame["voter"].unique()[:3]
    invalidate_votes(arena.store, [voters[0]], InvalidReason.IDENTITY_LEAK)
    invalidate_votes(arena.store, [voters[1]], InvalidReason.TOO_FAST)
    invalidate_votes(arena.store, [voters[2]], InvalidReason.QUARANTINED)
    seen = audit_votes(arena.store)
    assert list(seen.columns[:6]) == AUDIT_COLUMNS
    assert voters[0] not in set(seen["voter"])
    assert len(seen) == len(frame) - int((frame["voter"] == voters[0]).sum())
    assert not seen.loc[seen["voter"].isin(voters[1:]), "counted"].any()
    assert seen["tstamp"].is_monotonic_increasing


def test_the_job_scans_after_votes_and_at_most_every_audit_every_s(tmp_path, sim):
    """SQLite only: the schedule does not depend on the database."""
    import asyncio

    arena = ready_arena(dataclasses.replace(_settings(tmp_path), audit_every_s=0.6))
    scans: list[float] = []
    scan = arena.integrity.scan

    def counting_scan(*detector):
        scans.append(time.monotonic())
        return scan(*detector)

    arena.integrity.scan = counting_scan  # type: ignore[method-assign]
    started = time.monotonic()

    async def run() -> None:
        await arena.start()
        try:
            frame = named(sim, arena)
            create_voters(arena, frame)
            write_votes(arena, frame.head(2000), new_voters=False)
            for start in range(2000, len(frame), 200):  # a burst of batches, one event each
                write_votes(arena, frame.iloc[start : start + 200], new_voters=False)
            assert eventually(lambda: len(list_flags(arena.store)) == len(attackers(sim)), timeout=20)
            time.sleep(1.5)  # no new votes: no more scans
        finally:
            await arena.stop()

    asyncio.run(run())
    assert scans[0] - started >= 0.55, "no scan before audit_every_s has passed since start"
    gaps = [later - earlier for earlier, later in zip(scans, scans[1:], strict=False)]
    assert all(gap >= 0.55 for gap in gaps), gaps
    assert len(scans) <= 3, f"a burst of votes costs a scan or two, not one per batch: {len(scans)}"


def _settings(tmp_path):
    from arena.settings import Settings

    return Settings(
        data_dir=tmp_path / "data",
        models_file=trust_models_file(tmp_path / "models.yaml"),
        secret_key="test-secret",
        leaderboard_refresh_s=3600,
    )


def test_a_job_without_new_votes_does_not_scan(tmp_path):
    arena = ready_arena(_settings(tmp_path))
    job = IntegrityJob(arena.integrity, arena.settings)
    arena.store.start()
    try:
        assert job.run_once() is not None  # the first pass after start scans (votes may have come in unwatched)
        assert job.run_once() is None  # nothing since
    finally:
        arena.store.stop()
        arena.engine.dispose()


@pytest.fixture
def robust_settings(settings):
    return dataclasses.replace(settings, quarantine_weight=0.25)


async def test_the_robust_fit_keeps_quarantined_votes_at_their_weight(robust_settings, sim):
    from ranking import RankOptions, rank

    arena = ready_arena(robust_settings)
    await arena.start(jobs=False)
    try:
        frame = named(sim, arena)
        write_votes(arena, frame)
        bad = attackers(sim)
        assert set(arena.integrity.scan().quarantined) == bad
        fitted = board(arena)
        honest = frame[~frame["voter"].isin(bad)]
        assert (fitted.votes, fitted.down_weighted) == (len(honest), len(frame) - len(honest))
        assert "quarantined" not in fitted.excluded
        weighted = frame.assign(weight=frame["voter"].isin(bad).map({True: 0.25, False: 1.0}))
        counts = weighted.groupby(["model_a", "model_b", "winner", "weight"]).size().rename("count").reset_index()
        options = RankOptions(
            ci=robust_settings.leaderboard_ci, provisional_votes=robust_settings.provisional_votes, weight="weight"
        )
        expected = {row["model"]: row["rating"] for row in rank(counts, options).records()}
        assert {row["model"]: pytest.approx(row["rating"], abs=1e-6) for row in fitted.rows} == expected
        assert expected != ratings_of(honest, arena) != ratings_of(frame, arena)  # between removal and no defence
    finally:
        await arena.stop()
