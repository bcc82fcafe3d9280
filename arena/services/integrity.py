"""Integrity: fraud scoring over the vote history, quarantine, and the operator's review.

Detection itself is `ranking.fraud.audit` (pure, anytime-valid tests of every voter and
of groups of voter ids against the consensus board); this service feeds it our votes,
keeps its verdicts as rows (voter_flags) and moves votes on and off the boards through
the vote path (`invalidate_votes` / `restore_votes`), never deleting one.

What the detector sees (arena/store/history.py): every anonymous vote, counted or not,
except identity-leak votes; votes already kept off the boards for quarantine, a ban or
too-fast voting stay in, since the tests judge the voter's behaviour.

Board slices. Each (modality, dimension) is audited on its own: the consensus and the
tests' population shares are per board (a voter who only judges text would otherwise
look concentrated on the text models). A voter who voted in k slices is judged on the
mean of their k e-values (a mean of e-values is an e-value, so the level stays about
`audit_alpha` for every voter); with one slice, which is most voters, that is exactly
the audit's own score, and `arena audit --db` on a one-slice database agrees with
`arena audit` on an export of it.

States (vocabulary.FlagState):
- flagged voters are quarantined when `settings.quarantine` is on (the default): their
  counted votes are invalidated with reason `quarantined`, and votes they cast later are
  invalidated by the next scan; with quarantine off they are listed as `flagged` and
  their votes still count (turning quarantine on quarantines them at the next scan).
- an operator's `release` restores the votes (quarantined and banned ones) and marks the
  voter `released`; `ban` marks them `banned` with every counted vote invalidated as
  `banned` (a ban is undone by `release`). Each writes an admin_actions row in the same
  transaction as the change; the detector's quarantines are logged too (actor "detector").
- re-flagging after a release: a released voter is judged on the votes cast after the
  release only. The evidence the operator reviewed never counts again, and the new votes
  face the same anytime-valid test from scratch, so an honest released voter is flagged
  again with probability at most alpha, while one who starts rigging after the release
  is caught as any new voter would be. A flag never lapses on its own: a quarantined
  voter stays quarantined until an operator decides, even if a later consensus would
  not flag them.
- scans never override a decision taken while they ran (the decision's time is newer
  than the scan's start).

Cost: a scan reads the audited votes once (one row each) and runs the audit on each
slice; it runs in the integrity job's thread (arena/jobs/integrity.py), never on the
vote path. `is_banned` is a set lookup, refreshed by this process's decisions and by
every pass of the job (which catches other replicas' bans).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from arena.errors import NotFound
from arena.settings import Settings
from arena.store.admin_log import ActionRecord, list_actions, log_action
from arena.store.engine import Store
from arena.store.flags import (
    FlagRecord,
    banned_voters,
    flag_states,
    invalid_counts,
    list_flags,
    lock_flags,
    utc,
    voter_exists,
)
from arena.store.history import AUDIT_COLUMNS, audit_votes
from arena.store.schema import VoterFlag
from arena.store.votes import invalidate_votes, restore_votes
from arena.vocabulary import AdminAction, FlagState, InvalidReason
from ranking import RankingError
from ranking.fraud import AuditOptions, AuditReport, GroupFlag, audit
from ranking.fraud import VoterFlag as AuditFlag

log = logging.getLogger("arena.integrity")

DETECTOR = "detector"  # the actor of automatic quarantines in the audit log
MAX_GROUP_IDS = 50  # voter ids kept per coordinated group in a flag's evidence
BIG = 1e300  # an infinite score is stored as this (JSON and SQL have no infinity)


@dataclass(frozen=True)
class Verdict:
    """One flagged voter. `score`: log10 of the voter's e-value (mean over board slices);
    `reasons`: one line per test that fired (prefixed with the board when the voter
    voted on several); `evidence`: per board the score, votes, tests and groups."""

    voter: str
    score: float
    reasons: list[str]
    votes: int
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Detection:
    flags: list[Verdict]
    scores: dict[str, float]  # every audited voter's score
    alpha: float
    votes: int
    voters: int
    boards: list[str]  # the slices audited, "modality/dimension"
    notes: list[str] = field(default_factory=list)

    @property
    def threshold(self) -> float:
        return -math.log10(self.alpha)


@dataclass(frozen=True)
class ScanResult:
    votes: int
    voters: int
    flagged: int
    quarantined: list[str]  # newly quarantined this scan
    invalidated: int  # votes taken off the boards this scan
    seconds: float
    notes: list[str] = field(default_factory=list)


def detect(votes: pd.DataFrame, alpha: float) -> Detection:
    """Audit each board slice of `votes` (arena/store/history.py's frame) and combine per voter.

    Raises RankingError for a bad alpha. A slice the audit cannot judge (one model, say)
    is skipped with a note.
    """
    options = AuditOptions(alpha=alpha)
    per_voter: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
    flagged: dict[str, dict[str, AuditFlag]] = defaultdict(dict)
    groups: dict[str, dict[str, GroupFlag]] = {}
    notes: list[str] = []
    boards: list[str] = []
    for (modality, dimension), part in votes.groupby(["modality", "dimension"], sort=True):
        board = f"{modality}/{dimension}"
        try:
            report: AuditReport = audit(part[AUDIT_COLUMNS].reset_index(drop=True), options)
        except RankingError as exc:
            notes.append(f"{board}: not audited: {exc}")
            continue
        boards.append(board)
        notes.extend(f"{board}: {note}" for note in report.notes)
        counts = part["voter"].value_counts()
        for voter, score in report.scores.items():
            per_voter[voter][board] = (score, int(counts.get(voter, 0)))
        for flag in report.flags:
            flagged[flag.voter][board] = flag
        groups[board] = {group.label: group for group in report.groups}
    threshold = -math.log10(alpha)
    scores: dict[str, float] = {}
    verdicts: list[Verdict] = []
    for voter, by_board in per_voter.items():
        score = _mean_evidence([value for value, _ in by_board.values()])
        scores[voter] = score
        if score >= threshold:
            verdicts.append(_verdict(voter, score, by_board, flagged.get(voter, {}), groups, alpha))
    verdicts.sort(key=lambda verdict: (-verdict.score, verdict.voter))
    return Detection(verdicts, scores, alpha, len(votes), len(per_voter), boards, notes)


def _mean_evidence(scores: list[float]) -> float:
    """log10 of the mean of the e-values 10**score (the score itself for one slice)."""
    if len(scores) == 1:
        return scores[0]
    top = max(scores)
    if math.isinf(top):
        return top
    return top + math.log10(sum(10 ** (score - top) for score in scores) / len(scores))


def _finite(x: float) -> float:
    return max(-BIG, min(BIG, round(x, 4)))


def _verdict(
    voter: str,
    score: float,
    by_board: dict[str, tuple[float, int]],
    flags: dict[str, AuditFlag],
    groups: dict[str, dict[str, GroupFlag]],
    alpha: float,
) -> Verdict:
    several = len(by_board) > 1
    reasons: list[str] = []
    evidence: dict[str, Any] = {"alpha": alpha, "boards": {}}
    for board, (board_score, votes) in sorted(by_board.items()):
        entry: dict[str, Any] = {"score": _finite(board_score), "votes": votes, "flagged": board in flags}
        flag = flags.get(board)
        if flag is not None:
            reasons.extend(f"[{board}] {line}" if several else line for line in flag.reasons)
            entry.update(
                flagged_at=flag.flagged_at,
                tests=flag.as_dict()["tests"],
                groups=[_group_evidence(groups[board][label]) for label in flag.groups if label in groups[board]],
            )
        evidence["boards"][board] = entry
    if not reasons:  # the mean crossed the line by a rounding hair: say so rather than nothing
        reasons.append(f"combined evidence over {len(by_board)} boards reached score {score:.2f}")
    return Verdict(voter, _finite(score), reasons, sum(votes for _, votes in by_board.values()), evidence)


def _group_evidence(group: GroupFlag) -> dict[str, Any]:
    data = dict(group.as_dict())
    data["size"] = len(group.voters)
    data["voters"] = group.voters[:MAX_GROUP_IDS]
    data["label"] = group.label
    return data


def fresh_evidence(votes: pd.DataFrame, states: dict[str, tuple[FlagState, datetime | None]]) -> pd.DataFrame:
    """Drop each released voter's votes up to the release: they were reviewed already."""
    released = {
        voter: at.timestamp() for voter, (state, at) in states.items() if state == FlagState.RELEASED and at is not None
    }
    if not released or votes.empty:
        return votes
    cutoff = votes["voter"].map(released)
    reviewed = cutoff.notna() & (votes["tstamp"] <= cutoff)
    return votes[~reviewed.to_numpy()].reset_index(drop=True)


class Integrity:
    """Fraud scoring, quarantine and the operator's decisions (see the module docstring).

    `scan` is blocking (the integrity job's thread, the CLI); the operator's methods are
    async and run their database work through the store's gateway.
    """

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._banned: frozenset[str] = frozenset()

    # -- the vote path's question -----------------------------------------------

    def is_banned(self, voter_id: str) -> bool:
        """True when an operator banned this voter: a set lookup, safe on the vote path.

        Current for this process's bans at once, for other replicas' after the job's next
        pass (`load` at start; `refresh` from the job).
        """
        return voter_id in self._banned

    async def load(self) -> None:
        """Read the banned voters (at start, before serving)."""
        await self.store.run(self.refresh)

    def refresh(self) -> None:
        """Blocking: re-read the banned voters."""
        self._banned = banned_voters(self.store)

    # -- scanning (blocking) ------------------------------------------------------

    def scan(self, detector: Callable[[pd.DataFrame, float], Detection] = detect) -> ScanResult:
        """Audit the vote history, record the flags and quarantine the newly flagged.

        Blocking; call it from a background thread. `detector` runs the audit itself (the
        job passes one that runs it in another process, so a long audit never holds this
        process's GIL while it serves votes). Raises RankingError for a bad audit_alpha.
        """
        began = time.perf_counter()
        started = datetime.now(UTC)
        votes = fresh_evidence(audit_votes(self.store), flag_states(self.store))
        if votes.empty:
            return ScanResult(0, 0, 0, [], 0, time.perf_counter() - began)
        detection = detector(votes, self.settings.audit_alpha)
        uncounted = votes.loc[votes["counted"], "voter"].unique().tolist()
        quarantined, invalidated = self._record(detection, set(uncounted), started)
        result = ScanResult(
            detection.votes,
            detection.voters,
            len(detection.flags),
            quarantined,
            invalidated,
            time.perf_counter() - began,
            detection.notes,
        )
        if quarantined:
            log.info(
                "fraud scan: %d voters flagged, %d newly quarantined, %d votes taken off the boards",
                result.flagged,
                len(quarantined),
                invalidated,
            )
        return result

    def _record(self, detection: Detection, counted_voters: set[str], started: datetime) -> tuple[list[str], int]:
        """Upsert the flags and move votes, in one transaction; returns (newly quarantined, votes moved)."""
        by_voter = {verdict.voter: verdict for verdict in detection.flags}
        now = datetime.now(UTC)
        quarantined: list[str] = []
        with self.store.atomic(), self.store.write() as session:
            rows = lock_flags(session, by_voter, states=(FlagState.QUARANTINED, FlagState.BANNED))
            for voter, verdict in by_voter.items():
                row = rows.get(voter)
                if row is not None and row.decided_at is not None and utc(row.decided_at) >= started:
                    continue  # an operator decided while this scan ran: the decision stands
                if row is None:
                    row = VoterFlag(
                        voter_id=voter,
                        created_at=now,
                        votes_affected=0,
                        decided_at=None,
                        decided_by=None,
                        state=FlagState.FLAGGED,
                    )
                    session.add(row)
                    rows[voter] = row
                elif row.state == FlagState.RELEASED:  # flagged again on votes cast after the release
                    row.state, row.decided_at, row.decided_by = FlagState.FLAGGED, None, None
                row.score, row.reasons, row.evidence, row.votes = (
                    verdict.score,
                    verdict.reasons,
                    verdict.evidence,
                    verdict.votes,
                )
                row.updated_at = now
                if row.state == FlagState.FLAGGED and self.settings.quarantine:
                    row.state = FlagState.QUARANTINED
                    quarantined.append(voter)
                    log_action(
                        session,
                        DETECTOR,
                        AdminAction.QUARANTINE,
                        voter,
                        {"score": verdict.score, "votes": verdict.votes, "reasons": verdict.reasons[:5]},
                    )
            # Votes to move: every quarantined or banned voter who has counted votes now
            # (the newly quarantined, and those who voted again since the last scan).
            moving = {
                state: [voter for voter in rows if voter in counted_voters and rows[voter].state == state]
                for state in (FlagState.QUARANTINED, FlagState.BANNED)
            }
            invalidated = 0
            for state, voters in moving.items():
                if not voters:
                    continue
                reason = InvalidReason.QUARANTINED if state == FlagState.QUARANTINED else InvalidReason.BANNED
                invalidated += invalidate_votes(self.store, voters, reason)
                for voter, count in invalid_counts(session, voters, reason).items():
                    rows[voter].votes_affected = count
        return quarantined, invalidated

    # -- the operator's review (async) -------------------------------------------

    async def flags(self, state: FlagState | None = None, limit: int = 100) -> list[FlagRecord]:
        return await self.store.run(list_flags, self.store, state, limit)

    async def audit_log(
        self, limit: int = 100, before: int | None = None, target: str | None = None
    ) -> list[ActionRecord]:
        return await self.store.run(list_actions, self.store, limit, before, target)

    async def release(self, voter_id: str, actor: str) -> FlagRecord:
        """Put a flagged (or banned) voter's votes back on the boards. Raises NotFound when
        the voter was never flagged or banned."""
        record = await self.store.run_write(self._release, voter_id, actor)
        self._banned = self._banned - {voter_id}
        return record

    async def ban(self, voter_id: str, actor: str) -> FlagRecord:
        """Take every vote of this voter off the boards for good (until a release); the
        battle service refuses a banned voter (`is_banned`). Raises NotFound for an unknown voter."""
        record = await self.store.run_write(self._ban, voter_id, actor)
        self._banned = self._banned | {voter_id}
        return record

    def _release(self, voter_id: str, actor: str) -> FlagRecord:
        now = datetime.now(UTC)
        with self.store.atomic(), self.store.write() as session:
            row = lock_flags(session, [voter_id]).get(voter_id)
            if row is None:
                raise NotFound("this voter was never flagged or banned")
            before = row.state
            restored = restore_votes(self.store, [voter_id], InvalidReason.QUARANTINED) + restore_votes(
                self.store, [voter_id], InvalidReason.BANNED
            )
            row.state, row.votes_affected = FlagState.RELEASED, 0
            row.decided_at, row.decided_by, row.updated_at = now, actor, now
            log_action(
                session,
                actor,
                AdminAction.RELEASE,
                voter_id,
                {"from": str(before), "votes_restored": restored, "score": row.score},
            )
            session.flush()
            return FlagRecord.of(row)

    def _ban(self, voter_id: str, actor: str) -> FlagRecord:
        now = datetime.now(UTC)
        with self.store.atomic(), self.store.write() as session:
            if not voter_exists(session, voter_id):
                raise NotFound("no such voter")
            row = lock_flags(session, [voter_id]).get(voter_id)
            before = row.state if row is not None else None
            if row is None:
                row = VoterFlag(voter_id=voter_id, score=0.0, reasons=[], evidence={}, votes=0, created_at=now)
                session.add(row)
            # quarantined votes become banned ones: one reason per vote, the current decision's
            restore_votes(self.store, [voter_id], InvalidReason.QUARANTINED)
            invalidated = invalidate_votes(self.store, [voter_id], InvalidReason.BANNED)
            row.state, row.decided_at, row.decided_by, row.updated_at = FlagState.BANNED, now, actor, now
            row.votes_affected = invalid_counts(session, [voter_id], InvalidReason.BANNED)[voter_id]
            log_action(
                session,
                actor,
                AdminAction.BAN,
                voter_id,
                {
                    "from": str(before) if before else None,
                    "votes_invalidated": invalidated,
                    "votes_banned": row.votes_affected,
                    "score": row.score,
                },
            )
            session.flush()
            return FlagRecord.of(row)
